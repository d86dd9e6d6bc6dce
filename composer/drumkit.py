"""The drum kit as the drums encoding sees it: General MIDI notes folded to 9 classes.

LSTMetallica (Choi et al. 2016) wrote one word per 16th step, a bit per drum component;
Magenta's Drums RNN folds the GM drum map to 9 classes. We use the 9 classes of the Groove
MIDI Dataset paper (Gillick et al. 2019), which also names the Roland TD-11 extras (22, 26,
58) that real e-kit recordings use. Bit ``c`` of a word is class ``c``:

    bit  class       GM notes folded in (35-81 is General MIDI; the rest are GM2/Roland extras)
    0    kick        35 acoustic bass drum, 36 bass drum 1
    1    snare       38 acoustic snare, 40 electric snare, 37 side stick, 39 hand clap,
                     27-32 (high Q, slap, scratches, sticks, square click), 75 claves, 85 castanets
    2    closed hat  42 closed hi-hat, 44 pedal hi-hat, 22 (Roland hi-hat edge), 54 tambourine,
                     69 cabasa, 70 maracas, 71 short whistle, 73 short guiro, 78 mute cuica,
                     80 mute triangle, 82 shaker, 83 jingle bell
    3    open hat    46 open hi-hat, 26 (Roland open hi-hat edge), 72 long whistle,
                     74 long guiro, 79 open cuica, 81 open triangle
    4    low tom     41 low floor tom, 43 high floor tom, 58 (Roland floor-tom rim; GM vibraslap),
                     64 low conga, 86 mute surdo, 87 open surdo
    5    mid tom     45 low tom, 47 low-mid tom, 62 mute high conga, 63 open high conga,
                     66 low timbale, 77 low wood block
    6    high tom    48 high-mid tom, 50 high tom, 60 high bongo, 61 low bongo,
                     65 high timbale, 76 high wood block
    7    crash       49 crash 1, 57 crash 2, 52 chinese cymbal, 55 splash, 84 belltree
    8    ride        51 ride 1, 59 ride 2, 53 ride bell, 56 cowbell, 67 high agogo, 68 low agogo

Shakers and short sounds keep time like a closed hat; their long twins ring like an open hat;
hand drums fold to the tom of their register; bells keep time like a ride. Metronome clicks
(33, 34) and anything else are dropped (and counted). A hit has a level: 1 ghost, 2 normal,
3 accent (0 = no hit); a word is the 9 levels packed two bits per class.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACCENT",
    "ACCENT_MIN",
    "CLASSES",
    "CLASS_PITCH",
    "GHOST",
    "GHOST_MAX",
    "GM_TO_CLASS",
    "NORMAL",
    "N_CLASSES",
    "PITCH_CLASS",
    "level_velocity",
    "parse_word",
    "velocity_levels",
    "word_code",
    "word_levels",
    "word_name",
]

CLASSES = ("kick", "snare", "closed_hat", "open_hat", "low_tom", "mid_tom", "high_tom", "crash", "ride")
N_CLASSES = len(CLASSES)
GHOST, NORMAL, ACCENT = 1, 2, 3
GHOST_MAX = 55  # velocity <= this is a ghost note
ACCENT_MIN = 108  # velocity >= this is an accent

_FOLD = {
    0: (35, 36),
    1: (27, 28, 29, 30, 31, 32, 37, 38, 39, 40, 75, 85),
    2: (22, 42, 44, 54, 69, 70, 71, 73, 78, 80, 82, 83),
    3: (26, 46, 72, 74, 79, 81),
    4: (41, 43, 58, 64, 86, 87),
    5: (45, 47, 62, 63, 66, 77),
    6: (48, 50, 60, 61, 65, 76),
    7: (49, 52, 55, 57, 84),
    8: (51, 53, 56, 59, 67, 68),
}
GM_TO_CLASS: dict[int, int] = {p: c for c, ps in _FOLD.items() for p in ps}
# The note each class is written as: the plain GM instrument of the class.
CLASS_PITCH = (36, 38, 42, 46, 43, 47, 50, 49, 51)
# Lookup table pitch -> class, -1 for notes outside the map.
PITCH_CLASS = np.full(128, -1, dtype=np.int64)
for _p, _c in GM_TO_CLASS.items():
    PITCH_CLASS[_p] = _c
# Written velocities: a normal hit per class (cymbals and hats a little softer than drums).
_NORMAL_VELOCITY = np.array([100, 98, 80, 86, 96, 96, 96, 100, 82])
_GHOST_VELOCITY, _ACCENT_VELOCITY = 40, 120
_LEVEL_CHARS = "0g1a"  # word names: none, ghost, normal, accent


def velocity_levels(velocity: np.ndarray) -> np.ndarray:
    """Velocities -> levels 1..3. A track of one single velocity is flat (all normal): notation
    software writes every hit at 100 or 127, and that is not a track of accents."""
    v = np.asarray(velocity, dtype=np.int64)
    if len(v) and (v == v[0]).all():
        return np.full(len(v), NORMAL, dtype=np.int64)
    return np.where(v <= GHOST_MAX, GHOST, np.where(v >= ACCENT_MIN, ACCENT, NORMAL))


def level_velocity(cls: np.ndarray, level: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Levels back to MIDI velocities; with ``rng``, a human spread that stays inside the bucket."""
    cls, level = np.asarray(cls), np.asarray(level)
    v = np.where(level == GHOST, _GHOST_VELOCITY, np.where(level == ACCENT, _ACCENT_VELOCITY, _NORMAL_VELOCITY[cls]))
    if rng is not None:
        lo = np.where(level == GHOST, 28, np.where(level == ACCENT, 112, 70))
        hi = np.where(level == GHOST, GHOST_MAX - 6, np.where(level == ACCENT, 127, 102))
        v = np.clip(v + rng.integers(-10, 11, len(v)), lo, hi)
    return v.astype(np.int64)


def word_code(levels: np.ndarray) -> np.ndarray:
    """(..., 9) levels -> (...) word codes, two bits per class (class c in bits 2c, 2c+1)."""
    lv = np.asarray(levels, dtype=np.int64)
    return (lv << (2 * np.arange(N_CLASSES))).sum(-1)


def word_levels(code: int) -> np.ndarray:
    """A word code -> its (9,) levels."""
    return (int(code) >> (2 * np.arange(N_CLASSES))) & 3


def word_name(code: int) -> str:
    """``W_0b`` + one character per class, ride first, kick last, as LSTMetallica's binary words:
    ``1`` a normal hit, ``a`` an accent, ``g`` a ghost, ``0`` none. All-normal words read exactly
    like LSTMetallica's (``W_0b000000101``: closed hat + kick)."""
    lv = word_levels(code)
    return "W_0b" + "".join(_LEVEL_CHARS[lv[c]] for c in range(N_CLASSES - 1, -1, -1))


def parse_word(name: str) -> int:
    """Inverse of ``word_name``; ValueError for anything else."""
    body = name[4:] if name.startswith("W_0b") else ""
    if len(body) != N_CLASSES or any(ch not in _LEVEL_CHARS for ch in body):
        raise ValueError(f"not a drum word: {name!r}")
    levels = [_LEVEL_CHARS.index(ch) for ch in reversed(body)]
    return int(word_code(np.array(levels)))
