"""The built-in drum corpus: songs rendered from a drum-tab pattern library a drummer would know.

No large drum-MIDI set ships offline, so ``corpora/drums/patterns.toml`` holds grooves written
as drum tab (rock, hard rock, metal, punk, funk, shuffle, swing, bossa nova, reggae, disco,
half-time, waltz) and fills. A song is sections of 4 or 8 bars: verses on the groove's
``time`` layer, choruses on its ``chorus`` layer, each section a main beat with a variation
beat now and then, small systematic mutations (ghost notes, an open hat on the last and, an
extra kick), a crash on the first beat of a section, a fill at most section ends and a final
crash. See corpora/drums/README.md for provenance and counts.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..drumkit import ACCENT, GHOST, N_CLASSES, NORMAL
from ..drums_io import BarKind, DrumBar, bar_kinds, bars_to_score
from ..errors import CorpusError, InputError
from ..score import Score
from . import data_path

__all__ = [
    "ROWS",
    "Groove",
    "drum_stats",
    "generate_drums",
    "groove_names",
    "groove_score",
    "load_library",
    "render_song",
]

TPQ = 480
ROWS = {"kick": 0, "snare": 1, "hat": 2, "open": 3, "tom_lo": 4, "tom_mid": 5, "tom_hi": 6, "crash": 7, "ride": 8}
_LEVEL = {"-": 0, "g": GHOST, "x": NORMAL, "X": ACCENT}


@dataclass(frozen=True)
class Groove:
    name: str
    description: str
    kind: BarKind
    tempo: tuple[int, int]
    time: tuple[np.ndarray, ...]  # (steps, 9) levels each
    chorus: tuple[np.ndarray, ...]
    beat: tuple[np.ndarray, ...]
    fills: tuple[tuple[int, np.ndarray], ...]  # (first step replaced, levels)
    ghosts: float = 0.0  # chance per empty off-beat step of a ghost snare
    open_hat: float = 0.0  # chance per bar that the hat on the last "and" opens
    extra_kick: float = 0.0  # chance per bar of one more kick on an off-beat 8th


def _parse(table: dict, steps: int, where: str, keep_ok: bool = False) -> tuple[int, np.ndarray]:
    """Drum tab rows -> (steps kept from the groove, (steps, 9) levels)."""
    levels = np.zeros((steps, N_CLASSES), np.uint8)
    starts = set()
    for row, tab in table.items():
        if row not in ROWS:
            continue
        if not isinstance(tab, str) or len(tab) != steps:
            raise CorpusError(f"patterns.toml: {where}.{row} must be {steps} characters, got {tab!r}")
        body = tab.lstrip(".") if keep_ok else tab
        starts.add(steps - len(body))
        for i, ch in enumerate(body, steps - len(body)):
            if ch not in _LEVEL:
                raise CorpusError(f"patterns.toml: {where}.{row} has {ch!r} at step {i + 1} (use - g x X)")
            levels[i, ROWS[row]] = _LEVEL[ch]
    if len(starts) > 1:
        raise CorpusError(f"patterns.toml: {where}: every row of a fill must keep the same steps")
    return (starts.pop() if starts else 0), levels


@cache
def load_library() -> dict[str, Groove]:
    """The shipped grooves by name, validated."""
    path = data_path("drums/patterns.toml")
    raw = tomllib.loads(path.read_text())
    kinds = {(k.meter, k.triplet): k for k in bar_kinds(4, True)}
    out = {}
    for name, g in raw["groove"].items():
        kind = kinds.get((g.get("meter", "4/4"), g.get("grid", "straight") == "triplet"))
        if kind is None:
            raise CorpusError(f"patterns.toml: groove {name!r} has an unknown meter or grid")
        layers = {part: tuple(_parse(t, kind.steps, f"{name}.{part}")[1] for t in g.get(part, ()))
                  for part in ("time", "chorus", "beat")}
        fills = tuple(_parse(t, kind.steps, f"fill.{g['fills']}", keep_ok=True) for t in raw["fill"][g["fills"]])
        if not layers["time"] or not layers["beat"] or not fills:
            raise CorpusError(f"patterns.toml: groove {name!r} needs time, beat and fills")
        out[name] = Groove(name, g.get("description", ""), kind, tuple(g["tempo"]), layers["time"],
                           layers["chorus"] or layers["time"], layers["beat"], fills,
                           g.get("ghosts", 0.0), g.get("open_hat", 0.0), g.get("extra_kick", 0.0))
    return out


def groove_names() -> list[str]:
    return list(load_library())


def _crash(lv: np.ndarray) -> np.ndarray:
    """A crash (with the kick) on the downbeat, where the hat would have been."""
    lv = lv.copy()
    lv[0, 7], lv[0, 0] = ACCENT, max(lv[0, 0], NORMAL)
    lv[0, 2] = lv[0, 3] = 0
    return lv


def groove_score(name: str) -> Score:
    """The --groove prime of a named groove: its main bar opening a section (crash), then again."""
    lib = load_library()
    if name not in lib:
        raise InputError(f"unknown groove {name!r}; named grooves: {', '.join(lib)}")
    g = lib[name]
    bar = np.maximum(g.time[0], g.beat[0])
    return bars_to_score([DrumBar(g.kind, _crash(bar)), DrumBar(g.kind, bar)], TPQ, float(sum(g.tempo) // 2))


def _mutate(lv: np.ndarray, g: Groove, rng: np.random.Generator) -> np.ndarray:
    """The small liberties a drummer takes: ghost notes, an open hat on the last and, a kick."""
    lv = lv.copy()
    n = len(lv)
    beat = 3 if g.kind.triplet else 4
    if g.ghosts:
        off = np.flatnonzero((np.arange(n) % 2 == 1) if not g.kind.triplet else (np.arange(n) % 3 != 0))
        for i in off[rng.random(len(off)) < g.ghosts]:
            if lv[i, 1] == 0:
                lv[i, 1] = GHOST
    last_and = n - (2 if not g.kind.triplet else 1)
    if g.open_hat and rng.random() < g.open_hat and lv[last_and, 2]:
        lv[last_and, 3], lv[last_and, 2] = lv[last_and, 2], 0
    if g.extra_kick and rng.random() < g.extra_kick:
        ands = [i for i in range(beat // 2 if not g.kind.triplet else 2, n, beat) if lv[i, 0] == 0]
        if ands:
            lv[ands[rng.integers(len(ands))], 0] = NORMAL
    return lv


def _fill(lv: np.ndarray, fill: tuple[int, np.ndarray]) -> np.ndarray:
    start, pattern = fill
    out = lv.copy()
    out[start:] = pattern[start:]
    return out


def render_song(rng: np.random.Generator, name: str) -> Score:
    """One song in groove ``name``: 4 to 7 sections of 4 or 8 bars, verses and choruses taking
    turns, fills at section ends (and now and then half-way through), a final crash.
    ``meta["fills"]`` lists the bars written as fills, ``meta["sections"]`` where each section
    starts and which layers it plays (indices into the groove's lists)."""
    g = load_library()[name]
    qpm = float(rng.integers(g.tempo[0], g.tempo[1] + 1))
    sec_len = 8 if rng.random() < 0.7 else 4
    short = [f for f in g.fills if f[0] >= len(g.time[0]) // 2] or list(g.fills)
    bars, fills, sections = [], [], []
    for s in range(int(rng.integers(4, 8))):
        layer = g.chorus if s % 2 else g.time
        t_idx = int(rng.integers(len(layer)))
        time_lv = layer[t_idx]
        m_idx, v_idx = (int(i) for i in rng.integers(len(g.beat), size=2))
        main, var = g.beat[m_idx], g.beat[v_idx]
        sections.append({"bar": len(bars), "layer": "chorus" if s % 2 else "time", "time": t_idx, "beat": m_idx})
        for j in range(sec_len):
            beat = var if j % 2 == 1 and rng.random() < 0.3 else main
            lv = _mutate(np.maximum(time_lv, beat), g, rng)
            if j == 0 and (s > 0 or rng.random() < 0.6):
                lv = _crash(lv)
            if j == sec_len - 1 and rng.random() < 0.85:
                lv = _fill(lv, g.fills[rng.integers(len(g.fills))])
                fills.append(len(bars))
            elif sec_len == 8 and j == 3 and rng.random() < 0.3:
                lv = _fill(lv, short[rng.integers(len(short))])
                fills.append(len(bars))
            bars.append(DrumBar(g.kind, lv, fill=bool(fills and fills[-1] == len(bars))))
    end = np.zeros_like(bars[0].levels)
    end[0, 0], end[0, 7] = ACCENT, ACCENT
    bars.append(DrumBar(g.kind, end))
    score = bars_to_score(bars, TPQ, qpm, rng)
    score.meta.update(style="drums", groove=name, fills=fills, bars=len(bars), sections=sections)
    return score


def generate_drums(n_songs: int, seed: int = 0) -> list[Score]:
    """``n_songs`` drum songs, grooves in turn, song i from its own Generator (seed, i): the first
    songs of a large corpus equal a small corpus of the same seed."""
    names = groove_names()
    if n_songs < 0:
        raise CorpusError(f"n_songs must be >= 0, got {n_songs}")
    return [render_song(np.random.default_rng([seed, i]), names[i % len(names)]) for i in range(n_songs)]


def drum_stats(scores: list[Score]) -> dict[str, float]:
    """Counts of a rendered corpus, and how often ``drums_io.is_fill`` agrees with the renderer."""
    from ..tokenizers.drums import DrumsTokenizer

    tok = DrumsTokenizer()
    n_bars = hits = agree = written = heard = 0
    words: set = set()
    for s in scores:
        bars, rep = tok.bars(s)
        fills = set(s.meta["fills"])
        n_bars, hits = n_bars + len(bars), hits + rep.notes
        written, heard = written + len(fills), heard + sum(b.fill for b in bars)
        agree += sum(b.fill == (i in fills) for i, b in enumerate(bars))
        for b in bars:
            words.update(b.words.tolist())
    return {"songs": len(scores), "bars": n_bars, "hits": hits, "distinct_words": len(words),
            "fills_written": written, "fills_heard": heard, "fill_agreement": agree / max(n_bars, 1)}


if __name__ == "__main__":  # python -m composer.corpora.drums [n_songs]
    import sys

    t0 = time.perf_counter()
    corpus = generate_drums(int(sys.argv[1]) if len(sys.argv) > 1 else 120)
    print(f"rendered {len(corpus)} songs in {time.perf_counter() - t0:.2f} s")
    for k, v in drum_stats(corpus).items():
        print(f"{k:>16}: {v:.4g}")
