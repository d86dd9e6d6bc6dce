"""Frame models: an LSTM over multi-hot frames with one output distribution per frame group.

The frame factorises over the tokenizer's groups in order (chord onset, chord, melody onset,
melody); each group's head sees the LSTM state plus the groups already drawn in this frame,
so the melody knows the chord it plays over. Group kinds:

- ``bernoulli``: independent sigmoid bits (Eck & Schmidhuber 2002; Bai et al. 2018 baseline);
- ``categorical``: one-of-N softmax (a monophonic line, index 0 = silence);
- ``nade``: autoregressive bits (Boulanger-Lewandowski et al. 2012's NADE), so a chord is drawn
  whole rather than as bits that may mix two chords at a point where the form branches.

The log-likelihood is exact and normalised, so the NLL per frame is a comparable figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .lstm import LSTMConfig, LSTMTrunk, State

__all__ = ["GroupSpec", "FrameConfig", "FrameLSTM"]


@dataclass
class GroupSpec:
    name: str
    kind: str  # bernoulli | categorical | nade
    size: int
    onset: str | None = None  # name of the 1-bit group that, when 0, makes this group a hold


@dataclass
class FrameConfig:
    groups: list[GroupSpec] = field(default_factory=list)
    cond_size: int = 0  # clock features read beside the frame
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    nade_hidden: int = 32

    def __post_init__(self) -> None:
        self.groups = [g if isinstance(g, GroupSpec) else GroupSpec(**g) for g in self.groups]

    @property
    def frame_size(self) -> int:
        return sum(g.size for g in self.groups)


class BernoulliHead(nn.Module):
    def __init__(self, d_in: int, size: int, cfg: FrameConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, size)

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.proj(u), v, reduction="none").sum(-1)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(self.proj(u) / temperature), generator=gen)


class CategoricalHead(nn.Module):
    def __init__(self, d_in: int, size: int, cfg: FrameConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, size)

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (F.log_softmax(self.proj(u), -1) * v).sum(-1)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None) -> torch.Tensor:
        logits = self.proj(u) / temperature  # (B, N)
        if allow_silence is not None:  # an onset was drawn: silence is no longer a choice
            logits[:, 0] = torch.where(allow_silence, logits[:, 0], torch.finfo(logits.dtype).min)
        idx = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)
        return F.one_hot(idx[:, 0], logits.shape[-1]).to(u.dtype)


class NadeHead(nn.Module):
    """NADE over the group's bits with biases set by the context (as in RNN-NADE)."""

    def __init__(self, d_in: int, size: int, cfg: FrameConfig) -> None:
        super().__init__()
        hn = cfg.nade_hidden
        self.to_c = nn.Linear(d_in, hn)  # hidden bias from the context
        self.to_b = nn.Linear(d_in, size)  # visible bias from the context
        self.W = nn.Parameter(torch.randn(size, hn) * 0.05)  # visible j -> hidden
        self.V = nn.Parameter(torch.randn(size, hn) * 0.05)  # hidden -> visible i

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        c, b = self.to_c(u), self.to_b(u)  # (..., Hn), (..., D)
        contrib = v.unsqueeze(-1) * self.W  # (..., D, Hn)
        a = c.unsqueeze(-2) + torch.cumsum(contrib, -2) - contrib  # exclusive prefix sum
        logits = b + (torch.sigmoid(a) * self.V).sum(-1)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None) -> torch.Tensor:
        a, b = self.to_c(u), self.to_b(u)  # (B, Hn), (B, D)
        out = torch.zeros_like(b)
        for i in range(b.shape[-1]):
            p = torch.sigmoid((b[:, i] + (torch.sigmoid(a) * self.V[i]).sum(-1)) / temperature)
            out[:, i] = torch.bernoulli(p, generator=gen)
            a = a + out[:, i : i + 1] * self.W[i]
        return out


HEADS = {"bernoulli": BernoulliHead, "categorical": CategoricalHead, "nade": NadeHead}


class FrameLSTM(nn.Module):
    """Next-frame model: input (frame_t, clock_{t+1}), output a distribution over frame_{t+1}."""

    def __init__(self, cfg: FrameConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = LSTMTrunk(LSTMConfig(cfg.frame_size + cfg.cond_size, cfg.hidden, cfg.layers, cfg.dropout))
        heads, offset = [], 0
        for g in cfg.groups:
            heads.append(HEADS[g.kind](cfg.hidden + offset, g.size, cfg))
            offset += g.size
        self.heads = nn.ModuleList(heads)
        self.bounds = [(sum(g.size for g in cfg.groups[:i]), sum(g.size for g in cfg.groups[: i + 1])) for i in range(len(cfg.groups))]

    def forward(self, frames: torch.Tensor, cond: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """frames (B, T, D) are the frames so far, cond (B, T, C) the clock of the frames to predict."""
        return self.trunk(torch.cat([frames, cond], -1), state)  # (B, T, H)

    def log_prob(self, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Exact log p(target | h) in nats, (B, T)."""
        total = 0
        for head, (a, b) in zip(self.heads, self.bounds):
            total = total + head.log_prob(torch.cat([h, target[..., :a]], -1), target[..., a:b])
        return total

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL in nats over frames, number of frames)."""
        h, _ = self(batch["inputs"], batch["cond"])
        nll = -self.log_prob(h, batch["targets"]) * batch["mask"]
        return nll.sum(), batch["mask"].sum()

    @torch.no_grad()
    def draw(self, h: torch.Tensor, prev: torch.Tensor, temperature: float = 1.0, gen: torch.Generator | None = None) -> torch.Tensor:
        """Sample one frame (B, D) from state h (B, H); held groups repeat ``prev`` exactly."""
        out = torch.zeros_like(prev)
        names = [g.name for g in self.cfg.groups]
        for g, head, (a, b) in zip(self.cfg.groups, self.heads, self.bounds):
            u = torch.cat([h, out[:, :a]], -1)
            if g.onset is None:
                out[:, a:b] = head.sample(u, temperature, gen)
                continue
            onset = out[:, self.bounds[names.index(g.onset)][0]].bool()  # (B,)
            held = prev[:, a:b].clone()
            if g.kind == "categorical":  # holding "nothing" (the start frame) is holding silence
                held[:, 0] = torch.where(held.sum(-1) == 0, 1.0, held[:, 0])
            if onset.any():  # most steps hold: skip the head's work when no row needs it
                fresh = head.sample(u, temperature, gen, allow_silence=~onset)
                held = torch.where(onset.unsqueeze(-1), fresh, held)
            out[:, a:b] = held
        return out
