"""The ABC tune-body reader behind abc.py: one compiled regex and one tight loop per voice.

Kept apart from the file/header handling so each file stays readable. ``read_body`` walks a body
with a ``Voice`` (clock, unit, key, bar accidentals, pending ties/tuplets/broken rhythm) and
appends notes to plain lists; abc.py turns them into a Score.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .. import limits
from ..score import Tempo
from .abc_common import octave_shift, parse_key, parse_meter, parse_tempo, parse_unit

__all__ = ["FIELD_LINE_RE", "BodyError", "Header", "TuneContext", "Voice", "cached_key", "cached_meter",
           "cached_unit", "directive", "read_body", "voice_decl"]

_BODY_RE = re.compile(
    r"\s*(?:"  # skip blanks inside the match: far fewer failed attempts than a bare search
    r"(^[A-Za-z+]:(?![|:\]])[^\n]*)"                         # 1 field line
    r"|((\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)(-?))"   # 2 note: 3 acc 4 letter 5 oct 6 len 7 tie
    r"|((:*\[?\|+\]?:*|::+|\.\|)(\[?\d+(?:[,-]\d+)*)?)"      # 8 bar: 9 kind 10 variant ending
    r"|\[(\d+(?:[,-]\d+)*)"                                  # 11 lone variant ending [2
    r"|(([zx])(\d*/*\d*))"                                   # 12 rest: 14 len
    r"|([.~H-Wh-wY]|![^!\n]*!|\+[^+\n]*\+)"                  # 15 decoration
    r'|"([^"\n]*)"'                                          # 16 chord symbol / annotation
    r"|(\((\d+)(?::(\d*))?(?::(\d*))?)"                      # 17 tuplet: 18 p 19 q 20 r
    r"|([()])"                                               # 21 slur
    r"|(\[([A-Za-z]):([^\]\[\n]*)\])"                        # 22 inline field: 23 letter 24 value
    r"|(\[([^\]\[|]*)\](\d*/*\d*)(-?))"                      # 25 chord: 26 notes 27 len 28 tie
    r"|(<{1,3}|>{1,3})"                                      # 29 broken rhythm
    r"|(-)"                                                  # 30 tie after a space
    r"|\{([^}\n]*)\}"                                        # 31 grace notes
    r"|(([ZX])(\d*))"                                        # 32 multi-measure rest: 34 bars
    r"|(&)"                                                  # 35 voice overlay
    r"|(%[^\n]*)"                                            # 36 comment / directive
    r"|([`\\$*!y;])"                                         # 37 ignorable
    r"|([=^_]+|[\d/]+|[:,'\]}+\[])"                          # 38 stray modifier: ignored, counted
    r"|(\S))",                                               # 39 anything else: error
    re.MULTILINE,
)
# field parsers, cached: a corpus repeats the same few K:, M: and L: values thousands of times
cached_key = lru_cache(maxsize=512)(parse_key)
cached_meter = lru_cache(maxsize=256)(parse_meter)
cached_unit = lru_cache(maxsize=64)(parse_unit)
_CHORD_JUNK_RE = re.compile(r'[\s.~H-Wh-wy]|![^!]*!|\+[^+]*\+|"[^"]*"|[zx][\d/]*')
_CHORD_NOTE_RE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)(-?)")
FIELD_LINE_RE = re.compile(r"([A-Za-z+]):")
_ACC = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
# letter -> (index into C D E F G A B, MIDI pitch of the natural note)
_LETTER = {ch: (i, 60 + pc) for i, (ch, pc) in enumerate(zip("CDEFGAB", (0, 2, 4, 5, 7, 9, 11)))}
_LETTER.update({ch.lower(): (i, p + 12) for ch, (i, p) in list(_LETTER.items())})
_BROKEN = {">": (3, 2, 1, 2), ">>": (7, 4, 1, 4), ">>>": (15, 8, 1, 8),
           "<": (1, 2, 3, 2), "<<": (1, 4, 7, 4), "<<<": (1, 8, 15, 8)}
_TUPLET_Q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}
_PROPAGATE = {"not": 0, "octave": 1, "pitch": 2}
_CHORD_SYM_RE = re.compile(
    r"([A-G])([#b]?)((?:maj|min|dim|aug|sus|add|alt|m|M|\d|[#b+\-o°ø^Δ()])*)(?:/([A-G])([#b]?))?$"
)
_QUALITY = {"": "maj", "M": "maj", "maj": "maj", "m": "m", "min": "m", "-": "m", "7": "7",
            "maj7": "maj7", "M7": "maj7", "^7": "maj7", "Δ": "maj7", "Δ7": "maj7", "m7": "m7",
            "min7": "m7", "-7": "m7", "dim": "dim", "o": "dim", "°": "dim", "dim7": "dim7",
            "o7": "dim7", "°7": "dim7", "m7b5": "m7b5", "ø": "m7b5", "ø7": "m7b5", "m7-5": "m7b5",
            "aug": "aug", "+": "aug", "6": "6", "m6": "m6", "9": "9"}
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _chord_symbol(text: str) -> tuple[int, str, int | None] | None:
    """'Am7' -> (9, 'm7', None), 'G/B' -> (7, 'maj', 11); None for annotations and fingerings."""
    if "(" in text and text[text.index("(") + 1:text.index("(") + 2].isupper():
        text = text[: text.index("(")]  # "G(Em)": the alternative chord is for print only
    m = _CHORD_SYM_RE.match(text.strip())
    if not m:
        return None
    root = (_PC[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    bass = None if not m.group(4) else (_PC[m.group(4)] + {"#": 1, "b": -1, "": 0}[m.group(5)]) % 12
    return root, _QUALITY.get(m.group(3), m.group(3)), bass


class BodyError(Exception):
    """Raised inside the body loop with the offending offset; parse_tune adds tune/line/column."""

    def __init__(self, pos: int, msg: str):
        super().__init__(msg)
        self.pos, self.msg = pos, msg


class Voice:
    """Everything one voice carries along its body: clock, unit, key, bar memory, pending marks."""

    def __init__(self, vid: str, name: str, header: Header, tpq: int):
        self.vid, self.name, self.program = vid, name, header.program
        self.time = 0
        self.meter = header.meter
        self.unit = header.unit
        self.tpq = tpq
        self.key = header.key  # (tonic, mode, alts)
        self.mem: dict = {}
        self.ties: dict = {}
        self.tuplet = (1, 1, 0)  # q, p, notes left
        self.broken = None
        self.last_dur = 0
        self.last_owners: tuple | list = ()
        self.onats: tuple | list = ()
        self.bar_start = 0
        self.overlay_end = -1
        self.starts: list[int] = []
        self.durs: list[int] = []
        self.pitches: list[int] = []
        self.chords: list[tuple] = []
        self.bars: list[tuple[int, str]] = []
        self.keys: list[tuple[int, tuple]] = []
        self.meters: list[tuple[int, tuple | None]] = []
        self.tempos: list[Tempo] = []
        self.inexact = 0
        self.ignored = 0
        self.clef_shift = header.voice_shift.get(vid, header.shift)
        self.midi_shift = header.midi_shift
        self.letters = _LETTER
        self.set_shift()

    def set_shift(self, clef: int | None = None, midi: int | None = None) -> None:
        """Re-key the letter table when a clef, octave= or MIDI transpose moves the notes."""
        if clef is not None:
            self.clef_shift = clef
        if midi is not None:
            self.midi_shift = midi
        shift = self.clef_shift + self.midi_shift
        self.letters = {k: (i, p + shift) for k, (i, p) in _LETTER.items()} if shift else _LETTER

    def unit_ticks(self) -> int:
        return self.tpq * 4 * self.unit[0] // self.unit[1]

    def bar_ticks(self) -> int:
        num, den = self.meter or (4, 4)
        return self.tpq * 4 * num // den


class Header:
    """Tune-wide settings gathered from the file header and the tune header."""

    def __init__(self) -> None:
        self.meter: tuple[int, int] | None = None
        self.unit: tuple[int, int] | None = None
        self.key: tuple = (0, "major", (0,) * 7)
        self.tempo: float | None = None
        self.tempo_text: str | None = None
        self.propagate = 2
        self.shift = 0  # semitones from clef -8/+8 and octave= in the header K:
        self.midi_shift = 0  # %%MIDI transpose, whole octaves
        self.voice_shift: dict[str, int] = {}  # octave= / clef-8 of V: lines in the header
        self.program = 0
        self.voices: dict[str, str] = {}


def _length(text: str, cache: dict, pos: int) -> tuple[int, int]:
    """'3/2' -> (3, 2), '/' -> (1, 2), '//' -> (1, 4), '' -> (1, 1); cached per distinct string.
    ``pos``: where the length stands, for the error a zero divisor ('A/0') raises."""
    r = cache.get(text)
    if r is None:
        m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
        num = int(m.group(1) or 1)
        den = (int(m.group(3)) << max(len(m.group(2)) - 1, 0)) if m.group(3) else 1 << len(m.group(2))
        if not den:
            raise BodyError(pos, f"note length {text!r} divides by zero")
        r = cache[text] = (num, den)
    return r


_LEN_CACHE: dict[str, tuple[int, int]] = {}


def directive(text: str, hdr: Header, v: Voice | None) -> None:
    """Honour the few %% / I: directives that change what notes mean; ignore the rest."""
    words = text.split()
    if len(words) >= 2 and words[0] == "propagate-accidentals" and words[1] in _PROPAGATE:
        hdr.propagate = _PROPAGATE[words[1]]
    elif len(words) >= 3 and words[0] == "MIDI" and words[1] == "program" and re.fullmatch(r"\d{1,9}", words[-1]):
        prog = min(int(words[-1]), 127)
        if v is None:
            hdr.program = prog
        else:
            v.program = prog
    elif len(words) >= 3 and words[:2] == ["MIDI", "transpose"] and re.fullmatch(r"[+-]?\d{1,9}", words[2]):
        # abc2midi's playback transposition; only whole octaves, which leave the key in place
        semis = int(words[2])
        if semis % 12 == 0:
            if v is None:
                hdr.midi_shift = semis
            else:
                v.set_shift(midi=semis)


def voice_decl(value: str) -> tuple[str, str]:
    """'T1 clef=treble name="Tenor"' -> ('T1', 'Tenor')."""
    vid = value.split()[0] if value.split() else "1"
    m = re.search(r'(?:name|nm)\s*=\s*"([^"]*)"', value)
    return vid, (m.group(1) if m else vid)


_DCACHES: dict[int, dict[str, int]] = {}


def _dcache(unit: int) -> dict[str, int]:
    """Length string -> ticks at one unit length; shared by all tunes with that unit."""
    c = _DCACHES.get(unit)
    if c is None:
        c = _DCACHES[unit] = {}
    return c


def _scaled(d: int, num: int, den: int, v: Voice) -> int:
    """d * num / den in ticks, rounded (and counted in meta['inexact']) if tpq cannot hold it."""
    q, r = divmod(d * num, den)
    if r:
        v.inexact += 1
        q += 2 * r >= den
    return q


def _chord_ties(parsed: list, ties: dict) -> dict[int, tuple[int, int]]:
    """Which notes of a chord continue a tied note: {position in chord: (note index, pitch)}.
    Equal pitches pair up first, so a staff-position match cannot steal another note's tie."""
    pending, out = dict(ties), {}
    for j, (pitch, *_) in enumerate(parsed):
        if pitch in pending:
            out[j] = (pending.pop(pitch)[0], pitch)
    for j, (pitch, nat, free, *_) in enumerate(parsed):
        if j not in out and pending:
            t = _take_tie(pending, pitch, nat, free)
            if t is not None:
                out[j] = t
    return out


