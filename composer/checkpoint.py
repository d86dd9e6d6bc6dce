"""Checkpoints that describe themselves, with no pickle anywhere.

A checkpoint is a folder: ``model.safetensors`` (weights) and ``config.json`` (format version,
model kind + config, tokenizer kind + config + vocab, style, step, metrics, SHA-256 of the
weights). The JSON is validated before any tensor is read, the hash and the shapes are checked
before the weights are loaded, and every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError
from .io.atomic import atomic_write

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "read_config", "weights_info",
           "save_tensors", "load_tensors", "write_json"]

FORMAT, VERSION = "composer-checkpoint", 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle"}


@dataclass
class Checkpoint:
    model: object  # nn.Module
    tokenizer: object
    config: dict  # the whole config.json
    path: Path


def write_json(path: Path, obj: dict) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_tensors(path: Path, tensors: dict) -> str:
    """Write tensors as safetensors (atomically); returns the file's SHA-256."""
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def load_tensors(path: Path, sha256: str | None = None) -> dict:
    from safetensors.torch import load

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read weights ({e.strerror})") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(f"{path}: weights do not match the SHA-256 in {CONFIG} (corrupt or replaced)")
    try:
        return load(data)
    except Exception as e:  # safetensors raises its own error types on malformed headers
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def save_checkpoint(directory, model, tokenizer, *, style: str, step: int = 0,
                    metrics: dict | None = None, extra: dict | None = None) -> Path:
    """Write weights then config into ``directory`` (created if needed)."""
    from .models import config_dict, model_kind

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    sha = save_tensors(d / WEIGHTS, model.state_dict())
    n_params = sum(p.numel() for p in model.parameters())
    write_json(d / CONFIG, {
        "format": FORMAT, "version": VERSION,
        "model": {"kind": model_kind(model), "config": config_dict(model), "parameters": n_params},
        "tokenizer": tokenizer.to_dict(),
        "style": style, "step": step, "metrics": metrics or {},
        "weights_sha256": sha, **(extra or {}),
    })
    return d


def read_config(directory) -> dict:
    """The validated config.json of a checkpoint folder (no tensors read, no torch import)."""
    d = Path(directory)
    if d.is_file() and d.suffix in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{d}: pickle-based checkpoints are refused (loading one can run arbitrary code); "
            "composer checkpoints are folders with model.safetensors + config.json"
        )
    if not d.is_dir():
        raise CheckpointError(f"{d}: no such checkpoint folder")
    try:
        cfg = json.loads((d / CONFIG).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{d}: not a checkpoint (no {CONFIG})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{d / CONFIG}: unreadable ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{d / CONFIG}: not a composer checkpoint")
    if cfg.get("version") != VERSION:
        raise CheckpointError(f"{d / CONFIG}: checkpoint version {cfg.get('version')!r}, this composer reads {VERSION}")
    for key, typ in (("model", dict), ("tokenizer", dict), ("style", str), ("weights_sha256", str)):
        if not isinstance(cfg.get(key), typ):
            raise CheckpointError(f"{d / CONFIG}: missing or malformed {key!r}")
    if not isinstance(cfg["model"].get("kind"), str) or not isinstance(cfg["model"].get("config"), dict):
        raise CheckpointError(f"{d / CONFIG}: missing or malformed model kind/config")
    return cfg


def weights_info(directory) -> tuple[int, int]:
    """(file bytes, parameter count) read from the safetensors header alone."""
    path = Path(directory) / WEIGHTS
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    n = 0
    for name, info in header.items():
        if name != "__metadata__":
            size = 1
            for s in info["shape"]:
                size *= s
            n += size
    return path.stat().st_size, n


def load_checkpoint(directory, device: str = "cpu") -> Checkpoint:
    """Rebuild model (eval mode) and tokenizer from a checkpoint folder."""
    from .models import build_model
    from .tokenizers import build_tokenizer

    d = Path(directory)
    cfg = read_config(d)
    tokenizer = build_tokenizer(cfg["tokenizer"])
    model = build_model(cfg["model"]["kind"], cfg["model"]["config"])
    tensors = load_tensors(d / WEIGHTS, cfg["weights_sha256"])
    load_into(model, tensors, d / WEIGHTS)
    return Checkpoint(model.to(device).eval(), tokenizer, cfg, d)


def load_into(model, tensors: dict, where) -> None:
    """Load a state dict after checking names and shapes, so a mismatch is one clear line."""
    expected = model.state_dict()
    missing, unexpected = expected.keys() - tensors.keys(), tensors.keys() - expected.keys()
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit the model (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"{where}: {k} has shape {tuple(v.shape)}, the config needs {tuple(expected[k].shape)}")
    model.load_state_dict(tensors)
