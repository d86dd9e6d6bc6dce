"""NPSS (Blaauw & Bonada 2017): an autoregressive model of WORLD feature frames for singing.

Each 5 ms frame of vocoder features (mel-cepstrum and band aperiodicity, normalised) is
predicted from the frames before it by dilated causal convolutions with gated activations, as
in WaveNet, conditioned at every frame on the phoneme score (the phone, its neighbours, the
position inside it, its length) and on the F0 contour, which comes from a separate pitch model
(``composer.synth.sing_f0``) as in the paper. The output is a diagonal Gaussian per frame (the
paper uses a constrained mixture); training adds noise to the teacher-forced inputs so the
model learns to correct its own drift, and generation takes the mean of each frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = ["SIZES", "Singer", "SingerConfig", "SingerVoice"]

N_COND = 4  # position in the phone, log phone length, normalised log F0, voiced


@dataclass
class SingerConfig:
    n_phones: int = 40  # phone vocabulary (pause first), from the feature codec
    feat_dim: int = 62  # mel-cepstrum (60) + band aperiodicity (2 bands at 22.05 kHz)
    phone_dim: int = 16  # embedding of each of (previous, current, next) phone
    channels: int = 64  # residual channels
    skip_channels: int = 128
    dilations: list = field(default_factory=lambda: [1, 2, 4, 8, 16, 1, 2, 4, 8, 16])  # 63 frames seen (315 ms)
    cond_kernel: int = 5  # the labels are known ahead: a centred convolution sees 2 frames each side
    input_noise: float = 1.0  # std of the noise on teacher-forced inputs (normalised units): 0.4 gave 6.0 dB MCD, 1.0 4.9 dB
    min_log_scale: float = -4.0

    @property
    def receptive_field(self) -> int:
        return sum(self.dilations) + 1


SIZES = {
    "tiny": {"channels": 16, "skip_channels": 32, "dilations": [1, 2, 4, 1, 2, 4], "phone_dim": 8},
    "small": {"channels": 48, "skip_channels": 96},
    "default": {},
}


class Singer(nn.Module):
    def __init__(self, cfg: SingerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        C = cfg.channels
        self.phone_emb = nn.Embedding(cfg.n_phones, cfg.phone_dim)
        self.cond_in = nn.Conv1d(3 * cfg.phone_dim + N_COND, C, cfg.cond_kernel, padding=cfg.cond_kernel // 2)
        self.inp = nn.Conv1d(cfg.feat_dim, C, 1)
        self.dil = nn.ModuleList(nn.Conv1d(C, 2 * C, 2, dilation=d) for d in cfg.dilations)
        self.cond_proj = nn.ModuleList(nn.Conv1d(C, 2 * C, 1) for _ in cfg.dilations)
        self.res = nn.ModuleList(nn.Conv1d(C, C, 1) for _ in cfg.dilations)
        self.skip = nn.ModuleList(nn.Conv1d(C, cfg.skip_channels, 1) for _ in cfg.dilations)
        self.out1 = nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1)
        self.out2 = nn.Conv1d(cfg.skip_channels, 2 * cfg.feat_dim, 1)

    def condition(self, phones: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, T, 3) phone ids + (B, T, N_COND) floats -> (B, C, T) conditioning."""
        e = self.phone_emb(phones).flatten(2)  # (B, T, 3 * phone_dim)
        return torch.tanh(self.cond_in(torch.cat([e, cond], dim=-1).transpose(1, 2)))

    def forward(self, prev: torch.Tensor, phones: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """prev (B, T, D): the frame before each target frame -> (mean, log_scale), each (B, T, D)."""
        h = self.inp(prev.transpose(1, 2))  # (B, C, T)
        c = self.condition(phones, cond)
        skips = 0
        for dil, cp, res, skip, d in zip(self.dil, self.cond_proj, self.res, self.skip, self.cfg.dilations):
            z = dil(nn.functional.pad(h, (d, 0))) + cp(c)  # causal: frame t sees t and t - d
            a, b = z.chunk(2, dim=1)
            g = torch.tanh(a) * torch.sigmoid(b)
            h = h + res(g)
            skips = skips + skip(g)
        out = self.out2(torch.relu(self.out1(torch.relu(skips)))).transpose(1, 2)  # (B, T, 2D)
        mean, log_scale = out.chunk(2, dim=-1)
        return mean, log_scale.clamp(min=self.cfg.min_log_scale)

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed Gaussian NLL in nats over frames and dims, number of frames): the train loop's contract."""
        prev = batch["inputs"]
        if self.training and self.cfg.input_noise:
            prev = prev + self.cfg.input_noise * torch.randn_like(prev)
        mean, log_scale = self(prev, batch["phones"], batch["cond"])
        x = batch["targets"]
        nll = 0.5 * ((x - mean) * torch.exp(-log_scale)) ** 2 + log_scale + 0.5 * np.log(2 * np.pi)
        frame = nll.float().sum(-1)  # (B, T)
        mask = batch["mask"]
        return (frame * mask).sum(), mask.sum()

    @torch.no_grad()
    def generate(self, phones: torch.Tensor, cond: torch.Tensor, progress: bool = False) -> torch.Tensor:
        """Frames (T, D) for one utterance, one at a time, each from the mean of its Gaussian.

        Each layer keeps a queue of its last ``d`` inputs (Fast WaveNet), so a frame costs one
        step per layer whatever the receptive field.
        """
        from tqdm import tqdm

        cfg = self.cfg
        T = phones.shape[0]
        c = self.condition(phones[None], cond[None])[0]  # (C, T)
        cbias = [cp(c[None])[0] for cp in self.cond_proj]  # each (2C, T)
        w_inp, b_inp = self.inp.weight[:, :, 0], self.inp.bias
        layers = [(dil.weight[:, :, 0], dil.weight[:, :, 1], dil.bias, res.weight[:, :, 0], res.bias,
                   skip.weight[:, :, 0], skip.bias) for dil, res, skip in zip(self.dil, self.res, self.skip)]
        queues = [torch.zeros(d, cfg.channels) for d in cfg.dilations]
        w1, b1 = self.out1.weight[:, :, 0], self.out1.bias
        w2, b2 = self.out2.weight[:, :, 0], self.out2.bias
        out = torch.zeros(T, cfg.feat_dim)
        x = torch.zeros(cfg.feat_dim)
        for t in tqdm(range(T), desc="frames", unit="frame", disable=not progress, leave=False, mininterval=0.5):
            h = w_inp @ x + b_inp
            skips = torch.zeros(cfg.skip_channels)
            for k, ((wa, wb, bd, wr, br, ws, bs), d) in enumerate(zip(layers, cfg.dilations)):
                q = queues[k]
                z = wa @ q[t % d] + wb @ h + bd + cbias[k][:, t]
                q[t % d] = h
                a, b = z.chunk(2)
                g = torch.tanh(a) * torch.sigmoid(b)
                h = h + wr @ g + br
                skips = skips + ws @ g + bs
            o = w2 @ torch.relu(w1 @ torch.relu(skips) + b1) + b2
            x = o[: cfg.feat_dim]
            out[t] = x
        return out


class SingerVoice:
    """A trained Singer + its feature codec, with the default voice's ``render`` interface."""

    name = "npss"

    def __init__(self, model: Singer, codec) -> None:
        self.model, self.codec = model.eval(), codec
        self.sample_rate, self.fft_size = codec.sample_rate, codec.fft_size

    @classmethod
    def load(cls, path) -> SingerVoice:
        from ..checkpoint import load_checkpoint
        from ..errors import CheckpointError

        ck = load_checkpoint(path)
        if not isinstance(ck.model, Singer):
            raise CheckpointError(f"{path}: a {ck.config['model']['kind']} checkpoint, not a singer (NPSS) model")
        return cls(ck.model, ck.tokenizer)

    def render(self, score, f0: np.ndarray, progress: bool = False):
        from ..synth.world import WorldFeatures

        torch.set_num_threads(1)  # a step is a few small matrix products: threads only add overhead
        phones, cond, voiced = self.codec.conditioning(score, f0)
        frames = self.model.generate(torch.from_numpy(phones), torch.from_numpy(cond), progress=progress).numpy()
        mcep, bap = self.codec.decode(frames)
        return WorldFeatures(np.where(voiced, f0, 0.0), mcep, bap, self.sample_rate, self.fft_size)
