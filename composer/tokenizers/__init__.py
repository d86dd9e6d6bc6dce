"""Tokenizers: one module per encoding, rebuilt from the dict saved with a checkpoint.

Every tokenizer has ``kind``, ``family`` ("frames" or "tokens"), ``vocab``, ``encode(score)``,
``decode(...)``, ``to_dict()``, ``from_dict(spec)`` and ``model_inputs()`` (what the model's
shapes depend on). Token tokenizers add ``end_id``, ``options`` (the generation options they
take), ``prompt(bars, **options)`` and ``grammar(bars, **options)``; a tokenizer whose vocabulary
comes from the corpus has ``fit(scores)``.
"""

from __future__ import annotations

import importlib

from ..errors import CheckpointError

__all__ = ["TOKENIZERS", "build_tokenizer"]

# kind -> "module:Class", imported only when used.
TOKENIZERS = {
    "pianoroll": "composer.tokenizers.pianoroll:PianoRollTokenizer",
    "chords": "composer.tokenizers.chords:ChordTokenizer",
    "abc": "composer.tokenizers.abc_tokens:AbcTokenizer",
    "drums": "composer.tokenizers.drums:DrumsTokenizer",
    "remi": "composer.tokenizers.remi:RemiTokenizer",
    "polyroll": "composer.tokenizers.polyroll:PolyRollTokenizer",
    "mulaw": "composer.tokenizers.mulaw:MuLawCodec",
    "world_features": "composer.synth.sing_corpus:FeatureCodec",
}


def build_tokenizer(spec: dict):
    """Rebuild a tokenizer from its ``to_dict()`` form (as stored in a checkpoint's JSON)."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in TOKENIZERS:
        raise CheckpointError(f"unknown tokenizer kind {kind!r}; known: {', '.join(TOKENIZERS)}")
    module, cls = TOKENIZERS[kind].split(":")
    try:
        return getattr(importlib.import_module(module), cls).from_dict(spec)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"bad {kind} tokenizer config: {e}") from None
