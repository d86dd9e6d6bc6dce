"""Batches for the one training loop: encoded sequences in, dicts of tensors out.

Every batch holds ``inputs``, ``targets`` and ``mask`` (plus ``cond`` for frame models), the
contract ``model.loss(batch)`` reads; the trainer never looks inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["FrameData", "TokenData", "split_indices"]


def split_indices(n: int, valid_fraction: float, seed: int, keys: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic (train, valid) split of ``n`` sequences; valid is never empty when n > 1.

    With ``keys`` (e.g. content hashes), pieces sharing a key always land in the same split.
    """
    if keys is not None:
        import hashlib

        groups = sorted(set(keys), key=lambda k: hashlib.sha1(f"{seed}:{k}".encode()).hexdigest())
        n_valid = min(len(groups) - 1, max(1, round(len(groups) * valid_fraction))) if len(groups) > 1 else 0
        valid_keys = set(groups[:n_valid])
        is_valid = np.array([k in valid_keys for k in keys], dtype=bool)
        return np.flatnonzero(~is_valid), np.flatnonzero(is_valid)
    order = np.random.default_rng(seed).permutation(n)
    n_valid = min(n - 1, max(1, round(n * valid_fraction))) if n > 1 else 0
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


@dataclass
class FrameData:
    """Frame sequences (T, D) with their clocks (T, C), cut into windows of ``seq_len`` steps.

    Each sequence starts from an all-zero frame, so the model learns how pieces begin.
    """

    frames: list[np.ndarray]
    cond: list[np.ndarray]
    seq_len: int = 576

    def __post_init__(self) -> None:
        self.windows = []  # (sequence index, first step)
        for i, f in enumerate(self.frames):
            self.windows += [(i, k) for k in range(0, len(f), self.seq_len)]

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def n_frames(self) -> int:
        return int(sum(len(f) for f in self.frames))

    def subset(self, idx) -> "FrameData":
        return FrameData([self.frames[i] for i in idx], [self.cond[i] for i in idx], self.seq_len)

    def windowed(self, seq_len: int) -> "FrameData":
        return FrameData(self.frames, self.cond, seq_len)

    def batches(self, batch_size: int, seed: int | None = None):
        """Batches of windows, shuffled by ``seed`` (None keeps the order, for validation)."""
        order = np.arange(len(self.windows))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(order)
        for s in range(0, len(order), batch_size):
            yield self._collate([self.windows[j] for j in order[s : s + batch_size]])

    def _collate(self, windows) -> dict:
        L = self.seq_len
        D, C = self.frames[0].shape[1], self.cond[0].shape[1]
        inputs = np.zeros((len(windows), L, D), np.float32)
        targets = np.zeros((len(windows), L, D), np.float32)
        cond = np.zeros((len(windows), L, C), np.float32)
        mask = np.zeros((len(windows), L), np.float32)
        for b, (i, k) in enumerate(windows):
            f = self.frames[i]
            n = min(L, len(f) - k)
            targets[b, :n] = f[k : k + n]
            inputs[b, 1:n] = f[k : k + n - 1]
            if k:
                inputs[b, 0] = f[k - 1]
            cond[b, :n] = self.cond[i][k : k + n]
            mask[b, :n] = 1
        return {"inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets),
                "cond": torch.from_numpy(cond), "mask": torch.from_numpy(mask)}


@dataclass
class TokenData:
    """Token id sequences cut into windows of ``seq_len`` predictions (inputs shifted by one)."""

    sequences: list[np.ndarray]
    seq_len: int = 256

    def __post_init__(self) -> None:
        self.sequences = [np.asarray(s, dtype=np.int64) for s in self.sequences]
        self.windows = []  # (sequence index, first input position)
        for i, s in enumerate(self.sequences):
            self.windows += [(i, k) for k in range(0, max(len(s) - 1, 0), self.seq_len)]

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def n_tokens(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def subset(self, idx) -> "TokenData":
        return TokenData([self.sequences[i] for i in idx], self.seq_len)

    def windowed(self, seq_len: int) -> "TokenData":
        return TokenData(self.sequences, seq_len)

    def batches(self, batch_size: int, seed: int | None = None):
        order = np.arange(len(self.windows))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(order)
        for s in range(0, len(order), batch_size):
            chunk = [self.windows[j] for j in order[s : s + batch_size]]
            inputs = np.zeros((len(chunk), self.seq_len), np.int64)
            targets = np.zeros_like(inputs)
            mask = np.zeros(inputs.shape, np.float32)
            for b, (i, k) in enumerate(chunk):
                seq = self.sequences[i][k : k + self.seq_len + 1]
                n = len(seq) - 1
                inputs[b, :n], targets[b, :n], mask[b, :n] = seq[:-1], seq[1:], 1
            yield {"inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets),
                   "mask": torch.from_numpy(mask)}
