"""The built-in synthesiser's mixer: Score → stereo float samples, no files needed.

Notes become sample positions through the score's tempo map; each distinct (pitch, velocity
band) of a track is synthesised once by its GM voice (``voices.py``) and added at every onset,
cut at the note-off and faded by the voice's release curve. Drums (``is_drum`` tracks) use the
synthesised kit in ``drums.py``. Tracks are placed in the stereo field with a constant-power pan.
"""

from __future__ import annotations

import numpy as np

from ..score import Score, Track
from .drums import CHOKES, drum_pan, drum_sound
from .voices import held_sound, release_curve, velocity_gain, voice_for_program

__all__ = ["normalize_peak", "note_samples", "pan_gains", "render_builtin", "track_pans"]

PEAK = 0.891  # -1 dBFS: normalised output never touches full scale
_SPREAD = (-0.3, 0.3, -0.5, 0.5, -0.15, 0.15, -0.65, 0.65)


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power (left, right) gains for a pan position in [-1, 1]."""
    theta = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
    return float(np.cos(theta)), float(np.sin(theta))


def track_pans(score: Score) -> list[float]:
    """A stereo position per track: drums and bass centred, the other parts spread left/right.

    A lone melodic part (besides bass and drums) stays centred; MIDI files carry no pan in the
    Score, so this is the arrangement an engineer would start from.
    """
    def centred(t: Track) -> bool:
        return t.is_drum or 32 <= t.program <= 39

    others = [i for i, t in enumerate(score.tracks) if not centred(t)]
    pans = [0.0] * len(score.tracks)
    if len(others) > 1:
        for j, i in enumerate(others):
            pans[i] = _SPREAD[j % len(_SPREAD)]
    return pans


def note_samples(score: Score, track: Track, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Onset sample and held length in samples (≥ 1) of every note of ``track``."""
    n = track.notes
    on = np.rint(score.seconds(n["start"]) * sample_rate).astype(np.int64)
    off = np.rint(score.seconds(n["start"] + n["duration"]) * sample_rate).astype(np.int64)
    return on, np.maximum(off - on, 1)


def _velocity_band(velocity: np.ndarray) -> np.ndarray:
    """Velocities grouped in bands of 16 for timbre (loudness still follows each note exactly)."""
    return np.minimum(127, (velocity.astype(np.int64) // 16) * 16 + 8)


def _render_pitched(score: Score, track: Track, sample_rate: int, out: np.ndarray, pan: float) -> None:
    voice = voice_for_program(track.program)
    on, held = note_samples(score, track, sample_rate)
    rel = release_curve(voice.release, sample_rate)
    nr = len(rel)
    pitch = track.notes["pitch"].astype(np.int64)
    band = _velocity_band(track.notes["velocity"])
    amp = velocity_gain(track.notes["velocity"]) * voice.level
    key = pitch * 128 + band
    need: dict[int, int] = {}
    for k, h in zip(key.tolist(), (held + nr).tolist()):
        if h > need.get(k, 0):
            need[k] = h
    bufs = {k: held_sound(voice, k // 128, k % 128, n, sample_rate) for k, n in need.items()}
    mono = np.zeros(out.shape[1], dtype=np.float32)
    for s, h, k, g in zip(on.tolist(), held.tolist(), key.tolist(), amp.tolist()):
        buf = bufs[k]
        m = min(h, len(buf))
        g = np.float32(g)
        mono[s:s + m] += g * buf[:m]
        r = min(nr, len(buf) - m)
        if r > 0:
            mono[s + m:s + m + r] += (g * buf[m:m + r]) * rel[:r]
    gl, gr = pan_gains(pan)
    out[0] += np.float32(gl) * mono
    out[1] += np.float32(gr) * mono


def _render_drums(score: Score, track: Track, sample_rate: int, out: np.ndarray, pan: float) -> None:
    on, _ = note_samples(score, track, sample_rate)
    notes = track.notes["pitch"].astype(np.int64)
    amp = velocity_gain(track.notes["velocity"]) * 1.1
    # Choke groups: an open hat sounds only until the next closed or pedal hat.
    choke_until = np.full(len(on), np.iinfo(np.int64).max)
    for victim, killers in CHOKES.items():
        kill_times = np.sort(on[np.isin(notes, killers)])
        idx = np.flatnonzero(notes == victim)
        nxt = np.searchsorted(kill_times, on[idx], side="right")
        ok = nxt < len(kill_times)
        choke_until[idx[ok]] = kill_times[nxt[ok]]
    fade = np.linspace(1.0, 0.0, max(2, int(0.01 * sample_rate)), dtype=np.float32)
    for s, note, g, until in zip(on.tolist(), notes.tolist(), amp.tolist(), choke_until.tolist()):
        snd = drum_sound(note, sample_rate)
        n = min(len(snd), out.shape[1] - s)
        if until - s < n:  # choked: cut with a 10 ms fade
            n = max(0, until - s) + len(fade)
            n = min(n, len(snd), out.shape[1] - s)
            snd = snd[:n].copy()
            tail = min(len(fade), n)
            snd[n - tail:] *= fade[:tail]
        gl, gr = pan_gains(pan + drum_pan(note))
        out[0, s:s + n] += np.float32(g * gl) * snd[:n]
        out[1, s:s + n] += np.float32(g * gr) * snd[:n]


def _length(score: Score, sample_rate: int) -> int:
    """Samples needed for every note-off plus the longest release or drum tail."""
    end = 0
    for t in score.tracks:
        if not len(t):
            continue
        on, held = note_samples(score, t, sample_rate)
        if t.is_drum:
            tail = max(len(drum_sound(int(p), sample_rate)) for p in np.unique(t.notes["pitch"]))
            end = max(end, int(on.max()) + tail)
        else:
            tail = len(release_curve(voice_for_program(t.program).release, sample_rate))
            end = max(end, int((on + held).max()) + tail)
    return end + int(0.05 * sample_rate)


def normalize_peak(x: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale so the loudest sample is ``peak`` (silence stays silence); in place, returns x."""
    top = float(np.abs(x).max()) if x.size else 0.0
    if top > 0:
        x *= np.float32(peak / top)
    return x


def render_builtin(score: Score, sample_rate: int = 44100, *, progress: bool = False) -> np.ndarray:
    """Render every track with the built-in voices: float32 (n, 2), *not* yet normalised."""
    out = np.zeros((2, _length(score, sample_rate)), dtype=np.float32)
    pans = track_pans(score)
    tracks = list(zip(score.tracks, pans))
    if progress:
        from tqdm import tqdm

        tracks = tqdm(tracks, desc="render", unit="track", leave=False)
    for track, pan in tracks:
        if not len(track):
            continue
        (_render_drums if track.is_drum else _render_pitched)(score, track, sample_rate, out, pan)
    return np.ascontiguousarray(out.T)
