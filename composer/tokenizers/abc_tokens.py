"""The ``abc`` encoding after folk-rnn (Sturm et al. 2016): a tune as ABC-notation tokens.

A tune is ``<s> M:6/8 K:Cdor |: G ^F/2 G/2 A2 ... :| </s>``: meter and mode tokens, then notes
(an optional accidental, a letter with octave marks), durations as separate tokens in eighth
notes (``2``, ``/2``, ``3/2``; none means one eighth), rests ``z``, bar and repeat tokens
(``|`` ``||`` ``|]`` ``|:`` ``:|`` ``::`` ``[1`` ``[2``), triplets ``(3`` and ties ``-``. As in
folk-rnn every tune is moved to a C tonic (modes maj, min, dor, mix) and the unit is one eighth.

Documented quantisation: accidentals are absolute against the key signature (no carrying
through the bar, so a token always means one pitch); chords keep their top note; a note across
a bar line is split and tied; grace notes and decorations are not tokens. The vocabulary is
fitted on a corpus (``fit``) and saved with the model.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from fractions import Fraction

import numpy as np

from ..errors import InputError, TokenizerError
from ..score import KeySignature, Score, Tempo, TimeSignature, Track, notes_array, sort_notes
from ..theory import key_offset

__all__ = ["AbcTokenizer", "MODE_TOKENS", "duration_text", "parse_duration"]

SPECIALS = ["<s>", "</s>"]
MODE_TOKENS = {"major": "K:Cmaj", "minor": "K:Cmin", "dorian": "K:Cdor", "mixolydian": "K:Cmix"}
TOKEN_MODE = {v: k for k, v in MODE_TOKENS.items()}
MODE_ALIASES = {"maj": "major", "ion": "major", "ionian": "major", "min": "minor", "m": "minor",
                "aeo": "minor", "aeolian": "minor", "dor": "dorian", "mix": "mixolydian"}
LINES = ["|", "||", "|]", "|:", ":|", "::"]
ENDINGS = ["[1", "[2"]
TUPLET, TIE, REST = "(3", "-", "z"
_BAR_ALIASES = {"[|": "||"}

_LETTERS = "CDEFGAB"
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Key-signature flats of each C mode, and how each pitch class is spelled in it: (accidental, letter).
_FLATS = {"major": "", "mixolydian": "B", "dorian": "BE", "minor": "BEA"}
_CHROMATIC = {1: ("^", "C"), 3: ("_", "E"), 6: ("^", "F"), 8: ("^", "G"), 10: ("_", "B")}
_ACC = {"": None, "^": 1, "_": -1, "=": 0}
_PITCH_RE = re.compile(r"([=^_]?)([A-Ga-g])([,']*)$")
_PRIME_RE = re.compile(r"M:\d+/\d+|K:C[a-z]+|<s>|</s>|\|:|:\||::|\|\]|\|\||\[\||\||\[1|\[2|\(3|"
                       r"[=^_]?[A-Ga-g][,']*|z|\d*/\d+|\d+|-")


def _spelling(mode: str) -> dict[int, tuple[str, str]]:
    flats = _FLATS[mode]
    out = {}
    for letter, pc in _NATURAL.items():
        out[(pc - (letter in flats)) % 12] = ("", letter)
    for pc in range(12):
        if pc in out:
            continue
        natural = [letter for letter, p in _NATURAL.items() if p == pc]
        out[pc] = ("=", natural[0]) if natural else _CHROMATIC[pc]
    return out


_SPELL = {mode: _spelling(mode) for mode in _FLATS}


def pitch_token(pitch: int, mode: str) -> str:
    acc, letter = _SPELL[mode][pitch % 12]
    value = _NATURAL[letter] + ({"^": 1, "_": -1, "=": 0}[acc] if acc else -(letter in _FLATS[mode]))
    octave = (pitch - value) // 12 - 5  # 0: C..B from middle C, 1: c..b
    if octave >= 1:
        return acc + letter.lower() + "'" * (octave - 1)
    return acc + letter + "," * (-octave)


def token_pitch(token: str, mode: str) -> int:
    m = _PITCH_RE.match(token)
    acc, letter, marks = m.groups()
    octave = (1 if letter.islower() else 0) + marks.count("'") - marks.count(",")
    letter = letter.upper()
    alter = _ACC[acc] if acc else -(letter in _FLATS[mode])
    return 60 + 12 * octave + _NATURAL[letter] + alter


def duration_text(f: Fraction) -> str:
    """Length in eighths as ABC writes it: 1 -> '', 2 -> '2', 1/2 -> '/2', 3/2 -> '3/2'."""
    if f == 1:
        return ""
    if f.denominator == 1:
        return str(f.numerator)
    return (str(f.numerator) if f.numerator != 1 else "") + f"/{f.denominator}"


def parse_duration(token: str) -> Fraction | None:
    if not token or not re.fullmatch(r"\d*/\d+|\d+", token):
        return None
    if "/" in token:
        num, den = token.split("/")
        return Fraction(int(num or 1), int(den))
    return Fraction(int(token))


def _mode_of(score: Score) -> str:
    mode = str(score.meta.get("mode") or (score.key_signatures[0].mode if score.key_signatures else "major"))
    mode = MODE_ALIASES.get(mode, mode)
    if mode not in MODE_TOKENS:
        raise TokenizerError(f"mode {mode!r} is not one the folk encoding knows (major, minor, dorian, mixolydian)")
    return mode


def _melody_events(score: Score) -> list[tuple[int, int, int | None]]:
    """(start, duration, pitch or None) in ticks, gaps as rests, chords by their top note."""
    tracks = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if not tracks:
        raise TokenizerError("no notes")
    n = sort_notes(tracks[0].notes)
    starts, ends, pitches = n["start"].tolist(), (n["start"] + n["duration"]).tolist(), n["pitch"].tolist()
    events, t, i = [], 0, 0
    while i < len(starts):
        j = i
        while j + 1 < len(starts) and starts[j + 1] == starts[i]:
            j += 1  # notes of a chord share a start: keep the top one
        s, p = starts[i], max(pitches[i:j + 1])
        e = max(ends[i:j + 1])
        if j + 1 < len(starts):
            e = min(e, starts[j + 1])
        if s > t:
            events.append((t, s - t, None))
        if e > s:
            events.append((s, e - s, p))
            t = e
        i = j + 1
    return events


def _ok(f: Fraction) -> bool:
    return f > 0 and f.denominator in (1, 2, 4, 8) and f < 64


class AbcTokenizer:
    kind = "abc"
    family = "tokens"
    options = ("meter", "mode", "prime")

    def __init__(self, vocab: list[str] | None = None) -> None:
        self.vocab = list(vocab) if vocab else list(SPECIALS)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.end_id = self.index["</s>"]

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": {}, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> "AbcTokenizer":
        vocab = spec.get("vocab")
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab) or "</s>" not in vocab:
            raise ValueError("the abc tokenizer needs its stored vocabulary")
        return cls(vocab)

    def model_inputs(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    def fit(self, scores) -> "AbcTokenizer":
        """A tokenizer whose vocabulary is every token the representable scores use."""
        seen = set()
        for s in scores:
            try:
                seen.update(self.tokens(s))
            except TokenizerError:
                continue
        order = {t: i for i, t in enumerate(SPECIALS + list(MODE_TOKENS.values()) + LINES + ENDINGS + [TUPLET, TIE, REST])}

        def key(t: str):
            if t in order:
                return (0, order[t], 0)
            if t.startswith("M:"):
                n, d = t[2:].split("/")
                return (1, int(d), int(n))
            if _PITCH_RE.match(t):
                return (2, token_pitch(t, "major"), t)
            return (3, float(parse_duration(t)), t)

        return AbcTokenizer(sorted(seen | set(SPECIALS), key=key))

    # -- encode ----------------------------------------------------------------------------
    def tokens(self, score: Score) -> list[str]:
        """Score -> token strings (raises TokenizerError for what the encoding cannot hold)."""
        sigs = {(t.numerator, t.denominator) for t in score.time_signatures}
        if len(sigs) != 1:
            raise TokenizerError("needs exactly one meter" if sigs else "no meter")
        (num, den), = sigs
        if den not in (2, 4, 8) or num * 8 % den:
            raise TokenizerError(f"meter {num}/{den} is not a whole number of eighths")
        bar_len = Fraction(num * 8, den)
        mode = _mode_of(score)
        tonic = score.key_signatures[0].tonic if score.key_signatures else 0
        shift = -key_offset(tonic)
        if score.tpq % 2:
            raise TokenizerError(f"odd ticks per quarter ({score.tpq})")
        eighth = score.tpq // 2
        events = _melody_events(score)
        end = events[-1][0] + events[-1][1]
        marks: dict[int, list[str]] = {}
        for tick, kind in score.meta.get("bars") or []:
            kind = _BAR_ALIASES.get(kind, kind)
            if kind not in LINES + ENDINGS:
                raise TokenizerError(f"bar mark {kind!r} has no token")
            marks.setdefault(int(tick), []).append(kind)
        if not marks:
            step = int(bar_len * eighth)
            marks = {t: ["|"] for t in range(step, end, step)}
            marks[end] = ["|]"]
        cuts = sorted(t for t in marks if t > 0)

        def length(f: Fraction, at: int) -> str:
            if not _ok(f):
                raise TokenizerError(f"a length of {f} eighths at eighth {at / eighth:g} has no token")
            return duration_text(f)

        out = ["<s>", f"M:{num}/{den}", MODE_TOKENS[mode]] + marks.get(0, [])
        i = 0
        while i < len(events):
            start, dur, pitch = events[i]
            if Fraction(dur, eighth).denominator % 3 == 0:
                group = events[i:i + 3]  # a triplet: three lengths 2/3 of a plain one
                if len(group) < 3 or not all(_ok(Fraction(3 * d, 2 * eighth)) for _, d, _ in group):
                    raise TokenizerError(f"a tuplet at eighth {start / eighth:g} that is not a plain triplet")
                g_end = group[-1][0] + group[-1][1]
                if bisect_right(cuts, start) != bisect_left(cuts, g_end):
                    raise TokenizerError(f"a triplet across a bar line at eighth {start / eighth:g}")
                out.append(TUPLET)
                for s_, d, p in group:
                    out.append(REST if p is None else pitch_token(p + shift, mode))
                    text = length(Fraction(3 * d, 2 * eighth), s_)
                    out += [text] if text else []
                    out += marks.get(s_ + d, [])
                i += 3
                continue
            stop = start + dur
            pieces = cuts[bisect_right(cuts, start):bisect_left(cuts, stop)] + [stop]
            t = start
            for k, c in enumerate(pieces):
                out.append(REST if pitch is None else pitch_token(pitch + shift, mode))
                text = length(Fraction(c - t, eighth), t)
                out += [text] if text else []
                if k + 1 < len(pieces) and pitch is not None:
                    out.append(TIE)
                out += marks.get(c, [])
                t = c
            i += 1
        out.append("</s>")
        return out

    def encode(self, score: Score) -> list[int]:
        toks = self.tokens(score)
        missing = [t for t in toks if t not in self.index]
        if missing:
            raise TokenizerError(f"token {missing[0]!r} is not in the vocabulary")
        return [self.index[t] for t in toks]

    # -- decode ----------------------------------------------------------------------------
    def decode(self, ids, tpq: int = 480) -> Score:
        """Token ids -> a one-track Score in C, bar lines and repeats in meta['bars'] (as the ABC reader)."""
        toks = [self.vocab[i] for i in ids]
        eighth = tpq // 2
        meter, mode = (4, 4), "major"
        notes, bars = [], []
        t, tuplet, tie = Fraction(0), 0, False
        i = 0
        while i < len(toks):
            tok = toks[i]
            i += 1
            if tok == "</s>":
                break
            if tok.startswith("M:"):
                meter = tuple(int(x) for x in tok[2:].split("/"))
            elif tok in TOKEN_MODE:
                mode = TOKEN_MODE[tok]
            elif tok in LINES or tok in ENDINGS:
                bars.append((int(t * eighth), tok))
            elif tok == TUPLET:
                tuplet = 3
            elif tok == TIE:
                tie = True
            elif tok == REST or _PITCH_RE.match(tok):
                dur = parse_duration(toks[i]) if i < len(toks) else None
                i += dur is not None
                dur = dur or Fraction(1)
                if tuplet:
                    dur, tuplet = dur * Fraction(2, 3), tuplet - 1
                if tok != REST:
                    pitch = token_pitch(tok, mode)
                    if tie and notes and notes[-1][2] == pitch and notes[-1][0] + notes[-1][1] == t:
                        notes[-1][1] += dur
                    else:
                        notes.append([t, dur, pitch])
                tie = False
                t += dur
        rows = [(int(s * eighth), int(d * eighth), p, 80) for s, d, p in notes]
        return Score(
            tpq=tpq, tempos=[Tempo(0, 120.0)], time_signatures=[TimeSignature(0, *meter)],
            key_signatures=[KeySignature(0, 0, "minor" if mode in ("minor", "dorian") else "major")],
            tracks=[Track("Melody", 40, False, notes_array(rows))],
            meta={"mode": mode, "unit": "1/8", "bars": bars, "title": "composer folk tune"},
        )

    # -- generation --------------------------------------------------------------------------
    def prompt(self, bars: int | None = None, meter: str | None = None, mode: str | None = None,
               prime: str | None = None) -> list[int]:
        toks = ["<s>"]
        if prime:
            words = _PRIME_RE.findall(prime)
            if "".join(words) != re.sub(r"\s+", "", prime):
                raise InputError(f"the prime {prime!r} is not in the folk token notation (e.g. 'M:6/8 K:Cmaj |: G')")
            toks += [w for w in words if w != "<s>"]
        if meter and not any(t.startswith("M:") for t in toks):
            toks.insert(1, f"M:{meter}")
        key = _mode_token(mode)
        # The mode follows the meter: with no meter given, the grammar makes the model's meter
        # be followed by this mode.
        if key and any(t.startswith("M:") for t in toks) and not any(t in TOKEN_MODE for t in toks):
            toks.insert(2, key)
        missing = [t for t in toks if t not in self.index]
        if missing:
            known = [t for t in self.vocab if t.startswith("M:")]
            raise InputError(f"{missing[0]!r} is not in this model's vocabulary"
                             + (f" (meters: {' '.join(k[2:] for k in known)})" if missing[0].startswith("M:") else ""))
        return [self.index[t] for t in toks]

    def prime_text(self, score: Score, bars: int = 4) -> str:
        """A start to continue a given tune: its meter, mode and first ``bars`` bars, in this notation."""
        words, out, seen = [self.vocab[i] for i in self.encode(score)], [], 0
        for w in words[1:]:
            if w == "</s>":
                break
            out.append(w)
            if w in ("|", ":|", "||", "|]", "::", "|:") and len(out) > 3:  # not the opening |:
                seen += 1
                if seen >= bars:
                    break
        return " ".join(out)

    def grammar(self, bars: int | None = None, meter=None, mode=None, prime=None):
        from .abc_grammar import AbcGrammar

        return AbcGrammar(self.vocab, bars=bars, mode=_mode_token(mode))


def _mode_token(mode: str | None) -> str | None:
    """The mode token for a --mode name (aliases allowed); InputError naming the valid ones."""
    if not mode:
        return None
    key = MODE_TOKENS.get(MODE_ALIASES.get(mode.lower(), mode.lower()))
    if key is None:
        raise InputError(f"unknown mode {mode!r}; folk tunes are major, minor, dorian or mixolydian")
    return key


def abc_text(tokens: list[str], x: int = 1, title: str = "composer folk tune") -> str:
    """The token stream written out as an ABC tune, token for token (for checking raw model output)."""
    head = {"M": "M:none", "K": "K:C"}
    body: list[str] = []
    for t in tokens:
        if t in ("<s>", "</s>"):
            continue
        if t.startswith("M:") or t.startswith("K:"):
            head[t[0]] = t
        elif parse_duration(t) is not None or t == TIE:
            body.append(body.pop() + t if body else t)
        elif t in LINES or t in ENDINGS:
            body.append(f" {t} ")
        elif body and body[-1] == TUPLET:
            body[-1] += t
        else:
            body.append(t)
    return f"X:{x}\nT:{title}\n{head['M']}\nL:1/8\n{head['K']}\n{' '.join(body)}\n"


def tokens_to_pitches(tokens: list[str]) -> np.ndarray:
    """The pitch sequence a token list plays (C tonic), for tests and metrics."""
    mode = next((TOKEN_MODE[t] for t in tokens if t in TOKEN_MODE), "major")
    return np.array([token_pitch(t, mode) for t in tokens if _PITCH_RE.match(t)], dtype=np.int64)
