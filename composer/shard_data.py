"""Training batches streamed from `compose tokenize` shards: the corpus never has to fit in RAM.

``ShardData`` has the interface of ``data.TokenData`` (``batches(batch_size, seed)``, ``len``,
``subset``, ``n_tokens``, ``sequences``), so the one training loop (and DDP, which hands rank r
the rows r::world_size of each global batch) uses it unchanged. Shards are memory-mapped: a
batch reads only the pages its windows touch.

Each shard is one stream of its files' tokens (every file starts with BOS and ends with EOS, so
a window may run across a file boundary, as in GPT-style training). An epoch is ``len(self)``
windows of ``seq_len`` predictions: with a seed, window starts are drawn uniformly over all
tokens (the same seed, the same windows); without one (validation), the windows tile each shard
in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .corpora.shards import load_manifest, shard_path
from .errors import CorpusError

__all__ = ["ShardData", "shard_splits"]


class _Files(Sequence):
    """The files of some shards as a lazy sequence of memory-mapped token slices."""

    def __init__(self, tokens: list[np.ndarray], index: list[np.ndarray]) -> None:
        self.tokens, self.index = tokens, index
        self.cum = np.cumsum([0] + [len(i) - 1 for i in index])

    def __len__(self) -> int:
        return int(self.cum[-1])

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        k %= len(self)
        s = int(np.searchsorted(self.cum, k, side="right") - 1)
        j = k - self.cum[s]
        return self.tokens[s][self.index[s][j]:self.index[s][j + 1]]


class ShardData:
    """Windows of ``seq_len`` next-token predictions over memory-mapped shards."""

    def __init__(self, root, shards: list[str], seq_len: int = 1024) -> None:
        if seq_len < 1:
            raise CorpusError(f"window length must be at least 1, got {seq_len}")
        self.root, self.shard_names, self.seq_len = Path(root), list(shards), seq_len
        self.tokens, self.index = [], []
        for name in self.shard_names:
            try:
                self.tokens.append(np.load(shard_path(self.root, name, "tokens"), mmap_mode="r", allow_pickle=False))
                self.index.append(np.load(shard_path(self.root, name, "index"), allow_pickle=False))
            except (OSError, ValueError) as e:
                raise CorpusError(f"{self.root}: shard {name} is unreadable ({e})") from None
        self.sizes = np.array([len(t) for t in self.tokens], dtype=np.int64)
        # windows per shard: each shard's predictions (tokens - 1) in seq_len pieces
        self.per_shard = np.array([-(-max(n - 1, 0) // seq_len) for n in self.sizes], dtype=np.int64)

    @classmethod
    def open(cls, root, split: str, seq_len: int = 1024) -> ShardData:
        m = load_manifest(root)
        if split not in m["splits"]:
            raise CorpusError(f"{root}: no split {split!r}")
        return cls(root, [s["name"] for s in m["splits"][split]["shards"]], seq_len)

    def __len__(self) -> int:
        return int(self.per_shard.sum())

    @property
    def n_tokens(self) -> int:
        return int(self.sizes.sum())

    @property
    def sequences(self) -> _Files:
        """The pieces (files) in these shards, lazily (``len`` is the piece count)."""
        return _Files(self.tokens, self.index)

    def subset(self, idx) -> ShardData:
        """The same data restricted to some of its shards (by position)."""
        return ShardData(self.root, [self.shard_names[i] for i in idx], self.seq_len)

    def windowed(self, seq_len: int) -> ShardData:
        return ShardData(self.root, self.shard_names, seq_len)

    def _windows(self, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(shard, first input position) of every window of one epoch."""
        if seed is None:
            shard = np.repeat(np.arange(len(self.sizes)), self.per_shard)
            first = np.concatenate([np.arange(k) * self.seq_len for k in self.per_shard]) if len(self) else np.zeros(0)
            return shard, first.astype(np.int64)
        rng = np.random.default_rng(seed)
        n = len(self)
        weights = np.maximum(self.sizes - 1, 0).astype(np.float64)
        shard = rng.choice(len(self.sizes), size=n, p=weights / weights.sum())
        span = np.maximum(self.sizes[shard] - self.seq_len - 1, 0)  # last start that leaves a full window
        first = (rng.random(n) * (span + 1)).astype(np.int64)
        return shard, first

    def batches(self, batch_size: int, seed: int | None = None):
        """Dicts of ``inputs``/``targets``/``mask`` (B, seq_len); deterministic for a seed."""
        shard, first = self._windows(seed)
        L = self.seq_len
        for s in range(0, len(shard), batch_size):
            rows = range(s, min(s + batch_size, len(shard)))
            inputs = np.zeros((len(rows), L), np.int64)
            targets = np.zeros_like(inputs)
            mask = np.zeros(inputs.shape, np.float32)
            for b, r in enumerate(rows):
                k = int(first[r])
                seq = np.asarray(self.tokens[shard[r]][k:k + L + 1], dtype=np.int64)
                n = len(seq) - 1
                inputs[b, :n], targets[b, :n], mask[b, :n] = seq[:-1], seq[1:], 1
            yield {"inputs": torch.from_numpy(inputs), "targets": torch.from_numpy(targets),
                   "mask": torch.from_numpy(mask)}


def shard_splits(root, seq_len: int) -> tuple[object, ShardData, ShardData, dict]:
    """(tokenizer, train data, valid data, manifest) of a shard folder."""
    from .corpora.shards import check_tokenizer

    m = load_manifest(root)
    tok = check_tokenizer(m)
    train = ShardData.open(root, "train", seq_len)
    if not len(train):
        raise CorpusError(f"{root}: the train split is empty")
    return tok, train, ShardData.open(root, "valid", seq_len), m