def _lengthen(durs: list, owners, last_dur: int, broken: tuple, time: int, v: Voice) -> int:
    """The left half of a broken rhythm: stretch the previous event's notes, return the new clock.

    The stretch is taken from the previous event's written length, so in a chain 'a>b>c' the
    middle note loses half and regains half: every pair keeps its written total and bars add up.
    """
    delta = _scaled(last_dur, broken[0], broken[1], v) - last_dur if last_dur else 0
    for i in owners:
        durs[i] += delta
    return time + delta


def _bar_kind(raw: str) -> str:
    """Normalise a bar token: '|', '||', '|]', '[|', '|:', ':|' or '::'."""
    left, right = raw.startswith(":"), raw.endswith(":")
    if left and right:
        return "::"
    if left:
        return ":|"
    if right:
        return "|:"
    if raw in ("|", "||", "|]", "[|"):
        return raw
    if "]" in raw:
        return "|]"
    if raw.startswith("[") and raw != "[|]":
        return "[|"
    return "||" if raw.count("|") >= 2 else "|"


_BAR_KINDS: dict[str, str] = {}


def _take_tie(pending: dict, pitch: int, nat: int, free: bool) -> tuple[int, int] | None:
    """The tied note a new note continues -> (note index, pitch), removed from ``pending``.

    Same pitch first; else, for a note whose pitch only the key signature sets (``free``: no
    accidental of its own or earlier in the bar), the tied note on the same staff position:
    ``^F-|F`` keeps F sharp over the bar line, as in standard notation.
    """
    t = pending.pop(pitch, None)
    if t is not None:
        return t[0], pitch
    if free:
        for p, (i, n) in pending.items():
            if n == nat:
                del pending[p]
                return i, p
    return None


