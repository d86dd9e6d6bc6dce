"""Training throughput: composer's loop vs a minimal hand-written PyTorch loop, in one process.

Both train the same model (same initial weights) on the same batches of the same corpus for the
same number of steps, after the same 5 warm-up steps. Composer's figure is its loop with
everything it does per step (LR schedule, loss bookkeeping, logging), timed by the clock in its
own steps.jsonl; the whole ``train()`` call (set-up, final validation, checkpoints, loss.png) is
printed apart. The hand loop is forward, backward, clip, AdamW.
Runs alternate (hand, composer, hand, ...) and the best of each is kept, so a shared machine's
noise hits both alike. Goal: composer within 5 % of the hand loop on CPU.

    python bench/train_speed.py                        # drums LSTM (the shipped size), CPU
    python bench/train_speed.py --model transformer --style jazz
    python bench/train_speed.py --device cuda          # also AMP and compile variants, GPU utilisation
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
import time
from dataclasses import replace
from itertools import islice

import torch

from composer.models import build_model
from composer.pipeline import training_data
from composer.styles import get_style
from composer.train import TrainConfig, pick_device, train

WARM = 5  # steps before the clock starts, in both loops (allocator, first-call costs)


def hand_loop(kind, config, data, steps: int, cfg: TrainConfig, device, dtype) -> float:
    """The reference: what a researcher writes in a plain script. Returns units per second."""
    torch.manual_seed(cfg.seed)
    model = build_model(kind, config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            **({"fused": True} if device.type == "cuda" else {}))
    loss_fn = torch.compile(model.loss) if cfg.compile else model.loss
    units = torch.zeros((), device=device)
    for i, batch in enumerate(islice(data.batches(cfg.batch_size, seed=cfg.seed * 100_003), WARM + steps)):
        if i == WARM:
            _sync(device)
            units.zero_()
            t0 = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext():
            loss_sum, n = loss_fn(batch)
        (loss_sum.float() / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        units += n
    _sync(device)
    return float(units) / (time.perf_counter() - t0)


def composer_loop(kind, config, tok, data, valid, steps: int, cfg: TrainConfig, style: str) -> tuple[float, float]:
    """(units per second, whole run's seconds): the rate over the same steps as the hand loop's, from the
    clock composer's own log keeps (steps.jsonl's time_s, a line every WARM steps)."""
    torch.manual_seed(cfg.seed)
    model = build_model(kind, config)
    units = sum(float(b["mask"].sum()) for b in
                islice(data.batches(cfg.batch_size, seed=cfg.seed * 100_003), WARM, WARM + steps))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        train(model, tok, data, valid, replace(cfg, max_steps=WARM + steps, log_every=WARM), d, style=style,
              progress=False)
        seconds = time.perf_counter() - t0
        with open(f"{d}/steps.jsonl") as f:
            rows = [json.loads(line) for line in f]
    t = {r["step"]: r["time_s"] for r in rows}
    return units / (t[WARM + steps] - t[WARM]), seconds


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class GpuSampler:
    """Mean GPU utilisation (NVML, via torch.cuda.utilization) while a block runs."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.samples.append(torch.cuda.utilization())
            except Exception:  # no pynvml / NVML: no figure
                return

    def __enter__(self) -> "GpuSampler":
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="drums")
    ap.add_argument("--model", help="another model the style offers, e.g. transformer")
    ap.add_argument("--size", default="default")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    st = get_style(args.style)
    tok, data, _, info = training_data(st, st.make_tokenizer())
    valid = data.subset([0])  # the end-of-run validation stays small: the figure is the loop's
    kind, config = st.model(args.model, tok, args.size)
    device = pick_device(args.device)
    per_epoch = -(-len(data) // (args.batch_size or st.train_defaults.get("batch_size", 16)))
    if args.steps % WARM or WARM + args.steps > per_epoch:
        raise SystemExit(f"--steps must be a multiple of {WARM} and at most {per_epoch - WARM} (one epoch)")
    base = dict(st.train_defaults)
    base.update(epochs=1, max_steps=args.steps, device=str(device), threads=args.threads, seed=0, log_every=10,
                tensorboard=False, patience=10**6)
    if args.batch_size:
        base["batch_size"] = args.batch_size
    n_params = sum(p.numel() for p in build_model(kind, config).parameters())
    print(f"{args.style} {kind} ({n_params:,} parameters), batch {base['batch_size']} x {st.seq_len}, "
          f"{args.steps} steps, {info['pieces']} pieces, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {args.threads} thread(s)"))
    variants = [("fp32", dict(precision="fp32"))]
    if device.type == "cuda":
        variants += [("bf16 autocast", dict(precision="bf16")), ("bf16 + compile", dict(precision="bf16", compile=True))]
    unit = tok.family[:-1]
    for name, extra in variants:
        cfg = TrainConfig(**{**base, **extra})
        dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]
        hand, ours, fixed, util = [], [], [], None
        for _ in range(args.repeat):
            hand.append(hand_loop(kind, config, data, args.steps, cfg, device, dtype))
            with GpuSampler() if device.type == "cuda" else contextlib.nullcontext() as g:
                rate, whole = composer_loop(kind, config, tok, data, valid, args.steps, cfg, st.name)
            ours.append(rate)
            fixed.append(whole)
            if g is not None and g.mean is not None:
                util = g.mean
        h, o = max(hand), max(ours)
        # Each composer run is compared with the hand run just before it (the same load on a shared machine).
        pairs = sorted(b / a for a, b in zip(hand, ours))
        print(f"{name:16s} hand-written {h:10,.0f} {unit}s/s   composer {o:10,.0f} {unit}s/s   ratio {o / h:.3f}, "
              f"median of {len(pairs)} pairs {pairs[len(pairs) // 2]:.3f}   "
              f"(whole train() call {min(fixed):.1f} s)"
              + (f"   GPU utilisation {util:.0f} %" if util is not None else ""))


if __name__ == "__main__":
    main()
