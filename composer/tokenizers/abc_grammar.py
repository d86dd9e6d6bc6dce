"""The folk tune grammar: a state machine over abc tokens that only admits valid tunes.

It enforces what makes a tune playable and parseable: ``<s>``, a meter, a mode, then a body
where every bar holds exactly the meter's length (a pickup bar and the last bar excepted),
triplets of three notes inside one bar, ties between notes of one pitch, repeats that open
before they close, first and second endings in order, and an end on a bar line with every
repeat closed. ``allowed`` is cached per state, so sampling pays for each state once.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .abc_tokens import _PITCH_RE, ENDINGS, LINES, REST, TIE, TOKEN_MODE, TUPLET, parse_duration

__all__ = ["AbcGrammar", "State"]

MAX_BARS = 64  # past this a tune must close at its next chance: no endless loops
TRIPLET_LENGTHS = (Fraction(1, 2), Fraction(1), Fraction(2))  # sixteenth, eighth and quarter triplets


class State(NamedTuple):
    phase: str = "start"  # start | meter | key | body | end | done
    bar_len: Fraction = Fraction(0)
    pos: Fraction = Fraction(0)  # eighths into the current bar
    bars: int = 0  # complete bars (a pickup does not count)
    pending: str | None = None  # a note or rest whose length token may still follow
    last: str = ""  # "line", "ending", "note", "rest", "tie", "tuplet", "" (nothing yet)
    last_pitch: str | None = None
    tie_to: str | None = None  # a tie asks for this pitch next
    tuplet: int = 0  # notes left in a triplet
    tuplet_len: Fraction = Fraction(0)  # the nominal length every note of this triplet has
    repeat_open: bool = False
    section_bars: int = 0  # bars since the section (or repeat) began
    ending: int = 0  # 0 none, 1 inside a first ending, 3 after the first ending's ':|', 2 inside a second
    started: bool = False  # a note or rest has been placed
    measured: bool = False  # a bar line has followed the first note (no more pickups)


class AbcGrammar:
    def __init__(self, vocab: list[str], bars: int | None = None, mode: str | None = None) -> None:
        self.vocab = vocab
        self.target = bars
        self.mode_id = vocab.index(mode) if mode in vocab else None  # the one mode token allowed
        self.kinds = []
        for t in vocab:
            if t.startswith("M:"):
                n, d = t[2:].split("/")
                self.kinds.append(("meter", Fraction(int(n) * 8, int(d))))
            elif t in TOKEN_MODE:
                self.kinds.append(("mode", None))
            elif t in LINES:
                self.kinds.append(("line", t))
            elif t in ENDINGS:
                self.kinds.append(("ending", t))
            elif t in (TUPLET, TIE, REST, "<s>", "</s>"):
                self.kinds.append((t, None))
            elif _PITCH_RE.match(t):
                self.kinds.append(("pitch", t))
            else:
                self.kinds.append(("dur", parse_duration(t)))
        durs = [v for k, v in self.kinds if k == "dur"] + [Fraction(1)]
        self.min_dur = min(durs)
        self.triplet_lengths = [d for d in TRIPLET_LENGTHS if d in durs]  # 1 needs no token
        self._cache: dict[State, np.ndarray] = {}

    # -- the protocol the sampler uses -------------------------------------------------------
    def start(self) -> State:
        return State()

    def allowed(self, state: State) -> np.ndarray:
        mask = self._cache.get(state)
        if mask is None:
            mask = np.array([self.step(state, i) is not None for i in range(len(self.vocab))])
            self._cache[state] = mask
        return mask

    def advance(self, state: State, token: int) -> State:
        new = self.step(state, token)
        if new is None:
            raise ValueError(f"token {self.vocab[token]!r} is not allowed here")
        return new

    def done(self, state: State) -> bool:
        return state.phase == "done"

    # -- transitions -------------------------------------------------------------------------
    def _place(self, s: State, nominal: Fraction) -> State | None:
        """Commit the pending note or rest with its (nominal) length.

        The three notes of a triplet share one length, so a triplet fills 2 x that length and
        bar positions stay on the grid of the shortest note: every bar can always be completed.
        """
        if s.tuplet:
            if s.tuplet == 3:
                if nominal not in self.triplet_lengths or s.pos + 2 * nominal > s.bar_len:
                    return None
                s = s._replace(tuplet_len=nominal)
            elif nominal != s.tuplet_len:
                return None
            pos = s.pos + nominal * Fraction(2, 3)
        else:
            pos = s.pos + nominal
        if pos > s.bar_len:
            return None
        return s._replace(pos=pos, pending=None, tuplet=s.tuplet - 1 if s.tuplet else 0, started=True)

    def _settle(self, s: State) -> State | None:
        return self._place(s, Fraction(1)) if s.pending else s

    def step(self, s: State, token: int) -> State | None:
        kind, value = self.kinds[token]
        if s.phase == "start":
            return s._replace(phase="meter") if kind == "<s>" else None
        if s.phase == "meter":
            return s._replace(phase="key", bar_len=value) if kind == "meter" else None
        if s.phase == "key":
            return s._replace(phase="body") if kind == "mode" and self.mode_id in (None, token) else None
        if s.phase == "end":
            return s._replace(phase="done") if kind == "</s>" else None
        if s.phase != "body":
            return None
        if kind == "dur":
            return self._place(s, value) if s.pending else None
        if s.ending == 3 and not (kind == "ending" and value == "[2"):
            return None  # after a first ending's ':|' comes the second ending
        s = self._settle(s)
        if s is None:
            return None
        if kind in ("pitch", REST):
            if kind == REST and s.tie_to is not None or kind == "pitch" and s.tie_to not in (None, value):
                return None
            if not self._room(s, max(s.tuplet, 1)) or self._closing(s):
                return None
            return s._replace(pending=value or REST, last="note" if kind == "pitch" else "rest",
                              last_pitch=value if kind == "pitch" else None, tie_to=None)
        if kind == TUPLET:
            if s.tuplet or s.tie_to or not self._room(s._replace(tuplet=3), 3) or self._closing(s):
                return None
            return s._replace(tuplet=3, last="tuplet")
        if kind == TIE:
            last_bar = self.target is not None and s.pos == s.bar_len and s.bars + 1 >= self.target
            return s._replace(tie_to=s.last_pitch, last="tie") if s.last == "note" and not s.tuplet and not last_bar else None
        if kind == "line":
            return self._line(s, value)
        if kind == "ending":
            return self._ending(s, value)
        if kind == "</s>":
            return s._replace(phase="done") if s.last == "line" and self._can_end(s) else None
        return None

    def _can_end(self, s: State) -> bool:
        return (not s.repeat_open and s.ending in (0, 2) and s.bars >= 1 and s.tie_to is None
                and (self.target is None or s.bars == self.target))

    def _room(self, s: State, notes: int) -> bool:
        """Whether ``notes`` more notes fit in the bar (the rest of a triplet, else one of the shortest)."""
        if s.tuplet and s.tuplet < 3:
            return s.bar_len - s.pos >= s.tuplet * s.tuplet_len * Fraction(2, 3)
        return s.bar_len - s.pos >= (2 * min(self.triplet_lengths) if s.tuplet == 3 else self.min_dur)

    def _closing(self, s: State) -> bool:
        """No new bar may start: the requested or the maximum number of bars is reached and the tune can end."""
        limit = self.target if self.target is not None else MAX_BARS
        return s.pos == 0 and s.bars >= limit and s.last == "line" and self._can_end(s)

    def _line(self, s: State, line: str) -> State | None:
        if s.tuplet:
            return None
        after = {}
        if s.pos == s.bar_len:
            bars = s.bars + 1
            if self.target is not None and bars > self.target:
                return None
        elif s.pos > 0 and not s.measured:
            bars = s.bars  # a pickup bar: it does not count
        elif s.pos > 0:
            if line not in (":|", "|]", "||"):
                return None
            bars, after = s.bars + 1, {"phase": "end"}  # a short last bar: the tune ends here
            if s.ending == 1 or s.tie_to is not None or (self.target is not None and bars != self.target):
                return None
        elif not s.started and s.last == "":
            bars = s.bars  # a bar line before the first note, e.g. '|:'
        else:
            return None
        section = s.section_bars + (bars > s.bars)
        repeat_open, ending = s.repeat_open, (0 if s.ending == 2 else s.ending)
        if line == "|:":
            if repeat_open or s.ending == 1:
                return None
            repeat_open, section = True, 0
        elif line == ":|":
            if section < 1 or s.ending == 2:
                return None
            repeat_open, section, ending = False, 0, (3 if s.ending == 1 else 0)
        elif line == "::":
            if section < 1 or s.ending:
                return None
            repeat_open, section = True, 0
        elif line in ("||", "|]"):
            if repeat_open or s.ending == 1:
                return None
            section = 0
        new = s._replace(pos=Fraction(0), bars=bars, last="line", repeat_open=repeat_open, section_bars=section,
                         ending=ending, measured=s.measured or s.started)
        if after and not self._can_end(new):
            return None  # a short last bar must leave a tune that can end
        if self.target is None and new.bars >= MAX_BARS and (
            line in ("|:", "::") or (line == "|" and (s.ending == 1 or s.repeat_open))
        ):
            return None  # past the maximum, close what is open instead of going on
        if self.target is not None and (
            (new.bars == self.target and not self._can_end(new))  # the last bar line closes everything
            or (new.bars >= self.target and (line in ("|:", "::") or new.ending == 3))  # no bar left to close it
            or (new.ending == 1 and new.bars + 2 > self.target)  # a first ending needs a bar, and so does the second
        ):
            return None
        return new._replace(**after)

    def _ending(self, s: State, ending: str) -> State | None:
        if s.last != "line" or s.pos != 0:
            return None
        if ending == "[1":
            room = s.bars + 2 <= (MAX_BARS if self.target is None else self.target)  # a bar for each ending
            return s._replace(ending=1, last="ending") if s.ending == 0 and s.section_bars >= 1 and room else None
        return s._replace(ending=2, last="ending") if s.ending == 3 else None

