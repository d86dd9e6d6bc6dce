"""The one training loop, for every style and model.

A run folder holds the best checkpoint by validation loss (``config.json`` +
``model.safetensors``, what ``compose generate --checkpoint`` reads), ``last/`` with everything
``--resume`` needs (weights, optimizer state, epoch, history), ``log.jsonl`` and ``loss.png``.
Each epoch reseeds torch and the shuffle from (seed, epoch), so a resumed run repeats the
epochs an uninterrupted run would have made.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .checkpoint import CONFIG, load_into, load_tensors, read_config, save_checkpoint, save_tensors, write_json
from .errors import CheckpointError, InputError

__all__ = ["TrainConfig", "TrainResult", "train", "pick_device", "check_resumable", "evaluate_nll"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    patience: int = 6  # epochs without a better validation loss before stopping early
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast, on CUDA only
    max_steps: int = 0  # 0 = no limit; a cap for smoke tests
    threads: int = 0  # CPU threads for torch (0: torch's default); 1 is fastest for small recurrent models
    warmup_steps: int = 50  # linear warmup, then cosine decay to min_lr_ratio * lr at the last epoch
    min_lr_ratio: float = 0.05


@dataclass
class TrainResult:
    best_valid: float
    epochs_run: int
    steps: int
    stopped_early: bool
    history: list = field(default_factory=list)


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
    return dev


def check_resumable(out_dir) -> None:
    """Fail before any work when ``--resume`` finds no run to continue."""
    if not (Path(out_dir) / "last" / "trainer.json").exists():
        raise CheckpointError(f"{out_dir}: nothing to resume (no last/trainer.json)")


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Warmup then cosine decay; a pure function of the step, so resuming needs no scheduler state."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _to(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def evaluate_nll(model, data, cfg: TrainConfig, device) -> float:
    """Mean NLL per unit (frame or token) over ``data``."""
    model.eval()
    total, count = 0.0, 0.0
    with torch.no_grad():
        for batch in data.batches(cfg.batch_size):
            loss, n = model.loss(_to(batch, device))
            total, count = total + float(loss), count + float(n)
    model.train()
    return total / max(count, 1.0)


def _optimizer_tensors(opt) -> tuple[dict, dict]:
    """Optimizer state as flat tensors + JSON, so resuming needs no pickle."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(opt, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for key, v in list(tensors.items()) + list(meta["scalars"].items()):
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def plot_history(history: list[dict], path: Path) -> None:
    """Train and validation loss per epoch as a PNG (written atomically)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io.atomic import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax.plot(epochs, [h["valid_loss"] for h in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL (nats per step)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def train(model, tokenizer, train_data, valid_data, cfg: TrainConfig, out_dir, *,
          style: str, resume: bool = False, extra: dict | None = None, progress: bool = True) -> TrainResult:
    """Train ``model`` on ``train_data`` with early stopping on ``valid_data``; checkpoints in ``out_dir``."""
    from tqdm import tqdm

    out = Path(out_dir)
    last = out / "last"
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict] = []
    start_epoch, step, best, bad_epochs = 0, 0, math.inf, 0
    if resume:
        check_resumable(out)
        saved = read_config(last)
        from .models import config_dict, model_kind

        if saved["model"]["kind"] != model_kind(model) or saved["model"]["config"] != json.loads(json.dumps(config_dict(model))):
            raise CheckpointError(f"{out}: cannot resume, the saved run has another model ({saved['model']['kind']}) or config")
        state = json.loads((last / "trainer.json").read_text())
        load_into(model, load_tensors(last / "model.safetensors", saved["weights_sha256"]), last)
        _restore_optimizer(opt, load_tensors(last / "optimizer.safetensors"), state["optimizer"])
        start_epoch, step, best, bad_epochs = state["epoch"] + 1, state["step"], state["best"], state["bad_epochs"]
        history = state["history"]
        log.info("resuming %s at epoch %d (step %d, best validation %.4f)", out, start_epoch, step, best)
    else:
        out.mkdir(parents=True, exist_ok=True)  # like `mkdir -p`: runs/ need not exist yet

    autocast = device.type == "cuda" and cfg.amp
    n_batches = -(-len(train_data) // cfg.batch_size)
    total_steps = cfg.max_steps or cfg.epochs * n_batches
    stopped_early = False
    epoch = start_epoch - 1
    for epoch in range(start_epoch, cfg.epochs):
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        t0, total, count = time.perf_counter(), 0.0, 0.0
        bar = tqdm(train_data.batches(cfg.batch_size, seed=cfg.seed * 100_003 + epoch), total=n_batches,
                   desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False, unit="batch")
        for batch in bar:
            batch = _to(batch, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss_sum, n = model.loss(batch)
                loss = loss_sum / n
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            total, count = total + float(loss_sum.detach()), count + float(n)
            bar.set_postfix(loss=f"{total / count:.3f}")
            if cfg.max_steps and step >= cfg.max_steps:
                break
        valid = evaluate_nll(model, valid_data, cfg, device) if len(valid_data) else total / max(count, 1)
        record = {"epoch": epoch + 1, "step": step, "train_loss": total / max(count, 1),
                  "valid_loss": valid, "lr": opt.param_groups[0]["lr"], "seconds": round(time.perf_counter() - t0, 3)}
        history.append(record)
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        improved = valid < best - 1e-4
        if improved:
            best, bad_epochs = valid, 0
            save_checkpoint(out, model, tokenizer, style=style, step=step,
                            metrics={"valid_nll": valid, "epoch": epoch + 1}, extra=extra)
        else:
            bad_epochs += 1
        # The state to resume from: written after the best checkpoint, weights before the JSON.
        save_checkpoint(last, model, tokenizer, style=style, step=step, metrics={"valid_nll": valid}, extra=extra)
        opt_tensors, opt_meta = _optimizer_tensors(opt)
        save_tensors(last / "optimizer.safetensors", opt_tensors)
        write_json(last / "trainer.json", {"epoch": epoch, "step": step, "best": best, "bad_epochs": bad_epochs,
                                           "history": history, "optimizer": opt_meta, "train_config": asdict(cfg)})
        plot_history(history, out / "loss.png")
        log.info("epoch %d: train %.4f  valid %.4f%s", epoch + 1, record["train_loss"], valid, "  (best)" if improved else "")
        if bad_epochs >= cfg.patience:
            stopped_early = True
            log.info("validation loss has not improved for %d epochs: stopping", cfg.patience)
            break
        if cfg.max_steps and step >= cfg.max_steps:
            break
    if not (out / CONFIG).exists():  # no epoch ran (e.g. resumed a finished run): keep a usable checkpoint
        save_checkpoint(out, model, tokenizer, style=style, step=step, metrics={}, extra=extra)
    return TrainResult(best, epoch + 1, step, stopped_early, history)
