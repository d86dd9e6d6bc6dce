"""The ``remi`` encoding for any multi-track MIDI: REMI (Huang & Yang 2020) with MidiTok's REMI+
multi-track conventions, so our token streams can be checked against MidiTok's token for token.

A piece is ``BOS``, then per bar ``Bar_None TimeSig_n/d``, then per onset in the bar
``Position_k`` (k grid steps into the bar), a ``Tempo_q`` where the tempo changes, and per note
``Program_p Pitch_x Velocity_v Duration_b.s.r``; then ``EOS``::

    BOS Bar_None TimeSig_4/4 Position_0 Tempo_121.29 Program_0 Pitch_60 Velocity_79 Duration_1.0.8
        Program_-1 PitchDrum_36 Velocity_99 Duration_0.1.8 Position_8 ... Bar_None TimeSig_4/4 ... EOS

All tracks share one stream; tracks of one program are merged (as MidiTok's
``one_token_stream_for_programs``); drums are ``Program_-1`` with ``PitchDrum`` tokens. At one
onset notes go by program (drums first), pitch, duration, velocity. Every bar repeats its meter,
so a model always knows the bar's length.

Quantisation (``decode(encode(s))`` gives this): onsets on a grid of ``max(beat_res)`` steps per
quarter note (MidiTok's default 8: 32nd notes); durations the nearest of MidiTok's duration
table (1/8-beat steps up to 4 beats, 1/4-beat steps up to 12); velocities the nearest of 32 bins,
tempos the nearest of 32 bins in 40..250 qpm (closest in microseconds per quarter, as MidiTok);
a time-signature change off a bar line moves to the next bar line; decoded scores are at 480
ticks per quarter, one track per program. On such quantised material the round trip is exact.

Against MidiTok 3.1 ``REMI`` on symusic with the matching config (``tests/test_remi.py``,
``bench/tokenize_midi.py``), the token streams are identical except where the two conventions
differ, each of which is a choice rather than a bug on either side:

* Unisons. MidiTok's ``remove_duplicated_notes`` (needed for its canonical note order) drops a
  note repeating another's onset and pitch in one program: a chorale whose tenor doubles the
  bass loses a note. We keep it by default (the file has it, and the round trip stays exact);
  ``dedupe_notes=True`` drops it as MidiTok does.
* Meters over 2 or 8. MidiTok counts positions and durations in beats of the meter's
  denominator (in 12/8 ``Duration_1.0.8`` is an eighth, in 4/4 a quarter); we count in quarter
  notes under every meter, so one token always means one length. Equal under x/4 meters.
* Order of programs at one onset. MidiTok follows the file's track order, we sort by program
  (drums first), so the tokens do not depend on how the file happens to order its tracks.

Refused with a reason (``TokenizerError``), so corpus runs can skip and count: no notes, more
than ``max_notes`` notes, zero ticks per quarter, a tempo outside 5..1000 qpm, a meter that is
not in the vocabulary (absurd ones like 0/4 or 255/64 included).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..errors import InputError, TokenizerError
from ..score import NOTE_DTYPE, Score, Tempo, TimeSignature, Track

__all__ = ["RemiConfig", "RemiGrammar", "RemiTokenizer", "closest", "miditok_remi"]

log = logging.getLogger(__name__)

SPECIALS = ("PAD_None", "BOS_None", "EOS_None")
DRUMS = -1  # the program code of drum tracks (MidiTok's Program_-1)
SANE_QPM = (5.0, 1000.0)  # outside: the file's tempo map is broken, not music
MIDI_SUFFIXES = (".mid", ".midi")
MAX_ONSET_NOTES = 128  # notes the grammar lets a model put on one onset


def _default_meters() -> tuple[str, ...]:
    """n/2 up to 8/2, n/4 up to 16/4, n/8 up to 24/8, n/16 up to 32/16: what real files use."""
    return tuple(f"{n}/{d}" for d, top in ((2, 8), (4, 16), (8, 24), (16, 32)) for n in range(1, top + 1))


@dataclass
class RemiConfig:
    # (first beat, end beat, steps per beat) for durations; the largest is the onset grid.
    beat_res: tuple = ((0, 4, 8), (4, 12, 4))  # MidiTok's default
    num_velocities: int = 32  # bins over 1..127, as MidiTok
    num_tempos: int = 32
    tempo_range: tuple = (40.0, 250.0)
    log_tempos: bool = False
    meters: tuple = _default_meters()
    pitch_range: tuple = (0, 127)  # inclusive; notes outside are dropped (MidiTok: 21..108 by default)
    max_notes: int = 100_000  # more is "too long": skipped, so one huge file cannot stall a corpus run
    dedupe_notes: bool = False  # drop a note that repeats another's onset and pitch in one program
    # (MidiTok's remove_duplicated_notes; off: voices doubling in unison are notes of the file)
    tpq: int = 480  # ticks per quarter of decoded scores

    def __post_init__(self) -> None:  # JSON gives lists back: normalise so configs compare equal
        self.beat_res = tuple(tuple(int(x) for x in r) for r in self.beat_res)
        self.tempo_range = tuple(float(x) for x in self.tempo_range)
        self.meters = tuple(str(m) for m in self.meters)
        self.pitch_range = tuple(int(x) for x in self.pitch_range)


def closest(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the nearest of sorted ``values`` for each ``x`` (ties go up, as MidiTok's np_get_closest)."""
    idx = np.searchsorted(values, x, side="left")
    lo = np.maximum(idx - 1, 0)
    hi = np.minimum(idx, len(values) - 1)
    take_lo = (idx == len(values)) | (np.abs(x - values[lo]) < np.abs(x - values[hi]))
    return np.where(take_lo, lo, hi)


