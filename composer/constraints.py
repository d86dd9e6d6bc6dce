"""Constraints the sampler applies to a model's logits at every step: a hard mask or a soft bias.

A constraint is a small spec (``ScaleLock``, ``PitchRange``, ``Density``, ``NoteLength``, and
``form.SectionForm``) that names the tokenizers it understands (``kinds``); ``bind(tokenizer,
ctx)`` turns it into the per-step *rule* the one sampler calls:

* token styles (``TokenRule``): ``start() -> state``, ``mask(state, g)`` (bool (V,) or None),
  ``bias(state, g)`` (additive log-probabilities (V,) or None) and ``advance(state, token, g)``,
  where ``g`` is the style grammar's state, so a rule can look at bar position and the like;
* frame styles (``FrameRule``): ``start(batch)``, ``adjust(state, group, shape)`` (an additive
  (B, N) array on one frame group's logits, or None) and ``advance(state, frame)``.

Hard rules multiply into the grammar's mask; soft ones add to the logits after temperature.
Rules compose by construction; what does not compose is caught twice: statically (the pitch
sets of all constraints intersect to nothing: ``check_conflicts`` names them) and while
sampling (a mask leaves no token: the sampler backtracks, then names the constraints).
Pitches are output pitches: a model pitch ``p`` sounds at ``p + ctx.offset`` (the key shift).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InputError
from .theory import SCALES, pc_to_name

__all__ = [
    "NEG",
    "SCALE_NAMES",
    "BindContext",
    "Constraint",
    "ConstraintError",
    "Control",
    "Density",
    "NoteLength",
    "PitchRange",
    "ScaleLock",
    "bind_all",
    "check_conflicts",
    "explain_lines",
    "implied_mode",
    "parse_pitch",
    "prepare",
    "resolve_scale",
]

NEG = -1e9  # a masked logit (finite, so several masks add without overflowing)
SCALE_ALIASES = {"ionian": "major", "aeolian": "minor", "pentatonic": "major_pentatonic",
                 "minor-pentatonic": "minor_pentatonic", "major-pentatonic": "major_pentatonic",
                 "harmonic-minor": "harmonic_minor", "melodic-minor": "melodic_minor"}
SCALE_NAMES = tuple(SCALES)


class ConstraintError(InputError):
    """Constraints that cannot all hold, or one that does not apply to the style's tokenizer."""


@dataclass(frozen=True)
class BindContext:
    """What binding needs besides the tokenizer: the key shift, bar count, seed and the grammar."""

    offset: int = 0  # model pitch p sounds at p + offset
    bars: int | None = None
    seed: int = 0
    grammar: Any = None
    style: str = ""


def resolve_scale(name: str) -> str:
    """A scale name as theory.SCALES spells it; InputError listing the valid ones otherwise."""
    key = str(name).strip().lower().replace(" ", "_")
    key = SCALE_ALIASES.get(key, key).replace("-", "_")
    if key not in SCALES:
        raise InputError(f"unknown scale {name!r}; valid scales: {', '.join(SCALE_NAMES)}")
    return key


def parse_pitch(text: str | int) -> int:
    """'C4' -> 60, 'F#5' -> 78, 'Bb2' -> 46, '64' -> 64 (MIDI numbers pass through)."""
    s = str(text).strip()
    if re.fullmatch(r"\d{1,3}", s) and int(s) <= 127:
        return int(s)
    m = re.fullmatch(r"([A-Ga-g][#b]?)(-?\d)", s)
    if not m:
        raise InputError(f"unknown pitch {text!r}: use a note with its octave (C4 = middle C = 60) or a MIDI number")
    name = m.group(1)
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name[0].upper()]
    p = 12 * (int(m.group(2)) + 1) + base + {"#": 1, "b": -1}.get(name[1:], 0)
    if not 0 <= p <= 127:
        raise InputError(f"pitch {text!r} is outside MIDI's 0..127")
    return p


def pitch_name(p: int) -> str:
    return f"{pc_to_name(p)}{p // 12 - 1}"


