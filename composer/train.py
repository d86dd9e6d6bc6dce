"""The one training loop, for every style and model: CPU/CUDA/MPS, mixed precision, DDP, resume.

A run folder holds the best checkpoint by validation loss (``config.json`` + ``model.safetensors``,
what ``compose generate --checkpoint`` reads), resume points under ``checkpoints/`` with ``last``
pointing to the newest (see runstate.py), the resolved ``config.toml``, ``log.jsonl`` (one line per
epoch), ``steps.jsonl`` (one line per ``log_every`` steps), ``loss.png`` and, when tensorboard is
installed, ``tb/``.

A resumed run continues exactly where the interrupted one stopped: the data position inside the
epoch, the torch/numpy/Python RNG states, optimizer and grad-scaler state are restored, and the
learning rate is a pure function of the step. Each epoch reseeds torch and the shuffle from
(seed, epoch). Under ``torchrun`` every rank takes rows ``rank::world_size`` of the same global
batches and the gradient is that of the global batch (see distributed.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CONFIG, load_into, load_tensors, read_config, save_checkpoint
from .distributed import Dist, all_reduce_sum, finish_distributed, init_distributed, shard_batch
from .errors import CheckpointError, InputError
from .runstate import find_snapshot, read_snapshot, restore_optimizer, set_rng_state, write_snapshot

__all__ = ["TrainConfig", "TrainResult", "train", "pick_device", "check_resumable", "evaluate_nll", "lr_at",
           "param_groups", "plot_history", "read_history", "seed_everything"]

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 16  # sequences per micro-batch, over all processes together
    window: int = 0  # training window in steps (0: the style's); validation keeps the style's window
    grad_accum: int = 1  # micro-batches per optimizer step (the step sees batch_size * grad_accum sequences)
    lr: float = 3e-3
    weight_decay: float = 0.0  # AdamW decay of weight matrices; never biases, norms or embeddings
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    patience: int = 6  # epochs without a better validation loss before stopping early
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 on CUDA (fp16 + grad scaler on cards without bf16), fp32 elsewhere
    compile: bool = False  # torch.compile the model's loss
    deterministic: bool = False  # deterministic kernels only (slower on CUDA)
    max_steps: int = 0  # 0 = no limit; a cap for smoke tests
    threads: int = 0  # CPU threads for torch (0: torch's default); 1 is fastest for small recurrent models
    warmup_steps: int = 50  # linear warmup, then cosine decay to min_lr_ratio * lr at the last step
    min_lr_ratio: float = 0.05
    checkpoint_every: int = 0  # steps between resume points (0: at each epoch's end only)
    keep: int = 3  # resume points kept (the best checkpoint is kept apart)
    log_every: int = 10  # steps between lines of steps.jsonl / TensorBoard / the progress bar's figures
    tensorboard: bool = True  # also log to <run>/tb when tensorboard is installed


@dataclass
class TrainResult:
    best_valid: float
    epochs_run: int
    steps: int
    stopped_early: bool
    history: list = field(default_factory=list)
    interrupted: int = 0  # the signal (SIGINT, SIGTERM) that stopped the run after a checkpoint, else 0


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but torch sees no CUDA device")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("--device mps asked for, but torch sees no MPS device")
    return dev


def check_resumable(out_dir) -> None:
    """Fail before any work when ``--resume`` finds no run to continue."""
    if find_snapshot(out_dir) is None:
        raise CheckpointError(f"{out_dir}: nothing to resume (no checkpoints/step-*/trainer.json)")


def check_config(cfg: TrainConfig) -> None:
    """Values no run can use, as one line each."""
    for name in ("epochs", "batch_size", "grad_accum", "keep", "log_every"):
        if getattr(cfg, name) < 1:
            raise InputError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    for name in ("lr", "weight_decay", "grad_clip", "max_steps", "threads", "warmup_steps", "checkpoint_every",
                 "window"):
        if getattr(cfg, name) < 0:
            raise InputError(f"{name} must not be negative, got {getattr(cfg, name)}")
    if cfg.precision not in PRECISIONS:
        raise InputError(f"unknown precision {cfg.precision!r}; use {', '.join(PRECISIONS)}")


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Warmup then cosine decay; a pure function of the step, so the schedule's state is the step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay weight matrices; not biases, norm gains or embeddings (GPT-2's recipe)."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 and id(p) not in embeddings else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _acc_dtype(device: torch.device) -> torch.dtype:
    """Loss sums in float64 (exact over long epochs), float32 where the device has no float64 (MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _pair(loss, n, like: torch.Tensor) -> torch.Tensor:
    """(summed loss, units) as a tensor like ``like``; ``n`` may be a tensor or a number."""
    return torch.stack([torch.as_tensor(x, device=like.device).detach().to(like.dtype) for x in (loss, n)])


def _to(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _autocast(device: torch.device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def evaluate_nll(model, data, cfg: TrainConfig, device, dist: Dist | None = None, dtype=None) -> float:
    """Mean NLL per unit (frame or token) over ``data``; each rank takes its rows of every batch."""
    d = dist or Dist()
    device = torch.device(device)
    was_training = model.training
    model.eval()
    acc = torch.zeros(2, dtype=_acc_dtype(device), device=device)
    with torch.no_grad():
        for batch in data.batches(cfg.batch_size):
            local, w = shard_batch(batch, d)
            if not w:
                continue
            with _autocast(device, dtype):
                loss, n = model.loss(_to(local, device))
            acc += _pair(loss, n, acc)
    model.train(was_training)
    total, count = all_reduce_sum(acc, d).tolist()
    return total / max(count, 1.0)


class _LossModule(torch.nn.Module):
    """``model.loss`` as a forward, so DDP's hooks and torch.compile see it."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict):
        return self.model.loss(batch)


class _StopOnSignal:
    """Turn the first SIGINT/SIGTERM into a request to checkpoint and stop after the current step;
    another one, a second or more later, stops at once (KeyboardInterrupt). (Ctrl-C under torchrun
    reaches a worker twice within milliseconds: from the terminal, then as torchrun's SIGTERM.)"""

    def __init__(self) -> None:
        self.requested, self._old, self._first = 0, {}, 0.0

    def _handle(self, signum, frame) -> None:
        if self.requested:
            if time.monotonic() - self._first > 1.0:
                raise KeyboardInterrupt
            return
        self.requested, self._first = signum, time.monotonic()
        log.warning("%s: saving a checkpoint after this step, then stopping (again to quit at once)",
                    signal.Signals(signum).name)

    def __enter__(self) -> "_StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _precision(cfg: TrainConfig, device: torch.device):
    """(autocast dtype or None, GradScaler): fp16 needs the scaler, bf16 and fp32 do not."""
    p = cfg.precision
    if p == "auto":
        p = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if device.type == "cuda" else "fp32"
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[p]
    enabled = p == "fp16"
    try:
        scaler = torch.amp.GradScaler(device.type, enabled=enabled)
    except (AttributeError, TypeError, RuntimeError):  # torch < 2.3, or a device without a scaler
        if enabled and device.type != "cuda":
            raise InputError(f"precision fp16 needs a grad scaler, which this torch lacks on {device.type}; "
                             "use bf16 or fp32") from None
        scaler = torch.cuda.amp.GradScaler(enabled=enabled)
    return dtype, scaler, p


def _configure_torch(cfg: TrainConfig, device: torch.device) -> dict:
    """Threads, determinism and TF32; returns what to restore afterwards."""
    old = {"deterministic": torch.are_deterministic_algorithms_enabled(),
           "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
           "matmul": torch.get_float32_matmul_precision()}
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for reproducible GEMMs
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    elif device.type == "cuda":
        torch.set_float32_matmul_precision("high")  # TF32 on Ampere and later
    return old


def _restore_torch(old: dict) -> None:
    torch.use_deterministic_algorithms(old["deterministic"])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old["cudnn"]
    torch.set_float32_matmul_precision(old["matmul"])


_OOM = getattr(torch, "OutOfMemoryError", getattr(torch.cuda, "OutOfMemoryError", RuntimeError))


def _oom_message(device, cfg: TrainConfig, d: Dist) -> str:
    per = -(-cfg.batch_size // d.world)
    smaller = max(1, cfg.batch_size // 2)
    return (f"out of memory on {device} at batch size {cfg.batch_size} ({per} sequences per process); try "
            f"--batch-size {smaller} --grad-accum {cfg.grad_accum * 2} (the same batch per optimizer step)")


@dataclass
class _Position:
    """Where the run is; saved in every resume point (trainer.json)."""

    epoch: int = 0  # the epoch in progress, from 0
    batch_in_epoch: int = 0  # global micro-batches of that epoch already trained on
    step: int = 0
    best: float = math.inf
    bad_epochs: int = 0
    epoch_loss: float = 0.0  # summed NLL and units of the epoch so far
    epoch_units: float = 0.0
    epoch_seconds: float = 0.0
    window_loss: float = 0.0  # summed NLL and units since the last steps.jsonl line
    window_units: float = 0.0
    history: list = field(default_factory=list)


def _append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_jsonl(path: Path, step: int) -> None:
    """Drop lines past ``step`` (logged after the resume point by a run that was killed)."""
    if not path.exists():
        return
    from .io.atomic import atomic_write

    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    atomic_write(path, ("".join(line + "\n" for line in keep)).encode())


def train(model, tokenizer, train_data, valid_data, cfg: TrainConfig, out_dir, *,
          style: str, resume: bool = False, extra: dict | None = None, progress: bool = True,
          run_config: dict | None = None, unit: str = "unit") -> TrainResult:
    """Train ``model`` on ``train_data`` with early stopping on ``valid_data``; checkpoints in ``out_dir``.

    ``run_config`` (the resolved options, see runconfig.py) is written as ``config.toml`` and kept
    in every checkpoint; ``unit`` names what the loss is per ("token", "frame") for the log.
    """
    check_config(cfg)
    device = pick_device(cfg.device)
    d = init_distributed(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    old = _configure_torch(cfg, device)
    try:
        return _Trainer(model, tokenizer, train_data, valid_data, cfg, Path(out_dir), style, extra, run_config,
                        unit, device, d, progress and d.main).run(resume)
    finally:
        _restore_torch(old)
        finish_distributed(d)


class _Trainer:
    def __init__(self, model, tokenizer, train_data, valid_data, cfg, out, style, extra, run_config, unit,
                 device, d, progress) -> None:
        self.model, self.tokenizer, self.train_data, self.valid_data = model, tokenizer, train_data, valid_data
        self.cfg, self.out, self.style, self.unit, self.device, self.d = cfg, out, style, unit, device, d
        self.run_config = run_config
        self.extra = {**(extra or {}), **({"run": run_config} if run_config else {})}
        self.progress = progress
        self.pos = _Position()

    # -- set-up -------------------------------------------------------------------------------
    def _start(self, resume: bool) -> None:
        cfg, out = self.cfg, self.out
        seed_everything(cfg.seed)
        self.model.to(self.device).train()
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg.weight_decay), lr=cfg.lr, **fused)
        self.dtype, self.scaler, self.precision = _precision(cfg, self.device)
        if resume:
            self._resume()
        else:
            if find_snapshot(out) is not None or (out / CONFIG).exists():
                raise InputError(f"{out} already holds a run; use --resume to continue it or choose another folder")
            if self.d.main:
                out.mkdir(parents=True, exist_ok=True)  # like `mkdir -p`: runs/ need not exist yet
        if self.d.main and self.run_config is not None:
            from .runconfig import write_run_config

            write_run_config(out / "config.toml", self.run_config)
        net = _LossModule(self.model)
        if self.d.enabled:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.ddp = net if self.d.enabled else None
        self.loss_fn = torch.compile(net) if cfg.compile else net
        self.params = [p for g in self.opt.param_groups for p in g["params"]]

    def _resume(self) -> None:
        from .models import config_dict, model_kind

        snap = find_snapshot(self.out)
        if snap is None:
            raise CheckpointError(f"{self.out}: nothing to resume (no checkpoints/step-*/trainer.json)")
        saved = read_config(snap)
        if saved["style"] != self.style:
            raise CheckpointError(f"{self.out}: cannot resume, the run trains a {saved['style']!r} model, "
                                  f"not {self.style!r}")
        mine, theirs = self.tokenizer.to_dict(), saved["tokenizer"]
        if json.loads(json.dumps(mine)) != theirs:
            both = "vocab" in mine and "vocab" in theirs
            sizes = f" ({len(mine['vocab'])} tokens, the run's {len(theirs['vocab'])})" if both else ""
            raise CheckpointError(f"{self.out}: cannot resume, this corpus's vocabulary is not the run's{sizes}; "
                                  "resume with the corpus the run was trained on")
        same_config = saved["model"]["config"] == json.loads(json.dumps(config_dict(self.model)))
        if saved["model"]["kind"] != model_kind(self.model) or not same_config:
            raise CheckpointError(f"{self.out}: cannot resume, the saved run has another model "
                                  f"({saved['model']['kind']}) or config")
        state = read_snapshot(snap)
        load_into(self.model, load_tensors(snap / "model.safetensors", saved["weights_sha256"]), snap)
        restore_optimizer(self.opt, load_tensors(snap / "optimizer.safetensors"), state["optimizer"], snap)
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if "position" in state:
            self.pos = _Position(**state["position"])
            set_rng_state(load_tensors(snap / "rng.safetensors"), state["rng"])
        else:  # a resume point from before positions were saved: it was written at an epoch's end
            self.pos = _Position(epoch=state["epoch"] + 1, step=state["step"], best=state["best"],
                                 bad_epochs=state["bad_epochs"], history=state["history"])
        if self.d.main:
            for name in ("log.jsonl", "steps.jsonl"):
                _truncate_jsonl(self.out / name, self.pos.step)
        log.info("resuming %s at epoch %d, batch %d (step %d, best validation %.4f)", self.out, self.pos.epoch + 1,
                 self.pos.batch_in_epoch, self.pos.step, self.pos.best)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, resume: bool) -> TrainResult:
        from tqdm import tqdm

        self._start(resume)
        cfg, pos, d = self.cfg, self.pos, self.d
        B = cfg.batch_size
        try:
            n_batches = -(-len(self.train_data) // B)
        except TypeError:  # a stream without a length: max_steps bounds the run
            if not cfg.max_steps:
                raise InputError("this corpus streams without a length: give --max-steps") from None
            n_batches = None
        steps_per_epoch = -(-n_batches // cfg.grad_accum) if n_batches is not None else cfg.max_steps
        self.total = cfg.max_steps or cfg.epochs * steps_per_epoch
        self.tb = self._tensorboard()
        self.bar = tqdm(total=self.total, initial=pos.step, disable=not self.progress, unit="step", dynamic_ncols=True)
        sums = {"dtype": _acc_dtype(self.device), "device": self.device}
        self.window = torch.tensor([pos.window_loss, pos.window_units], **sums)
        self.epoch_acc = torch.tensor([pos.epoch_loss, pos.epoch_units], **sums)
        self.t_window = self.t_plot = self.t_start = time.perf_counter()
        stopped_early = interrupted = False
        stop = _StopOnSignal()
        epoch = pos.epoch - 1
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect = logging_redirect_tqdm() if self.progress else contextlib.nullcontext()
        try:
            with stop, redirect:
                for epoch in range(pos.epoch, cfg.epochs):
                    if pos.batch_in_epoch == 0:
                        torch.manual_seed(cfg.seed * 100_003 + epoch)
                    self.bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
                    t_epoch = time.perf_counter() - pos.epoch_seconds
                    shuffled = self.train_data.batches(B, seed=cfg.seed * 100_003 + epoch)
                    batches = islice(shuffled, pos.batch_in_epoch, None)  # mid-epoch after a resume
                    while True:
                        group = list(islice(batches, cfg.grad_accum))
                        if not group:
                            break
                        wants_stop = self._step(group, stop.requested)
                        pos.batch_in_epoch += len(group)
                        pos.epoch_seconds = time.perf_counter() - t_epoch
                        if pos.step % cfg.log_every == 0:
                            self._log_window(epoch)
                        if wants_stop:
                            self._snapshot({})
                            interrupted = True
                            break
                        if cfg.checkpoint_every and pos.step % cfg.checkpoint_every == 0:
                            self._snapshot({})
                        if cfg.max_steps and pos.step >= cfg.max_steps:
                            break
                    if interrupted:
                        break
                    self._log_window(epoch)
                    if self._end_epoch(epoch, time.perf_counter() - t_epoch):
                        stopped_early = True
                        break
                    self.t_window = time.perf_counter()  # the rate counts training, not validation
                    if cfg.max_steps and pos.step >= cfg.max_steps:
                        break
        except _OOM:
            raise InputError(_oom_message(self.device, cfg, d)) from None
        finally:
            self.bar.close()
            if self.tb is not None:
                self.tb.close()
        if d.main and pos.history:
            self._plot()
        if interrupted and d.main:
            log.warning("stopped at step %d; checkpoint in %s; continue with --resume", pos.step, self.out / "last")
        elif d.main and not (self.out / CONFIG).exists():  # no epoch ended (a resumed, finished run)
            save_checkpoint(self.out, self.model, self.tokenizer, style=self.style, step=pos.step, metrics={},
                            extra=self.extra)
        done = epoch + (0 if interrupted else 1)
        return TrainResult(pos.best, done, pos.step, stopped_early, pos.history,
                           interrupted=int(stop.requested) if interrupted else 0)

    def _step(self, group: list[dict], stop_requested: int) -> bool:
        """One optimizer step over ``group``'s micro-batches; True when every rank should stop."""
        cfg, d, pos = self.cfg, self.d, self.pos
        lr = lr_at(pos.step, self.total, cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr
        acc = torch.zeros(2, dtype=_acc_dtype(self.device), device=self.device)
        simple = not d.enabled and len(group) == 1
        for i, batch in enumerate(group):
            local, w = shard_batch(batch, d)
            sync = self.ddp is None or i == len(group) - 1
            with contextlib.nullcontext() if sync else self.ddp.no_sync():
                with _autocast(self.device, self.dtype):
                    loss_sum, n = self.loss_fn(_to(local, self.device))
                # Scale by a constant now, by (ranks * batch / units) below: the exact global mean.
                loss = loss_sum.float() / n if simple else loss_sum.float() * (w / cfg.batch_size)
                self.scaler.scale(loss).backward()
            acc += _pair(loss_sum, n, acc) * w
        stats = torch.cat([acc, acc.new_tensor([float(stop_requested > 0)])])
        all_reduce_sum(stats, d)
        self.scaler.unscale_(self.opt)
        if not simple:
            factor = (d.world * cfg.batch_size / stats[1].clamp_min(1.0)).float()
            for p in self.params:
                if p.grad is not None:
                    p.grad.mul_(factor)
        if cfg.grad_clip:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        pos.step += 1
        self.window += stats[:2]
        self.epoch_acc += stats[:2]
        self.bar.update(1)
        if d.enabled:
            return bool(stats[2].item() > 0)
        return stop_requested > 0

    # -- logging and checkpoints --------------------------------------------------------------
    def _tensorboard(self):
        if not (self.cfg.tensorboard and self.d.main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.debug("tensorboard is not installed: no TensorBoard log")
            return None
        return SummaryWriter(str(self.out / "tb"), purge_step=self.pos.step or None)

    def _check_finite(self, loss: float) -> None:
        if not math.isfinite(loss):
            raise InputError(f"the training loss became {loss} by step {self.pos.step}; lower --lr or use "
                             "--precision fp32 (the checkpoints written so far are kept)")

    def _log_window(self, epoch: int) -> None:
        total, units = self.window.tolist()
        if not units:
            return
        self._check_finite(total)
        now = time.perf_counter()
        loss, rate = total / units, units / max(now - self.t_window, 1e-9)
        self.window.zero_()
        self.t_window = now
        self.bar.set_postfix_str(f"loss {loss:.3f}, {rate:,.0f} {self.unit}s/s")
        if not self.d.main:
            return
        record = {"step": self.pos.step, "epoch": epoch + 1, "loss": loss, "lr": self.opt.param_groups[0]["lr"],
                  f"{self.unit}s_per_s": round(rate, 1), "time_s": round(now - self.t_start, 4)}
        if self.cfg.grad_clip and hasattr(self, "grad_norm"):
            record["grad_norm"] = float(self.grad_norm)
        if self.scaler.is_enabled():
            record["loss_scale"] = float(self.scaler.get_scale())
        _append_jsonl(self.out / "steps.jsonl", record)
        if self.tb is not None:
            for k, v in record.items():
                if k not in ("step", "epoch"):
                    self.tb.add_scalar(f"train/{k}", v, self.pos.step)

    def _plot(self) -> None:
        plot_history(self.pos.history, self.out / "loss.png", steps=read_history(self.out)[1])
        self.t_plot = time.perf_counter()

    def _snapshot(self, metrics: dict) -> None:
        pos = self.pos
        pos.epoch_loss, pos.epoch_units = self.epoch_acc.tolist()
        pos.window_loss, pos.window_units = self.window.tolist()
        self._check_finite(pos.epoch_loss)
        if not self.d.main:
            return
        write_snapshot(self.out, pos.step, model=self.model, tokenizer=self.tokenizer, style=self.style, opt=self.opt,
                       scaler=self.scaler, trainer={"position": asdict(pos), "train_config": asdict(self.cfg)},
                       metrics=metrics, extra=self.extra, keep=self.cfg.keep)

    def _end_epoch(self, epoch: int, seconds: float) -> bool:
        """Validate, log, keep the best, write a resume point; True to stop early."""
        cfg, pos = self.cfg, self.pos
        total, units = self.epoch_acc.tolist()
        self._check_finite(total)
        train_loss = total / max(units, 1.0)
        valid = (evaluate_nll(self.model, self.valid_data, cfg, self.device, self.d, self.dtype)
                 if len(self.valid_data) else train_loss)
        record = {"epoch": epoch + 1, "step": pos.step, "train_loss": train_loss, "valid_loss": valid,
                  "valid_perplexity": math.exp(min(valid, 700.0)), "lr": self.opt.param_groups[0]["lr"],
                  "seconds": round(seconds, 3), f"{self.unit}s_per_s": round(units / max(seconds, 1e-9), 1)}
        pos.history.append(record)
        improved = valid < pos.best - 1e-4
        if improved:
            pos.best, pos.bad_epochs = valid, 0
        else:
            pos.bad_epochs += 1
        metrics = {"valid_nll": valid, "valid_perplexity": record["valid_perplexity"], "train_nll": train_loss,
                   "epoch": epoch + 1}
        if self.d.main:
            _append_jsonl(self.out / "log.jsonl", record)
            if self.tb is not None:
                self.tb.add_scalar("valid/loss", valid, pos.step)
                self.tb.add_scalar("train/epoch_loss", train_loss, pos.step)
            if improved:
                save_checkpoint(self.out, self.model, self.tokenizer, style=self.style, step=pos.step,
                                metrics=metrics, extra=self.extra)
            if time.perf_counter() - self.t_plot > 30:  # drawing costs ~0.2 s: at most twice a minute, and at the end
                self._plot()
            log.info("epoch %d: train %.4f  valid %.4f%s", epoch + 1, train_loss, valid, "  (best)" if improved else "")
        # The resume point: the next epoch from its start.
        pos.epoch, pos.batch_in_epoch, pos.epoch_seconds = epoch + 1, 0, 0.0
        self.epoch_acc.zero_()
        self._snapshot(metrics)
        if pos.bad_epochs >= cfg.patience:
            if self.d.main:
                log.info("validation loss has not improved for %d epochs: stopping", cfg.patience)
            return True
        return False


def read_history(run_dir) -> tuple[list[dict], list[dict]]:
    """(epoch records of log.jsonl, step records of steps.jsonl) of a run folder."""
    out = []
    for name in ("log.jsonl", "steps.jsonl"):
        p = Path(run_dir) / name
        rows = [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []
        out.append(rows)
    return out[0], out[1]


def plot_history(history: list[dict], path: Path, steps: list[dict] | None = None) -> None:
    """Train and validation loss as a PNG (written atomically): per epoch, or against the optimizer
    step when ``steps`` (records of steps.jsonl) are given, the training curve then at log resolution."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io.atomic import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    by_step = bool(steps) and all("step" in h for h in history)
    x = [h["step" if by_step else "epoch"] for h in history]
    if by_step:
        ax.plot([s["step"] for s in steps], [s["loss"] for s in steps], label="train", alpha=0.6, lw=1)
        ax.plot(x, [h["train_loss"] for h in history], "o", color="C0", ms=4, label="train (epoch)")
    else:
        ax.plot(x, [h["train_loss"] for h in history], label="train")
    ax.plot(x, [h["valid_loss"] for h in history], "o-" if by_step else "-", color="C1", ms=4, label="validation")
    ax.set_xlabel("step" if by_step else "epoch")
    ax.set_ylabel("NLL (nats per step)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write(path, buf.getvalue())


CONFIG_FIELDS = tuple(f.name for f in fields(TrainConfig))
