"""A decoder-only transformer (nanoGPT-like) for every token style, streamed through a KV cache.

Pre-norm blocks, rotary positions (RoPE) on q/k, ``scaled_dot_product_attention``, GELU MLP and
tied input/output embeddings. ``forward(ids, state)`` has the same contract as ``TokenLSTM``: the
state is a ``KVCache`` the sampler passes back, so each new token costs one token's projections
plus one attention read over the cache, never a recompute of the prefix.

Past ``block_size`` (the longest context the model trains on) generation slides a window: when
the cache is full it is rebuilt from the last ``block_size // 2`` tokens (one forward pass of half
a block), then streaming goes on. Each token thus sees between half a block and a whole block of
context, and the rebuild costs about one extra token-forward per generated token, amortised
(nanoGPT's crop-and-recompute pays a whole block per token). Training windows must fit the block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

__all__ = ["KVCache", "TokenTransformer", "TransformerConfig"]


@dataclass
class TransformerConfig:
    vocab_size: int = 0  # set from the tokenizer
    n_layer: int = 4  # small corpora (hundreds of tunes): ~3M parameters train on a CPU in minutes
    n_head: int = 4  # head size 64, the usual sweet spot for attention kernels
    n_embd: int = 256
    block_size: int = 1024  # a whole folk tune, chord chart or drum part fits in one window
    dropout: float = 0.1  # small corpora overfit quickly; 0.0 for big ones
    bias: bool = False  # no biases in Linear/LayerNorm: a bit better and faster (nanoGPT)
    rope_base: float = 10000.0  # RoPE frequency base of the original paper (Su et al. 2021)


class KVCache(NamedTuple):
    """The streaming state: per-layer keys/values of the tokens seen so far, in place-filled buffers.

    ``k``/``v`` are (n_layer, B, H, capacity, D) and ``ids`` (B, capacity); only the first
    ``length`` positions are valid. Buffers grow by doubling up to ``block_size``. Steps write in
    place, so a state is consumed by the call it is passed to (feeding an older state again
    overwrites what its successors saw).
    """

    ids: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    length: int


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+D/2}) of (B, H, T, D) by position-dependent angles (cos/sin (T, D))."""
    x1, x2 = x.chunk(2, dim=-1)
    return (x * cos + torch.cat((-x2, x1), dim=-1) * sin).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                kv: tuple[torch.Tensor, torch.Tensor] | None, start: int) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, D)
                   for t in self.qkv(x).split(C, dim=2))
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        if kv is not None:  # write this step into the cache, attend over everything so far
            kv[0][:, :, start:start + T] = k.detach()
            kv[1][:, :, start:start + T] = v.detach()
            if start:
                k, v = kv[0][:, :, :start + T], kv[1][:, :, :start + T]  # (B, H, start+T, D)
        mask = None  # query i (at position start+i) may see keys 0..start+i
        if start and T > 1:
            mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=not start and T > 1,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        return self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias), nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias), nn.Dropout(cfg.dropout),
        )

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                kv: tuple[torch.Tensor, torch.Tensor] | None, start: int) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cos, sin, kv, start)  # (B, T, C)
        return x + self.mlp(self.ln2(x))


class TokenTransformer(nn.Module):
    """GPT-style token model with the ``TokenLSTM`` interface: ``forward``, ``loss``, ``cfg``."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        if cfg.vocab_size < 1 or cfg.n_layer < 1 or cfg.block_size < 1:
            raise InputError(f"transformer needs vocab_size, n_layer, block_size >= 1, got {cfg}")
        if cfg.n_embd % cfg.n_head or (cfg.n_embd // cfg.n_head) % 2:
            raise InputError(f"n_embd {cfg.n_embd} must split into {cfg.n_head} heads of even size (for RoPE)")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd)  # also the output head (tied)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        D = cfg.n_embd // cfg.n_head
        inv = cfg.rope_base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)
        ang = torch.outer(torch.arange(cfg.block_size, dtype=torch.float64), inv).repeat(1, 2)  # (block, D)
        # Derived from the config, so not saved with the weights.
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: residual writes scaled so depth keeps variance
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def _step(self, ids: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache | None]:
        """One pass over ids (B, T) that fit in the block after the cache's tokens."""
        start = cache.length if cache is not None else 0
        T = ids.shape[1]
        if cache is not None:
            cache = self._reserve(cache, start + T)
            cache.ids[:, start:start + T] = ids
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]  # (T, D)
        x = self.drop(self.embed(ids))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, None if cache is None else (cache.k[i], cache.v[i]), start)
        logits = F.linear(self.ln_f(x), self.embed.weight)  # (B, T, V)
        return logits, None if cache is None else cache._replace(length=start + T)

    def _reserve(self, cache: KVCache, need: int) -> KVCache:
        """Grow the buffers (doubling, capped at block_size) so ``need`` positions fit."""
        cap = cache.k.shape[3]
        if need <= cap:
            return cache
        new = min(self.cfg.block_size, max(need, 2 * cap, 64))

        def grow(t: torch.Tensor, dim: int) -> torch.Tensor:
            out = t.new_zeros(t.shape[:dim] + (new,) + t.shape[dim + 1:])
            out.narrow(dim, 0, cap).copy_(t)
            return out

        return KVCache(grow(cache.ids, 1), grow(cache.k, 3), grow(cache.v, 3), cache.length)

    def empty_state(self, batch: int, device: torch.device | str | None = None) -> KVCache:
        """A cache with nothing in it (what ``forward(ids, None)`` starts from)."""
        p = self.embed.weight
        device = p.device if device is None else device
        shape = (self.cfg.n_layer, batch, self.cfg.n_head, 0, self.cfg.n_embd // self.cfg.n_head)
        return KVCache(torch.zeros(batch, 0, dtype=torch.long, device=device),
                       p.new_zeros(shape, device=device), p.new_zeros(shape, device=device), 0)

    def forward(self, ids: torch.Tensor, state: KVCache | None = None) -> tuple[torch.Tensor, KVCache | None]:
        """Logits (B, T, V) for ids (B, T) following ``state``, and the state after them.

        In training mode this is one causal pass over a window of at most ``block_size`` tokens
        and no cache is built (the state is None). In eval mode the cache is filled, and a stream
        longer than the block slides as described in the module docstring.
        """
        B, T = ids.shape
        bs = self.cfg.block_size
        if self.training:
            if state is not None or T > bs:
                raise InputError(f"training windows must be at most block_size={bs} tokens with no state "
                                 f"(got {T} tokens{' and a state' if state is not None else ''})")
            return self._step(ids, None)[0], None
        cache = self.empty_state(B, ids.device) if state is None else state
        out, i = [], 0
        while i < T:
            if cache.length == bs:  # window full: rebuild it from the last half block
                keep = bs // 2
                tail = cache.ids[:, bs - keep:bs].clone()  # (B, keep)
                cache = cache._replace(length=0)
                if keep:
                    cache = self._step(tail, cache)[1]
            n = min(T - i, bs - cache.length)
            logits, cache = self._step(ids[:, i:i + n], cache)
            out.append(logits)
            i += n
        return (out[0] if len(out) == 1 else torch.cat(out, 1)), cache

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL in nats, number of predicted tokens), exactly as ``TokenLSTM.loss``."""
        x = batch["inputs"]  # a window that fits needs no cache, even in eval mode
        logits = self._step(x, None)[0] if x.shape[1] <= self.cfg.block_size else self(x)[0]
        mask = batch["mask"]
        nll = F.cross_entropy(logits.transpose(1, 2), batch["targets"], reduction="none")
        return (nll * mask).sum(), mask.sum()