def implied_mode(tokenizer, scale: str) -> str | None:
    """The tokenizer's own --mode a scale implies (folk's four modes, jazz's major/minor), if any."""
    if "mode" not in getattr(tokenizer, "options", ()):
        return None
    if tokenizer.kind == "abc":
        return None  # the scale lock itself picks folk's key signature (the meter comes first)
    return scale if scale in ("major", "minor") else None


# --- per-tokenizer pitch tables --------------------------------------------------------------
def _abc_tables(vocab: list[str]) -> dict[str, np.ndarray]:
    """mode -> (V,) model pitch of each abc pitch token (-1 for the rest); a token's pitch depends
    on the key signature (``B`` is B flat in dorian)."""
    from .tokenizers.abc_tokens import _PITCH_RE, MODE_TOKENS, token_pitch

    out = {}
    for mode in MODE_TOKENS:
        out[mode] = np.array([token_pitch(t, mode) if _PITCH_RE.match(t) else -1 for t in vocab], dtype=np.int64)
    return out


def _abc_mode_ids(vocab: list[str]) -> dict[int, str]:
    from .tokenizers.abc_tokens import TOKEN_MODE

    return {i: TOKEN_MODE[t] for i, t in enumerate(vocab) if t in TOKEN_MODE}


def _melody_pitches(tok) -> np.ndarray:
    """Pianoroll melody group: model pitch per index (-1 for index 0, the rest)."""
    c = tok.config
    return np.array([-1] + list(range(c.melody_low, c.melody_high)), dtype=np.int64)


# --- the rules the sampler calls ------------------------------------------------------------
class TokenRule:
    """Base of token-style rules: stateless unless a subclass says otherwise."""

    name = "constraint"
    hard = True

    def start(self) -> Any:
        return None

    def advance(self, state: Any, token: int, g: Any) -> Any:
        return state

    def mask(self, state: Any, g: Any) -> np.ndarray | None:
        return None

    def bias(self, state: Any, g: Any) -> np.ndarray | None:
        return None


class FrameRule:
    """Base of frame-style rules: ``adjust`` gives an additive (B, N) array for one group."""

    name = "constraint"
    hard = True

    def start(self, batch: int) -> Any:
        return None

    def adjust(self, state: Any, group: str, shape: tuple[int, int]) -> np.ndarray | None:
        return None

    def advance(self, state: Any, frame: np.ndarray) -> Any:
        return state


class _PitchTokenRule(TokenRule):
    """Allow (or favour) abc pitch tokens whose sounding pitch passes ``ok``; tracks the mode token."""

    def __init__(self, name, tok, ctx: BindContext, ok, hard: bool, penalty: float, mode: str | None = None) -> None:
        self.name, self.hard = name, hard
        self.modes = _abc_mode_ids(tok.vocab)
        self.key_mask = None  # a scale that is one of folk's modes also picks the key signature
        ids = [i for i, m in self.modes.items() if m == mode]
        if hard and ids:
            self.key_mask = np.zeros(len(tok.vocab), bool)
            self.key_mask[ids] = True
        tables = _abc_tables(tok.vocab)
        self.masks = {}
        for name_, pitches in tables.items():
            good = np.array([p < 0 or ok(int(p) + ctx.offset) for p in pitches])
            self.masks[name_] = good if hard else np.where(good, 0.0, penalty)

    def start(self) -> str | None:
        return None

    def advance(self, state, token, g):
        return self.modes.get(token, state)

    def mask(self, state, g):
        if self.key_mask is not None and getattr(g, "phase", "") == "key":
            return self.key_mask
        return self.masks[state] if state is not None and self.hard else None

    def bias(self, state, g):
        return self.masks[state] if state is not None and not self.hard else None


class _StaticRule(TokenRule):
    def __init__(self, name: str, hard: bool, array: np.ndarray) -> None:
        self.name, self.hard, self.array = name, hard, array

    def mask(self, state, g):
        return self.array if self.hard else None

    def bias(self, state, g):
        return None if self.hard else self.array


