"""Format conversion: ABC ⇄ MIDI ⇄ MusicXML, with what each direction needs on the way.

To ABC, a performance (MIDI) is quantised and given a key and a meter when it has none, so
the writer can spell it; a tune book in gives a tune book (or a file per tune) out.
"""

from __future__ import annotations

import os
from dataclasses import replace

from .errors import InputError
from .score import KeySignature, Score, TimeSignature, pitch_class_histogram, quantize
from .theory import key_from_histogram

__all__ = ["convert_file", "prepare_for_abc"]


def prepare_for_abc(score: Score, grid: int = 4) -> Score:
    """Quantise to 1/grid of a quarter; add a detected key and 4/4 where the score has none."""
    if grid not in (1, 2, 3, 4, 6, 8, 12, 16):
        raise InputError(f"grid must be one of 1, 2, 3, 4, 6, 8, 12, 16 (divisions of a quarter), got {grid}")
    out = quantize(score, score.tpq // grid) if score.tpq % grid == 0 else score
    if not out.key_signatures:
        tonic, mode = key_from_histogram(pitch_class_histogram(out))
        out = replace(out, key_signatures=[KeySignature(0, tonic, mode)], meta={**out.meta, "key_detected": True})
    if not out.time_signatures:
        out = replace(out, time_signatures=[TimeSignature(0, 4, 4)])
    return out


def convert_file(source, output, grid: int = 4) -> list[str]:
    """Read every piece in ``source`` and write them to ``output``; returns the paths written."""
    from .io import read_all, write_all

    if not os.path.exists(source):
        raise InputError(f"{source}: no such file")
    scores = read_all(source)
    if not scores:
        raise InputError(f"{source}: nothing to convert")
    if os.path.splitext(os.fspath(output))[1].lower() == ".abc":
        scores = [prepare_for_abc(s, grid) for s in scores]
    return write_all(scores, output)
