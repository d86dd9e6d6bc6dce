"""An F0 model of sung notes: how a singer's pitch moves between and within the written notes.

Each change of note is a second-order (damped spring) step response that starts slightly
before the onset, so pitch lands on the note and overshoots it a little; before a leap the
voice first moves briefly the other way (preparation); a note after a rest is scooped into
from below; long notes grow a vibrato after a delay; a slow seeded drift keeps it from sounding
mechanical. Everything is in cents, on a frame grid (5 ms), and deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["F0Style", "hz_to_midi", "midi_to_hz", "note_f0"]


def midi_to_hz(m) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, np.float64) - 69.0) / 12.0)


def hz_to_midi(f) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.maximum(np.asarray(f, np.float64), 1e-6) / 440.0)


@dataclass(frozen=True)
class F0Style:
    """Knobs of the contour; the defaults are typical of a trained pop/folk voice."""

    vibrato_depth: float = 40.0  # cents, peak (0 switches vibrato off)
    vibrato_rate: float = 5.5  # Hz
    vibrato_delay: float = 0.25  # s after the onset before vibrato starts
    vibrato_fade: float = 0.3  # s to reach full depth
    transition: float = 0.06  # s a change of note takes (about the rise time)
    lead: float | None = None  # s the change starts before the onset; None: so it is halfway there on the onset
    damping: float = 0.6  # < 1 gives overshoot (0.6: about 10 %)
    overshoot_max: float = 50.0  # cents at most, however large the leap
    preparation: float = 0.12  # fraction of the leap the voice first moves the other way
    preparation_max: float = 25.0  # cents
    scoop: float = 40.0  # cents below the note at a fresh onset after a rest
    drift: float = 4.0  # cents of slow seeded wander
    seed: int = 0


def _step(tau: np.ndarray, rise: float, zeta: float) -> np.ndarray:
    """Unit step response of a damped second-order system (0 for tau < 0)."""
    wn = 1.8 / max(rise, 1e-3)  # rise time (10-90 %) of about 1.8 / wn for moderate damping
    zeta = min(max(zeta, 0.05), 0.99)
    wd = wn * np.sqrt(1 - zeta * zeta)
    tp = np.maximum(tau, 0.0)
    r = 1 - np.exp(-zeta * wn * tp) * (np.cos(wd * tp) + zeta / np.sqrt(1 - zeta * zeta) * np.sin(wd * tp))
    return np.where(tau > 0, r, 0.0)


def note_f0(notes: np.ndarray, n_frames: int, frame_period: float = 0.005, style: F0Style = F0Style()) -> np.ndarray:
    """F0 in Hz for every frame (never 0; the caller decides what is voiced).

    ``notes`` is (N, 3): start s, end s, MIDI pitch, sorted and not overlapping.
    """
    t = np.arange(n_frames) * frame_period
    if len(notes) == 0:
        return np.full(n_frames, 220.0)
    starts, ends, pitch = notes[:, 0], notes[:, 1], notes[:, 2] * 100.0  # cents
    cents = np.full(n_frames, pitch[0])
    lead = style.lead
    if lead is None:
        probe = np.arange(0.0, 1.0, 0.0005)
        lead = float(probe[np.argmax(_step(probe, style.transition, style.damping) >= 0.5)])
    overshoot_ratio = np.exp(-np.pi * style.damping / np.sqrt(1 - min(style.damping, 0.99) ** 2))
    for k in range(1, len(notes)):
        delta = pitch[k] - pitch[k - 1]
        if delta == 0:
            continue
        on = starts[k] - lead
        lo, hi = np.searchsorted(t, on - 0.2), np.searchsorted(t, on + 1.0)
        tau = t[lo:hi] - on
        r = _step(tau, style.transition, style.damping)
        # Overshoot scales with the leap but is capped: beyond the cap, damp the excess.
        over = np.maximum(r - 1.0, 0.0)
        cap = min(1.0, style.overshoot_max / max(abs(delta) * overshoot_ratio, 1e-9))
        seg = delta * (np.minimum(r, 1.0) + over * cap)
        prep = -np.sign(delta) * min(style.preparation * abs(delta), style.preparation_max)
        seg = seg + prep * np.exp(-0.5 * ((tau + 0.04) / 0.02) ** 2)
        cents[lo:hi] += seg
        cents[hi:] += delta
    for k in range(len(notes)):
        fresh = k == 0 or starts[k] - ends[k - 1] > 0.05
        lo, hi = np.searchsorted(t, starts[k] - 0.1), np.searchsorted(t, ends[k])
        tau = t[lo:hi] - starts[k]
        if fresh and style.scoop:
            cents[lo:hi] -= style.scoop * np.exp(-np.maximum(tau, 0.0) / 0.05)
        if style.vibrato_depth and ends[k] - starts[k] > style.vibrato_delay + 0.1:
            v0 = starts[k] + style.vibrato_delay
            env = np.clip((t[lo:hi] - v0) / style.vibrato_fade, 0.0, 1.0)
            env *= np.clip((ends[k] - t[lo:hi]) / 0.05, 0.0, 1.0)  # let go just before the note ends
            cents[lo:hi] += style.vibrato_depth * env * np.sin(2 * np.pi * style.vibrato_rate * (t[lo:hi] - v0))
    if style.drift:
        rng = np.random.default_rng(style.seed)
        knots = rng.standard_normal(int(n_frames * frame_period / 0.25) + 2) * style.drift
        cents += np.interp(t, np.arange(len(knots)) * 0.25, knots)
    return midi_to_hz(cents / 100.0)
