"""Harte-style ``.lab`` chord annotations: ``start end label`` per line, times in seconds.

The format of the MIREX chord tasks and of annotated jazz sets (labels like ``C:min7``,
``G:7(b9)``, ``D:hdim7/b3``, ``N`` for no chord). It carries seconds, not beats, so reading
fits a beat grid: the beat period (60-200 qpm) nearest to 120 qpm on which every chord change
falls within 12% of a beat of the grid started at the first chord, which is taken as a
downbeat of 4/4. (Tempo octaves are a guess: a 240 qpm file may read as 120 qpm, half the
bars.) Writing uses the score's tempo map and Harte labels, and adds a ``# tempo=... meter=...``
comment line, which our reader honours, so a file we write reads back to the same chart.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from .. import limits
from ..chart import Chart, chart_to_score, score_to_chart
from ..errors import InputError
from ..harmony import Chord, format_chord, is_no_chord, parse_chord
from ..score import Score
from .atomic import atomic_write
from .textfile import read_text

__all__ = ["fit_beat", "parse_lab", "read_lab", "write_lab"]


def fit_beat(onsets: np.ndarray, tolerance: float = 0.12) -> float:
    """The beat period in seconds that puts every onset (seconds after the first) on a grid."""
    x = np.asarray(onsets, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) < 1e-6:
        return 0.5
    periods = 60.0 / np.arange(60.0, 200.01, 0.05)
    err = np.zeros(len(periods))
    for i in range(0, len(x), 4096):  # in chunks: (periods x onsets) at once is GBs for a long file
        ratio = x[None, i:i + 4096] / periods[:, None]
        err = np.maximum(err, np.abs(ratio - np.round(ratio)).max(axis=1))
    ok = periods[err <= tolerance]
    if len(ok):
        return float(ok[np.argmin(np.abs(np.log2(ok / 0.5)))])
    return float(periods[np.argmin(err)])


_HINT = re.compile(r"#.*?tempo\s*=\s*([0-9.]+).*?meter\s*=\s*(\d+)/(\d+)")


def parse_lab(text: str, source: str = "<lab>") -> Chart:
    rows, hint = [], None
    max_rows = limits.current().max_events
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            m = _HINT.match(line.strip()) if len(line) <= limits.current().max_field_chars else None
            num, den = (int(m.group(2)), int(m.group(3))) if m else (0, 1)
            if m and 0 < float(m.group(1)) < math.inf and 0 < num <= 64 and den in (1, 2, 4, 8, 16) and num * 4 % den == 0:
                hint = (float(m.group(1)), (int(m.group(2)), int(m.group(3))))
            continue
        if len(parts) != 3:
            raise InputError(f"{source} line {n}: expected 'start end chord', got {line.strip()!r}")
        try:
            start, end = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(f"{source} line {n}: times {parts[0]!r} {parts[1]!r} are not numbers") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise InputError(f"{source} line {n}: times {parts[0]!r} {parts[1]!r} are not seconds from the start")
        if len(rows) >= max_rows:
            limits.check_count(len(rows) + 1, "max_events", "chords", source)
        if is_no_chord(parts[2]):
            continue
        rows.append((start, end, parse_chord(parts[2], f"{source} line {n}")))
    if not rows:
        raise InputError(f"{source}: no chords")
    rows.sort(key=lambda r: r[0])
    t0 = rows[0][0]
    span = max(max(r[0], r[1]) for r in rows) - t0  # bars are allocated for it: check before
    longest_beat = 60.0 / hint[0] if hint else 1.0  # the fitted beat is 60-200 qpm
    limits.check_count(math.ceil(span / longest_beat), "max_quarters", "length in beats", source)
    beat = 60.0 / hint[0] if hint else fit_beat(np.array([r[0] - t0 for r in rows] + [rows[-1][1] - t0]))
    limits.check_count(math.ceil(span / beat), "max_quarters", "length in beats", source)
    meter = hint[1] if hint else (4, 4)
    per_bar = Chart(meter=meter).beats
    slots: dict[int, object] = {}
    for start, _, chord in rows:
        slots[round((start - t0) / beat)] = chord
    last = max(slots.keys())
    end_beat = max(last + 1, round((rows[-1][1] - t0) / beat))
    bars: list[list] = [[] for _ in range(-(-end_beat // per_bar))]
    prev = None
    for b in sorted(slots):
        if slots[b] != prev:
            bars[b // per_bar].append((b % per_bar, slots[b]))
        prev = slots[b]
    return Chart(bars, meter, tempo=round(60.0 / beat, 2), meta={"lab_offset": t0})


def read_lab(path: str | os.PathLike) -> Score:
    text, name = read_text(path)
    return limits.check_score(chart_to_score(parse_lab(text, name)), name)


def write_lab(score: Score, path: str | os.PathLike) -> None:
    """Chord symbols as ``start end label`` lines (seconds through the tempo map, Harte labels)."""
    chart = score_to_chart(score)
    quantised = chart_to_score(chart, score.tpq)
    quantised.tempos = list(score.tempos)
    starts = np.array([c.start for c in quantised.chords], dtype=np.int64)
    ends = starts + np.array([c.duration for c in quantised.chords], dtype=np.int64)
    t0, t1 = quantised.seconds(starts), quantised.seconds(ends)
    qpm = score.tempos[0].qpm if score.tempos else 120.0
    lines = [f"# tempo={qpm:g} meter={chart.meter[0]}/{chart.meter[1]} (written by composer; beats are exact)"]
    for a, b, c in zip(t0, t1, quantised.chords):
        lines.append(f"{a:.6f}\t{b:.6f}\t{format_chord(Chord(c.root, c.quality, c.bass), 'harte')}")
    atomic_write(os.fspath(path), ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))


