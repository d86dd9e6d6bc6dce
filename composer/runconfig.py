"""Run configs in TOML: every ``compose train`` option can come from a file, and each run writes
the options it resolved to ``config.toml`` so ``compose train --config runs/x/config.toml``
repeats it.

The file is flat, one key per option, named as the option with ``_`` for ``-``::

    style = "folk"
    corpus = "data/folk"
    model = "transformer"
    epochs = 10
    batch_size = 32
    precision = "bf16"

Precedence: the style's defaults, then the file, then options on the command line.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

from .errors import InputError

__all__ = ["RUN_KEYS", "load_run_config", "write_run_config", "run_keys"]

RUN_KEYS = {"style": "str", "corpus": "str", "size": "str", "model": "str", "output": "str"}


def run_keys() -> dict[str, str]:
    """Every key a run config may hold -> its type name."""
    from .train import TrainConfig

    return {**RUN_KEYS, **{f.name: str(f.type) for f in fields(TrainConfig)}}


def _check_type(path, key: str, value, typ: str):
    if typ == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    ok = {"str": str, "int": int, "float": float, "bool": bool}[typ]
    if not isinstance(value, ok) or (typ == "int" and isinstance(value, bool)):
        raise InputError(f"{path}: {key} must be {'an' if typ == 'int' else 'a'} {typ}, got {value!r}")
    return value


def load_run_config(path) -> dict:
    """The options in a TOML run config, checked: an unknown key or a wrong type is one clear line."""
    import tomllib

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{p}: not valid TOML ({e})") from None
    known = run_keys()
    out = {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{p}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        out[key] = _check_type(p, key, value, known[key])
    return out


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else "nan" if math.isnan(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a TOML basic string: JSON's escapes are TOML's


def write_run_config(path, config: dict) -> None:
    """Write ``config`` (flat, scalar values; None left out) as TOML, atomically."""
    from .io.atomic import atomic_write

    lines = ["# the resolved options of this run; `compose train --config THIS -o NEW_FOLDER` repeats it"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in config.items() if v is not None]
    atomic_write(path, ("\n".join(lines) + "\n").encode())
