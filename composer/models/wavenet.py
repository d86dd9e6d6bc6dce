"""WaveNet (van den Oord et al. 2016) with Fast WaveNet generation (Paine et al. 2016).

Raw audio, one µ-law code (256 classes) per sample, predicted by stacks of dilated causal
convolutions with gated activations (``tanh(W_f x) * sigmoid(W_g x)``), residual and skip
connections. Two kinds of conditioning add a bias inside every gate:

- global: an embedding of one id per clip (instrument, speaker);
- local: frame-rate features (a piano roll, or a mel spectrogram for vocoder use) brought to
  the sample rate by a learned upsampler of transposed convolutions (one per factor of ``hop``).

``generate`` offers two exact same-output generators: ``naive`` re-runs the whole receptive
field for every new sample (the textbook method, O(receptive field) per sample) and ``cached``
keeps a queue of past inputs per layer so each sample costs one step per layer (O(layers)).
Both draw each sample from the same uniform number, so for the same weights, seed and
conditioning they produce the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

__all__ = ["WaveNet", "WaveNetConfig", "generate", "mulaw_decode", "mulaw_encode"]


@dataclass
class WaveNetConfig:
    layers: int = 10  # per stack; dilations 1, 2, 4, ..., 2**(layers-1) as in the paper
    stacks: int = 2  # receptive field (kernel-1) * stacks * (2**layers - 1) + 1 = 2,047 samples here
    kernel_size: int = 2  # the paper's filter width
    residual_channels: int = 32
    dilation_channels: int = 32  # channels in each gate half
    skip_channels: int = 128
    quantization: int = 256  # µ-law classes (µ = quantization - 1)
    global_classes: int = 0  # 0: no global conditioning
    global_channels: int = 16
    local_channels: int = 0  # features per frame (0: unconditional)
    cond_channels: int = 64  # width of the upsampled local features
    upsample_scales: list = field(default_factory=lambda: [4, 4, 8])  # product = hop (samples per frame)
    sample_rate: int = 16000

    @property
    def hop(self) -> int:
        return int(np.prod(self.upsample_scales)) if self.upsample_scales else 1

    @property
    def dilations(self) -> list[int]:
        return [2**i for _ in range(self.stacks) for i in range(self.layers)]

    @property
    def receptive_field(self) -> int:
        return (self.kernel_size - 1) * sum(self.dilations) + 1


# --- µ-law companding (ITU-T G.711 curve, continuous form) ---------------------------------------


def mulaw_encode(x: np.ndarray, quantization: int = 256) -> np.ndarray:
    """Float samples in [-1, 1] → integer codes 0 .. quantization-1 (silence is quantization // 2)."""
    mu = quantization - 1
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.floor((y + 1) / 2 * mu + 0.5).astype(np.int64)


def mulaw_decode(codes: np.ndarray, quantization: int = 256) -> np.ndarray:
    """Integer codes → float32 samples in [-1, 1] (the inverse of ``mulaw_encode`` up to quantisation)."""
    mu = quantization - 1
    y = 2 * np.asarray(codes, dtype=np.float64) / mu - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


# --- layers ---------------------------------------------------------------------------------------


class Upsampler(nn.Module):
    """Frame features (B, F, C) → (B, cond_channels, F * hop), one transposed conv per scale."""

    def __init__(self, in_channels: int, channels: int, scales: list[int]) -> None:
        super().__init__()
        self.scales = list(scales)
        self.inp = nn.Conv1d(in_channels, channels, 3, padding=1)  # sees the neighbouring frames
        self.ups = nn.ModuleList(nn.ConvTranspose1d(channels, channels, 2 * s, stride=s, padding=s // 2)
                                 for s in self.scales)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h = self.inp(frames.transpose(1, 2))  # (B, C, F)
        for s, up in zip(self.scales, self.ups):
            n = h.shape[-1] * s
            h = F.leaky_relu(up(h)[..., :n], 0.4)
        return h


class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        R, D, S, Q, K = cfg.residual_channels, cfg.dilation_channels, cfg.skip_channels, cfg.quantization, cfg.kernel_size
        n = len(cfg.dilations)
        self.embed = nn.Embedding(Q, R)  # = a 1x1 conv over the one-hot input
        self.filters = nn.ModuleList(nn.Conv1d(R, 2 * D, K, dilation=d) for d in cfg.dilations)
        self.outs = nn.ModuleList(nn.Conv1d(D, R + S, 1) for _ in cfg.dilations)  # residual | skip
        self.head1 = nn.Conv1d(S, S, 1)
        self.head2 = nn.Conv1d(S, Q, 1)
        if cfg.local_channels:
            self.upsampler = Upsampler(cfg.local_channels, cfg.cond_channels, cfg.upsample_scales)
            self.local_proj = nn.Conv1d(cfg.cond_channels, n * 2 * D, 1, bias=False)  # every layer's share at once
        if cfg.global_classes:
            self.global_embed = nn.Embedding(cfg.global_classes, cfg.global_channels)
            self.global_proj = nn.Linear(cfg.global_channels, n * 2 * D, bias=False)

    @property
    def receptive_field(self) -> int:
        return self.cfg.receptive_field

    def check_conditioning(self, cond, gid, batch: int | None = None) -> None:
        """One clear line when the conditioning does not fit this model's config."""
        cfg = self.cfg
        if cfg.local_channels:
            if cond is None:
                raise InputError(f"this WaveNet is conditioned on {cfg.local_channels} features per frame; none given")
            if cond.ndim != 3 or cond.shape[-1] != cfg.local_channels:
                raise InputError(f"conditioning has shape {tuple(cond.shape)}, this WaveNet needs (batch, frames, {cfg.local_channels})")
        elif cond is not None:
            raise InputError("this WaveNet takes no local conditioning (it was trained unconditionally)")
        if cfg.global_classes:
            if gid is None:
                raise InputError(f"this WaveNet needs a global id (0 .. {cfg.global_classes - 1})")
            if int(gid.min()) < 0 or int(gid.max()) >= cfg.global_classes:
                raise InputError(f"global id out of range: this WaveNet knows ids 0 .. {cfg.global_classes - 1}")
        elif gid is not None:
            raise InputError("this WaveNet takes no global id")

    def conditioning_parts(self, cond: torch.Tensor | None, gid: torch.Tensor | None,
                           n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(upsampled local features (B, cond_channels, n) or None, global gate bias (B, layers * 2D, 1) or None)."""
        up = g = None
        if self.cfg.local_channels:
            up = self.upsampler(cond)
            if up.shape[-1] < n:
                raise InputError(f"conditioning covers {up.shape[-1]} samples, {n} asked for")
            up = up[..., :n]
        if self.cfg.global_classes:
            g = self.global_proj(self.global_embed(gid)).unsqueeze(-1)
        return up, g

    def conditioning(self, cond: torch.Tensor | None, gid: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Every layer's gate bias from the conditioning: (B, layers * 2D, n), (B, layers * 2D, 1) or None."""
        up, g = self.conditioning_parts(cond, gid, n)
        c = None if up is None else self.local_proj(up)
        if g is not None:
            c = g if c is None else c + g
        return c

    def forward(self, inputs: torch.Tensor, cond: torch.Tensor | None = None,
                gid: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, Q, T) for the next sample at each position; ``inputs`` (B, T) are the previous codes.

        ``bias`` (from ``conditioning``) may be given instead of ``cond``/``gid``.
        """
        T = inputs.shape[1]
        if bias is None:
            bias = self.conditioning(cond, gid, T)
        D, K = self.cfg.dilation_channels, self.cfg.kernel_size
        x = self.embed(inputs).transpose(1, 2)  # (B, R, T)
        skips = 0
        for i, (filt, out, d) in enumerate(zip(self.filters, self.outs, self.cfg.dilations)):
            h = filt(F.pad(x, ((K - 1) * d, 0)))  # causal: position t sees t, t-d, ...
            if bias is not None:
                h = h + bias[:, 2 * D * i : 2 * D * (i + 1)]
            a, b = h.chunk(2, dim=1)
            o = out(torch.tanh(a) * torch.sigmoid(b))  # (B, R + S, T)
            x = (x + o[:, : x.shape[1]]) * math.sqrt(0.5)
            skips = skips + o[:, x.shape[1] :]
        return self.head2(F.relu(self.head1(F.relu(skips))))

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL in nats, number of predicted samples): the one training loop's contract."""
        logits = self(batch["inputs"], batch.get("cond"), batch.get("gid"))
        nll = F.cross_entropy(logits.float(), batch["targets"], reduction="none")  # (B, T)
        mask = batch.get("mask")
        if mask is None:
            return nll.sum(), torch.tensor(float(nll.numel()), device=nll.device)
        return (nll * mask).sum(), mask.sum()


# --- generation -----------------------------------------------------------------------------------


def _draw(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """Inverse-CDF sampling from logits (B, Q) with uniforms u (B,): the same u, the same code."""
    if temperature <= 0:
        return logits.argmax(-1)
    cdf = torch.cumsum(torch.softmax(logits.float() / temperature, dim=-1), dim=-1)
    return torch.searchsorted(cdf, u.unsqueeze(-1) * cdf[:, -1:]).squeeze(-1).clamp_(max=logits.shape[-1] - 1)


class _GateBias:
    """Every layer's conditioning gate bias, computed in chunks of ``chunk`` samples as needed.

    Projecting the upsampled features for a whole song at once would take layers * 2D floats per
    sample (gigabytes for a minute of audio); chunks at fixed boundaries keep memory flat and give
    both generators the very same numbers.
    """

    def __init__(self, model: WaveNet, up: torch.Tensor | None, g: torch.Tensor | None, chunk: int) -> None:
        self.model, self.up, self.g, self.chunk = model, up, g, chunk
        self.cache: dict[int, torch.Tensor] = {}

    def _part(self, k: int) -> torch.Tensor:
        """Chunk k as (B, layers * 2D, chunk)."""
        if k not in self.cache:
            if len(self.cache) >= 2:
                del self.cache[min(self.cache)]
            c = self.model.local_proj(self.up[..., k * self.chunk : (k + 1) * self.chunk])
            self.cache[k] = c if self.g is None else c + self.g
        return self.cache[k]

    def window(self, lo: int, hi: int) -> torch.Tensor | None:
        """Bias for positions lo .. hi-1: (B, layers * 2D, hi - lo), or (B, layers * 2D, 1) for global only."""
        if self.up is None:
            return self.g
        C = self.chunk
        parts = [self._part(k)[..., max(lo - k * C, 0) : hi - k * C] for k in range(lo // C, (hi - 1) // C + 1)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class _NaiveStepper:
    """Re-runs the network over the last receptive-field inputs for every sample."""

    def __init__(self, model: WaveNet, first: torch.Tensor, bias: _GateBias) -> None:
        self.model, self.bias, self.rf = model, bias, model.receptive_field
        self.history = first.unsqueeze(1)  # (B, t+1): the silence code, then every generated code

    def step(self, t: int) -> torch.Tensor:
        lo = max(0, t + 1 - self.rf)
        window = self.history[:, lo : t + 1]
        return self.model(window, bias=self.bias.window(lo, t + 1))[:, :, -1]

    def push(self, codes: torch.Tensor) -> None:
        self.history = torch.cat([self.history, codes.unsqueeze(1)], dim=1)

    def prime(self, t: int, codes: torch.Tensor) -> None:
        self.push(codes)  # the window is re-read at every step: nothing to compute ahead


class _CachedStepper:
    """Fast WaveNet: per layer, a ring buffer of its last (kernel-1)*dilation inputs.

    Slot ``t % size`` of layer i's ring holds its input from ``size`` steps ago; reading the
    taps then overwriting that slot with the current input keeps every queue up to date with
    one write per layer per sample.
    """

    def __init__(self, model: WaveNet, first: torch.Tensor, bias: _GateBias) -> None:
        cfg = model.cfg
        self.model, self.bias, self.K = model, bias, cfg.kernel_size
        self.R, self.D = cfg.residual_channels, cfg.dilation_channels
        B, dtype, dev = first.shape[0], model.embed.weight.dtype, first.device
        self.dilations = cfg.dilations
        self.rings = [torch.zeros((self.K - 1) * d, B, self.R, dtype=dtype, device=dev) for d in self.dilations]
        # (2D, R, K) -> (K, R, 2D): tap j multiplies the input from (K-1-j)*d steps back
        self.w = [f.weight.permute(2, 1, 0).contiguous() for f in model.filters]
        self.b = torch.cat([f.bias for f in model.filters])  # folded into each step's gate bias
        # residual halves per layer; the skip halves of all layers become one matmul over the
        # concatenated gate outputs (sum_i z_i W_i = [z_1 .. z_L] [W_1; ..; W_L])
        self.w_res = [o.weight[:self.R, :, 0].t().contiguous() for o in model.outs]  # (D, R)
        self.b_res = [o.bias[:self.R] for o in model.outs]
        self.w_skip = torch.cat([o.weight[self.R:, :, 0].t() for o in model.outs]).contiguous()  # (layers * D, S)
        self.b_skip = sum(o.bias[self.R:] for o in model.outs)
        self.head = [(h.weight[:, :, 0].t().contiguous(), h.bias) for h in (model.head1, model.head2)]  # 1x1 convs as matmuls
        self.current = first
        self.chunk_k, self.chunk = -1, None  # this chunk's bias as (chunk, B, layers * 2D)

    def _bias_at(self, t: int) -> torch.Tensor:
        """(B or 1, layers * 2D): filter biases plus the conditioning at sample t."""
        gb = self.bias
        if gb.up is None:
            return self.b.unsqueeze(0) if gb.g is None else gb.g[..., 0] + self.b
        k = t // gb.chunk
        if k != self.chunk_k:
            self.chunk_k, self.chunk = k, (gb._part(k) + self.b[:, None]).permute(2, 0, 1).contiguous()
        return self.chunk[t - k * gb.chunk]

    def step(self, t: int, head: bool = True) -> torch.Tensor | None:
        m, K, D = self.model, self.K, self.D
        x = m.embed(self.current)  # (B, R)
        bias_t = self._bias_at(t).expand(x.shape[0], -1)  # (B, layers * 2D)
        zs = []
        last = len(self.dilations) - 1
        for i, d in enumerate(self.dilations):
            ring, w = self.rings[i], self.w[i]
            size, p = ring.shape[0], t % ring.shape[0]
            h = torch.addmm(bias_t[:, 2 * D * i : 2 * D * (i + 1)], x, w[K - 1])
            for j in range(K - 1):
                h = h.addmm(ring[(p + j * d) % size], w[j])
            ring[p] = x
            a, b = h.chunk(2, dim=1)
            z = torch.tanh(a) * torch.sigmoid(b)  # (B, D)
            zs.append(z)
            if i < last:  # the last layer's residual output feeds nothing
                x = torch.addmm(self.b_res[i], z, self.w_res[i]).add_(x).mul_(math.sqrt(0.5))
        if not head:
            return None
        skips = torch.addmm(self.b_skip, torch.cat(zs, dim=1), self.w_skip)  # (B, S)
        (w1, b1), (w2, b2) = self.head
        return torch.addmm(b2, torch.addmm(b1, skips.relu_(), w1).relu_(), w2)  # (B, Q)

    def push(self, codes: torch.Tensor) -> None:
        self.current = codes

    def prime(self, t: int, codes: torch.Tensor) -> None:
        self.step(t, head=False)  # fills every layer's queue; the prediction is not needed
        self.current = codes


def generate(model: WaveNet, n: int, *, cond=None, gid=None, batch: int | None = None, temperature: float = 1.0,
             seed: int = 0, method: str = "cached", prime=None, progress: bool = False) -> np.ndarray:
    """Sample ``n`` µ-law codes per clip: (B, n) int64.

    ``cond`` is (B, frames, local_channels) frame features (covering the prime and the n new
    samples), ``gid`` (B,) global ids; B comes from them or from ``batch``. ``prime`` (B, P)
    codes are the clip's given start, continued by the n new samples. ``method`` is ``cached``
    (Fast WaveNet) or ``naive``; both give the same codes for the same seed.
    """
    from tqdm import tqdm

    if method not in ("cached", "naive"):
        raise InputError(f"unknown generation method {method!r} (cached or naive)")
    if n < 1:
        raise InputError(f"number of samples must be at least 1, got {n}")
    dev = model.embed.weight.device
    dtype = model.embed.weight.dtype
    if cond is not None:
        cond = torch.as_tensor(np.asarray(cond), dtype=dtype, device=dev)
        if cond.ndim == 2:
            cond = cond.unsqueeze(0)
    if gid is not None:
        gid = torch.as_tensor(np.atleast_1d(np.asarray(gid)), dtype=torch.long, device=dev)
    model.check_conditioning(cond, gid)
    B = cond.shape[0] if cond is not None else gid.shape[0] if gid is not None else (batch or 1)
    if prime is not None:
        prime = torch.as_tensor(np.atleast_2d(np.asarray(prime)), dtype=torch.long, device=dev)
        if prime.shape[0] == 1 and B > 1:
            prime = prime.expand(B, -1)
        if prime.shape[0] != B or int(prime.min()) < 0 or int(prime.max()) >= model.cfg.quantization:
            raise InputError(f"prime must be (batch {B}, P) codes in 0 .. {model.cfg.quantization - 1}")
    P = 0 if prime is None else prime.shape[1]
    if batch is not None and batch != B:
        raise InputError(f"batch {batch} does not match the conditioning's batch of {B}")
    if gid is not None and gid.shape[0] != B:
        raise InputError(f"{gid.shape[0]} global ids for a batch of {B}")
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        bias = _GateBias(model, *model.conditioning_parts(cond, gid, P + n), chunk=max(4096, model.receptive_field))
        first = torch.full((B,), model.cfg.quantization // 2, dtype=torch.long, device=dev)  # silence before the start
        stepper = (_CachedStepper if method == "cached" else _NaiveStepper)(model, first, bias)
        for t in range(P):
            stepper.prime(t, prime[:, t])
        out = torch.empty(n, B, dtype=torch.long)
        uniforms = torch.rand(n, B, generator=gen)  # drawn up front: one per sample and clip
        on_cpu = dev.type == "cpu"
        for t in tqdm(range(n), disable=not progress, unit="sample", unit_scale=True, desc=f"wavenet ({method})"):
            code = _draw(stepper.step(P + t).cpu(), uniforms[t], temperature)
            out[t] = code
            stepper.push(code if on_cpu else code.to(dev))
    model.train(was_training)
    return out.t().contiguous().numpy()
