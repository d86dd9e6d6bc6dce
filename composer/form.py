"""Form as a constraint: section plans (``AABB``, ``intro verse chorus``) for styles whose
grammar has no form of its own (folk), with repeats verbatim or varied and cadences at section ends.

The jazz style's form lives in its chord grammar (``tokenizers.chord_grammar``); ``parse_plan``
reads the same letter plans and adds named sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .constraints import BindContext, Constraint, ConstraintError, TokenRule, _abc_mode_ids
from .errors import InputError

__all__ = ["SectionForm", "parse_plan"]


def parse_plan(form: str, bars: int | None, section_bars: int = 8) -> list[tuple[str, int]]:
    """'AABB', 'A8B8' or 'intro verse chorus verse' -> [(label, bars)]. Without ``bars`` each
    lettered section is ``section_bars`` long."""
    from .tokenizers.chord_grammar import parse_form

    text = str(form).strip()
    words = text.split()
    if len(words) > 1 or (words and len(words[0]) > 1 and words[0].isalpha() and words[0].islower()):
        if not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", w) for w in words):
            raise InputError(f"unknown form {form!r}: use letters (AABB, A8B8) or section names (intro verse chorus)")
        n = bars if bars is not None else section_bars * len(words)
        if n % len(words):
            raise InputError(f"form {form!r} has {len(words)} sections: {n} bars do not split evenly between them")
        return [(w.lower(), n // len(words)) for w in words]
    if bars is None:
        letters = re.findall(r"[A-Za-z](\d*)", text)
        bars = sum(int(n) for n in letters) if letters and all(letters) else section_bars * max(1, len(letters))
    return parse_form(text, bars)


class _FolkFormRule(TokenRule):
    """Folk tunes in sections: bar lines ``|`` inside a section, ``||`` at its end and ``|]`` at the
    tune's; no repeat signs, ties or pickups (every bar full); a repeated section copies its first
    statement bar for bar except the bars chosen to vary; the last bar of a section ends on the
    tonic (the tune's last section, and every statement of its label) or the dominant."""

    def __init__(self, name: str, tok, ctx: BindContext, plan, vary: float) -> None:
        from .tokenizers.abc_tokens import _PITCH_RE, ENDINGS, LINES, REST, TIE, TUPLET, token_pitch

        if ctx.grammar is None:
            raise ConstraintError(f"{name} needs the folk grammar")
        self.name, self.G, self.plan = name, ctx.grammar, plan
        self.V = V = len(tok.vocab)
        idx = tok.index
        for need in ("|", "||", "|]"):
            if need not in idx:
                raise ConstraintError(f"{name}: this model's vocabulary lacks the bar line {need!r}")
        self.bar_id, self.sec_id, self.end_id = idx["|"], idx["||"], idx["|]"]
        self.line_ids = [idx[t] for t in LINES if t in idx]
        self.is_line = np.zeros(V, bool)
        self.is_line[self.line_ids] = True
        self.base = np.ones(V, bool)
        for t in [x for x in LINES if x not in ("|", "||", "|]")] + ENDINGS + [TIE]:
            if t in idx:
                self.base[idx[t]] = False
        self.rest_tuplet = [idx[t] for t in (REST, TUPLET) if t in idx]
        self.pitch_ids = [i for i, t in enumerate(tok.vocab) if _PITCH_RE.match(t)]
        self.dur_ids = [i for i, t in enumerate(tok.vocab) if self.G.kinds[i][0] == "dur"]
        self.modes = _abc_mode_ids(tok.vocab)
        self.token_pitch = token_pitch
        self.starts, at = [], 0
        for _, n in plan:
            self.starts.append(at)
            at += n
        self.total = at
        first: dict[str, int] = {}
        self.first = []
        for i, (label, _) in enumerate(plan):
            self.first.append(first.setdefault(label, i))
        last_label = plan[-1][0]
        self.cadence = [frozenset({0}) if label == last_label else frozenset({0, 7}) for label, _ in plan]
        self.repeated = {label for i, (label, _) in enumerate(plan) if self.first[i] != i}
        rng = np.random.default_rng([ctx.seed, 13])
        self.varied: list[frozenset[int]] = []
        for i, (label, n) in enumerate(plan):
            if self.first[i] == i:
                self.varied.append(frozenset())
                continue
            k = round(vary * n)
            self.varied.append(frozenset(rng.choice(n, size=k, replace=False).tolist()) if k else frozenset())

    def section(self, bar: int) -> int:
        return max(i for i, s in enumerate(self.starts) if s <= bar)

    def start(self):
        return (None, {}, ())  # mode, recorded bars per label, tokens of the bar being written

    def advance(self, state, token, g):
        mode, rec, cur = state
        if token in self.modes:
            return (self.modes[token], rec, cur)
        if getattr(g, "phase", "") not in ("body", "end", "done"):
            return state
        if self.is_line[token]:
            s = self.section(g.bars - 1)
            label = self.plan[s][0]
            if self.first[s] == s and label in self.repeated:
                rec = {**rec, label: rec.get(label, ()) + (cur + (token,),)}
            return (mode, rec, ())
        return (mode, rec, cur + (token,))

    def _pc(self, tok_text: str | None, mode: str | None) -> int | None:
        if tok_text is None or mode is None:
            return None
        return self.token_pitch(tok_text, mode) % 12

    def mask(self, state, g):
        if getattr(g, "phase", "") != "body" or g.bars >= self.total:
            return None
        mode, rec, cur = state
        G, b = self.G, g.bars
        s = self.section(b)
        last_bar = b + 1 == self.starts[s] + self.plan[s][1]
        cad = self.cadence[s]
        m = self.base.copy()
        want = self.end_id if b + 1 == self.total else self.sec_id if last_bar else self.bar_id
        for t in self.line_ids:
            new = G.step(g, t) if t == want else None
            ok = new is not None and new.bars == b + 1
            if ok and last_bar:
                ok = g.last == "note" and self._pc(g.last_pitch, mode) in cad
            m[t] = ok
        f, k = self.first[s], b - self.starts[s]
        label = self.plan[s][0]
        ref = rec.get(label, ()) if f != s and k not in self.varied[s] else ()
        if k < len(ref):
            bar = ref[k]
            i = len(cur)
            only = np.zeros(self.V, bool)
            if i < len(bar) and not self.is_line[bar[i]]:
                only[bar[i]] = True
                return m & only
            return m & self.is_line
        if last_bar:
            m[self.rest_tuplet] = False
            for p in self.pitch_ids:
                if m[p] and self._pc(G.vocab[p], mode) not in cad:
                    new = G.step(g, p)
                    if new is not None and new.bar_len - new.pos < 2 * G.min_dur:
                        m[p] = False  # a note that is not the cadence must leave room for the one that is
            if g.pending and g.last == "note" and self._pc(g.last_pitch, mode) not in cad:
                for d in self.dur_ids:
                    new = G.step(g, d)
                    if new is not None and new.pos == new.bar_len:
                        m[d] = False
        return m


@dataclass(frozen=True)
class SectionForm(Constraint):
    """A section plan (``AABB``, ``intro verse chorus``), repeats verbatim or varied, cadences at
    section ends. A structure constraint for styles whose grammar has no form of its own."""

    plan: tuple[tuple[str, int], ...]
    vary: float = 0.0
    kinds = ("abc",)

    def __post_init__(self) -> None:
        if not 0 <= self.vary <= 1:
            raise InputError(f"vary must be between 0 (verbatim repeats) and 1, got {self.vary}")

    @property
    def bars(self) -> int:
        return sum(n for _, n in self.plan)

    @property
    def name(self) -> str:
        labels = [label for label, _ in self.plan]
        text = "".join(labels) if all(len(x) == 1 for x in labels) else " ".join(labels)
        return f"form {text}" + (f" (vary {self.vary:g})" if self.vary else "")

    def _bind_abc(self, tok, ctx):
        return _FolkFormRule(self.name, tok, ctx, list(self.plan), self.vary)
