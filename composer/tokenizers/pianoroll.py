"""The ``pianoroll`` encoding after Eck & Schmidhuber (2002): one multi-hot frame per eighth note.

A frame is the concatenation of four groups, in the order the model samples them:

    chord_onset (1 bit)    the chord is struck at this step (else the previous chord is held)
    chord       (24 bits)  chord notes, MIDI [48, 72)
    melody_onset (1 bit)   a melody note starts here (else the previous melody note is held)
    melody      (26 bits)  exactly one of: rest, or a pitch in MIDI [60, 85)

Eck & Schmidhuber used chord and melody ranges and a frame per eighth; the onset bits are
ours, so a repeated note differs from a held one. The melody group is one-of-N because the
melody is monophonic; the chord group is multi-hot. Material is normalised to a C tonic
(shift in -6..+5 semitones, then octave folding into the ranges): the documented quantisation
of this encoding. ``conditioning`` gives the clock (step in bar, bar in the 12-bar form) that the
model reads beside the frames, as Magenta's lookback RNN reads its position bits, and, when the
tokenizer knows named forms (the blues progressions), which form the piece follows: a model
told its progression need not guess it from the chords so far, so it cannot drift to another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..errors import TokenizerError
from ..score import ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track, notes_array, pitch_class_histogram
from ..theory import identify_chord, key_from_histogram, key_offset

__all__ = ["FrameGroup", "PianoRollConfig", "PianoRollTokenizer", "estimate_tonic"]


@dataclass(frozen=True)
class FrameGroup:
    """A slice of the frame with one output distribution.

    kind: 'bernoulli' (independent bits), 'nade' (autoregressive bits), 'categorical'
    (exactly one bit on; index 0 means silence), 'pattern' (one of ``patterns``, each a list of
    the bits that are on). ``onset`` names a 1-bit group: when that bit is 0 this group repeats
    the previous frame (a held note), which the sampler enforces.
    """

    name: str
    kind: str
    size: int
    onset: str | None = None
    patterns: list | None = None


@dataclass
class PianoRollConfig:
    steps_per_beat: int = 2  # eighth notes, as Eck & Schmidhuber
    beats_per_bar: int = 4
    bars_per_form: int = 12  # the clock's period: the 12-bar blues
    chord_low: int = 48
    chord_high: int = 72  # exclusive
    melody_low: int = 60
    melody_high: int = 85  # exclusive
    normalize_key: bool = True
    # Chord voicings (bit lists, lowest chord note = 0) fitted on the corpus; with them the chord
    # is drawn as one of these whole voicings, else bit by bit through a NADE.
    chord_patterns: list = field(default_factory=list)
    max_patterns: int = 256
    # Named forms the model is conditioned on: name -> one (degree above tonic, quality) per half
    # bar of the form. A piece's form is recognised from its chords (``form_index``).
    forms: dict = field(default_factory=dict)


def estimate_tonic(score: Score) -> int:
    """The tonic of blues material with no key signature (its major-profile key: blues is dominant)."""
    return key_from_histogram(pitch_class_histogram(score), modes=("major",))[0]


def _fold(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move pitches by octaves into [low, high)."""
    p = pitches.astype(np.int64)
    p = np.where(p < low, p + 12 * ((low - p + 11) // 12), p)
    return np.where(p >= high, p - 12 * ((p - high) // 12 + 1), p)


class PianoRollTokenizer:
    kind = "pianoroll"
    family = "frames"  # the model reads and writes whole frames, not token ids

    def __init__(self, config: PianoRollConfig | None = None, **overrides) -> None:
        self.config = config or PianoRollConfig(**overrides)
        c = self.config
        n_chord, n_mel = c.chord_high - c.chord_low, c.melody_high - c.melody_low
        self.groups = [
            FrameGroup("chord_onset", "bernoulli", 1),
            FrameGroup("chord", "pattern", n_chord, onset="chord_onset", patterns=c.chord_patterns)
            if c.chord_patterns else FrameGroup("chord", "nade", n_chord, onset="chord_onset"),
            FrameGroup("melody_onset", "bernoulli", 1),
            FrameGroup("melody", "categorical", n_mel + 1, onset="melody_onset"),
        ]
        offsets = np.cumsum([0] + [g.size for g in self.groups])
        self.slices = {g.name: slice(int(a), int(b)) for g, a, b in zip(self.groups, offsets, offsets[1:])}
        self.vocab = (
            ["chord_onset"]
            + [f"chord_{p}" for p in range(c.chord_low, c.chord_high)]
            + ["melody_onset", "melody_rest"]
            + [f"melody_{p}" for p in range(c.melody_low, c.melody_high)]
        )
        self.frame_size = len(self.vocab)
        self.steps_per_bar = c.steps_per_beat * c.beats_per_bar
        self.form_names = sorted(c.forms)  # a fixed order: JSON may reorder the dict
        self.cond_size = self.steps_per_bar + c.bars_per_form + len(self.form_names)
        self.options: tuple[str, ...] = ("form",) if self.form_names else ()  # beyond bars/key/tempo

    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> "PianoRollTokenizer":
        tok = cls(PianoRollConfig(**spec.get("config", {})))
        if "vocab" in spec and spec["vocab"] != tok.vocab:
            raise ValueError("the stored vocabulary does not match this pianoroll configuration")
        return tok

    def fit(self, scores) -> "PianoRollTokenizer":
        """A tokenizer whose chord voicings are the corpus's most frequent ones (the empty chord first)."""
        from collections import Counter

        plain = PianoRollTokenizer(replace(self.config, chord_patterns=[]))
        counts: Counter = Counter()
        for s in scores:
            try:
                frames = plain.encode(s)
            except TokenizerError:
                continue
            bits = frames[:, plain.slices["chord"]]
            onsets = frames[:, plain.slices["chord_onset"].start].astype(bool)
            counts.update(tuple(np.flatnonzero(b).tolist()) for b in bits[onsets])
        counts.pop((), None)
        patterns = [[]] + [list(p) for p, _ in counts.most_common(self.config.max_patterns - 1)]
        return PianoRollTokenizer(replace(self.config, chord_patterns=patterns))

    def _snap_chords(self, bits: np.ndarray) -> np.ndarray:
        """Each chord voicing outside the fitted set becomes the nearest one (fewest bits changed)."""
        table = np.zeros((len(self.config.chord_patterns), bits.shape[1]), dtype=np.uint8)
        for i, p in enumerate(self.config.chord_patterns):
            table[i, p] = 1
        dist = (bits[:, None, :] != table[None]).sum(-1)  # (T, P)
        return table[dist.argmin(1)]

    def model_inputs(self) -> dict:
        """What the frame model's shape depends on; it looks back one form (a 12-bar chorus) at the chords."""
        return {"groups": [asdict(g) for g in self.groups], "cond_size": self.cond_size,
                "lookback": self.steps_per_bar * self.config.bars_per_form, "lookback_groups": ["chord_onset", "chord"]}

    # -- clock and form --------------------------------------------------------------------
    def conditioning(self, n_steps: int, start: int = 0, form: int | None = None) -> np.ndarray:
        """(n_steps, cond_size) one-hot clock (step within the bar, bar within the form) and, when
        ``form`` is an index into ``form_names``, that form's bit."""
        steps = np.arange(start, start + n_steps)
        cond = np.zeros((n_steps, self.cond_size), dtype=np.float32)
        cond[np.arange(n_steps), steps % self.steps_per_bar] = 1
        cond[np.arange(n_steps), self.steps_per_bar + (steps // self.steps_per_bar) % self.config.bars_per_form] = 1
        if form is not None:
            cond[:, self.steps_per_bar + self.config.bars_per_form + form] = 1
        return cond

    def form_pcs(self) -> dict[str, list[frozenset]]:
        """Per named form, the chord pitch classes (in C) at each step of one chorus."""
        from ..metrics import progression_pcs

        forms = {name: [tuple(x) for x in self.config.forms[name]] for name in self.form_names}
        return progression_pcs(forms, self.steps_per_bar)

    def form_index(self, frames: np.ndarray, min_match: float = 0.5) -> int | None:
        """The named form whose chords match most steps of ``frames``; None when none matches
        ``min_match`` of them (a piece in no known form is conditioned on no form)."""
        if not self.form_names or not len(frames):
            return None
        c = self.config
        bits = np.asarray(frames)[:, self.slices["chord"]].astype(bool)
        pcs = [frozenset((np.flatnonzero(b) + c.chord_low) % 12) for b in bits]
        scores = []
        for steps in self.form_pcs().values():
            scores.append(np.mean([p == steps[t % len(steps)] for t, p in enumerate(pcs)]))
        best = int(np.argmax(scores))
        return best if scores[best] >= min_match else None

    def piece_conditioning(self, frames: np.ndarray) -> np.ndarray:
        """The conditioning an encoded piece is trained with: the clock and its recognised form."""
        return self.conditioning(len(frames), form=self.form_index(frames))

    def generation_inputs(self, n_steps: int, seed: int = 0, form: str | None = None) -> tuple[np.ndarray, list]:
        """(conditioning, sampler rules) of a generation: ``form`` by name, or one drawn from
        ``seed``, given to the model and, through ``form_lock``, kept by construction."""
        if not self.form_names:
            if form is not None:
                raise TokenizerError("this model was trained without named forms; it takes no --form")
            return self.conditioning(n_steps), []
        if form is None:
            index = int(np.random.default_rng(seed).integers(len(self.form_names)))
        elif form in self.form_names:
            index = self.form_names.index(form)
        else:
            raise TokenizerError(f"unknown form {form!r}; this model knows {', '.join(self.form_names)}")
        return self.conditioning(n_steps, form=index), [self.form_lock([index])]

    def form_lock(self, forms: list[int]):
        """The sampler rule that keeps row i of a batch in form ``forms[i]`` by construction: the
        chord is struck where the form's chord changes (or the sounding one is wrong) and only
        voicings of the form's chord at that step can be drawn. What grammars do for token styles."""
        if not self.config.chord_patterns:
            raise TokenizerError("a form lock needs the fitted chord voicings of a trained model")
        return _FormLock(self, forms)

    # -- encode ----------------------------------------------------------------------------
    def _roles(self, score: Score) -> tuple[Track | None, list[Track]]:
        """(melody track, chord tracks): by name first, else the highest pitched track is the melody."""
        pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
        pitched = [t for t in pitched if "bass" not in t.name.lower() and not 32 <= t.program <= 39]
        named = [t for t in pitched if "melody" in t.name.lower() or "lead" in t.name.lower()]
        if named:
            melody = named[0]
        elif len(pitched) > 1:
            melody = max(pitched, key=lambda t: float(t.notes["pitch"].mean()))
        else:
            melody = None
        return melody, [t for t in pitched if t is not melody]

    def encode(self, score: Score) -> np.ndarray:
        """Score -> (T, frame_size) uint8 frames, T a whole number of bars."""
        c = self.config
        for ts in score.time_signatures:
            if (ts.numerator, ts.denominator) != (c.beats_per_bar, 4):
                raise TokenizerError(
                    f"time signature {ts.numerator}/{ts.denominator} at tick {ts.time}: "
                    f"the pianoroll encoding needs {c.beats_per_bar}/4"
                )
        melody, chord_tracks = self._roles(score)
        if melody is None and not chord_tracks:
            raise TokenizerError("no pitched notes to encode")
        tonic = score.key_signatures[0].tonic if score.key_signatures else estimate_tonic(score)
        shift = -key_offset(tonic) if c.normalize_key else 0
        step = score.tpq // c.steps_per_beat
        n_steps = max(1, -(-round(score.end / step) // self.steps_per_bar)) * self.steps_per_bar
        frames = np.zeros((n_steps, self.frame_size), dtype=np.uint8)

        def quantised(track: Track, low: int, high: int):
            n = track.notes
            on = np.clip(np.round(n["start"] / step).astype(np.int64), 0, n_steps - 1)
            off = np.clip(np.round((n["start"] + n["duration"]) / step).astype(np.int64), 0, n_steps)
            return on, np.maximum(off, on + 1), _fold(n["pitch"].astype(np.int64) + shift, low, high)

        cs, co = self.slices["chord"], self.slices["chord_onset"].start
        for t in chord_tracks:
            for a, b, p in zip(*quantised(t, c.chord_low, c.chord_high)):
                frames[a:b, cs.start + p - c.chord_low] = 1
                frames[a, co] = 1
        if c.chord_patterns:
            frames[:, cs] = self._snap_chords(frames[:, cs])
        ms, mo = self.slices["melody"], self.slices["melody_onset"].start
        pitch_at = np.full(n_steps, -1)
        onset_at = np.zeros(n_steps, dtype=bool)
        if melody is not None:
            on, off, pitch = quantised(melody, c.melody_low, c.melody_high)
            for i in np.argsort(pitch, kind="stable"):  # skyline: the highest note wins
                pitch_at[on[i]:off[i]] = pitch[i]
            for i in range(len(on)):
                if pitch_at[on[i]] == pitch[i]:
                    onset_at[on[i]] = True
        # A held note that changes pitch (skyline switched notes) must be an onset.
        prev = np.concatenate([[-1], pitch_at[:-1]])
        onset_at |= (pitch_at >= 0) & (pitch_at != prev)
        onset_at &= pitch_at >= 0
        frames[np.arange(n_steps), np.where(pitch_at >= 0, ms.start + 1 + pitch_at - c.melody_low, ms.start)] = 1
        frames[:, mo] = onset_at
        return frames

    # -- decode ----------------------------------------------------------------------------
    def decode(self, frames: np.ndarray, tpq: int = 480) -> Score:
        """Frames -> Score in C (tracks Chords, Melody, Bass; chord symbols). Bass is arranged
        from the chords (a walking line), since the encoding itself carries no bass."""
        from ..arrange import walking_bass

        c = self.config
        frames = np.asarray(frames)
        n = len(frames)
        step = tpq // c.steps_per_beat
        chord_bits = frames[:, self.slices["chord"]].astype(bool)
        chord_on = frames[:, self.slices["chord_onset"].start].astype(bool)
        chord_notes, symbols = [], []
        seg_starts = [t for t in range(n) if chord_on[t] or (t and not np.array_equal(chord_bits[t], chord_bits[t - 1]))]
        for i, a in enumerate(seg_starts):
            b = seg_starts[i + 1] if i + 1 < len(seg_starts) else n
            pitches = np.flatnonzero(chord_bits[a]) + c.chord_low
            chord_notes += [(a * step, (b - a) * step, int(p), 72) for p in pitches]
            found = identify_chord(pitches % 12, bass=int(pitches[0]) % 12) if len(pitches) else None
            if found and symbols and symbols[-1].root == found[0] and symbols[-1].quality == found[1] \
                    and symbols[-1].start + symbols[-1].duration == a * step:
                last = symbols.pop()
                symbols.append(ChordSymbol(last.start, (b * step) - last.start, last.root, last.quality))
            elif found:
                symbols.append(ChordSymbol(a * step, (b - a) * step, found[0], found[1]))

        mel = frames[:, self.slices["melody"]]
        idx = mel.argmax(axis=1)  # 0 = rest
        mel_on = frames[:, self.slices["melody_onset"].start].astype(bool)
        melody_notes, t = [], 0
        while t < n:
            if idx[t] == 0:
                t += 1
                continue
            b = t + 1
            while b < n and idx[b] == idx[t] and not mel_on[b]:
                b += 1
            vel = 96 if t % c.steps_per_beat == 0 else 84
            melody_notes.append((t * step, (b - t) * step, int(idx[t] - 1 + c.melody_low), vel))
            t = b

        end = n * step
        tracks = [
            Track("Chords", 0, False, notes_array(chord_notes)),
            Track("Melody", 66, False, notes_array(melody_notes)),
        ]
        if symbols:
            tracks.append(walking_bass(symbols, tpq, end))
        return Score(
            tpq=tpq,
            tempos=[Tempo(0, 120.0)],
            time_signatures=[TimeSignature(0, c.beats_per_bar, 4)],
            key_signatures=[KeySignature(0, 0, "major")],
            tracks=tracks,
            chords=symbols,
        )


class _FormLock:
    """A frame rule (composer.constraints.FrameRule's protocol): state is (step, chord pcs per row)."""

    name, hard = "form", True

    def __init__(self, tok: PianoRollTokenizer, forms: list[int]) -> None:
        steps = list(tok.form_pcs().values())
        c = tok.config
        self.slice, self.low = tok.slices["chord"], c.chord_low
        self.expected = [steps[f] for f in forms]  # per row: pitch classes at each step of a chorus
        pattern_pcs = [frozenset((np.asarray(p, dtype=int) + c.chord_low) % 12) if p else frozenset()
                       for p in c.chord_patterns]
        # per row and step of the chorus: the additive mask over voicings (0 allowed, -1e9 not)
        self.masks = [np.array([[0.0 if pp == want else -1e9 for pp in pattern_pcs] for want in e]) for e in self.expected]
        for m in self.masks:  # a step whose chord no fitted voicing spells stays free
            m[(m < 0).all(1)] = 0.0

    def start(self, batch: int):
        return 0, [frozenset()] * batch

    def adjust(self, state, group: str, shape: tuple[int, int]):
        t, sounding = state
        if group == "chord_onset":  # strike where the sounding chord is not the form's
            return np.array([[1e9 if sounding[i] != e[t % len(e)] else 0.0] for i, e in enumerate(self.expected)])
        if group == "chord":
            return np.stack([m[t % len(m)] for m in self.masks])
        return None

    def advance(self, state, frame: np.ndarray):
        t, _ = state
        bits = frame[:, self.slice]
        return t + 1, [frozenset((np.flatnonzero(b) + self.low) % 12) for b in bits]
