"""Musical metrics of what a checkpoint composes, for ``compose eval``.

Every style gets the MusPy-style statistics of its sampled pieces (Dong et al. 2020: pitch-class
entropy, scale consistency, polyphony, empty-beat rate, drum-in-pattern rate); a style may add
its own (``Style.metrics``: the blues' form report, folk's bar lengths). Pieces are sampled in C
with no swing or humanising, so the figures measure the model, not the performance options.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["score_metrics", "musical_metrics", "blues_metrics", "folk_metrics"]


def _pitched(scores) -> np.ndarray:
    parts = [t.notes for s in scores for t in s.tracks if not t.is_drum and len(t.notes)]
    return np.concatenate(parts) if parts else np.zeros(0)


def score_metrics(scores: list) -> dict[str, float]:
    """MusPy's definitions over a list of Scores (pitched tracks, drums apart)."""
    from .theory import scale_pcs

    out: dict[str, float] = {}
    notes = _pitched(scores)
    if len(notes):
        hist = np.bincount(notes["pitch"] % 12, minlength=12).astype(float)
        p = hist[hist > 0] / hist.sum()
        out["pitch-class entropy (bits)"] = float(-(p * np.log2(p)).sum())
        pcs = notes["pitch"] % 12
        best = max(np.isin(pcs, sorted(scale_pcs(tonic, mode))).mean()
                   for tonic in range(12) for mode in ("major", "minor"))
        out["scale consistency"] = float(best)
    poly, empty, beats, drum_on, drum_all = [], 0, 0, 0, 0
    for s in scores:
        sixteenth = max(1, s.tpq // 4)
        steps = max(1, math.ceil(s.end / sixteenth))
        sounding = np.zeros(steps, np.int64)
        onset_beats = np.zeros(max(1, math.ceil(s.end / s.tpq)), bool)
        for t in s.tracks:
            if not len(t.notes):
                continue
            onset_beats[np.minimum(t.notes["start"] // s.tpq, len(onset_beats) - 1)] = True
            if t.is_drum:
                drum_all += len(t.notes)
                drum_on += int((t.notes["start"] % sixteenth == 0).sum())
                continue
            a = t.notes["start"] // sixteenth
            b = np.maximum(a + 1, -(-(t.notes["start"] + t.notes["duration"]) // sixteenth))
            np.add.at(sounding, np.minimum(a, steps - 1), 1)
            np.add.at(sounding, np.minimum(b, steps - 1), -1)
        level = np.cumsum(sounding)
        if (level > 0).any():
            poly.append(level[level > 0].mean())
        empty, beats = empty + int((~onset_beats).sum()), beats + len(onset_beats)
    if poly:
        out["polyphony"] = float(np.mean(poly))
    if beats:
        out["empty-beat rate"] = empty / beats
    if drum_all:
        out["drum-in-pattern rate"] = drum_on / drum_all
    return out


def blues_metrics(scores: list, tokenizer) -> dict[str, float]:
    """The blues form report (metrics.py) of the sampled pieces, re-encoded as frames."""
    from .corpora.blues import load_progressions
    from .errors import TokenizerError
    from .metrics import blues_form_report

    frames = []
    for s in scores:
        try:
            frames.append(np.asarray(tokenizer.encode(s)))
        except TokenizerError:
            continue
    if not frames:
        return {}
    n = min(len(f) for f in frames)
    r = blues_form_report(np.stack([f[:n] for f in frames]), tokenizer, load_progressions())
    return {"bars on the progression": r.bar_match, "melody notes in the blues scale": r.in_scale,
            "strong-beat melody notes on chord tones": r.chord_tones_strong}


def folk_metrics(scores: list, tokenizer) -> dict[str, float]:
    """Share of tunes whose every bar is the meter's length."""
    from .metrics import abc_bars_ok

    return {"tunes with every bar the meter's length": float(np.mean([abc_bars_ok(s) for s in scores]))}


def musical_metrics(checkpoint, *, samples: int = 8, seed: int = 0) -> dict[str, float]:
    """Sample ``samples`` pieces from ``checkpoint`` (seeds seed, seed+1, ...) and measure them."""
    from .checkpoint import load_checkpoint
    from .pipeline import generate, resolve_model

    st, path = resolve_model(None, checkpoint)
    scores = [generate(checkpoint=path, seed=seed + i, swing=0.0) for i in range(samples)]
    out = {"pieces sampled": float(len(scores)), **score_metrics(scores)}
    hook = getattr(st, "metrics", None)
    if hook is not None:
        out.update(hook(scores, load_checkpoint(path).tokenizer))
    return out
