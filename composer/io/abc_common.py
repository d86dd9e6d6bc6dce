"""ABC pieces shared by the reader (abc.py) and the writer (abc_write.py).

Field parsers for K:, M:, L: and Q:, the key-signature arithmetic behind them, and the tick
resolution. Kept apart so neither side imports the other.
"""

from __future__ import annotations

import re

from ..errors import ComposerError

__all__ = [
    "ABC_TPQ",
    "MODES",
    "AbcError",
    "default_unit",
    "key_alterations",
    "key_name",
    "octave_shift",
    "parse_key",
    "parse_meter",
    "parse_tempo",
    "parse_unit",
]

# 10080 = 21 x 480 = 2^5 * 3^2 * 5 * 7: every ABC length from a whole note down to a 1/128 is an
# integer, and so is each of them inside a (2 (3 (4 (5 (6 (7 (8 and (9 tuplet; a multiple of 480
# so rescaling to the house default is an exact division for untupled music.
ABC_TPQ = 10080


class AbcError(ComposerError):
    """ABC text that cannot be read; the message names the tune (X:, title), line and column."""


# ABC mode name -> (sharps relative to the major key on the same tonic, major/minor third)
MODES: dict[str, tuple[int, str]] = {
    "major": (0, "major"),
    "minor": (-3, "minor"),
    "dorian": (-2, "minor"),
    "phrygian": (-4, "minor"),
    "lydian": (1, "major"),
    "mixolydian": (-1, "major"),
    "locrian": (-5, "minor"),
}
_MODE_ABBR = {
    "maj": "major", "ion": "major", "min": "minor", "aeo": "minor", "m": "minor",
    "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian", "loc": "locrian",
}
_MODE_SUFFIX = {"major": "", "minor": "m", "dorian": "dor", "phrygian": "phr", "lydian": "lyd",
                "mixolydian": "mix", "locrian": "loc"}
_LETTERS = "CDEFGAB"
_NATURAL_PC = (0, 2, 4, 5, 7, 9, 11)
_MAJOR_SHARPS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_SHARP_ORDER = "FCGDAEB"
_ACC_VALUE = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}

_KEY_RE = re.compile(
    r"\s*(?:(none|HP|Hp)(?![A-Za-z])|([A-G])([#b]?)\s*"
    r"((?i:maj|min|ion|aeo|dor|phr|lyd|mix|loc)[A-Za-z]*|[mM](?![A-Za-z]))?)"
)
_KEY_ACC_RE = re.compile(r"(\^\^|\^|__|_|=)([A-Ga-g])$")


def key_alterations(sharps: int) -> tuple[int, ...]:
    """Semitone alteration of each letter C D E F G A B under a signature of ``sharps`` (<0: flats)."""
    alts = [0] * 7
    order = _SHARP_ORDER if sharps >= 0 else _SHARP_ORDER[::-1]
    step = 1 if sharps >= 0 else -1
    for i in range(abs(sharps)):
        alts[_LETTERS.index(order[i % 7])] += step
    return tuple(alts)


def _sharps(letter: str, acc: int, mode: str) -> int:
    return _MAJOR_SHARPS[letter] + 7 * acc + MODES[mode][0]


def parse_key(text: str) -> tuple[int, str, tuple[int, ...]] | None:
    """K: text -> (tonic pc, ABC mode name, per-letter alterations), or None if it names no key.

    Handles modes (first three letters, any case), ``exp`` and explicit accidentals
    (``K:D =c``, ``K:D exp _b ^f``), ``none`` and the Highland-pipe keys (HP: no signature,
    Hp: F# C#, both read as A mixolydian). Clef and transposition words are ignored: they
    change how a staff looks, not the pitches ABC letters stand for. ``None`` means a K: line
    with only clef information, which keeps the key in force.
    """
    text = text.split("%", 1)[0]
    m = _KEY_RE.match(text)
    explicit = False
    if m and m.group(1):
        special = m.group(1)
        tonic, mode = (0, "major") if special == "none" else (9, "mixolydian")
        alts = key_alterations(2) if special == "Hp" else (0,) * 7
        rest = text[m.end():]
    elif m and m.group(2):
        letter, acc = m.group(2), {"#": 1, "b": -1, "": 0}[m.group(3)]
        mode = _MODE_ABBR[(m.group(4) or "maj")[:3].lower()]
        tonic = (_NATURAL_PC[_LETTERS.index(letter)] + acc) % 12
        alts = key_alterations(_sharps(letter, acc, mode))
        rest = text[m.end():]
    else:
        tonic, mode, alts, rest = 0, "major", (0,) * 7, text
        explicit = None  # only accidentals or clef words so far
    extra = []
    for word in rest.split():
        if word.lower() == "exp":
            explicit = True
        else:
            am = _KEY_ACC_RE.match(word)
            if am:
                extra.append((_LETTERS.index(am.group(2).upper()), _ACC_VALUE[am.group(1)]))
    if explicit is None and not extra:
        return None
    if explicit:
        alts = (0,) * 7
    if extra:
        lst = list(alts)
        for i, v in extra:
            lst[i] = v
        alts = tuple(lst)
    return tonic, mode, alts


