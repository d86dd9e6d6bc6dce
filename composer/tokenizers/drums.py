"""The ``drums`` encoding after LSTMetallica (Choi, Fazekas & Sandler 2016): one word per grid step.

A piece is ``START``, then per bar a bar token and one word per step, then ``END``:

    START BAR W_0b00000a1a1 W_0b000000000 W_0b000000100 ... BAR_FILL ... END

A word says which of the 9 drum classes hit at that step (``drumkit``: bit 0 kick ... bit 8
ride) and, beyond LSTMetallica, how hard: ``g`` ghost, ``1`` normal, ``a`` accent, so grooves
are not flat. The bar token gives the bar's meter and grid, hence its number of words: ``BAR``
is 16 straight 16ths of 4/4, ``BAR_T`` 12 8th-triplet steps (shuffle, swing), ``BAR_3/4``,
``BAR_3/4_T``, ``BAR_2/4``, ``BAR_6/8``, ``BAR_12/8`` ...; a ``_FILL`` variant marks a bar that
``drums_io.is_fill`` hears as a fill, so the model learns what a fill is and ``--fill-every``
can ask for one (without it, a fill ends every 8-bar section and the model decides at the
4-bar points: an LSTM does not count bars reliably, a grammar does).

Vocabulary: all 4^9 level combinations would be 262,144 words, nearly all never played. The
words are fitted on the corpus (``fit``: the ``max_words`` most frequent, plus silence and
every single hit at each level); a word outside the vocabulary is encoded as the nearest known
word (a hit added or lost costs 4, a level step 1), so any drum MIDI encodes.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..drumkit import N_CLASSES, NORMAL, parse_word, word_levels, word_name
from ..drums_io import BarKind, DrumBar, QuantReport, bar_kinds, bars_to_score, extract_bars
from ..errors import InputError, TokenizerError
from ..score import Score

__all__ = ["DrumGrammar", "DrumsConfig", "DrumsTokenizer"]

log = logging.getLogger(__name__)
SPECIALS = ("START", "END")
SECTION, PHRASE = 8, 4  # without --fill-every: a fill ends every 8-bar section; at the 4-bar point, the model's call
MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class DrumsConfig:
    subdivision: int = 4  # straight-grid steps per quarter: 4 = 16ths, as LSTMetallica
    triplets: bool = True  # x/4 sections may use the 8th-triplet grid (shuffle, swing)
    velocity: bool = True  # ghost / normal / accent; False gives LSTMetallica's flat words
    max_words: int = 1024  # fitted words kept, most frequent first
    prime_bars: int = 2  # bars a --groove MIDI file contributes


def _base_words(velocity: bool) -> list[int]:
    """Silence and every single hit: the words any vocabulary has, so the fallback stays close."""
    levels = (1, 2, 3) if velocity else (NORMAL,)
    return [0] + [lv << (2 * c) for c in range(N_CLASSES) for lv in levels]


class DrumsTokenizer:
    kind = "drums"
    family = "tokens"
    options: tuple[str, ...] = ("groove", "fill_every")

    def __init__(self, config: DrumsConfig | None = None, words: Iterable[int] | None = None, **overrides) -> None:
        self.config = c = config or DrumsConfig(**overrides)
        if c.subdivision not in (2, 4, 8):
            raise ValueError(f"subdivision must be 2, 4 or 8 steps per quarter, got {c.subdivision}")
        self.kinds: tuple[BarKind, ...] = bar_kinds(c.subdivision, c.triplets)
        codes = sorted(set(_base_words(c.velocity)) | {int(w) for w in (words or ())})
        markers = [m for k in self.kinds for m in (k.marker, k.marker + "_FILL")]
        self.vocab: list[str] = list(SPECIALS) + markers + [word_name(w) for w in codes]
        self.start_id, self.end_id = 0, 1
        self.marker_ids = {(k, f): 2 + 2 * i + f for i, k in enumerate(self.kinds) for f in (0, 1)}
        self.marker_of = {v: k for k, v in self.marker_ids.items()}  # id -> (kind, fill)
        self.first_word = 2 + len(markers)
        self.word_codes = np.array(codes, dtype=np.int64)
        self._word_id = {w: self.first_word + i for i, w in enumerate(codes)}
        self._levels = np.stack([word_levels(w) for w in codes])  # (K, 9)
        self.fallbacks = 0  # words encoded as their nearest known word

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> DrumsTokenizer:
        vocab = spec.get("vocab") or []
        words = [parse_word(v) for v in vocab if v.startswith("W_")]
        tok = cls(DrumsConfig(**spec.get("config", {})), words)
        if vocab and vocab != tok.vocab:
            raise ValueError("the stored drums vocabulary does not match this configuration")
        return tok

    def model_inputs(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    # -- fitting and encoding --------------------------------------------------------------
    def bars(self, score: Score) -> tuple[list[DrumBar], QuantReport]:
        """The drum bars of ``score`` at this tokenizer's grids (levels flattened without velocity)."""
        bars, rep = extract_bars(score, self.kinds)
        if not self.config.velocity:
            for b in bars:
                b.levels = np.where(b.levels > 0, NORMAL, 0).astype(np.uint8)
        return bars, rep

    def fit(self, scores: Iterable[Score]) -> DrumsTokenizer:
        """A tokenizer whose words are the corpus's most frequent (the skipped pieces are left to
        ``encode`` to report); logs what reading the drum parts did, corpus-wide."""
        counts: Counter = Counter()
        total = QuantReport()
        err_sum = 0.0
        for s in scores:
            try:
                bars, rep = self.bars(s)
            except TokenizerError:
                continue
            for b in bars:
                counts.update(b.words.tolist())
            total.notes += rep.notes
            total.unmapped, total.merged, total.outside = (total.unmapped + rep.unmapped, total.merged + rep.merged,
                                                           total.outside + rep.outside)
            total.max_error = max(total.max_error, rep.max_error)
            err_sum += rep.mean_error * rep.notes
            for d, src in ((total.bars, rep.bars), (total.skipped, rep.skipped)):
                for k, v in src.items():
                    d[k] = d.get(k, 0) + v
        total.mean_error = err_sum / max(total.notes, 1)
        words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.config.max_words]]
        tok = DrumsTokenizer(replace(self.config), words)
        log.info("drums: %s; %d distinct words, vocabulary of %d words", total.line(), len(counts),
                 len(tok.word_codes))
        return tok

    def word_id(self, code: int) -> int:
        """The id of a word, or of the nearest known word."""
        code = int(code)
        wid = self._word_id.get(code)
        if wid is None:
            lv = word_levels(code)
            on, known_on = lv > 0, self._levels > 0
            cost = 4 * (on != known_on).sum(1) + np.where(on & known_on, np.abs(self._levels - lv), 0).sum(1)
            wid = self.first_word + int(np.argmin(cost))
            self._word_id[code] = wid  # remember: the same odd word recurs in a piece
            self.fallbacks += 1
        return wid

    def bar_tokens(self, bar: DrumBar, fill: bool | None = None) -> list[int]:
        """A bar token (its fill flag, or ``fill`` when given) and one word per step."""
        f = bar.fill if fill is None else fill
        return [self.marker_ids[(bar.kind, int(f))]] + [self.word_id(w) for w in bar.words]

    def encode(self, score: Score) -> list[int]:
        bars, rep = self.bars(score)
        log.debug("drums: %s", rep.line())
        return [self.start_id] + [t for b in bars for t in self.bar_tokens(b)] + [self.end_id]

    # -- decoding --------------------------------------------------------------------------
    def ids_to_bars(self, ids: Iterable[int]) -> list[DrumBar]:
        """Bars from tokens; lenient (a short bar is padded, words with no bar start a 4/4 bar)."""
        bars: list[DrumBar] = []
        left = 0
        for t in (int(i) for i in ids):
            if t == self.end_id:
                break
            if t in self.marker_of:
                kind, fill = self.marker_of[t]
                bars.append(DrumBar(kind, np.zeros((kind.steps, N_CLASSES), np.uint8), bool(fill)))
                left = kind.steps
            elif t >= self.first_word:
                if left == 0:
                    kind = bars[-1].kind if bars else self.kinds[0]
                    bars.append(DrumBar(kind, np.zeros((kind.steps, N_CLASSES), np.uint8)))
                    left = kind.steps
                bars[-1].levels[bars[-1].kind.steps - left] = word_levels(self.word_codes[t - self.first_word])
                left -= 1
        return bars

    def decode(self, ids: Iterable[int], tpq: int = 480) -> Score:
        return bars_to_score(self.ids_to_bars(ids), tpq)

    # -- generation ------------------------------------------------------------------------
    def groove_bars(self, groove: str) -> list[DrumBar]:
        """The bars a --groove starts from: a named pattern of the shipped library, or the first
        ``prime_bars`` bars of a MIDI file's drum track."""
        from ..corpora.drums import groove_names, groove_score

        if groove.lower().endswith(MIDI_SUFFIXES) or os.sep in groove or os.path.exists(groove):
            from ..io.midi import read_midi

            score = read_midi(groove)
            try:
                bars, _ = self.bars(score)
            except TokenizerError as e:
                raise InputError(f"{groove}: cannot use it as a groove: {e}") from None
            return bars[: self.config.prime_bars]
        if groove not in groove_names():
            raise InputError(f"unknown groove {groove!r}; named grooves: {', '.join(groove_names())}, "
                             "or a .mid file")
        return self.bars(groove_score(groove))[0]

    def _plan(self, bars: int, groove: str | None, fill_every: int | None) -> tuple[list[DrumBar], list]:
        """(prime bars with their fill flags, per bar: fill True / False / None = the model's call).

        With --fill-every N a fill ends every N bars and nowhere else. Without it a fill ends
        every ``SECTION`` bars and the model decides at the ``PHRASE`` points in between, where
        drummers (and the corpus) put fills: left alone, the LSTM does not count bars reliably.
        """
        if fill_every is not None and not 1 <= int(fill_every) <= 10_000:
            raise InputError(f"fill_every must be a number of bars >= 1, got {fill_every}")
        every = int(fill_every) if fill_every else None
        plan = [((i + 1) % every == 0) if every else
                True if (i + 1) % SECTION == 0 else None if (i + 1) % PHRASE == 0 else False for i in range(bars)]
        prime = self.groove_bars(groove)[:bars] if groove else []
        prime = [replace(b, fill=plan[i]) if every else b for i, b in enumerate(prime)]
        return prime, plan

    def prompt(self, bars: int, groove: str | None = None, fill_every: int | None = None) -> list[int]:
        """START, then the groove's bars (their fill flags set where --fill-every puts fills)."""
        prime, _ = self._plan(bars, groove, fill_every)
        return [self.start_id] + [t for b in prime for t in self.bar_tokens(b)]

    def grammar(self, bars: int, groove: str | None = None, fill_every: int | None = None) -> DrumGrammar:
        prime, plan = self._plan(bars, groove, fill_every)
        return DrumGrammar(self, bars, plan, [self.marker_ids[(b.kind, int(b.fill))] for b in prime])