def _meter(text: str) -> tuple[int, int]:
    n, d = text.split("/")
    return int(n), int(d)


class RemiTokenizer:
    kind = "remi"
    family = "tokens"
    options: tuple[str, ...] = ("prime",)

    def __init__(self, config: RemiConfig | None = None, **overrides) -> None:
        self.config = c = config or RemiConfig(**overrides)
        self.res = res = max(r for _, _, r in c.beat_res)
        if any(res % r for _, _, r in c.beat_res) or c.tpq % res:
            raise ValueError(f"every beat resolution must divide {res}, and {res} must divide tpq {c.tpq}")
        # Durations as MidiTok builds them: (beats, steps, resolution), 0 dropped, the end beat added.
        durs = [(b, s, r) for b0, b1, r in c.beat_res for b in range(b0, b1) for s in range(r)][1:]
        last = max(c.beat_res, key=lambda x: x[1])
        durs.append((last[1], 0, last[2]))
        self.dur_units = np.array([b * res + s * res // r for b, s, r in durs], dtype=np.int64)  # grid steps
        self.velocities = np.linspace(0, 127, c.num_velocities + 1, dtype=np.intc)[1:].astype(np.int64)
        space = np.geomspace if c.log_tempos else np.linspace
        self.tempos = space(*c.tempo_range, c.num_tempos).round(2)
        self._mspq = 60e6 / self.tempos[::-1]  # ascending microseconds per quarter
        self.default_tempo = int(np.argmin(np.abs(self.tempos - 120.0)))
        self.meters = [_meter(m) for m in c.meters]
        for n, d in self.meters:
            if n < 1 or d < 1 or d & (d - 1) or (n * 4 * res) % d:
                raise ValueError(f"meter {n}/{d} does not fit a grid of {res} steps per quarter")
        self.bar_steps = np.array([n * 4 * res // d for n, d in self.meters], dtype=np.int64)
        self.meter_index = {m: i for i, m in enumerate(self.meters)}
        n_pos = int(self.bar_steps.max())
        lo, hi = c.pitch_range
        vocab = list(SPECIALS) + ["Bar_None"]
        self.pos0 = len(vocab); vocab += [f"Position_{i}" for i in range(n_pos)]
        self.tempo0 = len(vocab); vocab += [f"Tempo_{t}" for t in self.tempos.tolist()]
        self.meter0 = len(vocab); vocab += [f"TimeSig_{m}" for m in c.meters]
        self.prog0 = len(vocab); vocab += [f"Program_{p}" for p in range(-1, 128)]  # id = prog0 + 1 + program
        self.pitch0 = len(vocab); vocab += [f"Pitch_{p}" for p in range(lo, hi + 1)]
        self.drum0 = len(vocab); vocab += [f"PitchDrum_{p}" for p in range(lo, hi + 1)]
        self.vel0 = len(vocab); vocab += [f"Velocity_{v}" for v in self.velocities.tolist()]
        self.dur0 = len(vocab); vocab += [f"Duration_{b}.{s}.{r}" for b, s, r in durs]
        self.vocab: list[str] = vocab
        self.pad_id, self.bos_id, self.end_id, self.bar_id = 0, 1, 2, 3
        # id -> (type code, value) for decoding and the grammar
        self.types = np.zeros(len(vocab), dtype=np.int8)
        for code, (a, b) in enumerate(self._ranges(), start=1):
            self.types[a:b] = code

    # type codes: 1 Bar, 2 Position, 3 Tempo, 4 TimeSig, 5 Program, 6 Pitch, 7 PitchDrum, 8 Velocity, 9 Duration
    def _ranges(self) -> list[tuple[int, int]]:
        return [(self.bar_id, self.pos0), (self.pos0, self.tempo0), (self.tempo0, self.meter0),
                (self.meter0, self.prog0), (self.prog0, self.pitch0), (self.pitch0, self.drum0),
                (self.drum0, self.vel0), (self.vel0, self.dur0), (self.dur0, len(self.vocab))]

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> RemiTokenizer:
        known = {f.name for f in fields(RemiConfig)}
        cfg = spec.get("config", {})
        if set(cfg) - known:
            raise ValueError(f"unknown remi config keys {sorted(set(cfg) - known)}")
        tok = cls(RemiConfig(**cfg))
        if spec.get("vocab") and spec["vocab"] != tok.vocab:
            raise ValueError("the stored remi vocabulary does not match its configuration")
        return tok

    def model_inputs(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    @property
    def dtype(self) -> np.dtype:
        """The narrowest unsigned dtype that holds every id (what corpus shards store)."""
        return np.dtype(np.uint16 if len(self.vocab) <= 1 << 16 else np.uint32)

    # -- encoding --------------------------------------------------------------------------
    def encode(self, score: Score) -> list[int]:
        return self.encode_array(score).tolist()

    def _grid(self, ticks: np.ndarray, tpq: int) -> np.ndarray:
        """Ticks to grid steps, rounding halves up (integer arithmetic: exact for any tpq)."""
        return (np.asarray(ticks, dtype=np.int64) * (2 * self.res) + tpq) // (2 * tpq)

    def encode_array(self, score: Score) -> np.ndarray:
        """The token ids of ``score`` as an int64 array (vectorised: no Python loop over notes)."""
        c, tpq = self.config, score.tpq
        if tpq <= 0:
            raise TokenizerError(f"zero or negative ticks per quarter note ({tpq})")
        starts, durs, pitches, vels, progs = self._notes(score)
        n = len(starts)
        if n == 0:
            raise TokenizerError("no notes")
        start = self._grid(starts, tpq)
        dur_idx = closest(self.dur_units, np.maximum(self._grid(durs, tpq), 1))
        vel_idx = closest(self.velocities, vels)
        if c.dedupe_notes and n > 1:  # keep the first of each (onset, program, pitch) in token order
            o = np.lexsort((vel_idx, dur_idx, pitches, progs, start))
            start, dur_idx, pitches, vel_idx, progs = start[o], dur_idx[o], pitches[o], vel_idx[o], progs[o]
            keep = np.ones(n, bool)
            keep[1:] = (start[1:] != start[:-1]) | (progs[1:] != progs[:-1]) | (pitches[1:] != pitches[:-1])
            start, dur_idx, pitches, vel_idx, progs = start[keep], dur_idx[keep], pitches[keep], vel_idx[keep], progs[keep]
            n = len(start)
        seg_start, seg_len, seg_bar0, seg_meter = self._meter_segments(score)
        tempo_at, tempo_idx = self._tempo_changes(score)
        last = max(int(start.max()), int(tempo_at.max()), int(seg_start.max()))

        def bar_of(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            i = np.searchsorted(seg_start, p, side="right") - 1
            k = (p - seg_start[i]) // seg_len[i]
            return seg_bar0[i] + k, seg_start[i] + k * seg_len[i]  # (bar index, bar start)

        n_bars = int(bar_of(np.array([last]))[0][0]) + 1
        bars = np.arange(n_bars)
        bi = np.searchsorted(seg_bar0, bars, side="right") - 1
        bar_start = seg_start[bi] + (bars - seg_bar0[bi]) * seg_len[bi]
        onsets = np.unique(np.concatenate([start, tempo_at]))
        _, onset_bar_start = bar_of(onsets)

        # One row per item: sort keys, then up to 4 token slots (-1 = unused).
        B, P, T = n_bars, len(onsets), len(tempo_at)
        rows = B + P + T + n
        keys = np.zeros((6, rows), dtype=np.int64)  # time, kind, program, pitch, duration, velocity
        toks = np.full((rows, 4), -1, dtype=np.int64)
        keys[0, :B], keys[1, :B] = bar_start, 0
        toks[:B, 0], toks[:B, 1] = self.bar_id, self.meter0 + seg_meter[bi]
        s = B
        keys[0, s:s + P], keys[1, s:s + P] = onsets, 1
        toks[s:s + P, 0] = self.pos0 + onsets - onset_bar_start
        s += P
        keys[0, s:s + T], keys[1, s:s + T] = tempo_at, 2
        toks[s:s + T, 0] = self.tempo0 + tempo_idx
        s += T
        keys[0, s:], keys[1, s:], keys[2, s:], keys[3, s:] = start, 3, progs, pitches
        keys[4, s:], keys[5, s:] = dur_idx, vel_idx
        lo = c.pitch_range[0]
        toks[s:, 0] = self.prog0 + 1 + progs
        toks[s:, 1] = np.where(progs == DRUMS, self.drum0, self.pitch0) + pitches - lo
        toks[s:, 2] = self.vel0 + vel_idx
        toks[s:, 3] = self.dur0 + dur_idx
        order = np.lexsort(keys[::-1])
        flat = toks[order].ravel()
        return np.concatenate([[self.bos_id], flat[flat >= 0], [self.end_id]])

    def _notes(self, score: Score):
        """(starts, durations, pitches, velocities, program codes) of every in-range note."""
        parts = []
        total = 0
        for t in score.tracks:
            if not len(t.notes):
                continue
            if not t.is_drum and not 0 <= t.program <= 127:
                raise TokenizerError(f"track {t.name!r} has program {t.program} outside 0..127")
            total += len(t.notes)
            if total > self.config.max_notes:
                raise TokenizerError(f"too long: more than {self.config.max_notes:,} notes")
            parts.append((t.notes, DRUMS if t.is_drum else t.program))
        if not parts:
            z = np.zeros(0, np.int64)
            return z, z, z, z, z
        notes = np.concatenate([p[0] for p in parts])
        progs = np.concatenate([np.full(len(p[0]), p[1], np.int64) for p in parts])
        lo, hi = self.config.pitch_range
        pitch = notes["pitch"].astype(np.int64)
        keep = (pitch >= lo) & (pitch <= hi) & (notes["duration"] > 0)
        if not keep.all():
            notes, progs, pitch = notes[keep], progs[keep], pitch[keep]
        return (notes["start"].astype(np.int64), notes["duration"].astype(np.int64), pitch,
                notes["velocity"].astype(np.int64), progs)

    def _meter_segments(self, score: Score):
        """(start, steps per bar, first bar index, meter index) per meter section, MidiTok's rules:
        4/4 until the first meter; a change off a bar line waits for the next bar line; repeats go."""
        out: list[list[int]] = [[0, self.meter_index.get((4, 4), 0)]]
        tss = sorted(score.time_signatures, key=lambda t: t.time)  # stable: the later of one tick wins
        for ts in tss:
            key = (ts.numerator, ts.denominator)
            if key not in self.meter_index:
                absurd = ts.numerator < 1 or ts.numerator > 64 or ts.denominator not in (1, 2, 4, 8, 16, 32, 64)
                raise TokenizerError(f"{'absurd' if absurd else 'unsupported'} time signature "
                                     f"{ts.numerator}/{ts.denominator} at tick {ts.time}")
            m = self.meter_index[key]
            t = max(int(self._grid(np.array([max(ts.time, 0)]), score.tpq)[0]), out[-1][0])
            prev_t, prev_m = out[-1]
            k, r = divmod(t - prev_t, int(self.bar_steps[prev_m]))
            if r:
                t = prev_t + (k + 1) * int(self.bar_steps[prev_m])
            if t == prev_t:
                out.pop()
            if out and out[-1][1] == m:
                continue
            out.append([t, m])
        arr = np.array(out, dtype=np.int64)
        seg_start, seg_meter = arr[:, 0], arr[:, 1]
        seg_len = self.bar_steps[seg_meter]
        seg_bar0 = np.concatenate([[0], np.cumsum(np.diff(seg_start) // seg_len[:-1])])
        return seg_start, seg_len, seg_bar0, seg_meter

    def _tempo_changes(self, score: Score) -> tuple[np.ndarray, np.ndarray]:
        """(grid times, tempo bin indices) of the tempo changes, one at time 0 (MidiTok's rules)."""
        tempos = sorted(score.tempos, key=lambda t: t.time)
        for t in tempos:
            if not SANE_QPM[0] <= t.qpm <= SANE_QPM[1]:
                raise TokenizerError(f"absurd tempo {t.qpm:g} qpm at tick {t.time}")
        if not tempos:
            return np.zeros(1, np.int64), np.array([self.default_tempo])
        at = self._grid(np.array([max(t.time, 0) for t in tempos]), score.tpq)
        mspq = 60e6 / np.array([t.qpm for t in tempos])
        idx = len(self.tempos) - 1 - closest(self._mspq, mspq)
        keep = np.append(at[1:] != at[:-1], True)  # the last change at a time wins
        at, idx = at[keep], idx[keep]
        keep = np.insert(idx[1:] != idx[:-1], 0, True)  # equal successive changes go
        at, idx = at[keep], idx[keep]
        if at[0] != 0:
            if idx[0] == self.default_tempo:
                at[0] = 0
            else:
                at, idx = np.insert(at, 0, 0), np.insert(idx, 0, self.default_tempo)
        return at, idx

    # -- decoding --------------------------------------------------------------------------
    def decode(self, ids) -> Score:
        """A Score at ``config.tpq`` from tokens; lenient with sampled output (an incomplete note
        is dropped, a Position before any Bar counts from bar 0)."""
        c = self.config
        g = c.tpq // self.res
        types = self.types
        lo = c.pitch_range[0]
        notes: dict[int, list[tuple[int, int, int, int]]] = {}
        tempos: list[Tempo] = []
        meters: list[TimeSignature] = []
        bar_start, bar_len, started = 0, int(self.bar_steps[self.meter_index.get((4, 4), 0)]), False
        pos, prog, pitch, vel = 0, None, None, None
        for t in (int(i) for i in ids):
            if t == self.end_id:
                break
            if not 0 <= t < len(types):
                continue
            kind = types[t]
            if kind == 1:  # Bar
                if started:
                    bar_start += bar_len
                started, pos, prog, pitch, vel = True, bar_start, None, None, None
            elif kind == 2:
                pos = bar_start + t - self.pos0
            elif kind == 3:
                tempos.append(Tempo(pos * g, float(self.tempos[t - self.tempo0])))
            elif kind == 4:
                m = t - self.meter0
                bar_len = int(self.bar_steps[m])
                n, d = self.meters[m]
                if not meters or (meters[-1].numerator, meters[-1].denominator) != (n, d):
                    meters.append(TimeSignature(bar_start * g, n, d))
            elif kind == 5:
                prog, pitch, vel = t - self.prog0 - 1, None, None
            elif kind in (6, 7):
                pitch = lo + t - (self.pitch0 if kind == 6 else self.drum0)
            elif kind == 8:
                vel = int(self.velocities[t - self.vel0])
            elif kind == 9:
                if prog is not None and pitch is not None and vel is not None:
                    d = int(self.dur_units[t - self.dur0])
                    notes.setdefault(prog, []).append((pos * g, d * g, pitch, vel))
                pitch = vel = None
        tracks = []
        for p in sorted(notes):
            arr = np.array(notes[p], dtype=NOTE_DTYPE)
            tracks.append(Track(_program_name(p), max(p, 0), p == DRUMS, arr))
        return Score(tpq=c.tpq, tempos=tempos, time_signatures=meters, tracks=tracks)

    def bars_of(self, ids) -> int:
        """How many bars a token sequence holds."""
        return int(np.count_nonzero(np.asarray(ids) == self.bar_id))

    # -- generation ------------------------------------------------------------------------
    def prompt(self, bars: int | None = None, prime: str | None = None) -> list[int]:
        """BOS, or a MIDI file's tokens (without EOS) for the model to continue."""
        if prime is None:
            return [self.bos_id]
        return self._prime_ids(prime)[:-1]

    def _prime_ids(self, prime: str) -> list[int]:
        from ..io.midi import read_midi

        if not str(prime).lower().endswith(MIDI_SUFFIXES):
            raise InputError(f"--prime for a MIDI style must be a .mid file, got {prime!r}")
        if not Path(prime).is_file():
            raise InputError(f"--prime {prime}: no such file")
        try:
            return self.encode(read_midi(prime))
        except TokenizerError as e:
            raise InputError(f"{prime}: cannot continue it: {e}") from None

    def grammar(self, bars: int | None = None, prime: str | None = None) -> RemiGrammar:
        """Valid REMI syntax, ending with EOS after ``bars`` new bars (after the prime's)."""
        have = self.bars_of(self._prime_ids(prime)) if prime is not None else 0
        return RemiGrammar(self, have + (bars or 16))


def _program_name(program: int) -> str:
    """General MIDI instrument name (pretty_midi's table), 'Drums' for the drum program."""
    if program == DRUMS:
        return "Drums"
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


class RemiGrammar:
    """REMI syntax as a state machine, so sampled tokens always decode to the notes they say:
    BOS, Bar, TimeSig, then positions that rise within the bar's length, at most one Tempo per
    position and only right after it (MidiTok's order), notes as Program Pitch(Drum) Velocity Duration,
    and EOS after ``bars`` bars.

    At most ``MAX_ONSET_NOTES`` notes share an onset, so a model stuck on one chord cannot run on.

    State: (phase, bars so far, bar length in steps, last position or -1, tempo allowed, program,
    notes at this onset).
    Phases: 0 start, 1 after BOS/Bar-content boundary, 2 after Bar, 3 after TimeSig/Position/Tempo/
    Duration (free), 4 after Program, 5 after Pitch, 6 after Velocity, 7 done.
    """

    def __init__(self, tok: RemiTokenizer, bars: int) -> None:
        self.tok, self.bars = tok, bars
        v = len(tok.vocab)
        self._cache: dict = {}
        types = tok.types
        self._type_mask = {k: types == k for k in range(1, 10)}
        self._only = {}
        for name, i in (("bos", tok.bos_id), ("eos", tok.end_id)):
            m = np.zeros(v, bool)
            m[i] = True
            self._only[name] = m
        self._pos_offset = np.arange(v) - tok.pos0

    def start(self):
        return (0, 0, 0, -1, False, None, 0)

    def allowed(self, state) -> np.ndarray:
        if state not in self._cache:
            self._cache[state] = self._allowed(state)
        return self._cache[state]

    def _allowed(self, state) -> np.ndarray:
        phase, nbars, bar_len, pos, tempo, prog, k = state
        T = self._type_mask
        if phase == 0:
            return self._only["bos"]
        if phase == 1:
            return T[1].copy()
        if phase == 2:
            return T[4].copy()
        if phase == 4:
            return T[7].copy() if prog == DRUMS else T[6].copy()
        if phase == 5:
            return T[8].copy()
        if phase == 6:
            return T[9].copy()
        if phase == 7:
            return self._only["eos"].copy()
        # phase 3: a later position in this bar, a tempo (right after a position), a note, the next bar or the end
        m = T[2] & (self._pos_offset > pos) & (self._pos_offset < bar_len)
        if pos >= 0:
            if k < MAX_ONSET_NOTES:
                m |= T[5]
            if tempo:
                m |= T[3]
        if nbars < self.bars:
            m |= T[1]
        else:
            m[self.tok.end_id] = True
        return m

    def advance(self, state, token: int):
        _, nbars, bar_len, pos, tempo, prog, k = state
        tok = self.tok
        if token == tok.end_id:
            return (7, nbars, bar_len, pos, tempo, prog, k)
        if token == tok.bos_id:
            return (1, 0, 0, -1, False, None, 0)
        kind = tok.types[token]
        if kind == 1:
            return (2, nbars + 1, bar_len, -1, False, None, 0)
        if kind == 4:
            return (3, nbars, int(tok.bar_steps[token - tok.meter0]), -1, False, None, 0)
        if kind == 2:
            return (3, nbars, bar_len, token - tok.pos0, True, None, 0)
        if kind == 3:
            return (3, nbars, bar_len, pos, False, None, k)
        if kind == 5:
            return (4, nbars, bar_len, pos, False, token - tok.prog0 - 1, k)
        if kind in (6, 7):
            return (5, nbars, bar_len, pos, False, prog, k)
        if kind == 8:
            return (6, nbars, bar_len, pos, False, prog, k)
        return (3, nbars, bar_len, pos, False, None, k + 1)  # Duration: the note is complete

    def done(self, state) -> bool:
        return state[0] == 7


def miditok_remi(tok: RemiTokenizer):
    """MidiTok's REMI configured as ``tok`` (full pitch range, its meters, programs in one stream):
    the reference the tests and bench/tokenize_midi.py cross-check against. Needs miditok."""
    import miditok

    c = tok.config
    by_den: dict[int, list[int]] = {}
    for m in c.meters:
        n, d = map(int, m.split("/"))
        by_den.setdefault(d, []).append(n)
    cfg = miditok.TokenizerConfig(
        pitch_range=(0, 127), drums_pitch_range=(0, 127), beat_res={(a, b): r for a, b, r in c.beat_res},
        num_velocities=c.num_velocities, use_programs=True, one_token_stream_for_programs=True,
        programs=list(range(-1, 128)), use_tempos=True, num_tempos=c.num_tempos, tempo_range=c.tempo_range,
        use_time_signatures=True, time_signature_range=by_den, use_pitchdrum_tokens=True,
        remove_duplicated_notes=True, delete_equal_successive_tempo_changes=True)
    return miditok.REMI(cfg)
