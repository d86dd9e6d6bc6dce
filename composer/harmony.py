"""Chord symbols: one model that reads and prints every common spelling.

A chord is a root pitch class, a set of *degrees* above it ('1', 'b3', '5', 'b7', 'b9', ...)
and an optional slash bass. Degrees rather than pitch classes, because spellings that sound
alike mean different things to a player (C6 is not Am7/C; C11 is not C9sus4).

The canonical quality string (what ``ChordSymbol.quality`` holds) is a function of the degree
set: the largest entry of ``QUALITIES`` contained in it, plus the remaining degrees in
parentheses in a fixed order: ``"7b9"``, ``"m7b5"``, ``"69"``, ``"13sus4"``, ``"7(13)"``. The
names agree with ``theory.CHORD_QUALITIES`` where both have one ("7", "maj7", "m7", "m7b5",
"dim7", "6", "m6", "9", "maj", "m", "dim", "aug"), so those stay usable by ``arrange``.

Spellings read (``parse_chord``): lead sheet (``Cm7b5``, ``F7#9``, ``Bbmaj7/D``, ``C-7``,
``Cø``, ``C6/9``, ``E7alt``, ``Gsus4``, ``CΔ7``, ``C7(b9,#11)``), iReal (``C^7``, ``Ch7``,
``Co7``, ``C-^7``, ``C7b9sus``), Harte (``C:min7``, ``G:7(b9)``, ``D:hdim7/b3``,
``C:maj(*3)``) and our token words (``D:m7``, ``C:maj7/E``). In Harte syntax the shorthands
``11``, ``13`` and ``maj13`` are read with the lead-sheet convention (no 3rd on 11, no 11 on
13); our Harte writer never emits them, so what it writes means the same under both readings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import InputError
from .theory import PC_NAMES, name_to_pc

__all__ = [
    "DEGREE_SEMITONES",
    "IREAL_QUALITIES",
    "QUALITIES",
    "Chord",
    "canonical_quality",
    "format_chord",
    "is_no_chord",
    "parse_chord",
    "quality_degrees",
    "quality_pcs",
    "simplify",
]

DEGREE_SEMITONES: dict[str, int] = {
    "1": 0, "2": 2, "b3": 3, "3": 4, "4": 5, "b5": 6, "5": 7, "#5": 8, "b6": 8, "6": 9,
    "bb7": 9, "b7": 10, "7": 11, "b9": 1, "9": 2, "#9": 3, "11": 5, "#11": 6, "b13": 8, "13": 9,
}
_ORDER = {d: i for i, d in enumerate(DEGREE_SEMITONES)}  # print order of extra degrees

# name -> degrees. Order breaks ties when two names cover equally many degrees of a chord.
_TABLE = """
maj 1 3 5|m 1 b3 5|dim 1 b3 b5|aug 1 3 #5|sus4 1 4 5|sus2 1 2 5|5 1 5|1 1
6 1 3 5 6|m6 1 b3 5 6|69 1 3 5 6 9|m69 1 b3 5 6 9|add9 1 3 5 9|madd9 1 b3 5 9
7 1 3 5 b7|maj7 1 3 5 7|m7 1 b3 5 b7|mmaj7 1 b3 5 7|m7b5 1 b3 b5 b7|dim7 1 b3 b5 bb7
7#5 1 3 #5 b7|maj7#5 1 3 #5 7|7b5 1 3 b5 b7|7sus4 1 4 5 b7|mb6 1 b3 5 b6|m#5 1 b3 #5
9 1 3 5 b7 9|maj9 1 3 5 7 9|m9 1 b3 5 b7 9|mmaj9 1 b3 5 7 9|9sus4 1 4 5 b7 9|m9b5 1 b3 b5 b7 9
7b9 1 3 5 b7 b9|7#9 1 3 5 b7 #9|7#11 1 3 5 b7 #11|7b13 1 3 5 b7 b13|9#11 1 3 5 b7 9 #11
9b5 1 3 b5 b7 9|9#5 1 3 #5 b7 9|11 1 5 b7 9 11|m11 1 b3 5 b7 9 11|maj7#11 1 3 5 7 #11
maj9#11 1 3 5 7 9 #11|13 1 3 5 b7 9 13|maj13 1 3 5 7 9 13|m13 1 b3 5 b7 9 11 13
13sus4 1 4 5 b7 9 13|13#11 1 3 5 b7 9 #11 13|13b9 1 3 5 b7 b9 13|13#9 1 3 5 b7 #9 13
7b9b13 1 3 5 b7 b9 b13|7#9b13 1 3 5 b7 #9 b13|7b9#9 1 3 5 b7 b9 #9|7b9#11 1 3 5 b7 b9 #11
7#9#11 1 3 5 b7 #9 #11|7b9b5 1 3 b5 b7 b9|7#9b5 1 3 b5 b7 #9|7b9#5 1 3 #5 b7 b9
7#9#5 1 3 #5 b7 #9|7alt 1 3 b7 b9 #9 #11 b13|7b9sus4 1 4 5 b7 b9|7b13sus4 1 4 5 b7 b13
7susadd3 1 3 4 5 b7
"""
QUALITIES: dict[str, frozenset[str]] = {
    (parts := item.split())[0]: frozenset(parts[1:]) for item in _TABLE.replace("\n", "|").split("|") if item.strip()
}
_BY_DEGREES = {v: k for k, v in QUALITIES.items()}

# iReal Pro's fixed quality list (its spelling -> ours); the first spelling of a quality is written.
IREAL_QUALITIES: dict[str, str] = {
    "": "maj", "5": "5", "2": "add9", "add9": "add9", "+": "aug", "o": "dim", "h7": "m7b5", "h": "m7b5",
    "sus": "sus4", "^7": "maj7", "^": "maj7", "-": "m", "-7": "m7", "7": "7", "7sus": "7sus4", "o7": "dim7",
    "^9": "maj9", "^13": "maj13", "6": "6", "69": "69", "^7#11": "maj7#11", "^9#11": "maj9#11",
    "^7#5": "maj7#5", "-6": "m6", "-69": "m69", "-^7": "mmaj7", "-^9": "mmaj9", "-9": "m9", "-11": "m11",
    "-7b5": "m7b5", "h9": "m9b5", "-b6": "mb6", "-#5": "m#5", "9": "9", "7b9": "7b9", "7#9": "7#9",
    "7#11": "7#11", "7b5": "7b5", "7#5": "7#5", "9#11": "9#11", "9b5": "9b5", "9#5": "9#5", "7b13": "7b13",
    "7#9#5": "7#9#5", "7#9b5": "7#9b5", "7#9#11": "7#9#11", "7b9#11": "7b9#11", "7b9b5": "7b9b5",
    "7b9#5": "7b9#5", "7b9#9": "7b9#9", "7b9b13": "7b9b13", "7alt": "7alt", "13": "13", "13#11": "13#11",
    "13b9": "13b9", "13#9": "13#9", "7b9sus": "7b9sus4", "7susadd3": "7susadd3", "9sus": "9sus4",
    "13sus": "13sus4", "7b13sus": "7b13sus4", "11": "11",
}
_IREAL_OUT = {}
for _k, _v in IREAL_QUALITIES.items():
    _IREAL_OUT.setdefault(_v, _k)

# Harte (2005) shorthands. 11/13/maj13 are read the lead-sheet way (see the module docstring).
_HARTE = {
    "maj": "1 3 5", "min": "1 b3 5", "dim": "1 b3 b5", "aug": "1 3 #5", "maj7": "1 3 5 7", "min7": "1 b3 5 b7",
    "7": "1 3 5 b7", "dim7": "1 b3 b5 bb7", "hdim7": "1 b3 b5 b7", "minmaj7": "1 b3 5 7", "maj6": "1 3 5 6",
    "min6": "1 b3 5 6", "9": "1 3 5 b7 9", "maj9": "1 3 5 7 9", "min9": "1 b3 5 b7 9", "sus4": "1 4 5",
    "sus2": "1 2 5", "min11": "1 b3 5 b7 9 11", "min13": "1 b3 5 b7 9 11 13", "1": "1", "5": "1 5",
    "11": "1 5 b7 9 11", "13": "1 3 5 b7 9 13", "maj13": "1 3 5 7 9 13",
}
HARTE = {k: frozenset(v.split()) for k, v in _HARTE.items()}
_HARTE_WRITE = [k for k in HARTE if k not in ("11", "13", "maj13")]
_BASS_DEGREE = ["1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7"]
_NATURAL = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
_BY_SEMITONE_UPPER = {1: "b9", 2: "9", 3: "#9", 5: "11", 6: "#11", 8: "b13", 9: "13"}
_BY_SEMITONE_LOWER = {1: "b9", 2: "2", 3: "b3", 4: "3", 5: "4", 6: "b5", 7: "5", 8: "#5", 9: "6", 10: "b7", 11: "7"}


@dataclass(frozen=True)
class Chord:
    """Root pitch class, canonical quality string, slash bass pitch class (None = the root)."""

    root: int
    quality: str
    bass: int | None = None

    @property
    def degrees(self) -> frozenset[str]:
        return quality_degrees(self.quality)

    @property
    def pcs(self) -> frozenset[int]:
        """Sounding pitch classes, the slash bass included."""
        pcs = quality_pcs(self.root, self.quality)
        return pcs if self.bass is None else pcs | {self.bass % 12}

    def transpose(self, n: int) -> Chord:
        return Chord((self.root + n) % 12, self.quality, None if self.bass is None else (self.bass + n) % 12)

    def __str__(self) -> str:
        return format_chord(self, "leadsheet")


def _normalise(degrees: set[str]) -> frozenset[str]:
    """One fifth, one ninth, one eleventh, one thirteenth: the altered one wins; '1' always."""
    d = set(degrees) | {"1"}
    for plain, altered in (("5", ("b5", "#5")), ("9", ("b9", "#9")), ("11", ("#11",)), ("13", ("b13",))):
        if plain in d and any(a in d for a in altered):
            d.discard(plain)
    return frozenset(d)


@lru_cache(maxsize=4096)
def _name(degrees: frozenset[str]) -> str:
    if degrees in _BY_DEGREES:
        return _BY_DEGREES[degrees]
    best = max((q for q, d in QUALITIES.items() if d <= degrees), key=lambda q: len(QUALITIES[q]))
    extra = sorted(degrees - QUALITIES[best], key=_ORDER.__getitem__)
    return f"{best}({','.join(extra)})"


def canonical_quality(degrees) -> str:
    """The canonical quality string of a degree set (labels from DEGREE_SEMITONES)."""
    return _name(_normalise(set(degrees)))


@lru_cache(maxsize=4096)
def quality_degrees(quality: str) -> frozenset[str]:
    """Degrees of any quality spelling we read ('m7b5', 'min7', '-7', '7(b9)'); InputError if unknown."""
    try:
        return _quality(quality)
    except ValueError:
        raise InputError(f"unknown chord quality {quality!r}") from None


def quality_pcs(root: int, quality: str) -> frozenset[int]:
    return frozenset((root + DEGREE_SEMITONES[d]) % 12 for d in quality_degrees(quality))


# ---------------------------------------------------------------------------------- parsing

_TRANSLATE = str.maketrans({"Δ": "^", "△": "^", "ø": "h", "Ø": "h", "°": "o", "♭": "b", "♯": "#", "−": "-",
                            "–": "-", "⁺": "+"})
_FAMILY = re.compile(r"(?P<maj>maj|Maj|MAJ|MA|Ma|ma(?=\d)|M)|(?P<delta>\^|j)|(?P<min>min|mi|m|-)"
                     r"|(?P<dim>dim|o)|(?P<hdim>h)|(?P<aug>aug|\+)|(?P<alt>alt)")
_NUMBER = re.compile(r"69|13|11|9|7|6|5|2")
_MOD = re.compile(
    r"(?P<sep>[(),\s])|(?P<add>add|Add|ADD)(?P<adeg>[b#]?\d+)|(?P<sus>sus)(?P<sdeg>[24])?"
    r"|(?P<omit>no|omit)(?P<odeg>\d+)|(?P<alt>alt)|(?P<star>\*)(?P<stdeg>[b#]*\d+)"
    r"|(?P<majmod>maj|Maj|MA|M|\^|j)(?P<mnum>13|11|9|7)?"
    r"|(?P<acc>[b#+\-])(?P<anum>13|11|9|6|5)|(?P<plus>\+)|(?P<num>13|11|9|7|6)"
)


def _label(text: str) -> str:
    """'b9' -> 'b9', '+11' -> '#11', '-13' -> 'b13', '2' -> '2', 'bb7' -> 'bb7' (ValueError if unknown)."""
    m = re.fullmatch(r"([b#+\-]*)(\d+)", text)
    if not m:
        raise ValueError(text)
    acc = m.group(1).replace("+", "#").replace("-", "b")
    label = acc + m.group(2)
    if label in DEGREE_SEMITONES:
        return label
    num = int(m.group(2))
    if num not in _NATURAL:
        raise ValueError(text)
    semis = (_NATURAL[num] + acc.count("#") - acc.count("b")) % 12
    table = _BY_SEMITONE_UPPER if num > 7 else _BY_SEMITONE_LOWER
    if semis not in table:
        raise ValueError(text)
    return table[semis]


def _apply(d: set[str], label: str) -> None:
    """Add a degree the way lead sheets mean it: an altered fifth/ninth/... replaces the plain one."""
    if label in ("b5", "#5"):
        d.discard("5")
    elif label in ("b9", "#9"):
        d.discard("9")
    elif label == "#11":
        d.discard("11")
    elif label == "b13":
        d.discard("13")
    d.add(label)


def _quality(q: str) -> frozenset[str]:
    s = q.translate(_TRANSLATE).replace("6/9", "69")
    base, sep, rest = s.partition("(")
    if base in QUALITIES and (not sep or rest.endswith(")")):  # canonical fast path
        d = set(QUALITIES[base])
        try:
            for item in filter(None, (x.strip() for x in rest[:-1].split(","))) if sep else ():
                if item.startswith("*"):
                    d.discard(_label(item[1:]))
                else:
                    _apply(d, _label(item))
            return _normalise(d)
        except ValueError:
            pass  # e.g. 'm(maj7)': not a degree list, read it the general way
    return _scan(s)


def _scan(s: str) -> frozenset[str]:
    """The general lead-sheet/iReal reader: family prefix, number, then modifiers."""
    i, fam = 0, None
    m = _FAMILY.match(s)
    if m:
        fam, i = m.lastgroup, m.end()
    num = None
    m = _NUMBER.match(s, i)
    if m and fam != "alt":
        num, i = m.group(), m.end()
    third = None if num == "5" else ("b3" if fam in ("min", "dim", "hdim") else "3")
    fifth = "b5" if fam in ("dim", "hdim") else "#5" if fam == "aug" else "5"
    seventh = None
    if fam in ("delta", "hdim") or num in ("7", "9", "11", "13"):
        seventh = "7" if fam in ("maj", "delta") else "bb7" if fam == "dim" else "b7"
    ext: set[str] = {"2": {"9"}, "6": {"6"}, "69": {"6", "9"}, "9": {"9"}, "11": {"9", "11"},
                     "13": {"9", "13"}}.get(num, set())
    if num == "13" and fam == "min":
        ext.add("11")
    if num == "11" and fam is None:
        third = None  # the jazz dominant 11th: a 9sus4 with the 11 named
    d = {"1", third, fifth, seventh} | ext
    d.discard(None)
    if fam == "alt":
        d = {"1", "3", "b7", "b9", "#9", "#11", "b13"}
    while i < len(s):
        m = _MOD.match(s, i)
        if not m:
            raise ValueError(s[i:])
        i, kind = m.end(), m.lastgroup
        g = m.groupdict()
        if g["sep"]:
            continue
        if g["add"]:
            label = {"2": "9", "4": "11"}.get(g["adeg"], None) or _label(g["adeg"])
            if label == "3":
                d.add("3")
            else:
                _apply(d, label)
        elif g["sus"]:
            d -= {"3", "b3"}
            d.add("2" if g["sdeg"] == "2" else "4")
        elif g["omit"]:
            n = g["odeg"]
            d -= {"3", "b3"} if n == "3" else {"5", "b5", "#5"} if n == "5" else {n}
        elif g["alt"]:
            d = {"1", "3", "b7", "b9", "#9", "#11", "b13"}
        elif g["star"]:
            d.discard(_label(g["stdeg"]))
        elif g["majmod"]:
            d -= {"b7", "bb7"}
            d.add("7")
            mnum = g["mnum"]
            d |= {"9": {"9"}, "11": {"9", "11"}, "13": {"9", "13"}}.get(mnum, set())
        elif g["acc"]:
            _apply(d, _label(g["acc"] + g["anum"]))
        elif g["plus"]:
            _apply(d, "#5")
        elif kind == "num":
            n = g["num"]
            if n == "7":
                if not d & {"7", "b7", "bb7"}:
                    d.add("b7")
            else:
                _apply(d, {"6": "6", "9": "9", "11": "11", "13": "13"}[n])
    return _normalise(d)


def is_no_chord(text: str) -> bool:
    """N.C. in its spellings (lead sheet, Harte 'N'/'X', iReal 'n')."""
    return text.strip().upper().replace(".", "").replace(" ", "") in ("N", "NC", "X", "")


def _bass_pc(root: int, text: str) -> int:
    """A slash bass as a note name ('E') or, in Harte syntax, a degree above the root ('b3')."""
    if text[:1] in "ABCDEFG":
        return name_to_pc(text)
    return (root + DEGREE_SEMITONES[_label(text)]) % 12


def parse_chord(text: str, source: str = "") -> Chord:
    """Any supported spelling -> Chord. InputError naming the spelling (and ``source``) otherwise."""
    from . import limits

    if len(text) > limits.current().max_chord_chars:
        where = f" in {source}" if source else ""
        raise InputError(f"chord symbol of {len(text):,} characters{where} (a chord is at most "
                         f"{limits.current().max_chord_chars}; COMPOSER_MAX_CHORD_CHARS raises it)")
    s = text.strip().translate(_TRANSLATE)
    try:
        if ":" in s:
            root_txt, _, rest = s.partition(":")
        else:
            m = re.match(r"[A-G](?:bb|##|[b#])?", s)
            if not m:
                raise ValueError(s)
            root_txt, rest = m.group(), s[m.end():]
        root = name_to_pc(root_txt)
        bass = None
        head, slash, tail = rest.rpartition("/")
        if slash and re.fullmatch(r"[A-G][b#]?|[b#]*\d+", tail) and not (head.endswith("6") and tail == "9"):
            bass, rest = _bass_pc(root, tail), head
        degrees = _harte(rest) if ":" in s else _quality(rest)
    except (ValueError, InputError, KeyError):
        where = f" in {source}" if source else ""
        raise InputError(f"unknown chord spelling {text.strip()!r}{where}") from None
    return Chord(root, _name(degrees), None if bass == root else bass)


def _harte(rest: str) -> frozenset[str]:
    """After the colon: our canonical names first (token words), then Harte shorthand(degrees)."""
    try:
        return _quality(rest) if rest.partition("(")[0] in QUALITIES else _harte_strict(rest)
    except ValueError:
        return _quality(rest)  # a word in lead-sheet spelling, e.g. 'D:m7'


def _harte_strict(rest: str) -> frozenset[str]:
    m = re.fullmatch(r"([^()]*)(?:\((.*)\))?", rest)
    if not m or (m.group(1) and m.group(1) not in HARTE) or (not m.group(1) and m.group(2) is None):
        raise ValueError(rest)
    d = set(HARTE[m.group(1)]) if m.group(1) else set()
    for item in filter(None, (x.strip() for x in (m.group(2) or "").split(","))):
        if item.startswith("*"):
            d.discard(_label(item[1:]))
        else:
            d.add(_label(item))
    return _normalise(d)


# ---------------------------------------------------------------------------------- printing


def format_chord(chord: Chord, style: str = "leadsheet") -> str:
    """Print a chord as 'leadsheet' (Cm7b5/Gb), 'word' (C:m7b5/Gb), 'harte' (C:hdim7/b5) or 'ireal' (Ch7/Gb).

    iReal has a fixed quality list: a quality outside it is written as its nearest entry (the
    extra degrees dropped); every other style is lossless.
    """
    root = PC_NAMES[chord.root % 12]
    q = chord.quality
    if style == "word":
        return f"{root}:{q}" + ("" if chord.bass is None else "/" + PC_NAMES[chord.bass % 12])
    if style == "harte":
        return f"{root}:{_harte_quality(chord.degrees)}" + (
            "" if chord.bass is None else "/" + _BASS_DEGREE[(chord.bass - chord.root) % 12])
    slash = "" if chord.bass is None else "/" + PC_NAMES[chord.bass % 12]
    if style == "leadsheet":
        text = {"maj": "", "69": "6/9", "m69": "m6/9"}.get(q, q)
        return f"{root}{text}{slash}"
    if style == "ireal":
        base = q.partition("(")[0]
        text = _IREAL_OUT.get(q, _IREAL_OUT.get(base, _IREAL_OUT[simplify(q)]))
        return f"{root}{text}{slash}"
    raise ValueError(f"unknown chord style {style!r}")


def _harte_quality(degrees: frozenset[str]) -> str:
    def cost(short: str) -> tuple[float, int]:
        h = HARTE[short]
        return len(degrees - h) + 1.5 * len(h - degrees), -len(h)

    minor = "b3" in degrees  # never spell a chord from a shorthand with the other third
    short = min((s for s in _HARTE_WRITE if ("b3" in HARTE[s]) == minor or not HARTE[s] & {"3", "b3"}), key=cost)
    h = HARTE[short]
    items = sorted(degrees - h, key=_ORDER.__getitem__) + ["*" + x for x in sorted(h - degrees, key=_ORDER.__getitem__)]
    return short + (f"({','.join(items)})" if items else "")


# ---------------------------------------------------------------------------------- function


def simplify(quality: str) -> str:
    """The nearest quality in ``theory.CHORD_QUALITIES`` (what ``arrange`` knows): keeps the
    third/seventh family, drops colour. For the walking bass and for out-of-vocabulary words."""
    d = quality_degrees(quality)
    if "b3" in d and "b5" in d:
        return "dim7" if "bb7" in d else "m7b5" if "b7" in d else "dim"
    if "b3" in d:
        return "m6" if ("7" in d or "6" in d) else "m7" if "b7" in d else "m"
    if "b7" in d:
        return "7"
    if "#5" in d and "7" not in d:
        return "aug"
    if "7" in d:
        return "maj7"
    return "6" if "6" in d else "maj"
