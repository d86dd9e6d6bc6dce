"""Tokenizers: one module per encoding, rebuilt from the dict saved with a checkpoint."""

from __future__ import annotations

from ..errors import CheckpointError

__all__ = ["build_tokenizer"]


def build_tokenizer(spec: dict):
    """Rebuild a tokenizer from its ``to_dict()`` form (as stored in a checkpoint's JSON)."""
    kind = spec.get("kind")
    if kind == "pianoroll":
        from .pianoroll import PianoRollConfig, PianoRollTokenizer

        tok = PianoRollTokenizer(PianoRollConfig(**spec.get("config", {})))
    else:
        raise CheckpointError(f"unknown tokenizer kind {kind!r}")
    if "vocab" in spec and spec["vocab"] != tok.vocab:
        raise CheckpointError(f"the stored {kind} vocabulary does not match this tokenizer's")
    return tok
