"""Synthesised General MIDI drum kit (channel 10): kick, snares, hats, toms, cymbals, hand percussion.

Each sound is made once per (GM note, sample rate) from sines with falling pitch, filtered
noise and 808-style metallic square clusters, then reused for every hit. The noise comes from
a seeded generator, so the same score renders to the same samples every time.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["CHOKES", "drum_pan", "drum_sound"]

# Six square waves at inharmonic ratios: the TR-808's metal, the base of hats and cymbals.
_METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)

# Open hi-hat (46) is cut short by a closed (42) or pedal (44) hat, as on a real stand.
CHOKES = {46: (42, 44)}

_PAN = {42: 0.35, 44: 0.35, 46: 0.35, 41: -0.45, 43: -0.3, 45: -0.1, 47: 0.05, 48: 0.2, 50: 0.35,
        49: -0.4, 57: 0.45, 51: 0.4, 59: 0.4, 53: 0.4, 52: -0.5, 55: -0.3, 54: 0.25, 56: 0.2, 69: -0.2, 70: 0.2}


# Mix level of each piece (its sound is made with peak 1): hats and cymbals sit under kick and snare.
_LEVEL = {35: 1.0, 36: 1.0, 38: 0.9, 40: 0.9, 37: 0.5, 39: 0.7, 42: 0.4, 44: 0.35, 46: 0.45, 49: 0.55, 57: 0.55,
          51: 0.4, 59: 0.4, 53: 0.45, 52: 0.5, 55: 0.45, 54: 0.4, 41: 0.8, 43: 0.8, 45: 0.8, 47: 0.8, 48: 0.8, 50: 0.8}


def drum_pan(note: int) -> float:
    """Stereo position of a kit piece as seen from the audience (-1 left, 0 centre, 1 right)."""
    return _PAN.get(int(note), 0.0)


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr), dtype=np.float64) / sr


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, n)


def _band(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    """Brick-wall band-pass in the frequency domain (sounds are short, so one FFT is cheap)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    spec[(f < lo) | (f > hi)] = 0.0
    return np.fft.irfft(spec, len(x))


def _sweep(t: np.ndarray, f_start: float, f_end: float, tau: float) -> np.ndarray:
    """A sine whose pitch falls exponentially from f_start to f_end (time constant tau)."""
    freq_integral = f_end * t + (f_start - f_end) * tau * (1.0 - np.exp(-t / tau))
    return np.sin(2 * np.pi * freq_integral)


