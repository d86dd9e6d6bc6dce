"""A piano-roll picture of a Score: one colour per track, bar lines, chord symbols, a drum lane.

People would rather look than read: ``compose plot song.mid -o roll.png``. Time runs in bars
(through the score's time signatures), pitch upwards; drum tracks get their own panel with
one row per kit piece, so hats and kicks do not land among the melody's notes.
"""

from __future__ import annotations

import io
import os

import numpy as np

from .errors import InputError
from .score import Score

__all__ = ["bar_starts", "plot_pianoroll"]

_DRUM_NAMES = {35: "kick", 36: "kick", 37: "stick", 38: "snare", 39: "clap", 40: "snare", 41: "tom", 42: "hat",
               43: "tom", 44: "pedal hat", 45: "tom", 46: "open hat", 47: "tom", 48: "tom", 49: "crash", 50: "tom",
               51: "ride", 52: "china", 53: "ride bell", 54: "tambourine", 55: "splash", 56: "cowbell",
               57: "crash", 59: "ride"}


def bar_starts(score: Score, end: int | None = None) -> np.ndarray:
    """Tick of every bar line up to ``end`` (default: the score's end), following meter changes."""
    end = score.end if end is None else end
    sigs = sorted(score.time_signatures, key=lambda s: s.time) or []
    bars: list[int] = []
    t, i = 0, 0
    while t <= end and len(bars) < 100_000:
        while i + 1 < len(sigs) and sigs[i + 1].time <= t:
            i += 1
        bar = sigs[i].bar_ticks(score.tpq) if sigs else 4 * score.tpq
        bars.append(t)
        t += max(bar, 1)
    return np.asarray(bars, dtype=np.int64)


def _chord_label(c) -> str:
    from .harmony import Chord, format_chord

    try:
        return format_chord(Chord(c.root % 12, c.quality, c.bass))
    except Exception:  # an unusual quality string: show it as stored
        return f"{c.root}:{c.quality}"


def plot_pianoroll(score: Score, path: str | os.PathLike, *, title: str | None = None) -> None:
    """Draw ``score`` as a piano roll PNG at ``path`` (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from .io.atomic import atomic_write

    if os.path.splitext(os.fspath(path))[1].lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"cannot write {os.fspath(path)}: a plot is written as .png, .svg or .pdf")
    if score.end == 0:
        raise InputError("nothing to plot: the score has no notes")
    bars = bar_starts(score)

    def x_of(ticks: np.ndarray) -> np.ndarray:  # ticks → bar number (1-based, fractional)
        ticks = np.asarray(ticks, dtype=np.float64)
        i = np.clip(np.searchsorted(bars, ticks, side="right") - 1, 0, len(bars) - 1)
        length = np.diff(np.append(bars, bars[-1] + (bars[-1] - bars[-2] if len(bars) > 1 else 4 * score.tpq)))
        return 1.0 + i + (ticks - bars[i]) / length[i]

    pitched = [(i, t) for i, t in enumerate(score.tracks) if not t.is_drum and len(t)]
    drums = [t for t in score.tracks if t.is_drum and len(t)]
    drum_keys = sorted({int(p) for t in drums for p in np.unique(t.notes["pitch"])})
    n_bars = len(bars)
    width = float(np.clip(4 + n_bars * 0.35, 8, 40))
    heights = ([3] if pitched else []) + ([max(1.0, 0.25 * len(drum_keys))] if drums else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, 2 + 2 * sum(heights) / max(len(heights), 1)),
                             dpi=100, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)
    axes = list(axes[:, 0])
    colours = plt.get_cmap("tab10")
    x_end = float(x_of(score.end))

    if pitched:
        ax = axes[0]
        lo = min(int(t.notes["pitch"].min()) for _, t in pitched)
        hi = max(int(t.notes["pitch"].max()) for _, t in pitched)
        for j, (i, t) in enumerate(pitched):
            x0 = x_of(t.notes["start"])
            x1 = x_of(t.notes["start"] + t.notes["duration"])
            y = t.notes["pitch"].astype(np.float64)
            alpha = 0.35 + 0.65 * t.notes["velocity"] / 127.0
            boxes = np.stack([np.stack([x0, y - 0.4], 1), np.stack([x1, y - 0.4], 1),
                              np.stack([x1, y + 0.4], 1), np.stack([x0, y + 0.4], 1)], 1)
            colour = np.array(colours(j % 10))
            face = np.tile(colour, (len(t), 1))
            face[:, 3] = alpha
            ax.add_collection(PolyCollection(boxes, facecolors=face, edgecolors="none",
                                             label=t.name or f"track {i + 1} (program {t.program})"))
        ax.set_ylim(lo - 2, hi + 5)
        ax.set_ylabel("MIDI pitch")
        for p in range(lo - lo % 12, hi + 3, 12):  # label the Cs
            ax.axhline(p, color="0.85", lw=0.5, zorder=0)
        ax.set_yticks(list(range(lo - lo % 12 + 12 * (lo % 12 > 0), hi + 3, 12)))
        ax.set_yticklabels([f"C{p // 12 - 1}" for p in ax.get_yticks()])
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
        for c in score.chords:
            ax.text(float(x_of(c.start)) + 0.05, hi + 2.5, _chord_label(c), fontsize=8, va="bottom", ha="left",
                    clip_on=True)
    if drums:
        ax = axes[-1]
        row = {k: r for r, k in enumerate(drum_keys)}
        for t in drums:
            x = x_of(t.notes["start"])
            y = np.array([row[int(p)] for p in t.notes["pitch"]])
            ax.scatter(x, y, s=6 + 18 * t.notes["velocity"] / 127.0, marker="s", color="0.25", linewidths=0)
        ax.set_yticks(range(len(drum_keys)))
        ax.set_yticklabels([_DRUM_NAMES.get(k, str(k)) for k in drum_keys], fontsize=7)
        ax.set_ylim(-0.7, len(drum_keys) - 0.3)
        ax.set_ylabel("drums")
    step = max(1, int(np.ceil(n_bars / 32)))
    for ax in axes:
        for b in range(n_bars):
            ax.axvline(1 + b, color="0.6" if b % 4 else "0.35", lw=0.6, zorder=0)
        pad = 0.01 * max(n_bars, 8)  # a hit on the first beat stays off the frame
        ax.set_xlim(1 - pad, max(x_end, 2.0) + pad)
    axes[-1].set_xticks(range(1, n_bars + 1, step))
    axes[-1].set_xlabel("bar")
    axes[0].set_title(title or score.meta.get("title") or "piano roll", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fmt = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