class _MelodyRule(FrameRule):
    """Frame styles: a fixed mask or bias on the melody group (index 0, the rest, always allowed)."""

    def __init__(self, name: str, hard: bool, tok, ctx: BindContext, ok, penalty: float) -> None:
        self.name, self.hard = name, hard
        pitches = _melody_pitches(tok)
        good = np.array([p < 0 or ok(int(p) + ctx.offset) for p in pitches])
        self.row = np.where(good, 0.0, NEG if hard else penalty)

    def adjust(self, state, group, shape):
        return np.broadcast_to(self.row, shape) if group == "melody" else None


# --- the constraints -------------------------------------------------------------------------
class Constraint:
    """A spec that binds to a tokenizer. ``kinds``: the tokenizers it understands."""

    kinds: tuple[str, ...] = ()
    hard = True

    @property
    def name(self) -> str:
        raise NotImplementedError

    def pitches(self) -> frozenset[int] | None:
        """The output pitches it allows (for the static conflict check), None if it says nothing."""
        return None

    def bind(self, tok, ctx: BindContext):
        if tok.kind not in self.kinds:
            raise ConstraintError(f"{self.name} does not apply to the {ctx.style or tok.kind} style "
                                  f"(its {tok.kind} tokenizer); it applies to: {', '.join(self.kinds)}")
        return getattr(self, f"_bind_{tok.kind}")(tok, ctx)


def _strength_penalty(strength: float) -> float:
    return float(np.log1p(-strength)) if strength < 1 else NEG


@dataclass(frozen=True)
class ScaleLock(Constraint):
    """Pitches in the scale: hard (``strength`` 1, out-of-scale notes impossible) or soft
    (out-of-scale notes ``1 - strength`` times as likely). Folk: every note; jazz: every chord
    tone of a chord word; blues: the melody line (the chords are the blues changes)."""

    tonic: int
    scale: str
    strength: float = 1.0
    kinds = ("abc", "chords", "pianoroll")

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", resolve_scale(self.scale))
        if not 0 <= self.strength <= 1:
            raise InputError(f"scale strength must be between 0 and 1 (1 = hard lock), got {self.strength}")

    @property
    def hard(self) -> bool:  # type: ignore[override]
        return self.strength >= 1

    @property
    def name(self) -> str:
        what = f"{pc_to_name(self.tonic)} {self.scale}"
        return f"scale lock ({what})" if self.hard else f"scale bias ({what}, strength {self.strength:g})"

    @property
    def pcs(self) -> frozenset[int]:
        return frozenset((self.tonic + i) % 12 for i in SCALES[self.scale])

    def pitches(self):
        return frozenset(p for p in range(128) if p % 12 in self.pcs) if self.hard else None

    def _ok(self, p: int) -> bool:
        return p % 12 in self.pcs

    def _bind_abc(self, tok, ctx):
        return _PitchTokenRule(self.name, tok, ctx, self._ok, self.hard, _strength_penalty(self.strength), self.scale)

    def _bind_pianoroll(self, tok, ctx):
        return _MelodyRule(self.name, self.hard, tok, ctx, self._ok, _strength_penalty(self.strength))

    def _bind_chords(self, tok, ctx):
        arr = np.zeros(len(tok.vocab)) if not self.hard else np.ones(len(tok.vocab), bool)
        pen = _strength_penalty(self.strength)
        for i, chord in tok.chords.items():
            out = sum(1 for pc in chord.pcs if (pc + ctx.offset) % 12 not in self.pcs)
            if self.hard:
                arr[i] = out == 0
            else:
                arr[i] = out * pen
        if self.hard and not arr[list(tok.chords)].any():
            raise ConstraintError(f"{self.name}: no chord of this model's vocabulary fits the scale")
        return _StaticRule(self.name, self.hard, arr)


@dataclass(frozen=True)
class PitchRange(Constraint):
    """Every note between ``low`` and ``high`` (MIDI numbers, both included): hard."""

    low: int
    high: int
    kinds = ("abc", "pianoroll")

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 127:
            raise InputError(f"pitch range {self.low}..{self.high} must satisfy 0 <= low <= high <= 127")

    @property
    def name(self) -> str:
        return f"pitch range ({pitch_name(self.low)}..{pitch_name(self.high)})"

    def pitches(self):
        return frozenset(range(self.low, self.high + 1))

    def _ok(self, p: int) -> bool:
        return self.low <= p <= self.high

    def _bind_abc(self, tok, ctx):
        return _PitchTokenRule(self.name, tok, ctx, self._ok, True, NEG)

    def _bind_pianoroll(self, tok, ctx):
        return _MelodyRule(self.name, True, tok, ctx, self._ok, NEG)


