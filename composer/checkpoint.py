"""Checkpoints that describe themselves, with no pickle anywhere.

A checkpoint is a folder: ``model.safetensors`` (weights) and ``config.json`` (format version,
model kind + config, tokenizer kind + config + vocab, style, step, metrics, SHA-256 of the
weights). The JSON is validated before any tensor is read, the hash and the shapes are checked
before the weights are loaded, and every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError
from .io.atomic import atomic_write

__all__ = ["Checkpoint", "check_shapes", "load_checkpoint", "load_tensors", "read_config", "read_header",
           "save_checkpoint", "save_tensors", "weights_info", "write_json"]

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


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_MAX_HEADER = 16 * 2**20  # a safetensors header is JSON names + shapes: megabytes at most


def read_header(path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors header, checked for consistency with the
    file's size (every byte accounted for, no overlaps), without reading any tensor data."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 2 <= n <= _MAX_HEADER:
                raise CheckpointError(f"{path}: not a valid safetensors file (header length {n})")
            raw = f.read(n)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read weights ({e.strerror})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path}: not a valid safetensors file (unreadable header)") from None
    if not isinstance(header, dict) or len(raw) != n:
        raise CheckpointError(f"{path}: not a valid safetensors file (truncated header)")
    out, spans = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (a, b) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            ok = (dtype in _DTYPE_BYTES and all(isinstance(d, int) and d >= 0 for d in shape)
                  and isinstance(a, int) and isinstance(b, int) and 0 <= a <= b)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"{path}: not a valid safetensors file (bad entry for {name!r})")
        count = 1
        for d in shape:
            count *= d
        if count * _DTYPE_BYTES[dtype] != b - a:
            raise CheckpointError(f"{path}: {name} claims shape {list(shape)} but holds {b - a} bytes")
        out[name] = (dtype, shape)
        spans.append((a, b))
    pos = 0
    for a, b in sorted(spans):
        if a != pos:
            raise CheckpointError(f"{path}: not a valid safetensors file (tensor data overlaps or has gaps)")
        pos = b
    if 8 + n + pos != size:
        raise CheckpointError(f"{path}: weights file is {size} bytes, its header accounts for {8 + n + pos}")
    return out


def load_tensors(path: Path, sha256: str | None = None) -> dict:
    """Tensors of a safetensors file (no pickle: safetensors holds raw numbers only), after the
    header is checked and, when given, the whole file's SHA-256."""
    from safetensors.torch import load

    read_header(path)
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
    if d.is_file() and d.name in (WEIGHTS, CONFIG):
        d = d.parent  # a file inside the checkpoint folder names the folder
    if not d.is_dir():
        raise CheckpointError(f"{d}: no such checkpoint folder")
    try:
        if (d / CONFIG).stat().st_size > _MAX_HEADER:
            raise CheckpointError(f"{d / CONFIG}: {(d / CONFIG).stat().st_size:,} bytes is too large for a config")
        cfg = json.loads((d / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{d}: not a checkpoint (no {CONFIG})") from None
    except RecursionError:
        raise CheckpointError(f"{d / CONFIG}: unreadable (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{d / CONFIG}: unreadable ({' '.join(str(e).split())})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{d / CONFIG}: not a composer checkpoint")
    if cfg.get("version") != VERSION:
        raise CheckpointError(f"{d / CONFIG}: checkpoint version {cfg.get('version')!r}, this composer reads {VERSION}")
    for key, typ in (("model", dict), ("tokenizer", dict), ("style", str), ("weights_sha256", str)):
        if not isinstance(cfg.get(key), typ):
            raise CheckpointError(f"{d / CONFIG}: missing or malformed {key!r}")
    if not isinstance(cfg["model"].get("kind"), str) or not isinstance(cfg["model"].get("config"), dict):
        raise CheckpointError(f"{d / CONFIG}: missing or malformed model kind/config")
    if not isinstance(cfg["tokenizer"].get("kind"), str):
        raise CheckpointError(f"{d / CONFIG}: missing or malformed tokenizer kind")
    if not isinstance(cfg.get("step", 0), int) or not isinstance(cfg.get("metrics", {}), dict):
        raise CheckpointError(f"{d / CONFIG}: malformed step or metrics")
    if len(cfg["weights_sha256"]) != 64 or any(c not in "0123456789abcdef" for c in cfg["weights_sha256"]):
        raise CheckpointError(f"{d / CONFIG}: weights_sha256 is not a SHA-256 hex digest")
    return cfg


def weights_info(directory) -> tuple[int, int]:
    """(file bytes, parameter count) read from the safetensors header alone."""
    path = Path(directory) / WEIGHTS
    n = 0
    for _, shape in read_header(path).values():
        size = 1
        for s in shape:
            size *= s
        n += size
    return path.stat().st_size, n


def load_checkpoint(directory, device: str = "cpu") -> Checkpoint:
    """Rebuild model (eval mode) and tokenizer from a checkpoint folder."""
    import torch

    from .models import build_model
    from .tokenizers import build_tokenizer

    d = Path(directory)
    cfg = read_config(d)
    if d.is_file():
        d = d.parent
    tokenizer = build_tokenizer(cfg["tokenizer"])
    kind, mcfg = cfg["model"]["kind"], cfg["model"]["config"]
    # Shapes first, on the meta device (no memory): a config asking for a 10^12-parameter model
    # is refused by comparison with the weights file's header before anything is allocated.
    try:
        with torch.device("meta"):
            skeleton = build_model(kind, mcfg)
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - a config value the model's constructor rejects
        raise CheckpointError(f"{d / CONFIG}: bad {kind} config ({type(e).__name__}: {e})") from None
    header = read_header(d / WEIGHTS)
    check_shapes({k: v.shape for k, v in skeleton.state_dict().items()}, {k: s for k, (_, s) in header.items()},
                 d / WEIGHTS)
    model = build_model(kind, mcfg)
    tensors = load_tensors(d / WEIGHTS, cfg["weights_sha256"])
    load_into(model, tensors, d / WEIGHTS)
    return Checkpoint(model.to(device).eval(), tokenizer, cfg, d)


def check_shapes(expected: dict, found: dict, where) -> None:
    """Names and shapes of stored tensors against what the config's model needs: one clear line."""
    missing, unexpected = expected.keys() - found.keys(), found.keys() - expected.keys()
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit the model (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    for k, shape in found.items():
        if tuple(shape) != tuple(expected[k]):
            raise CheckpointError(f"{where}: {k} has shape {tuple(shape)}, the config needs {tuple(expected[k])}")


def load_into(model, tensors: dict, where) -> None:
    """Load a state dict after checking names and shapes, so a mismatch is one clear line."""
    check_shapes({k: v.shape for k, v in model.state_dict().items()}, {k: v.shape for k, v in tensors.items()}, where)
    model.load_state_dict(tensors)