_NO_TIES: dict = {}


class TuneContext:
    """Tune-level collections the body loop feeds: meta lists and the pending voice switch."""

    def __init__(self) -> None:
        self.parts: list[tuple[int, str]] = []
        self.lyrics: list[str] = []
        self.words: list[str] = []
        self.directives: list[str] = []
        self.switch: str | None = None
        self.last_field = ""
        lim = limits.current()
        self.tokens, self.max_tokens, self.max_notes = 0, lim.max_tokens, lim.max_notes
        self.max_field, self.max_chord = lim.max_field_chars, lim.max_chord_chars


def _too_many(n: int) -> str:
    return f"more than {n:,} notes in one voice (COMPOSER_MAX_NOTES raises the limit)"


def _body_field(letter: str, value: str, v: Voice, hdr: Header, ctx: TuneContext, time: int, pos: int) -> bool:
    """Apply a field met in the body (line or inline). Returns True when it switches voice."""
    if len(value) > ctx.max_field:
        raise BodyError(pos, f"{letter}: field of {len(value):,} characters is over the limit of {ctx.max_field:,} "
                             "(COMPOSER_MAX_FIELD_CHARS raises it)")
    if letter == "K":
        key = cached_key(value)
        if key is not None:
            v.key = key
            v.keys.append((time, key))
            v.mem = {}
        shift = octave_shift(value)
        if shift is not None:
            v.set_shift(clef=shift)
    elif letter == "M":
        v.meter = cached_meter(value)
        v.meters.append((time, v.meter))
    elif letter == "L":
        unit = cached_unit(value)
        if unit is None:
            raise BodyError(pos, f"bad unit note length L:{value}")
        v.unit = unit
    elif letter == "Q":
        qpm = parse_tempo(value, v.unit)
        if qpm:
            v.tempos.append(Tempo(time, qpm))
    elif letter == "V":
        ctx.switch = value
        v.time = time
        return True
    elif letter == "P":
        ctx.parts.append((time, value.strip()))
    elif letter == "w":
        ctx.lyrics.append(value.strip())
    elif letter == "W":
        ctx.words.append(value.strip())
    elif letter == "I":
        directive(value, hdr, v)
    elif letter == "+" and ctx.last_field in ("w", "W"):
        lst = ctx.lyrics if ctx.last_field == "w" else ctx.words
        if lst:
            lst[-1] += " " + value.strip()
        return False
    ctx.last_field = letter
    return False