class _AbcDensityRule(TokenRule):
    hard = False

    def __init__(self, name: str, tok, lam: float) -> None:
        from .tokenizers.abc_tokens import REST, parse_duration

        self.name = name
        self.after_note = np.zeros(len(tok.vocab))  # a length token right after a note
        for i, t in enumerate(tok.vocab):
            d = parse_duration(t)
            if d is not None:
                self.after_note[i] = -lam * float(np.log2(float(d)))  # shorter notes when lam > 0
        self.other = np.zeros(len(tok.vocab))
        if REST in tok.index:
            self.other[tok.index[REST]] = -lam  # fewer rests when dense
        self.REST = REST

    def bias(self, state, g):
        if getattr(g, "phase", "") != "body":
            return None
        return self.after_note if g.pending and g.pending != self.REST else self.other


class _DensityFrameRule(FrameRule):
    hard = False

    def __init__(self, name: str, lam: float) -> None:
        self.name, self.lam = name, lam

    def adjust(self, state, group, shape):
        return np.full(shape, self.lam) if group == "melody_onset" else None


@dataclass(frozen=True)
class Density(Constraint):
    """How busy the music is, 0 (sparse) .. 1 (dense), 0.5 = the model's own: a soft bias.
    Folk: shorter notes and fewer rests; blues: more melody onsets; drums: more hits per step;
    jazz: more chord changes per bar."""

    level: float
    kinds = ("abc", "pianoroll", "drums", "chords")
    hard = False

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 1:
            raise InputError(f"density must be between 0 (sparse) and 1 (dense), got {self.level}")

    @property
    def name(self) -> str:
        return f"density ({self.level:g})"

    @property
    def lam(self) -> float:
        return 3.0 * (2 * self.level - 1)

    def _bind_abc(self, tok, ctx):
        return _AbcDensityRule(self.name, tok, self.lam)

    def _bind_pianoroll(self, tok, ctx):
        return _DensityFrameRule(self.name, self.lam)

    def _bind_drums(self, tok, ctx):
        from .drumkit import word_levels

        arr = np.zeros(len(tok.vocab))
        hits = np.array([(word_levels(int(w)) > 0).sum() for w in tok.word_codes])
        arr[tok.first_word:] = 0.6 * self.lam * (hits - hits.mean())
        return _StaticRule(self.name, False, arr)

    def _bind_chords(self, tok, ctx):
        arr = np.zeros(len(tok.vocab))
        for i, w in enumerate(tok.vocab):
            if w.startswith("Beat_"):
                arr[i] = self.lam  # a chord on a later beat of the bar: one more change
        return _StaticRule(self.name, False, arr)


class _AbcLengthRule(TokenRule):
    def __init__(self, name: str, tok, lo: Fraction, hi: Fraction) -> None:
        from .tokenizers.abc_tokens import REST, TIE, parse_duration

        self.name, self.REST = name, REST
        V = len(tok.vocab)
        self.is_dur = np.zeros(V, bool)
        self.durs = {}
        for i, t in enumerate(tok.vocab):
            d = parse_duration(t)
            if d is not None:
                self.is_dur[i] = True
                self.durs[i] = d
        self.lo, self.hi = lo, hi
        self.no_tie = np.ones(V, bool)
        if TIE in tok.index:
            self.no_tie[tok.index[TIE]] = False  # a tie would make a longer note
        self._cache: dict = {}

    def mask(self, state, g):
        if getattr(g, "phase", "") != "body":
            return None
        if not g.pending or g.pending == self.REST:
            return self.no_tie
        key = g.tuplet > 0
        if key not in self._cache:
            scale = Fraction(2, 3) if key else Fraction(1)  # a triplet note plays 2/3 of its length
            m = np.array([self.lo <= self.durs[i] * scale <= self.hi if self.is_dur[i] else self.lo <= scale <= self.hi
                          for i in range(len(self.is_dur))])
            self._cache[key] = m & self.no_tie
        return self._cache[key]


