"""The ``chords`` encoding after LSTM Realbook (Choi, Fazekas & Sandler 2016): a word per chord.

    _START_ Key_C Meter_4 Sec_A | C:maj7 | A:7 | D:m7 Beat_3 G:7 | ... Sec_B | ... _END_

Choi et al. wrote one word per chord (``C:maj7``, ``G:7``) between ``_START_``/``_END_`` with
bar marks. We keep the words and add what a lead sheet needs back: ``|`` starts a bar (a bar
with no chord holds the last one), ``Beat_k`` puts the next chord on beat k (beat 1 needs no
mark), ``Sec_X`` marks a section, ``Meter_n`` gives n quarter-note beats a bar, ``Key_C`` or
``Key_Cm`` the mode. Chord words are ``root:quality[/bass]`` in ``harmony``'s canonical
spelling. With ``normalize_key`` (the default) material moves to C, so the key token only
records the mode (the key comes from the key signature, else ``harmony.estimate_key``).

Quantisation (``decode(encode(s))`` returns this): chords on quarter-note beats, as ``chart``
documents; a chord outside the vocabulary becomes its nearest word in it (slash bass dropped,
then extra degrees dropped, then ``harmony.simplify``), counted in ``fallbacks``; a meter
becomes n/4. Decoding renders the backing (``comping``): voice-led piano, walking bass, ride.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace

from ..chart import SECTION_LABELS, Chart, chart_to_score, estimate_key, score_to_chart
from ..errors import InputError, TokenizerError
from ..harmony import Chord, format_chord, parse_chord, simplify
from ..score import Score
from ..theory import PC_NAMES
from .chord_grammar import ChordGrammar, parse_form

__all__ = ["CORE_QUALITIES", "ChordTokenizer", "ChordsConfig"]

SPECIALS = ["_PAD_", "_START_", "_END_", "|"]
KEYS = [f"Key_{n}" for n in PC_NAMES] + [f"Key_{n}m" for n in PC_NAMES]
METERS = [f"Meter_{n}" for n in range(2, 8)]
SECTIONS = [f"Sec_{s}" for s in SECTION_LABELS]
BEATS = [f"Beat_{k}" for k in range(2, 8)]
STRUCTURE = SPECIALS + KEYS + METERS + SECTIONS + BEATS
# Always in the vocabulary, on every root: enough to spell any standard, and the cadence chords.
CORE_QUALITIES = ("maj", "m", "7", "maj7", "m7", "m7b5", "dim7", "6", "m6", "9", "13", "7b9", "7#9", "7alt",
                  "7sus4", "mmaj7", "aug", "dim", "maj9", "m9", "69", "7#11", "7b13", "7#5", "m11")


@dataclass
class ChordsConfig:
    normalize_key: bool = True  # encode in C (the model learns one key); the key token keeps the mode


class ChordTokenizer:
    kind = "chords"
    family = "tokens"
    options: tuple[str, ...] = ("form", "mode", "meter", "vary")

    def __init__(self, config: ChordsConfig | None = None, words: list[str] | None = None, **overrides) -> None:
        self.config = config or ChordsConfig(**overrides)
        core = [format_chord(Chord(r, q), "word") for q in CORE_QUALITIES for r in range(12)]
        extra = [w for w in (words or []) if w not in set(core)]
        self.vocab = STRUCTURE + core + extra
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.chords = {i: parse_chord(w) for i, w in enumerate(self.vocab) if i >= len(STRUCTURE)}
        self.end_id = self.index["_END_"]
        self.fallbacks = 0  # chords encoded as a nearby word (statistics for benchmarks)

    # -- config ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> ChordTokenizer:
        vocab = spec.get("vocab")
        if not isinstance(vocab, list) or vocab[: len(STRUCTURE)] != STRUCTURE:
            raise ValueError("the stored vocabulary does not start with the chords encoding's structure tokens")
        try:
            words = vocab[len(STRUCTURE):]
            for w in words:
                parse_chord(w)
        except InputError as e:
            raise ValueError(f"the stored vocabulary has a bad chord word: {e}") from None
        tok = cls(ChordsConfig(**spec.get("config", {})), words)
        if tok.vocab != vocab:
            raise ValueError("the stored vocabulary does not match the chords encoding (words out of order)")
        return tok

    def model_inputs(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    def fit(self, scores) -> ChordTokenizer:
        """A tokenizer whose vocabulary adds every chord word the corpus uses (in C if normalised)."""
        counts: Counter = Counter()
        for s in scores:
            try:
                chart = self._chart(s)
            except TokenizerError:
                continue
            counts.update(format_chord(c, "word") for _, _, c in chart.chords)
        core = set(self.vocab)
        extra = sorted((w for w in counts if w not in core), key=lambda w: (-counts[w], w))
        return ChordTokenizer(self.config, extra)

    # -- encode ----------------------------------------------------------------------------
    def _chart(self, score: Score) -> Chart:
        chords = score.chords
        if not chords and score.tracks:
            from ..io.midi_chords import estimate_chords

            chords = estimate_chords(score)
        if not chords:
            raise TokenizerError("no chord symbols to encode" + (" (and no comping track to hear them in)"
                                                                   if score.tracks else ""))
        try:
            chart = score_to_chart(replace(score, chords=chords))
        except InputError as e:
            raise TokenizerError(str(e)) from None
        if not 2 <= chart.beats <= 7:
            raise TokenizerError(f"bars of {chart.beats} quarter-note beats: the chords encoding takes 2 to 7")
        key = chart.key or estimate_key(chords)
        chart.key = key
        if self.config.normalize_key:
            chart = chart.transpose(-key[0])
        while chart.bars and not chart.bars[0]:  # leading bars before the first chord
            chart.bars.pop(0)
            chart.sections = {b - 1: s for b, s in chart.sections.items() if b > 0}
        if chart.bars and chart.bars[0][0][0] != 0:
            chart.bars[0][0] = (0, chart.bars[0][0][1])
        return chart

    def _word(self, c: Chord, where: str) -> int:
        for cand in (c, Chord(c.root, c.quality), Chord(c.root, c.quality.partition("(")[0]),
                     Chord(c.root, simplify(c.quality))):
            w = format_chord(cand, "word")
            if w in self.index:
                if cand is not c:
                    self.fallbacks += 1
                return self.index[w]
        raise TokenizerError(f"chord {format_chord(c, 'word')} at {where} is not in the vocabulary")

    def encode(self, score: Score) -> list[int]:
        """Score -> token ids. Chords from ``score.chords``, or estimated from a comping track
        when a MIDI file carries none; TokenizerError when there are none at all."""
        chart = self._chart(score)
        tonic, mode = chart.key
        key = f"Key_{PC_NAMES[tonic]}" + ("m" if mode == "minor" else "")
        ids = [self.index["_START_"], self.index[key], self.index[f"Meter_{chart.beats}"]]
        sections = {b: s for b, s in chart.sections.items() if s in SECTION_LABELS} or {0: "A"}
        prev = None
        for b, bar in enumerate(chart.bars):
            if b in sections:
                ids.append(self.index[f"Sec_{sections[b]}"])
            ids.append(self.index["|"])
            for pos, c in bar:
                w = self._word(c, f"bar {b + 1}")
                if w == prev and not (pos == 0 and b in sections):
                    continue
                if pos:
                    ids.append(self.index[f"Beat_{pos + 1}"])
                ids.append(w)
                prev = w
        ids.append(self.end_id)
        return ids

    # -- decode ----------------------------------------------------------------------------
    def decode_chart(self, ids) -> Chart:
        """Token ids -> Chart, leniently (tokens out of place are skipped)."""
        key, beats, bars, sections = (0, "major"), 4, [], {}
        pending_sec, pending_pos = None, None
        for i in ids:
            w = self.vocab[int(i)] if 0 <= int(i) < len(self.vocab) else "_PAD_"
            if w == "_END_":
                break
            if w.startswith("Key_"):
                name = w[4:]
                minor = name.endswith("m")
                key = (PC_NAMES.index(name[:-1] if minor else name), "minor" if minor else "major")
            elif w.startswith("Meter_"):
                beats = int(w[6:]) if not bars else beats
            elif w.startswith("Sec_"):
                pending_sec = w[4:]
            elif w == "|":
                bars.append([])
                if pending_sec:
                    sections[len(bars) - 1], pending_sec = pending_sec, None
                pending_pos = None
            elif w.startswith("Beat_"):
                pending_pos = int(w[5:]) - 1
            elif int(i) in self.chords:
                if not bars:
                    bars.append([])
                pos = pending_pos or 0
                pending_pos = None
                if pos >= beats or (bars[-1] and pos <= bars[-1][-1][0]):
                    continue
                bars[-1].append((pos, self.chords[int(i)]))
        return Chart(bars, (beats, 4), sections, key, "Generated changes")

    def decode(self, ids, tpq: int = 480) -> Score:
        """Token ids -> Score: the chords, the form in ``meta['sections']``, and a backing
        (Piano comping, walking Bass, Drums on the drum channel) to play along with."""
        from ..comping import render_backing

        chart = self.decode_chart(ids)
        score = chart_to_score(chart, tpq)
        score.tracks = render_backing(score.chords, tpq, chart.beats, len(chart.bars))
        return score

    # -- generation ------------------------------------------------------------------------
    def _mode(self, mode: str | None) -> tuple[str, ...]:
        if mode is None:
            return ("major", "minor")
        m = mode.strip().lower()
        if m not in ("major", "minor"):
            raise InputError(f"mode {mode!r}: the chords style takes major or minor")
        return (m,)

    @staticmethod
    def _meter(meter: str | None) -> int:
        if meter is None:
            return 4
        text = str(meter).strip()
        try:
            n, _, d = text.partition("/")
            beats = int(n) * 4 // int(d or 4) if int(n) * 4 % int(d or 4) == 0 else 0
        except ValueError:
            beats = 0
        if not 2 <= beats <= 7:
            raise InputError(f"meter {meter!r}: the chords style takes 2/4 to 7/4 (a whole number of beats)")
        return beats

    def prompt(self, bars: int, form: str | None = None, mode: str | None = None, meter: str | None = None,
               vary: float | None = None) -> list[int]:
        parse_form(form, bars)  # fail early on a bad form
        self._mode(mode)
        self._meter(meter)
        return [self.index["_START_"]]

    def grammar(self, bars: int, form: str | None = None, mode: str | None = None, meter: str | None = None,
                vary: float | None = None):
        """``vary``: the share of a repeated section's copied bars the model writes afresh (0: verbatim)."""
        if vary is not None and not 0 <= vary <= 1:
            raise InputError(f"vary must be between 0 (verbatim repeats) and 1, got {vary}")
        return ChordGrammar(self, parse_form(form, bars), self._meter(meter), self._mode(mode), vary or 0.0)