class DrumGrammar:
    """START, exactly ``bars`` bars of exactly one word per step, END. Every bar keeps the first
    bar's meter and grid; a bar is a fill where the plan says so (None: the model's call); the
    prime's bars are fixed. State: (phase, bar, words left, kind); phase 0 start, 1 bar token
    or END, 2 words, 3 done."""

    def __init__(self, tok: DrumsTokenizer, bars: int, plan: list, fixed: list[int]) -> None:
        self.tok, self.bars, self.plan, self.fixed = tok, bars, plan, fixed
        v = len(tok.vocab)
        self._start, self._end = np.zeros(v, bool), np.zeros(v, bool)
        self._start[tok.start_id], self._end[tok.end_id] = True, True
        self._words = np.zeros(v, bool)
        self._words[tok.first_word:] = True
        self._masks: dict = {}

    def _markers(self, kind: BarKind | None, fill: bool | None) -> np.ndarray:
        key = (kind, fill)
        if key not in self._masks:
            m = np.zeros(len(self.tok.vocab), bool)
            for (k, f), i in self.tok.marker_ids.items():
                m[i] = (kind is None or k == kind) and (fill is None or f == int(fill))
            self._masks[key] = m
        return self._masks[key]

    def start(self) -> tuple:
        return (0, 0, 0, None)

    def allowed(self, state: tuple) -> np.ndarray:
        phase, bar, _, kind = state
        if phase == 0:
            return self._start
        if phase == 2:
            return self._words
        if phase == 3 or bar >= self.bars:
            return self._end
        if bar < len(self.fixed):
            m = np.zeros(len(self.tok.vocab), bool)
            m[self.fixed[bar]] = True
            return m
        return self._markers(kind, self.plan[bar])

    def advance(self, state: tuple, token: int) -> tuple:
        phase, bar, left, kind = state
        if phase == 0:
            return (1, 0, 0, None)
        if phase == 1:
            if token == self.tok.end_id:
                return (3, bar, 0, kind)
            kind = self.tok.marker_of[token][0]
            return (2, bar, kind.steps, kind)
        if phase == 2:
            return (1, bar + 1, 0, kind) if left == 1 else (2, bar, left - 1, kind)
        return state

    def done(self, state: tuple) -> bool:
        return state[0] == 3

