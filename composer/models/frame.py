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

from .lstm import LSTMConfig, LSTMTrunk

__all__ = ["GroupSpec", "FrameConfig", "FrameLSTM"]


@dataclass
class GroupSpec:
    name: str
    kind: str  # bernoulli | categorical | nade | pattern
    size: int
    onset: str | None = None  # name of the 1-bit group that, when 0, makes this group a hold
    patterns: list | None = None  # pattern kind: the bits that are on in each allowed pattern


@dataclass
class FrameConfig:
    groups: list[GroupSpec] = field(default_factory=list)
    cond_size: int = 0  # clock features read beside the frame
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    nade_hidden: int = 32
    # Lookback (after Magenta's Lookback RNN): the model also reads these groups' bits from
    # ``lookback`` steps ago, e.g. one 12-bar chorus, so keeping a form is a copy, not a feat of memory.
    lookback: int = 0
    lookback_groups: list[str] = field(default_factory=list)

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


class PatternHead(nn.Module):
    """A softmax over whole bit patterns (e.g. the corpus's chord voicings): a chord is chosen as
    one voicing, so it can never be half of one chord and half of another."""

    def __init__(self, d_in: int, size: int, cfg: FrameConfig, patterns: list) -> None:
        super().__init__()
        table = torch.zeros(len(patterns), size)
        for i, p in enumerate(patterns):
            table[i, p] = 1
        self.register_buffer("table", table, persistent=False)  # (P, D)
        self.proj = nn.Linear(d_in, len(patterns))

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        match = (v.unsqueeze(-2) == self.table).all(-1)  # (..., P): the pattern v is, if any
        lp = F.log_softmax(self.proj(u), -1)
        return torch.where(match.any(-1), (lp * match).sum(-1), torch.full_like(lp[..., 0], -1e4))

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None) -> torch.Tensor:
        logits = self.proj(u) / temperature
        if allow_silence is not None:  # pattern 0 is the empty one: not a choice at an onset
            logits[:, 0] = torch.where(allow_silence, logits[:, 0], torch.finfo(logits.dtype).min)
        idx = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)[:, 0]
        return self.table[idx]


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


HEADS = {"bernoulli": BernoulliHead, "categorical": CategoricalHead, "nade": NadeHead, "pattern": PatternHead}


class FrameLSTM(nn.Module):
    """Next-frame model: input (frame_t, clock_{t+1}, lookback), output a distribution over frame_{t+1}."""

    def __init__(self, cfg: FrameConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.bounds = [(sum(g.size for g in cfg.groups[:i]), sum(g.size for g in cfg.groups[: i + 1])) for i in range(len(cfg.groups))]
        names = [g.name for g in cfg.groups]
        look = [i for n in cfg.lookback_groups for i in range(*self.bounds[names.index(n)])] if cfg.lookback else []
        self.register_buffer("look_idx", torch.tensor(look, dtype=torch.long), persistent=False)
        self.trunk = LSTMTrunk(LSTMConfig(cfg.frame_size + cfg.cond_size + len(look), cfg.hidden, cfg.layers, cfg.dropout))
        heads, offset = [], 0
        for g in cfg.groups:
            extra = (g.patterns,) if g.kind == "pattern" else ()
            heads.append(HEADS[g.kind](cfg.hidden + offset, g.size, cfg, *extra))
            offset += g.size
        self.heads = nn.ModuleList(heads)

    def forward(self, frames: torch.Tensor, cond: torch.Tensor, state=None) -> tuple[torch.Tensor, tuple]:
        """frames (B, T, D) are the frames so far (input i holds frame i-1), cond (B, T, C) the clock of
        the frames to predict. The state is (LSTM state, the last lookback-1 inputs' lookback bits)."""
        lstm_state, history = state if state is not None else (None, None)
        feats = [frames, cond]
        if self.cfg.lookback:
            sel = frames[..., self.look_idx]  # (B, T, K)
            if history is None:
                history = sel.new_zeros(sel.shape[0], self.cfg.lookback - 1, sel.shape[-1])
            both = torch.cat([history, sel], 1)  # (B, L-1+T, K); both[i] is input i-L+1, i.e. frame i-L
            feats.append(both[:, : sel.shape[1]])
            history = both[:, both.shape[1] - (self.cfg.lookback - 1):]
        h, lstm_state = self.trunk(torch.cat(feats, -1), lstm_state)  # (B, T, H)
        return h, (lstm_state, history)

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
