"""Corpus loaders and builders: a folder or a bundled set in, a list of Scores out."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path"]


def data_path(relative: str) -> Path:
    """Path of a file in the shipped ``corpora/`` data (source checkout or installed wheel)."""
    here = Path(__file__).resolve().parent
    for root in (here.parents[1] / "corpora", here.parent / "_corpora"):
        if (root / relative).exists():
            return root / relative
    raise FileNotFoundError(f"shipped corpus file {relative!r} not found")