class _LengthFrameRule(FrameRule):
    """Blues melody: no onset before ``lo`` steps of a note, an onset after ``hi`` steps."""

    def __init__(self, name: str, tok, lo: int, hi: int | None) -> None:
        self.name, self.lo, self.hi = name, lo, hi
        self.ms, self.mo = tok.slices["melody"], tok.slices["melody_onset"].start

    def start(self, batch):
        return np.zeros(batch, np.int64), np.zeros(batch, bool)  # steps held, is a note

    def adjust(self, state, group, shape):
        if group != "melody_onset":
            return None
        held, note = state
        out = np.zeros(shape)
        out[note & (held < self.lo), 0] = NEG
        if self.hi is not None:
            out[note & (held >= self.hi), 0] = -NEG
        return out

    def advance(self, state, frame):
        held, _ = state
        onset = frame[:, self.mo] > 0
        is_note = frame[:, self.ms][:, 0] == 0
        held = np.where(onset | ~is_note, 1, held + 1)
        return held, is_note


@dataclass(frozen=True)
class NoteLength(Constraint):
    """Note lengths between ``min_beats`` and ``max_beats`` quarter notes (hard; None: no bound).
    Folk: the written length of each note (ties are off when a maximum is set, so none grows
    past it); blues: the melody's notes, on its eighth-note grid."""

    min_beats: float | None = None
    max_beats: float | None = None
    kinds = ("abc", "pianoroll")

    def __post_init__(self) -> None:
        lo, hi = self.min_beats, self.max_beats
        if (lo is not None and lo <= 0) or (hi is not None and hi <= 0) or (lo and hi and lo > hi):
            raise InputError(f"note lengths need 0 < min <= max beats, got min {lo}, max {hi}")

    @property
    def name(self) -> str:
        lo = f"{self.min_beats:g}" if self.min_beats else "0"
        hi = f"{self.max_beats:g}" if self.max_beats else "any"
        return f"note length ({lo}..{hi} beats)"

    def _bind_abc(self, tok, ctx):
        lo = Fraction(self.min_beats or 0).limit_denominator(96) * 2  # eighths
        hi = Fraction(self.max_beats).limit_denominator(96) * 2 if self.max_beats else Fraction(10 ** 6)
        return _AbcLengthRule(self.name, tok, lo, hi)

    def _bind_pianoroll(self, tok, ctx):
        spb = tok.config.steps_per_beat
        lo = int(np.ceil((self.min_beats or 0) * spb - 1e-9))
        hi = max(1, int(np.floor(self.max_beats * spb + 1e-9))) if self.max_beats else None
        return _LengthFrameRule(self.name, tok, lo, hi)


# --- binding and checks ------------------------------------------------------------------------
def _representable(tok, ctx: BindContext) -> frozenset[int] | None:
    """Output pitches the style's model can write at all (None: it has no pitch notes)."""
    if tok.kind == "abc":
        return frozenset(int(p) + ctx.offset for t in _abc_tables(tok.vocab).values() for p in t if p >= 0)
    if tok.kind == "pianoroll":
        return frozenset(int(p) + ctx.offset for p in _melody_pitches(tok) if p >= 0)
    return None


def check_conflicts(constraints, tok, ctx: BindContext) -> None:
    """Hard pitch constraints that leave no pitch together (named), or none the style can write."""
    pitched = [(c, c.pitches()) for c in constraints]
    pitched = [(c, p) for c, p in pitched if p is not None]
    if not pitched:
        return
    both = frozenset(range(128))
    for c, p in pitched:
        both &= p
    if not both:
        names = " and ".join(c.name for c, _ in pitched)
        raise ConstraintError(f"conflicting constraints: {names} allow no pitch together")
    can = _representable(tok, ctx)
    if can is not None and not both & can:
        names = " and ".join(c.name for c, _ in pitched)
        raise ConstraintError(f"conflicting constraints: {names} leave none of the pitches the {ctx.style or tok.kind} "
                              f"style can write ({pitch_name(min(can))}..{pitch_name(max(can))})")


