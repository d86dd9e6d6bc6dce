"""Built-in instrument voices, one per General MIDI family, rendered with vectorised NumPy.

A voice turns ``(pitch, velocity)`` into the *held* sound of one key: what you hear while the
key stays down (attack, decaying partials, sustain). The mixer in ``engine.py`` cuts that
buffer at the note-off and multiplies the tail by the voice's release curve, so one buffer per
distinct key serves every note of that key, whatever its length. Three sound engines:

- ``layers``: band-limited wavetables read with an integer phase accumulator, each with its
  own exponential decay (bright partials die first, as on a piano or a plucked bass);
  optional chorus (detuned copies) and delayed vibrato for strings, pads and leads.
- ``pluck``: Karplus–Strong, vectorised one period at a time; a three-tap loop filter gives
  both the high-partial damping and the fractional delay that keeps it in tune.
- drums live in ``drums.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "VOICES",
    "Layer",
    "Voice",
    "held_sound",
    "pitch_to_hz",
    "release_curve",
    "velocity_gain",
    "voice_for_program",
]

TABLE_BITS = 12
TABLE_SIZE = 1 << TABLE_BITS
SILENCE = 10 ** (-70 / 20)  # -70 dB: decaying voices stop being rendered below this


def pitch_to_hz(pitch: float) -> float:
    """Equal-tempered frequency of a MIDI pitch (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def velocity_gain(velocity: np.ndarray | int) -> np.ndarray | float:
    """Amplitude for a MIDI velocity: 40·log10(v/127) dB, the curve most GM synths use."""
    v = np.clip(np.asarray(velocity, dtype=np.float64), 1, 127) / 127.0
    return v * v


@dataclass(frozen=True)
class Layer:
    """One wavetable: harmonic amplitudes (1st, 2nd, ...) and an exponential decay rate.

    ``decay`` is in 1/s at A4 (0 = sustained); ``bright`` says how much the layer's level
    follows velocity (0 = not at all, 1 = proportional), so hard notes sound brighter.
    """

    harmonics: tuple[float, ...]
    decay: float = 0.0
    gain: float = 1.0
    bright: float = 0.0


@dataclass(frozen=True)
class Voice:
    """A GM family's sound. Times in seconds; ``key_scaling`` speeds decays up the keyboard."""

    name: str
    layers: tuple[Layer, ...] = ()
    attack: float = 0.005
    decay: float = 0.0  # ADSR decay time constant towards ``sustain`` (0 = none)
    sustain: float = 1.0
    release: float = 0.1
    pluck: bool = False
    pluck_t60: float = 2.0  # Karplus–Strong: seconds to -60 dB at A4
    drive: float = 0.0  # soft clipping (overdriven guitars)
    chorus_cents: float = 0.0  # two detuned copies at ± this many cents
    vibrato_cents: float = 0.0
    vibrato_rate: float = 5.5
    vibrato_delay: float = 0.3
    key_scaling: float = 0.5  # decay rate × 2**(octaves above A4 × key_scaling)
    level: float = 1.0  # mix level of the family

    @property
    def decays(self) -> bool:
        """True when the held sound dies away by itself (piano, pluck, bass)."""
        return self.pluck or (self.sustain == 0.0 and self.decay > 0) or all(ly.decay > 0 for ly in self.layers)


def _saw(n: int, power: float = 1.0) -> tuple[float, ...]:
    return tuple(1.0 / k**power for k in range(1, n + 1))


def _odd(n: int, power: float = 1.0) -> tuple[float, ...]:
    return tuple((1.0 / k**power if k % 2 else 0.08 / k**power) for k in range(1, n + 1))


VOICES: dict[str, Voice] = {
    "piano": Voice("piano", (Layer(_saw(24, 1.3), decay=3.5, gain=0.5, bright=1.0),
                             Layer((1.0, 0.55, 0.35, 0.2, 0.12, 0.06), decay=0.9, gain=0.6, bright=0.4),
                             Layer((1.0, 0.25), decay=0.3, gain=0.45)),
                   attack=0.002, release=0.25, key_scaling=0.6, level=0.75),
    "epiano": Voice("epiano", (Layer((0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.6), decay=9.0, gain=0.3, bright=1.0),
                               Layer((1.0, 0.3, 0.05), decay=0.7, gain=0.9, bright=0.3)),
                    attack=0.002, release=0.2, key_scaling=0.4),
    "mallet": Voice("mallet", (Layer((1.0, 0, 0, 0.5, 0, 0, 0, 0, 0, 0.25), decay=2.5, gain=1.0, bright=0.5),),
                    attack=0.001, release=0.3, key_scaling=0.6, level=0.9),
    "organ": Voice("organ", (Layer((1.0, 0.8, 0.6, 0.5, 0, 0.25, 0, 0.3)),), attack=0.006, release=0.06, level=0.55),
    "guitar": Voice("guitar", pluck=True, pluck_t60=3.0, release=0.12, level=1.1),
    "overdrive": Voice("overdrive", pluck=True, pluck_t60=5.0, drive=4.0, release=0.12, level=0.6),
    "bass": Voice("bass", (Layer((1.0, 0.7, 0.5, 0.35, 0.25, 0.17, 0.12, 0.08, 0.05), decay=5.0, gain=0.6, bright=1.0),
                           Layer((1.0, 0.35, 0.12), decay=0.5, gain=0.9)),
                  attack=0.004, release=0.08, key_scaling=0.3, level=1.2),
    "strings": Voice("strings", (Layer(_saw(32, 1.4)),), attack=0.12, release=0.35, chorus_cents=4.0, level=0.45),
    "pad": Voice("pad", (Layer((1.0, 0.5, 0.3, 0.15, 0.08, 0.04)),), attack=0.3, release=0.6, chorus_cents=4.0,
                 level=0.45),
    "choir": Voice("choir", (Layer((1.0, 0.55, 0.75, 0.3, 0.25, 0.08, 0.05)),), attack=0.15, release=0.4,
                   chorus_cents=3.0, level=0.5),
    "brass": Voice("brass", (Layer(_saw(24, 1.1)),), attack=0.04, decay=0.3, sustain=0.8, release=0.12,
                   vibrato_cents=10.0, vibrato_delay=0.35, level=0.45),
    # saxophones: a conical bore sounds every harmonic, strongest in the 2nd-4th (a nasal formant)
    "sax": Voice("sax", (Layer((1.0, 0.9, 0.75, 0.6, 0.4, 0.28, 0.2, 0.15, 0.11, 0.08, 0.06, 0.045, 0.035, 0.025)),),
                 attack=0.035, decay=0.25, sustain=0.85, release=0.09, vibrato_cents=12.0, vibrato_delay=0.3,
                 level=0.6),
    "reed": Voice("reed", (Layer(_odd(20, 1.1)),), attack=0.03, decay=0.3, sustain=0.85, release=0.1,
                  vibrato_cents=12.0, vibrato_delay=0.3, level=0.65),
    "flute": Voice("flute", (Layer((1.0, 0.3, 0.12, 0.05)),), attack=0.06, release=0.12, vibrato_cents=10.0,
                   vibrato_delay=0.25, level=0.7),
    "lead": Voice("lead", (Layer(_saw(32, 1.0)),), attack=0.008, decay=0.4, sustain=0.75, release=0.12,
                  vibrato_cents=15.0, vibrato_delay=0.3, level=0.4),
}

# GM program → family, by the sixteen groups of eight (with a few notable exceptions below).
_GROUPS = ["piano", "mallet", "organ", "guitar", "bass", "strings", "strings", "brass",
           "reed", "flute", "lead", "pad", "pad", "guitar", "mallet", "pad"]
_EXCEPTIONS = {4: "epiano", 5: "epiano", 64: "sax", 65: "sax", 66: "sax", 67: "sax", 29: "overdrive", 30: "overdrive", 45: "guitar", 46: "guitar", 47: "mallet",
               52: "choir", 53: "choir", 54: "choir", 56: "brass", 57: "brass", 58: "brass", 59: "brass", 60: "brass",
               61: "brass", 62: "brass", 63: "brass", 85: "choir", 91: "choir", 108: "mallet", 109: "reed",
               110: "strings", 111: "reed"}


def voice_for_program(program: int) -> Voice:
    """The built-in voice for a General MIDI program number (0-127)."""
    p = int(program) % 128
    return VOICES[_EXCEPTIONS.get(p, _GROUPS[p // 8])]


@lru_cache(maxsize=4096)
def _table(harmonics: tuple[float, ...], f0: float, sample_rate: int) -> np.ndarray:
    """One period of the layer's waveform, keeping only partials below 0.45·sample_rate."""
    k = np.arange(1, len(harmonics) + 1)
    amps = np.asarray(harmonics, dtype=np.float64) * (k * f0 < 0.45 * sample_rate)
    if not amps.any():
        amps = np.zeros_like(amps)
        amps[0] = 1.0
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE
    wave = np.sin(2 * np.pi * np.outer(k, phase)).T @ amps
    return (wave / np.abs(wave).max()).astype(np.float32)


def _phase_index(f: float, n: int, sample_rate: int) -> np.ndarray:
    """Table indices of a fixed-frequency oscillator: a 32-bit phase accumulator, top bits."""
    inc = np.uint32(round(f / sample_rate * 2.0**32) % 2**32)
    return (np.arange(n, dtype=np.uint32) * inc) >> np.uint32(32 - TABLE_BITS)


def _vibrato_index(f: float, n: int, sample_rate: int, voice: Voice) -> np.ndarray:
    """Table indices with a sine vibrato that fades in after ``vibrato_delay`` (mean pitch = f)."""
    t = np.arange(n, dtype=np.float64) / sample_rate
    depth = (2.0 ** (voice.vibrato_cents / 1200.0) - 1.0) * np.clip((t - voice.vibrato_delay) / 0.3, 0.0, 1.0)
    w = 2 * np.pi * voice.vibrato_rate
    # instantaneous frequency f·(1 + depth·sin(wt)); its integral, phase in cycles:
    cycles = f * t + f * depth * (1.0 - np.cos(w * t)) / w
    return (np.mod(cycles, 1.0) * TABLE_SIZE).astype(np.intp) & (TABLE_SIZE - 1)


def _adsr(voice: Voice, n: int, sample_rate: int) -> np.ndarray | None:
    """The attack-decay-sustain part of the envelope (None when it is flat 1 after the attack)."""
    na = max(1, int(voice.attack * sample_rate))
    if voice.decay <= 0 and na <= 1:
        return None
    env = np.ones(n, dtype=np.float32)
    m = min(na, n)
    env[:m] = np.linspace(0.0, 1.0, na, endpoint=False, dtype=np.float32)[:m]
    if voice.decay > 0 and n > na:
        t = np.arange(n - na, dtype=np.float32) / np.float32(sample_rate * voice.decay)
        env[na:] = voice.sustain + (1.0 - voice.sustain) * np.exp(-t)
    return env


def _decay_length(rate: float, sample_rate: int) -> int:
    """Samples until exp(-rate·t) falls below SILENCE."""
    return int(np.ceil(-np.log(SILENCE) / rate * sample_rate)) + 1


def _layers_sound(voice: Voice, pitch: int, velocity: int, n: int, sample_rate: int) -> np.ndarray:
    f = pitch_to_hz(pitch)
    v = velocity / 127.0
    scale = 2.0 ** ((pitch - 69) / 12.0 * voice.key_scaling)
    if voice.decays:  # no need to compute what is inaudible
        n = min(n, max(_decay_length(ly.decay * scale, sample_rate) for ly in voice.layers))
    detunes = (0.0,) if not voice.chorus_cents else (0.0, -voice.chorus_cents, voice.chorus_cents)
    if voice.vibrato_cents:
        idxs = [_vibrato_index(f * 2 ** (c / 1200), n, sample_rate, voice) for c in detunes]
    else:
        idxs = [_phase_index(f * 2 ** (c / 1200), n, sample_rate) for c in detunes]
    out = np.zeros(n, dtype=np.float32)
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate) if any(ly.decay for ly in voice.layers) else None
    for ly in voice.layers:
        table = _table(ly.harmonics, f, sample_rate)
        gain = ly.gain * (1.0 - ly.bright + ly.bright * v)
        wave = table[idxs[0]]
        for extra in idxs[1:]:  # chorus copies a little quieter than the centre, which holds the pitch
            wave += np.float32(0.6) * table[extra]
        if ly.decay:
            wave *= np.exp(np.float32(-ly.decay * scale) * t)
        out += np.float32(gain) * wave
    env = _adsr(voice, n, sample_rate)
    if env is not None:
        out *= env
    return out


def _pluck_sound(voice: Voice, pitch: int, velocity: int, n: int, sample_rate: int) -> np.ndarray:
    """Karplus–Strong: a noise burst circulating in a delay line of one period."""
    period = sample_rate / pitch_to_hz(pitch)
    delay = int(np.floor(period - 0.5))  # loop filter adds 0.5 + u samples of delay
    if delay < 2:
        return _layers_sound(VOICES["mallet"], pitch, velocity, n, sample_rate)
    u = period - 0.5 - delay
    t60 = voice.pluck_t60 * 2.0 ** (-(pitch - 69) / 12.0 * voice.key_scaling)
    rho = 10.0 ** (-3.0 * period / (sample_rate * t60))
    a, b, c = rho * 0.5 * (1 - u), rho * 0.5, rho * 0.5 * u
    n = min(n, int(t60 * 1.2 * sample_rate) + 1)
    rng = np.random.default_rng(pitch)
    burst = rng.uniform(-1.0, 1.0, delay + 2)
    v = velocity / 127.0
    for _ in range(round(3 - 2 * v)):  # softer plucks: a duller excitation
        burst = 0.5 * (burst + np.roll(burst, 1))
    burst -= burst.mean()
    pick = max(1, int(delay * 0.13))  # plucking 13 % from the bridge notches those harmonics
    burst = burst - 0.6 * np.roll(burst, pick)
    y = np.zeros(max(n, delay + 2) + delay + 2, dtype=np.float64)
    y[: delay + 2] = burst
    start = delay + 2
    while start < n:
        stop = min(start + delay, n)
        y[start:stop] = a * y[start - delay:stop - delay] + b * y[start - delay - 1:stop - delay - 1] \
            + c * y[start - delay - 2:stop - delay - 2]
        start = stop
    out = y[:n]
    if voice.drive:
        out = np.tanh(voice.drive * out / (np.abs(out).max() + 1e-9)) / np.tanh(voice.drive)
    else:
        out = out / (np.abs(out).max() + 1e-9)
    return out.astype(np.float32)


def held_sound(voice: Voice, pitch: int, velocity: int, n: int, sample_rate: int) -> np.ndarray:
    """The key-down sound of ``pitch`` at ``velocity`` (timbre only; loudness is applied by the mixer).

    At most ``n`` samples; fewer when the sound has decayed to silence by then.
    """
    n = max(int(n), 1)
    if voice.pluck:
        return _pluck_sound(voice, pitch, velocity, n, sample_rate)
    return _layers_sound(voice, pitch, velocity, n, sample_rate)


@lru_cache(maxsize=64)
def release_curve(release: float, sample_rate: int) -> np.ndarray:
    """Exponential fade from 1 to -60 dB over ``release`` seconds, then exactly 0."""
    n = max(2, int(release * sample_rate))
    curve = np.exp(np.linspace(0.0, np.log(1e-3), n, dtype=np.float32))
    curve[-1] = 0.0
    return curve
