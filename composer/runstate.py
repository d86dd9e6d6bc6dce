"""Resumable training state on disk, with no pickle: safetensors for tensors, JSON for the rest.

A run folder keeps its resume points as ``checkpoints/step-00001234/`` folders, each complete
on its own (weights + config.json, ``optimizer.safetensors``, ``rng.safetensors`` and
``trainer.json``: epoch, position in the epoch, step, best, history, scaler and RNG states). A
snapshot is written into a hidden temp folder and renamed into place, so a kill at any moment
leaves only whole snapshots; ``last`` is a symlink to the newest, and the oldest beyond the last
K are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
from pathlib import Path

import numpy as np
import torch

from .checkpoint import save_checkpoint, save_tensors, write_json
from .errors import CheckpointError

__all__ = ["optimizer_tensors", "restore_optimizer", "rng_state", "set_rng_state", "write_snapshot",
           "find_snapshot", "read_snapshot"]

SNAPSHOTS, LAST, TRAINER = "checkpoints", "last", "trainer.json"


def optimizer_tensors(opt) -> tuple[dict, dict]:
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


def restore_optimizer(opt, tensors: dict, meta: dict, where) -> None:
    state: dict = {}
    for key, v in list(tensors.items()) + list(meta["scalars"].items()):
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{where}: the optimizer state does not fit this model ({e})") from None


def rng_state() -> tuple[dict, dict]:
    """(tensors, JSON) of the torch, CUDA, numpy and Python generators."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    meta = {"numpy": {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
                      "gauss": float(gauss)},
            "python": {"version": version, "state": list(internal), "gauss": py_gauss}}
    return tensors, meta


def set_rng_state(tensors: dict, meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("cuda.")), key=lambda k: int(k[5:]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    n = meta["numpy"]
    np.random.set_state((n["name"], np.asarray(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = meta["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def write_snapshot(out: Path, step: int, *, model, tokenizer, style: str, opt, scaler, trainer: dict,
                   metrics: dict, extra: dict | None, keep: int) -> Path:
    """Write a complete resume point for ``step`` and make ``last`` point to it."""
    root = out / SNAPSHOTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        save_checkpoint(tmp, model, tokenizer, style=style, step=step, metrics=metrics, extra=extra)
        opt_t, opt_meta = optimizer_tensors(opt)
        save_tensors(tmp / "optimizer.safetensors", opt_t)
        rng_t, rng_meta = rng_state()
        save_tensors(tmp / "rng.safetensors", rng_t)
        write_json(tmp / TRAINER, {**trainer, "optimizer": opt_meta, "rng": rng_meta,
                                   "scaler": {k: v for k, v in scaler.state_dict().items()}})
        old = None
        if final.exists():  # the same step saved twice (a periodic save, then the epoch's end)
            old = root / f".old-{final.name}.{secrets.token_hex(4)}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_last(out, final)
    snaps = sorted(p for p in root.glob("step-*") if p.is_dir())
    for p in snaps[: max(0, len(snaps) - max(1, keep))]:
        if p != final:
            shutil.rmtree(p, ignore_errors=True)
    return final


def _point_last(out: Path, target: Path) -> None:
    """Swap the ``last`` symlink atomically (a real ``last/`` folder of an older run is replaced)."""
    link = out / LAST
    tmp = out / f".{LAST}.{secrets.token_hex(4)}"
    try:
        os.symlink(os.path.relpath(target, out), tmp)
    except (OSError, NotImplementedError):  # no symlinks here: find_snapshot scans the folder instead
        return
    try:
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def find_snapshot(out) -> Path | None:
    """The newest complete resume point of a run folder, or None."""
    out = Path(out)
    if (out / LAST / TRAINER).is_file():
        return out / LAST
    snaps = sorted(p for p in (out / SNAPSHOTS).glob("step-*") if (p / TRAINER).is_file())
    return snaps[-1] if snaps else None


def read_snapshot(path: Path) -> dict:
    try:
        return json.loads((path / TRAINER).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path / TRAINER}: unreadable ({e})") from None