def read_body(body: str, pos: int, v: Voice, hdr: Header, ctx: TuneContext) -> int | None:
    """Read ``body`` from ``pos`` into voice ``v``; stop at the end (None) or at a voice switch
    (returns the offset after the V: field, the new voice id in ctx.switch).

    The hot loop: state lives in locals and is written back to ``v`` on every exit.
    """
    starts, durs, pitches = v.starts, v.durs, v.pitches
    s_app, d_app, p_app = starts.append, durs.append, pitches.append
    time, unit = v.time, v.unit_ticks()
    dcache, alts, mem, prop = _dcache(unit), v.key[2], v.mem, hdr.propagate
    ties, (tq, tp, tleft), broken = v.ties, v.tuplet, v.broken
    last_dur, owners, onats = v.last_dur, v.last_owners, v.onats
    bars, bar_start, overlay_end = v.bars, v.bar_start, v.overlay_end
    letters = v.letters
    ret = None
    ntok, max_tok, max_notes = ctx.tokens, ctx.max_tokens, ctx.max_notes
    for m in _BODY_RE.finditer(body, pos):  # the caller strips the blank tail: every attempt matches
        k = m.lastindex
        ntok += 1
        if ntok > max_tok:
            raise BodyError(m.start(), f"more than {max_tok:,} tokens in one tune (COMPOSER_MAX_TOKENS raises the limit)")
        if k == 2 or k == 12:  # note or rest
            if k == 2:
                acc, letter, octs, length, tie = m.group(3, 4, 5, 6, 7)
            else:
                length = m.group(14)
            d = dcache.get(length)
            if d is None:
                n, dd = _length(length, _LEN_CACHE, m.start())
                d = dcache[length] = _scaled(unit, n, dd, v)
            if tleft:
                d = _scaled(d, tq, tp, v)
                tleft -= 1
            base = d  # written length (tuplet included): what a following '>' stretches
            if broken:
                time = _lengthen(durs, owners, last_dur, broken, time, v)
                d = _scaled(d, broken[2], broken[3], v)
                broken = None
            if k == 12:
                time += d
                last_dur, owners, onats = base, (), ()
                ties = _NO_TIES
                continue
            if not d:  # 'A0': a length of nothing
                v.ignored += 1
                continue
            li, nat = letters[letter]
            if octs:
                nat += 12 * (octs.count("'") - octs.count(","))
            if acc:
                alt = _ACC[acc]
                if prop:
                    mem[li if prop == 2 else nat] = alt
            elif mem:
                alt = mem.get(li if prop == 2 else nat)
                if alt is None:
                    alt = alts[li]
            else:
                alt = alts[li]
            pitch = nat + alt
            if ties:
                t = _take_tie(dict(ties), pitch, nat, not acc and (li if prop == 2 else nat) not in mem)
                if t is not None:
                    idx, pitch = t
                    durs[idx] += d
                    time += d
                    last_dur, owners, onats = base, (idx,), (nat,)
                    ties = {pitch: (idx, nat)} if tie else _NO_TIES
                    continue
            if not 0 <= pitch <= 127:
                raise BodyError(m.start(2), f"pitch {pitch} is outside the MIDI range")
            idx = len(starts)
            if idx >= max_notes:
                raise BodyError(m.start(2), _too_many(max_notes))
            s_app(time)
            d_app(d)
            p_app(pitch)
            time += d
            last_dur, owners, onats = base, (idx,), (nat,)
            ties = {pitch: (idx, nat)} if tie else _NO_TIES
        elif k == 8:  # bar line, maybe with a variant ending
            raw, volta = m.group(9, 10)
            kind = _BAR_KINDS.get(raw) or _BAR_KINDS.setdefault(raw, _bar_kind(raw))
            if overlay_end >= 0:
                time, overlay_end = max(time, overlay_end), -1
            bars.append((time, kind))
            if volta:
                bars.append((time, "[" + volta.lstrip("[")))
            if mem:
                mem = {}
            if broken:  # 'A>|B': a broken rhythm does not reach over a bar line
                broken = None
                v.ignored += 1
            bar_start = time
        elif k == 15 or k == 21 or k == 31 or k == 37:  # decoration, slur, grace notes, spacer
            continue
        elif k == 16:  # "chord symbol" or "^annotation"
            text = m.group(16)
            if text and text[0] not in "^_<>@" and len(text) <= ctx.max_chord:
                cs = _chord_symbol(text)
                if cs is not None:
                    if broken:  # 'A>"Am"B': the chord starts where B does, after A's stretch
                        time = _lengthen(durs, owners, last_dur, broken, time, v)
                        broken = (1, 1, broken[2], broken[3])
                    v.chords.append((time,) + cs)
        elif k == 29:  # broken rhythm: applied to both neighbours when the next one arrives
            broken = _BROKEN[m.group(29)]
        elif k == 25:  # [chord]
            notes = _CHORD_NOTE_RE.findall(m.group(26))
            on, od = _length(m.group(27), _LEN_CACHE, m.start())
            if tleft:
                on, od, tleft = on * tq, od * tp, tleft - 1
            bn = bd = 1
            if broken:
                time = _lengthen(durs, owners, last_dur, broken, time, v)
                bn, bd, broken = broken[2], broken[3], None
            first, parsed = None, []
            for acc, letter, octs, length, tie in notes:
                li, nat = letters[letter]
                if octs:
                    nat += 12 * (octs.count("'") - octs.count(","))
                if acc:
                    alt = _ACC[acc]
                    if prop:
                        mem[li if prop == 2 else nat] = alt
                else:
                    alt = mem.get(li if prop == 2 else nat) if mem else None
                    if alt is None:
                        alt = alts[li]
                n, dd = _length(length, _LEN_CACHE, m.start())
                d = _scaled(unit, n * on, dd * od, v)
                if first is None:
                    first = d
                if bn != bd:
                    d = _scaled(d, bn, bd, v)
                free = not acc and (li if prop == 2 else nat) not in mem
                parsed.append((nat + alt, nat, free, d, tie or m.group(28)))
            tied = _chord_ties(parsed, ties) if ties else {}
            new_owners, new_nats, new_ties = [], [], {}
            for j, (pitch, nat, _, d, tie) in enumerate(parsed):
                if j in tied:
                    idx, pitch = tied[j]
                    durs[idx] += d
                else:
                    if not 0 <= pitch <= 127:
                        raise BodyError(m.start(25), f"pitch {pitch} is outside the MIDI range")
                    idx = len(starts)
                    if idx >= max_notes:
                        raise BodyError(m.start(25), _too_many(max_notes))
                    s_app(time)
                    d_app(d)
                    p_app(pitch)
                new_owners.append(idx)
                new_nats.append(nat)
                if tie:
                    new_ties[pitch] = (idx, nat)
            if first is None:
                continue  # [] or a chord of rests: nothing sounds, nothing advances
            time += _scaled(first, bn, bd, v) if bn != bd else first
            last_dur, owners, onats = first, new_owners, new_nats
            if _CHORD_JUNK_RE.sub("", _CHORD_NOTE_RE.sub("", m.group(26))):
                v.ignored += 1  # e.g. '[Ae>]': the stray '>' is dropped, and counted
            ties = new_ties or _NO_TIES
        elif k == 17:  # tuplet (p:q:r
            p = int(m.group(18))
            if p < 1:
                raise BodyError(m.start(17), f"bad tuplet ({p}")
            q = m.group(19)
            if q:
                tq = int(q)
            elif p in (5, 7, 9):
                num = v.meter[0] if v.meter else 4
                tq = 3 if num % 3 == 0 and num > 3 else 2
            else:
                tq = _TUPLET_Q.get(p, p if p == 1 else 2)
            tp, tleft = p, int(m.group(20) or p)
        elif k == 30:  # '-' after a space: tie the previous note(s)
            ties = {pitches[i]: (i, nat) for i, nat in zip(owners, onats)}
        elif k == 11:  # [2 variant ending on its own
            bars.append((time, "[" + m.group(11)))
        elif k == 32:  # Z / X: whole bars of rest
            time += int(m.group(34) or 1) * v.bar_ticks()
            last_dur, owners, onats, ties, broken = 0, (), (), _NO_TIES, None
        elif k == 35:  # & voice overlay: back to the bar start, same voice
            overlay_end = max(overlay_end, time)
            time = bar_start
        elif k == 36:  # % comment, %% directive
            text = m.group(36)
            if text.startswith("%%"):
                ctx.directives.append(text[2:].strip())
                directive(text[2:], hdr, v)
                prop, letters = hdr.propagate, v.letters
        elif k == 1 or k == 22:  # field line or [inline field]
            if k == 1:
                letter, value = m.group(1)[0], m.group(1)[2:]
            else:
                letter, value = m.group(23, 24)
            v.time, v.mem = time, mem
            if _body_field(letter, value, v, hdr, ctx, time, m.start(k)):
                ret = m.end()
                break
            if letter in "KLI":
                unit, alts, mem, letters = v.unit_ticks(), v.key[2], v.mem, v.letters
                dcache = _dcache(unit)
        elif k == 38:
            v.ignored += 1
        else:  # k == 39
            raise BodyError(m.start(39), f"unexpected character {m.group(39)!r}")
    if ret is None and overlay_end >= 0:
        time = max(time, overlay_end)
        overlay_end = -1
    ctx.tokens = ntok
    v.time, v.mem, v.ties, v.tuplet, v.broken = time, mem, ties, (tq, tp, tleft), broken
    v.last_dur, v.last_owners, v.onats = last_dur, owners, onats
    v.bar_start, v.overlay_end = bar_start, overlay_end
    return ret
