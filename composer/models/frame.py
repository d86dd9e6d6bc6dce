"""Frame models: an LSTM over multi-hot frames with one output distribution per frame group.

The frame factorises over the tokenizer's groups in order (chord onset, chord, melody onset,
melody); each group's head sees the LSTM state plus the groups already drawn in this frame,
so the melody knows the chord it plays over. Group kinds:

- ``bernoulli``: independent sigmoid bits (Eck & Schmidhuber 2002; Bai et al. 2018 baseline);
- ``categorical``: one-of-N softmax (a monophonic line, index 0 = silence);
- ``nade``: autoregressive bits (Boulanger-Lewandowski et al. 2012's NADE), so a chord is drawn
  whole rather than as bits that may mix two chords at a point where the form branches;
- ``pattern``: a softmax over whole bit patterns (a corpus's chord voicings);
- ``pitchconv``: bits drawn low to high by a causal dilated CNN over the keys (a WaveNet over
  pitch), conditioned at each key on the LSTM state and on the past frames around that key,
  so voice leading ("a note near a note just played") is learnt once for every key.

With one 88-bit group this gives the piano-roll benchmark models: ``bernoulli`` is the
independent-sigmoid LSTM (Bai et al. 2018), ``nade`` RNN-NADE with an LSTM trunk, ``pitchconv``
the LSTM + pitch-CNN model of the ``poly`` style.

The log-likelihood is exact and normalised, so the NLL per frame is a comparable figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import CheckpointError
from .lstm import LSTMConfig, LSTMTrunk

__all__ = ["GroupSpec", "FrameConfig", "FrameLSTM", "HEADS"]


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
    # pitchconv heads: channels, dilated layers (receptive field below a key: conv_below + 2^layers - 1
    # keys), the keys below read by the first causal conv, the keys either side of the previous
    # frame read, and LSTM features per key.
    conv_channels: int = 32
    conv_layers: int = 6
    conv_below: int = 12
    conv_window: int = 12
    conv_key_features: int = 8
    conv_history: int = 1  # past frames the pitch CNN reads around each key (1: the previous frame)
    # Initial logit of every bernoulli/nade/pitchconv bit. Sparse rolls want about -3 (4 keys of 88
    # on): starting at 0 (p = 0.5), the first steps' large, uniform "turn every key off" gradient
    # drives the LSTM into saturation, where it stays as a constant bias and learns nothing.
    bit_bias: float = 0.0

    def __post_init__(self) -> None:
        self.groups = [g if isinstance(g, GroupSpec) else GroupSpec(**g) for g in self.groups]

    @property
    def frame_size(self) -> int:
        return sum(g.size for g in self.groups)


class BernoulliHead(nn.Module):
    def __init__(self, d_in: int, size: int, cfg: FrameConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, size)
        nn.init.constant_(self.proj.bias, cfg.bit_bias)

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.proj(u), v, reduction="none").sum(-1)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None,
               adjust=None) -> torch.Tensor:
        logits = self.proj(u) / temperature
        if adjust is not None:  # the sampler's constraints (composer.constraints)
            logits = adjust(logits)
        return torch.bernoulli(torch.sigmoid(logits), generator=gen)


class CategoricalHead(nn.Module):
    def __init__(self, d_in: int, size: int, cfg: FrameConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, size)

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (F.log_softmax(self.proj(u), -1) * v).sum(-1)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None,
               adjust=None) -> torch.Tensor:
        logits = self.proj(u) / temperature  # (B, N)
        if adjust is not None:  # the sampler's constraints (composer.constraints)
            logits = adjust(logits)
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

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None,
               adjust=None) -> torch.Tensor:
        logits = self.proj(u) / temperature
        if adjust is not None:  # the sampler's constraints (composer.constraints)
            logits = adjust(logits)
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
        nn.init.constant_(self.to_b.bias, cfg.bit_bias)
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


class PitchConvHead(nn.Module):
    """Bits drawn low to high by a causal dilated CNN over the keys (a WaveNet over pitch).

    Key i sees the bits already drawn below it (``conv_below`` keys through the first conv, far
    more through the dilated stack), the last ``conv_history`` frames within ``conv_window`` semitones,
    its own features from the LSTM state and a learnt key embedding. The convolutions share
    their weights across keys, so what a chorale does near one note is learnt for every note.
    The log-likelihood is exact (a product of conditionals in a fixed order); sampling draws
    the keys in that order.
    """

    def __init__(self, d_in: int, size: int, cfg: FrameConfig, start: int) -> None:
        super().__init__()
        H, C, k, W = cfg.hidden, cfg.conv_channels, cfg.conv_key_features, cfg.conv_window
        self.size, self.hidden, self.below_n = size, H, cfg.conv_below
        # where each past frame's bits of this group lie in u: [h, frame t-1, ..., frame t-K, ...]
        self.prev_at = [H + j * cfg.frame_size + start for j in range(cfg.conv_history)]
        self.keys = nn.Linear(H, size * k)  # LSTM state -> k features per key
        self.key_emb = nn.Parameter(torch.zeros(k, size))  # which key this is
        self.prev = nn.Conv1d(cfg.conv_history, C, 2 * W + 1, padding=W)  # past frames around each key
        self.cond = nn.Conv1d(k, C, 1)
        self.below = nn.Conv1d(1, C, cfg.conv_below)  # the keys just below, in this frame
        self.dilated = nn.ModuleList(nn.Conv1d(C, 2 * C, 2, dilation=2**i) for i in range(cfg.conv_layers))
        self.cond_in = nn.ModuleList(nn.Conv1d(C, 2 * C, 1) for _ in range(cfg.conv_layers))
        self.res = nn.ModuleList(nn.Conv1d(C, C, 1) for _ in range(cfg.conv_layers))
        self.out = nn.Sequential(nn.ReLU(), nn.Conv1d(C, C, 1), nn.ReLU(), nn.Conv1d(C, 1, 1))
        nn.init.constant_(self.out[-1].bias, cfg.bit_bias)

    def _context(self, u: torch.Tensor) -> torch.Tensor:
        """(N, C, D): everything but this frame's own bits."""
        keys = self.keys(u[:, : self.hidden]).view(len(u), -1, self.size) + self.key_emb  # (N, k, D)
        prev = torch.stack([u[:, a : a + self.size] for a in self.prev_at], 1)  # (N, K, D)
        return self.cond(keys) + self.prev(prev)

    def _logits(self, c: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """(N, D) logits of each key given the context and the bits below it in ``v`` (N, D)."""
        z = self.below(F.pad(v.unsqueeze(1), (self.below_n, 0)))[..., : self.size]  # key i sees v[i-B:i]
        for conv, cin, res in zip(self.dilated, self.cond_in, self.res):
            a = conv(F.pad(z, (conv.dilation[0], 0))) + cin(c)  # causal: key i sees z[i-d], z[i]
            ga, gb = a.chunk(2, 1)
            z = z + res(torch.tanh(ga) * torch.sigmoid(gb))
        return self.out(z + c)[:, 0]

    def log_prob(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        lead = v.shape[:-1]
        u, v = u.reshape(-1, u.shape[-1]), v.reshape(-1, v.shape[-1])
        logits = self._logits(self._context(u), v)
        return -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1).view(lead)

    def sample(self, u: torch.Tensor, temperature: float, gen: torch.Generator | None, allow_silence=None) -> torch.Tensor:
        c = self._context(u)
        out = torch.zeros(len(u), self.size, dtype=u.dtype, device=u.device)
        for i in range(self.size):  # causal: bits above i do not change key i's logit
            p = torch.sigmoid(self._logits(c, out)[:, i] / temperature)
            out[:, i] = torch.bernoulli(p, generator=gen)
        return out


HEADS = {"bernoulli": BernoulliHead, "categorical": CategoricalHead, "nade": NadeHead, "pattern": PatternHead,
         "pitchconv": PitchConvHead}


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
        unknown = sorted({g.kind for g in cfg.groups} - set(HEADS))
        if unknown:
            raise CheckpointError(f"unknown frame group kind {unknown[0]!r}; known: {', '.join(HEADS)}")
        # pitchconv heads read the past frames themselves: h then carries the last conv_history inputs too.
        self.sees_input = any(g.kind == "pitchconv" for g in cfg.groups)
        base = cfg.hidden + (cfg.frame_size * cfg.conv_history if self.sees_input else 0)
        heads, offset = [], 0
        for g, (a, _) in zip(cfg.groups, self.bounds):
            extra = (g.patterns,) if g.kind == "pattern" else (a,) if g.kind == "pitchconv" else ()
            heads.append(HEADS[g.kind](base + offset, g.size, cfg, *extra))
            offset += g.size
        self.heads = nn.ModuleList(heads)

    def forward(self, frames: torch.Tensor, cond: torch.Tensor, state=None) -> tuple[torch.Tensor, tuple]:
        """frames (B, T, D) are the frames so far (input i holds frame i-1), cond (B, T, C) the clock of
        the frames to predict. The state is (LSTM state, the last lookback-1 inputs' lookback bits), plus
        the last conv_history-1 inputs when a pitch CNN reads more than the previous frame."""
        lstm_state, history, past = (*state, None)[:3] if state is not None else (None, None, None)
        feats = [frames, cond]
        if self.cfg.lookback:
            sel = frames[..., self.look_idx]  # (B, T, K)
            if history is None:
                history = sel.new_zeros(sel.shape[0], self.cfg.lookback - 1, sel.shape[-1])
            both = torch.cat([history, sel], 1)  # (B, L-1+T, K); both[i] is input i-L+1, i.e. frame i-L
            feats.append(both[:, : sel.shape[1]])
            history = both[:, both.shape[1] - (self.cfg.lookback - 1):]
        h, lstm_state = self.trunk(torch.cat(feats, -1), lstm_state)  # (B, T, H)
        if not self.sees_input:
            return h, (lstm_state, history)
        K = self.cfg.conv_history
        if K == 1:
            return torch.cat([h, frames], -1), (lstm_state, history)  # (B, T, H + D)
        if past is None:
            past = frames.new_zeros(frames.shape[0], K - 1, frames.shape[-1])  # before the start: silence
        buf = torch.cat([past, frames], 1)  # (B, K-1+T, D); buf[K-1+t] is input t
        T = frames.shape[1]
        h = torch.cat([h] + [buf[:, K - 1 - j : K - 1 - j + T] for j in range(K)], -1)  # (B, T, H + K*D)
        return h, (lstm_state, history, buf[:, buf.shape[1] - (K - 1):])

    def log_prob(self, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Exact log p(target | h) in nats, (B, T)."""
        total = 0
        for head, (a, b) in zip(self.heads, self.bounds):
            total = total + head.log_prob(torch.cat([h, target[..., :a]], -1), target[..., a:b])
        return total

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL in nats over frames, number of frames). Padding is cut before the LSTM and
        the heads only see scored frames, so a batch of short pieces in long windows is cheap."""
        mask = batch["mask"]
        steps = torch.nonzero(mask.any(0))
        T = int(steps.max()) + 1 if len(steps) else 0
        h, _ = self(batch["inputs"][:, :T], batch["cond"][:, :T])
        keep = mask[:, :T] > 0
        nll = -self.log_prob(h[keep], batch["targets"][:, :T][keep]) * mask[:, :T][keep]
        return nll.sum(), mask.sum()

    @torch.no_grad()
    def draw(self, h: torch.Tensor, prev: torch.Tensor, temperature: float = 1.0, gen: torch.Generator | None = None,
             adjust=None) -> torch.Tensor:
        """Sample one frame (B, D) from state h (B, H); held groups repeat ``prev`` exactly.

        ``adjust(group name, logits, rows drawn or None) -> logits``, if given, changes the logits
        of the bernoulli, categorical and pattern groups after temperature (the sampler's
        constraints); for a group with an onset the rows are those drawing a fresh value.
        """
        out = torch.zeros_like(prev)
        names = [g.name for g in self.cfg.groups]
        for g, head, (a, b) in zip(self.cfg.groups, self.heads, self.bounds):
            u = torch.cat([h, out[:, :a]], -1)
            hook = {}
            if adjust is not None and g.kind in ("bernoulli", "categorical", "pattern"):
                rows = None if g.onset is None else out[:, self.bounds[names.index(g.onset)][0]].bool()
                hook = {"adjust": lambda lg, n=g.name, r=rows: adjust(n, lg, r)}
            if g.onset is None:
                out[:, a:b] = head.sample(u, temperature, gen, **hook)
                continue
            onset = out[:, self.bounds[names.index(g.onset)][0]].bool()  # (B,)
            held = prev[:, a:b].clone()
            if g.kind == "categorical":  # holding "nothing" (the start frame) is holding silence
                held[:, 0] = torch.where(held.sum(-1) == 0, 1.0, held[:, 0])
            if onset.any():  # most steps hold: skip the head's work when no row needs it
                fresh = head.sample(u, temperature, gen, allow_silence=~onset, **hook)
                held = torch.where(onset.unsqueeze(-1), fresh, held)
            out[:, a:b] = held
        return out
