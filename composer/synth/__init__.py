"""Hear a Score: the built-in synthesiser, SoundFont rendering, and writing audio files.

``render(score)`` needs nothing beyond NumPy; ``render(score, soundfont="font.sf2")`` plays the
score through a SoundFont with the optional ``tinysoundfont`` binding (``soundfont="system"``
looks for a General MIDI font where Linux distributions install one). Both return float32
stereo ``(n, 2)`` at ``sample_rate``, peak-normalised to -1 dBFS, never clipped.
"""

from __future__ import annotations

import os

import numpy as np

from ..score import Score

__all__ = ["render", "render_to_file"]


def render(score: Score, sample_rate: int = 44100, *, soundfont: str | os.PathLike | None = None,
           reverb: float = 0.18, progress: bool = False) -> np.ndarray:
    """Render ``score`` to float32 stereo samples of shape (n, 2), peak-normalised without clipping.

    ``soundfont``: None for the built-in voices, a .sf2/.sf3 path, or "system" for a GM font
    found in the usual places. ``reverb``: level of a small room's tail (0 = dry).
    Raises InputError for a missing/corrupt font or a bad rate.
    """
    from ..errors import InputError
    from .engine import normalize_peak, render_builtin
    from .reverb import add_reverb

    if not 0.0 <= reverb <= 1.0:
        raise InputError(f"reverb must be between 0 and 1, got {reverb}")
    if not 8000 <= int(sample_rate) <= 192_000:
        raise InputError(f"sample rate must be between 8000 and 192000 Hz, got {sample_rate}")
    if soundfont is None:
        audio = render_builtin(score, int(sample_rate), progress=progress)
    else:
        from .soundfont import render_soundfont

        audio = render_soundfont(score, soundfont, int(sample_rate), progress=progress)
    return normalize_peak(add_reverb(audio, int(sample_rate), wet=reverb))


def render_to_file(score: Score, path: str | os.PathLike, sample_rate: int = 44100, *,
                   soundfont: str | os.PathLike | None = None, reverb: float = 0.18,
                   progress: bool = False) -> np.ndarray:
    """Render and write an audio file (.wav, .flac, .ogg) atomically; returns the samples."""
    from ..io.audio import write_audio

    audio = render(score, sample_rate, soundfont=soundfont, reverb=reverb, progress=progress)
    write_audio(path, audio, sample_rate)
    return audio
