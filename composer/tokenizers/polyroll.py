"""The ``polyroll`` encoding of the piano-roll benchmarks (Boulanger-Lewandowski et al. 2012): one
88-bit frame per grid step (a quarter note for JSB Chorales, an eighth for the other sets), a
bit per piano key that sounds during the step.

Like the benchmark files it keeps no onsets, so a repeated note and a held note are the same
frames: ``decode`` joins consecutive frames of a key into one note (the documented quantisation).
Material is moved to a C tonic (major or minor) as the benchmark sets were.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TokenizerError
from ..score import KeySignature, Score, Tempo, TimeSignature, Track, notes_array, pitch_class_histogram
from ..theory import key_from_histogram, key_offset

__all__ = ["PolyRollConfig", "PolyRollTokenizer"]

LOW, KEYS = 21, 88


@dataclass
class PolyRollConfig:
    steps_per_beat: int = 2  # frames per quarter note: 2 = eighths (Nottingham, MuseData, Piano-midi.de)
    beats_per_bar: int = 4
    normalize_key: bool = True


class PolyRollTokenizer:
    kind = "polyroll"
    family = "frames"
    options: tuple[str, ...] = ()

    def __init__(self, config: PolyRollConfig | None = None, **overrides) -> None:
        self.config = config or PolyRollConfig(**overrides)
        if self.config.steps_per_beat < 1:
            raise TokenizerError(f"steps_per_beat must be at least 1, got {self.config.steps_per_beat}")
        self.vocab = [f"key_{p}" for p in range(LOW, LOW + KEYS)]
        self.frame_size = KEYS
        self.steps_per_bar = self.config.steps_per_beat * self.config.beats_per_bar
        self.cond_size = 0

    def to_dict(self) -> dict:
        return {"kind": self.kind, "config": asdict(self.config), "vocab": self.vocab}

    @classmethod
    def from_dict(cls, spec: dict) -> PolyRollTokenizer:
        tok = cls(PolyRollConfig(**spec.get("config", {})))
        if "vocab" in spec and spec["vocab"] != tok.vocab:
            raise ValueError("the stored vocabulary does not match the 88-key polyroll encoding")
        return tok

    def model_inputs(self) -> dict:
        """One 88-bit group; its kind (sigmoid, NADE, pitch CNN) is the model's choice."""
        return {"groups": [{"name": "keys", "kind": "pitchconv", "size": KEYS}], "cond_size": 0}

    def conditioning(self, n_steps: int, start: int = 0) -> np.ndarray:
        """No clock: the benchmark models read only the frames."""
        return np.zeros((n_steps, 0), dtype=np.float32)

    def piece_conditioning(self, frames: np.ndarray) -> np.ndarray:
        return self.conditioning(len(frames))

    def generation_inputs(self, n_steps: int, seed: int = 0) -> tuple[np.ndarray, list]:
        """(conditioning, sampler rules) of a generation: no clock, no rules."""
        return self.conditioning(n_steps), []

    def encode(self, score: Score) -> np.ndarray:
        """Score -> (T, 88) uint8 roll: a key is on in every step its note overlaps by half a step or more."""
        notes = [t.notes for t in score.tracks if not t.is_drum and len(t.notes)]
        if not notes:
            raise TokenizerError("no pitched notes to encode")
        n = np.concatenate(notes)
        shift = 0
        if self.config.normalize_key:
            if score.key_signatures:
                shift = -key_offset(score.key_signatures[0].tonic)
            else:
                shift = -key_offset(key_from_histogram(pitch_class_histogram(score))[0])
        step = score.tpq / self.config.steps_per_beat
        pitch = n["pitch"].astype(np.int64) + shift
        pitch = np.where(pitch < LOW, pitch + 12 * ((LOW - pitch + 11) // 12), pitch)  # fold into 88 keys
        pitch = np.where(pitch >= LOW + KEYS, pitch - 12 * ((pitch - LOW - KEYS) // 12 + 1), pitch)
        on = np.round(n["start"] / step).astype(np.int64)
        off = np.maximum(np.round((n["start"] + n["duration"]) / step).astype(np.int64), on + 1)
        roll = np.zeros((int(off.max()), KEYS), dtype=np.uint8)
        for a, b, p in zip(on, off, pitch):
            roll[a:b, p - LOW] = 1
        return roll

    def decode(self, frames: np.ndarray, tpq: int = 480) -> Score:
        """(T, 88) roll -> Score with one piano track in C; runs of a key become one note."""
        roll = np.asarray(frames).astype(bool)
        if roll.ndim != 2 or roll.shape[1] != KEYS:
            raise TokenizerError(f"expected (T, 88) frames, got shape {roll.shape}")
        step = tpq // self.config.steps_per_beat
        padded = np.vstack([np.zeros((1, KEYS), bool), roll, np.zeros((1, KEYS), bool)]).astype(np.int8)
        edges = np.diff(padded, axis=0)  # +1 at an onset, -1 after the last frame of a note
        notes = []
        for k in range(KEYS):
            starts, ends = np.flatnonzero(edges[:, k] == 1), np.flatnonzero(edges[:, k] == -1)
            notes += [(int(a) * step, int(b - a) * step, LOW + k, 80) for a, b in zip(starts, ends)]
        return Score(
            tpq=tpq,
            tempos=[Tempo(0, 120.0)],
            time_signatures=[TimeSignature(0, self.config.beats_per_bar, 4)],
            key_signatures=[KeySignature(0, 0, "major")],
            tracks=[Track("Piano", 0, False, notes_array(notes))],
        )