def key_name(tonic: int, mode: str) -> tuple[str, tuple[int, ...]]:
    """(K: text, alterations) for a tonic pc and ABC mode, spelt with the fewest accidentals."""
    if mode not in MODES:
        mode = "major"
    best = None
    for i, letter in enumerate(_LETTERS):
        acc = (tonic - _NATURAL_PC[i] + 6) % 12 - 6
        if abs(acc) > 1:
            continue
        sh = _sharps(letter, acc, mode)
        cand = (abs(sh), sh < 0, letter + {1: "#", -1: "b", 0: ""}[acc], sh)
        if best is None or cand < best:
            best = cand
    assert best is not None
    return best[2] + _MODE_SUFFIX[mode], key_alterations(best[3])


_METER_RE = re.compile(r"\(?(\d+(?:\s*\+\s*\d+)*)\)?\s*/\s*(\d+)")


def parse_meter(text: str) -> tuple[int, int] | None:
    """M: text -> (numerator, denominator); None for free meter (``none``, empty)."""
    text = text.split("%", 1)[0].strip()
    if text.startswith("C|"):
        return 2, 2
    if text == "C" or text.startswith("C "):
        return 4, 4
    m = _METER_RE.search(text)
    if not m:
        return None
    num = sum(int(x) for x in m.group(1).split("+"))
    den = int(m.group(2))
    if num <= 0 or den <= 0:
        return None
    return num, den


def default_unit(meter: tuple[int, int] | None) -> tuple[int, int]:
    """The standard's default L: 1/16 when the meter is below 3/4 as a fraction, else 1/8."""
    if meter is not None and meter[0] * 4 < 3 * meter[1]:
        return 1, 16
    return 1, 8


_UNIT_RE = re.compile(r"\s*(\d+)\s*(?:/\s*(\d+))?\s*(?:%.*)?$")


def parse_unit(text: str) -> tuple[int, int] | None:
    """L: text -> (num, den), or None if malformed."""
    m = _UNIT_RE.match(text)
    if not m:
        return None
    num, den = int(m.group(1)), int(m.group(2) or 1)
    return (num, den) if num > 0 and den > 0 else None


# possessive: "1/1111/1111..." without "=" would otherwise backtrack exponentially
_TEMPO_RE = re.compile(r"((?:\d++/\d++\s*+)++)=\s*(\d+(?:\.\d*)?)")
_TEMPO_BARE_RE = re.compile(r"^\s*(?:C\s*=\s*)?(\d+(?:\.\d*)?)\s*$")


def parse_tempo(text: str, unit: tuple[int, int]) -> float | None:
    """Q: text -> quarter notes per minute; None for a text-only tempo such as ``"Allegro"``.

    ``Q:3/8=120`` counts dotted quarters; the old bare ``Q:120`` counts unit notes (L:).
    """
    body = re.sub(r'"[^"]*"', " ", text.split("%", 1)[0])
    m = _TEMPO_RE.search(body)
    if m:
        beat = 0.0
        for frac in m.group(1).split():
            n, d = frac.split("/")
            beat += int(n) / int(d) if int(d) else 0.0
        qpm = float(m.group(2)) * beat * 4
    else:
        m = _TEMPO_BARE_RE.match(body)
        if not m:
            return None
        qpm = float(m.group(1)) * unit[0] / unit[1] * 4
    return qpm if qpm > 0 else None


_OCTAVE_RE = re.compile(r"(?:^|\s)octave=(-?\d+)")
_CLEF8_RE = re.compile(r"(?:^|\s|=)(?:treble|bass|alto|tenor|baritone|soprano|mezzo|perc)\d?([+-])8(?!\w)")


def octave_shift(text: str) -> int | None:
    """Semitones a K: or V: field moves the notes: ``octave=N`` and a ``-8``/``+8`` clef
    (``clef=treble-8``) transpose by octaves (ABC 2.1 section 4.6). None if it says neither."""
    text = text.split("%", 1)[0]
    octave, clef = _OCTAVE_RE.search(text), _CLEF8_RE.search(text)
    if not octave and not clef:
        return None
    return 12 * int(octave.group(1) if octave else 0) + (12 if clef and clef.group(1) == "+" else -12 if clef else 0)