def _metal(t: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return sum(np.sign(np.sin(2 * np.pi * f * scale * t + i)) for i, f in enumerate(_METAL_HZ)) / len(_METAL_HZ)


def _mix(*parts: np.ndarray) -> np.ndarray:
    """Sum sounds of different lengths (the shorter ones padded with silence)."""
    out = np.zeros(max(len(p) for p in parts))
    for p in parts:
        out[: len(p)] += p
    return out


def _kick(sr: int) -> np.ndarray:
    t = _t(0.45, sr)
    body = _sweep(t, 160.0, 48.0, 0.035) * np.exp(-t / 0.16)
    click = _band(_noise(len(t), 36), sr, 1500, 6000) * np.exp(-t / 0.004)
    return body + 0.25 * click


def _snare(sr: int, note: int) -> np.ndarray:
    t = _t(0.3, sr)
    tone = (np.sin(2 * np.pi * 185 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t / 0.05)
    rattle = _band(_noise(len(t), note), sr, 1200, 9000) * np.exp(-t / 0.075)
    return 0.55 * tone + 0.9 * rattle


def _tom(sr: int, hz: float) -> np.ndarray:
    t = _t(0.6, sr)
    return _sweep(t, hz * 1.6, hz, 0.03) * np.exp(-t / 0.2) + 0.1 * _band(_noise(len(t), int(hz)), sr, 200, 3000) * np.exp(-t / 0.02)


def _hat(sr: int, decay: float, seed: int) -> np.ndarray:
    t = _t(max(0.12, decay * 7), sr)
    x = 0.6 * _metal(t, 1.7) + 0.4 * _noise(len(t), seed)
    return _band(x, sr, 7000, 16000) * np.exp(-t / decay)


def _cymbal(sr: int, decay: float, seed: int, lo: float = 4000.0, scale: float = 1.3) -> np.ndarray:
    t = _t(min(decay * 6, 3.0), sr)
    x = 0.5 * _metal(t, scale) + 0.5 * _noise(len(t), seed)
    attack = np.minimum(t / 0.002, 1.0)
    return _band(x, sr, lo, 15000) * np.exp(-t / decay) * attack


def _clap(sr: int) -> np.ndarray:
    t = _t(0.3, sr)
    env = sum(np.where(t >= d, np.exp(-(t - d) / 0.008), 0.0) for d in (0.0, 0.011, 0.022)) + 0.5 * np.where(
        t >= 0.03, np.exp(-(t - 0.03) / 0.08), 0.0)
    return _band(_noise(len(t), 39), sr, 900, 5000) * env


def _block(sr: int, hz: float, decay: float) -> np.ndarray:
    """Wood block, cowbell, conga, bongo, timbale: a couple of damped partials."""
    t = _t(decay * 7, sr)
    return (np.sin(2 * np.pi * hz * t) + 0.5 * np.sin(2 * np.pi * hz * 1.48 * t)) * np.exp(-t / decay)


def _make(note: int, sr: int) -> np.ndarray:
    if note in (35, 36):
        return _kick(sr)
    if note in (38, 40):
        return _snare(sr, note)
    if note == 37:  # side stick
        return _block(sr, 1700.0, 0.012)
    if note == 39:
        return _clap(sr)
    toms = {41: 82.0, 43: 98.0, 45: 117.0, 47: 139.0, 48: 165.0, 50: 196.0}
    if note in toms:
        return _tom(sr, toms[note])
    if note == 42:
        return _hat(sr, 0.03, note)
    if note == 44:
        return 0.7 * _hat(sr, 0.022, note)
    if note == 46:
        return _hat(sr, 0.28, note)
    if note in (49, 57):
        return _cymbal(sr, 0.9, note)
    if note in (51, 59):
        return 0.55 * _cymbal(sr, 0.6, note, lo=5000.0, scale=2.2)
    if note == 53:  # ride bell
        return _mix(0.4 * _cymbal(sr, 0.5, note, lo=2500.0, scale=3.1), 0.3 * _block(sr, 2400.0, 0.25))
    if note == 52:
        return _cymbal(sr, 0.7, note, lo=3000.0, scale=1.1)
    if note == 55:
        return _cymbal(sr, 0.35, note, lo=5000.0)
    if note == 54:  # tambourine
        return 0.8 * _hat(sr, 0.06, note)
    if note == 56:  # cowbell: the 808's two square tones
        t = _t(0.35, sr)
        return 0.5 * (np.sign(np.sin(2 * np.pi * 540 * t)) + np.sign(np.sin(2 * np.pi * 800 * t))) * np.exp(-t / 0.07)
    if note in (60, 61, 62, 63, 64):  # bongos and congas
        hz = {60: 400.0, 61: 300.0, 62: 330.0, 63: 260.0, 64: 200.0}[note]
        return _block(sr, hz, 0.06 if note != 62 else 0.025)
    if note in (65, 66):  # timbales
        return _block(sr, 440.0 if note == 65 else 330.0, 0.12)
    if note in (76, 77):  # wood blocks
        return _block(sr, 1200.0 if note == 76 else 900.0, 0.02)
    if note in (69, 70, 82):  # cabasa, maracas, shaker
        return 0.6 * _hat(sr, 0.025, note)
    if note == 75:  # claves
        return _block(sr, 2500.0, 0.03)
    if note == 81:  # open triangle
        return 0.4 * _block(sr, 4500.0, 0.8)
    if note == 80:
        return 0.4 * _block(sr, 4500.0, 0.1)
    # Anything else in the kit: a short tuned click, pitched by its note number, so it is heard.
    return _block(sr, 110.0 * 2.0 ** ((note - 45) / 12.0), 0.08)


@lru_cache(maxsize=256)
def drum_sound(note: int, sample_rate: int) -> np.ndarray:
    """The sound of one GM drum note at full velocity, float32, peak = its mix level (read-only, cached)."""
    x = _make(int(note), int(sample_rate))
    x = (x * (_LEVEL.get(int(note), 0.5) / (np.abs(x).max() + 1e-12))).astype(np.float32)
    fade = min(len(x), int(0.005 * sample_rate))  # no click at the cut
    x[len(x) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    x.setflags(write=False)
    return x
