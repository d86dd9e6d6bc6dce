"""The WaveNet's "tokenizer": µ-law codes for the audio, a frame-rate piano roll for the score.

A sample-level model has two encodings to agree on, and both travel with the checkpoint:

- audio ⇄ codes: µ-law companding to ``quantization`` classes at ``sample_rate``;
- score → conditioning: one frame every ``hop`` samples, holding for each pitched key
  (MIDI 21-108) its velocity while it sounds and a 1 in the frame it starts, and for each GM
  drum key (35-81) a 1 in the frame it is struck. ``conditioning="none"`` is unconditional.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..models.wavenet import mulaw_decode, mulaw_encode
from ..score import Score

__all__ = ["DRUM_RANGE", "PITCH_RANGE", "MuLawCodec", "notes_seconds"]

PITCH_RANGE = (21, 108)  # the 88 piano keys
DRUM_RANGE = (35, 81)  # GM percussion keys


def notes_seconds(score: Score) -> float:
    """When the last note ends, in seconds (chord symbols and markers do not count)."""
    end = max((t.end for t in score.tracks), default=0)
    return float(score.seconds(end)) if end else 0.0


class MuLawCodec:
    kind = "mulaw"
    family = "audio"

    def __init__(self, sample_rate: int = 16000, quantization: int = 256, hop: int = 128,
                 conditioning: str = "pianoroll") -> None:
        if conditioning not in ("pianoroll", "none"):
            raise InputError(f"unknown WaveNet conditioning {conditioning!r} (pianoroll or none)")
        self.sample_rate, self.quantization, self.hop, self.conditioning = int(sample_rate), int(quantization), int(hop), conditioning

    @property
    def vocab(self) -> list[str]:
        return [f"mu_{i}" for i in range(self.quantization)]

    @property
    def n_pitches(self) -> int:
        return PITCH_RANGE[1] - PITCH_RANGE[0] + 1

    @property
    def n_features(self) -> int:
        """Features per frame: sounding + onset per key, then drum strikes (0 when unconditional)."""
        if self.conditioning == "none":
            return 0
        return 2 * self.n_pitches + DRUM_RANGE[1] - DRUM_RANGE[0] + 1

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict:
        return {"kind": self.kind, "sample_rate": self.sample_rate, "quantization": self.quantization,
                "hop": self.hop, "conditioning": self.conditioning}

    @classmethod
    def from_dict(cls, spec: dict) -> MuLawCodec:
        return cls(spec["sample_rate"], spec["quantization"], spec["hop"], spec["conditioning"])

    def model_inputs(self) -> dict:
        return {"quantization": self.quantization, "local_channels": self.n_features, "sample_rate": self.sample_rate}

    def encode_audio(self, samples: np.ndarray) -> np.ndarray:
        return mulaw_encode(samples, self.quantization)

    def decode_audio(self, codes: np.ndarray) -> np.ndarray:
        return mulaw_decode(codes, self.quantization)

    def n_frames(self, score: Score, tail: float = 0.5) -> int:
        """Frames covering the score plus ``tail`` seconds of release."""
        return int(np.ceil((notes_seconds(score) + tail) * self.frame_rate))

    def encode(self, score: Score, n_frames: int | None = None) -> np.ndarray:
        """The conditioning piano roll of ``score``: float32 (frames, n_features)."""
        if self.conditioning == "none":
            raise InputError("this WaveNet is unconditional: it takes no score")
        n_frames = self.n_frames(score) if n_frames is None else n_frames
        roll = np.zeros((n_frames, self.n_features), np.float32)
        P, lo, dlo, dhi = self.n_pitches, PITCH_RANGE[0], DRUM_RANGE[0], DRUM_RANGE[1]
        for track in score.tracks:
            n = track.notes
            if not len(n):
                continue
            f0 = np.round(score.seconds(n["start"]) * self.frame_rate).astype(np.int64)
            f1 = np.maximum(f0 + 1, np.round(score.seconds(n["start"] + n["duration"]) * self.frame_rate).astype(np.int64))
            pitch, vel = n["pitch"].astype(np.int64), n["velocity"].astype(np.float32) / 127.0
            for a, b, p, v in zip(f0, f1, pitch, vel):
                if a >= n_frames:
                    continue
                if track.is_drum:
                    if dlo <= p <= dhi:
                        roll[a, 2 * P + p - dlo] = max(roll[a, 2 * P + p - dlo], v)
                elif PITCH_RANGE[0] <= p <= PITCH_RANGE[1]:
                    roll[a:b, p - lo] = np.maximum(roll[a:b, p - lo], v)
                    roll[a, P + p - lo] = 1.0
        return roll

    def pitches(self, roll: np.ndarray) -> list[tuple[int, int, int]]:
        """(first frame, last frame + 1, MIDI pitch) of each pitched note in a conditioning roll."""
        P, lo = self.n_pitches, PITCH_RANGE[0]
        notes = []
        for k in range(P):
            on, snd = roll[:, P + k] > 0, roll[:, k] > 0
            for a in np.flatnonzero(on):
                b = a + 1
                while b < len(roll) and snd[b] and not on[b]:
                    b += 1
                notes.append((int(a), int(b), k + lo))
        return sorted(notes)