def bind_all(constraints, tok, ctx: BindContext) -> list:
    """Check the constraints against each other and the tokenizer, then bind each one."""
    check_conflicts(constraints, tok, ctx)
    return [c.bind(tok, ctx) for c in constraints]


# --- what `compose generate` asks for ----------------------------------------------------------
@dataclass(frozen=True)
class Control:
    """The control options of one generation (all optional): scale lock, range, density, note
    lengths, variation of repeated sections, and whether to keep the --explain record."""

    scale: str | None = None
    scale_strength: float = 1.0
    low: int | str | None = None
    high: int | str | None = None
    density: float | None = None
    min_note: float | None = None
    max_note: float | None = None
    vary: float | None = None
    explain: bool = False


def _form_styles() -> list[str]:
    from .form import SectionForm
    from .styles import STYLES

    out = []
    for name, st in STYLES.items():
        tok = st.make_tokenizer()
        if "form" in tok.options or tok.kind in SectionForm.kinds:
            out.append(name)
    return sorted(out)


def prepare(control: Control | None, style, tok, bars: int | None, options: dict, tonic: int) -> tuple:
    """(bars, options, constraint specs) for a generation: the form moves from the style options
    to a SectionForm when the style's grammar has no form of its own, a scale implies the style's
    --mode when it names one, and --vary goes where the form is."""
    from .form import SectionForm, parse_plan

    control = control or Control()
    options = dict(options)
    specs: list[Constraint] = []
    form = options.get("form")
    if form is not None and "form" not in tok.options:
        options.pop("form")
        if tok.kind not in SectionForm.kinds:
            raise ConstraintError(f"the {style.name} style cannot take a form ({form!r}); styles with forms: "
                                  f"{', '.join(_form_styles())}")
        plan = parse_plan(form, bars)
        bars = sum(n for _, n in plan)
        specs.append(SectionForm(tuple(plan), control.vary or 0.0))
    elif control.vary is not None:
        if "vary" in tok.options:
            options["vary"] = control.vary
        elif form is not None:
            raise ConstraintError(f"the {style.name} style's form repeats its sections as its grammar says; "
                                  f"--vary works with the forms of: {', '.join(s for s in _form_styles() if s != style.name)}")
        else:
            raise InputError(f"--vary varies repeated sections: give a --form too (styles with forms: "
                             f"{', '.join(_form_styles())})")
    if control.scale is not None:
        scale = resolve_scale(control.scale)
        mode = implied_mode(tok, scale)
        if mode is not None and options.get("mode") is None:
            options["mode"] = mode
        specs.insert(0, ScaleLock(tonic, scale, control.scale_strength))
    elif control.scale_strength != 1.0:
        raise InputError("--scale-strength needs a --scale")
    if control.low is not None or control.high is not None:
        low = parse_pitch(control.low) if control.low is not None else 0
        high = parse_pitch(control.high) if control.high is not None else 127
        specs.insert(1 if control.scale else 0, PitchRange(low, high))
    if control.min_note is not None or control.max_note is not None:
        specs.append(NoteLength(control.min_note, control.max_note))
    if control.density is not None:
        specs.append(Density(control.density))
    return bars, options, specs


def explain_lines(record: dict | None, seed: int) -> list[str]:
    """The --explain report: each constraint, how often it acted, how often it changed the choice."""
    if not record or not record["constraints"]:
        return [f"seed {seed}: no constraints beyond the style's grammar"]
    n = max(record["steps"], 1)
    out = [f"seed {seed}: {record['steps']} sampling steps, {record['backtracks']} backtracks"]
    for c in record["constraints"]:
        kind = "mask" if c["hard"] else "bias"
        out.append(f"  {c['name']:<36s} {kind}: acted at {c['applied']} steps, changed the choice at "
                   f"~{c['changed']:.1f} ({100 * c['changed'] / n:.1f}% of steps)")
    out.append("  (changed = expected changed draws: the sum over steps of the total-variation distance "
               "between the distributions with and without the constraint)")
    return out
