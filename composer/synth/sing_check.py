"""Quality checks of sung audio against its score, with an F0 estimator independent of WORLD.

``yin`` is de Cheveigné & Kawahara's (2002) YIN, vectorised with FFTs; the checks measure what
a listener would: pitch in the steady part of each note, when each note is heard to start, and
whether consonants and vowels take the time the phoneme score gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .phonemes import PAUSE, PhoneSet
from .sing_plan import PhonemeScore

__all__ = ["PitchReport", "onset_errors", "pitch_report", "pyin", "voicing_report", "yin"]


def yin(x: np.ndarray, sr: int, hop: float = 0.005, fmin: float = 70.0, fmax: float = 1000.0,
        threshold: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """(F0 Hz per hop with 0 where unvoiced, aperiodicity per hop); frame k is centred at k * hop."""
    x = np.asarray(x, np.float64).reshape(-1)
    tau_max, tau_min = int(np.ceil(sr / fmin)), max(2, int(sr / fmax))
    w = tau_max  # integration window
    span = w + tau_max
    step = hop * sr
    n = int(len(x) / step) + 1
    xp = np.pad(x, (w // 2, span + int(step) + 1))  # the compared window [t - w/2, t + w/2) is centred on t
    starts = (np.arange(n) * step).astype(int)
    frames = xp[starts[:, None] + np.arange(span)]  # (N, span)
    nfft = 1 << int(np.ceil(np.log2(2 * span)))
    spec_a = np.fft.rfft(frames[:, :w], nfft)
    spec_b = np.fft.rfft(frames, nfft)
    r = np.fft.irfft(np.conj(spec_a) * spec_b, nfft)[:, : tau_max + 1]  # sum_j a_j b_{j+tau}
    sq = np.concatenate([np.zeros((n, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    e0 = sq[:, w]
    taus = np.arange(tau_max + 1)
    e_tau = sq[:, taus + w] - sq[:, taus]
    d = np.maximum(e0[:, None] + e_tau - 2 * r, 0.0)
    d[:, 0] = 0
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
    f0, aper = np.zeros(n), np.ones(n)
    loud = e0 > 1e-6 * w * max(float(np.max(e0)) / w, 1e-12)
    for k in np.flatnonzero(loud):
        c = cmnd[k]
        # The first dip under the threshold, or else the first one nearly as deep as the deepest:
        # plain YIN's fallback to the global minimum picks multiples of the period on noisy voices.
        floor = float(c[tau_min:tau_max].min())
        below = np.flatnonzero(c[tau_min:tau_max] < max(threshold, floor + 0.1))
        if len(below):
            t = tau_min + below[0]
            while t + 1 < tau_max and c[t + 1] < c[t]:
                t += 1
        else:
            t = tau_min + int(np.argmin(c[tau_min:tau_max]))
        for div in (3, 2):  # a period-doubled waveform: take the true period if it is nearly as good
            lo_, hi_ = max(tau_min, t // div - 2), t // div + 3
            if hi_ > lo_ and lo_ < t:
                t2 = lo_ + int(np.argmin(c[lo_:hi_]))
                if c[t2] < c[t] + 0.1:
                    t = t2
                    break
        aper[k] = c[t]
        if c[t] > 0.35:
            continue
        a, b, cc = c[t - 1], c[t], c[t + 1] if t + 1 <= tau_max else c[t]
        den = a - 2 * b + cc
        shift = 0.5 * (a - cc) / den if abs(den) > 1e-12 else 0.0
        f0[k] = sr / (t + float(np.clip(shift, -1, 1)))
    return f0, aper


def pyin(x: np.ndarray, sr: int, hop: float = 0.005, fmin: float = 70.0, fmax: float = 1000.0) -> np.ndarray:
    """F0 (Hz, 0 where unvoiced) by librosa's pYIN (Mauch & Dixon 2014) on ``yin``'s frame grid.

    An independent cross-check of our YIN: another implementation, with probabilistic
    thresholds and HMM voicing/pitch tracking. Needs librosa (optional; not a runtime dependency).
    The audio is resampled to 16 kHz so that one hop is a whole number of samples; frames are
    32 ms (librosa's default 128 ms at 16 kHz smears a note change over more than 20 ms).
    """
    try:
        import librosa
    except ModuleNotFoundError:
        raise InputError("the pYIN cross-check needs librosa: pip install librosa") from None
    rate = 16000
    y = librosa.resample(np.asarray(x, np.float32).reshape(-1), orig_sr=sr, target_sr=rate)
    f0, voiced, _ = librosa.pyin(y, fmin=fmin, fmax=fmax, sr=rate, frame_length=512,
                                 hop_length=round(hop * rate), center=True)
    return np.where(voiced & np.isfinite(f0), f0, 0.0)


@dataclass
class PitchReport:
    cents: np.ndarray  # per note: median deviation in the steady middle (nan when not measurable)

    @property
    def max_abs(self) -> float:
        v = self.cents[~np.isnan(self.cents)]
        return float(np.abs(v).max()) if len(v) else float("nan")

    @property
    def measured(self) -> int:
        return int((~np.isnan(self.cents)).sum())


def _cents(f0: np.ndarray, midi: float) -> np.ndarray:
    return 1200 * np.log2(f0 / (440.0 * 2 ** ((midi - 69) / 12)))


def pitch_report(f0: np.ndarray, score: PhonemeScore, ps: PhoneSet, hop: float = 0.005,
                 settle: float = 0.15) -> PitchReport:
    """Median deviation of F0 from each note in its steady part: the middle half of the note's
    vowel, and at least ``settle`` s after the onset (a note too short for that is not measured)."""
    out = np.full(len(score.notes), np.nan)
    for i, (s, e, p) in enumerate(score.notes):
        vowel = [g for g in score.segments if g.note == i and ps.is_vowel(g.phone)]
        a, b = (vowel[0].start, min(vowel[0].end, e)) if vowel else (s, e)
        a, b = max(a + 0.25 * (b - a), s + settle), b - 0.25 * (b - a)
        if b - a < 0.05:
            continue
        fr = f0[int(a / hop) : int(b / hop)]
        fr = fr[fr > 0]
        if len(fr) >= 5:
            out[i] = float(np.median(_cents(fr, p)))
    return PitchReport(out)


def onset_errors(f0: np.ndarray, score: PhonemeScore, hop: float = 0.005, min_leap: int = 2) -> np.ndarray:
    """Heard minus written onset (s) of each legato change of at least ``min_leap`` semitones.

    A change is heard when F0 crosses halfway (in cents) from the old note to the new one and
    stays past it for 3 frames (15 ms). Readings an octave or more away from the two notes are
    folded back by octaves first: YIN's octave errors (a 523 Hz note read as 262 Hz) are not
    pitch changes, and would otherwise "cross halfway" on a falling interval long before it.
    """
    errs = []
    notes = score.notes
    f0 = _median5(f0)  # the usual smoothing of a pitch track: one-frame estimator glitches go
    for k in range(1, len(notes)):
        (s0, e0, p0), (s1, e1, p1) = notes[k - 1], notes[k]
        if s1 - e0 > 1e-6 or abs(p1 - p0) < min_leap:
            continue
        a, b = int(max(s0, s1 - 0.15) / hop), int(min(e1, s1 + 0.15) / hop)
        seg = f0[a:b]
        ok = seg > 0
        if ok.sum() < 0.8 * len(seg):
            continue  # a voiceless consonant in the way: timed by voicing_report instead
        mid = 100 * (p0 + p1) / 2
        c = 1200 * np.log2(np.where(ok, seg, 1.0) / 440.0) + 6900
        c = mid + (c - mid + 600) % 1200 - 600  # octave errors folded back next to the two notes
        past = ((c >= mid) if p1 > p0 else (c <= mid)) & ok
        held = past & np.concatenate([past[1:], [True]]) & np.concatenate([past[2:], [True, True]])
        crossed = np.flatnonzero(held)  # past halfway for 3 frames running: not an estimator glitch
        if len(crossed):
            errs.append((a + crossed[0]) * hop - s1)
    return np.array(errs)


def _median5(f0: np.ndarray) -> np.ndarray:
    padded = np.pad(f0, 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)


def voicing_report(f0: np.ndarray, score: PhonemeScore, ps: PhoneSet, hop: float = 0.005) -> dict:
    """How well voiced/unvoiced spans in the audio match the phoneme score.

    ``vowel_voiced``: share of vowel frames heard as voiced; ``consonant_unvoiced``: share of
    voiceless-consonant frames heard as unvoiced; ``onset_errors``: heard minus written start (s)
    of each vowel that follows a voiceless consonant (where voicing starts).
    """
    voiced = f0 > 0
    vv, vn, cu, cn, errs = 0, 0, 0, 0, []
    segs = score.segments
    for j, g in enumerate(segs):
        a, b = round(g.start / hop), min(round(g.end / hop), len(voiced))
        inner = voiced[a + 2 : b - 2]
        if ps.is_vowel(g.phone) and len(inner):
            vv += int(inner.sum())
            vn += len(inner)
            if j and segs[j - 1].phone in ps.voiceless:
                lo = round(segs[j - 1].start / hop)
                silent = np.flatnonzero(~voiced[lo : a + 10])  # the consonant heard unvoiced, then the vowel
                lo += int(silent[0]) if len(silent) else 0
                on = np.flatnonzero(voiced[lo : a + 10])
                if len(on):
                    errs.append((lo + on[0]) * hop - g.start)
        elif g.phone in ps.voiceless and g.phone != PAUSE and len(inner):
            cu += int((~inner).sum())
            cn += len(inner)
    return {"vowel_voiced": vv / max(vn, 1), "consonant_unvoiced": cu / max(cn, 1), "onset_errors": np.array(errs)}
