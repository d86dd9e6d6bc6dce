"""The WaveNet as an instrument: train one on an audio corpus, render scores with it, judge it.

- ``train_wavenet`` trains through the one training loop (``composer.train``) on a corpus
  folder from `compose corpus audio`; the run folder is an ordinary checkpoint.
- ``render_wavenet`` turns a Score into the conditioning roll and generates its audio with the
  cached (Fast WaveNet) generator.
- ``bits_per_sample`` and ``pitch_accuracy`` are the quality figures: validation NLL in bits per
  sample, and how often the fundamental heard in each note of generated audio is the note's pitch.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputError
from ..score import Score
from .sing_check import yin

__all__ = [
    "SIZES",
    "bits_per_sample",
    "load_wavenet",
    "pitch_accuracy",
    "render_wavenet",
    "render_wavenet_file",
    "train_wavenet",
    "wavenet_config",
]

log = logging.getLogger(__name__)

# Size presets; every one uses the codec's quantization, features and hop.
SIZES = {
    "tiny": {"layers": 6, "stacks": 1, "residual_channels": 16, "dilation_channels": 16, "skip_channels": 32,
             "cond_channels": 16},
    # trains on a shared CPU: receptive field 512 samples (32 ms at 16 kHz, four periods of middle C)
    "small": {"layers": 9, "stacks": 1, "residual_channels": 32, "dilation_channels": 32, "skip_channels": 64,
              "cond_channels": 32},
    "default": {"layers": 10, "stacks": 3, "residual_channels": 64, "dilation_channels": 64, "skip_channels": 256,
                "cond_channels": 128},
}


def _scales(hop: int) -> list[int]:
    """Upsampling factors whose product is ``hop``: as few transposed convs as factors of 8 allow."""
    scales, h = [], hop
    for f in (8, 4, 2, 3, 5, 7):
        while h % f == 0 and h > 1:
            scales.append(f)
            h //= f
    if h != 1:
        raise InputError(f"hop {hop} is not a product of 2, 3, 5 and 7")
    return scales or [1]


def wavenet_config(codec, size: str = "small", **overrides):
    """A WaveNetConfig for ``codec`` (features, quantization, hop) at a named size."""
    from ..models.wavenet import WaveNetConfig

    if size not in SIZES:
        raise InputError(f"unknown WaveNet size {size!r}; known: {', '.join(SIZES)}")
    return WaveNetConfig(**{**SIZES[size], **codec.model_inputs(), "upsample_scales": _scales(codec.hop), **overrides})


def train_wavenet(corpus, out_dir, *, size: str = "small", crop_frames: int = 16, crops_per_epoch: int | None = None,
                  valid_crops: int | None = 256, resume: bool = False, progress: bool = True, **train_options):
    """Train a WaveNet on an audio corpus folder through the one training loop; returns its TrainResult."""
    import torch

    from ..checkpoint import read_config
    from ..corpora.audio import load_audio_corpus
    from ..models import build_model
    from ..models.wavenet import WaveNet
    from ..train import TrainConfig, train

    codec, train_data, valid_data, manifest = load_audio_corpus(corpus, crop_frames=crop_frames,
                                                               crops_per_epoch=crops_per_epoch, valid_crops=valid_crops)
    if not len(train_data):
        raise InputError(f"{corpus}: no training clips")
    if resume:
        saved = read_config(Path(out_dir) / "last")
        if saved["tokenizer"] != codec.to_dict():
            raise InputError(f"{corpus} does not match the run in {out_dir}: its audio and conditioning are "
                             f"{codec.to_dict()}, the run's {saved['tokenizer']}")
        model = build_model(saved["model"]["kind"], saved["model"]["config"])
    else:
        torch.manual_seed(train_options.get("seed") or 0)
        model = WaveNet(wavenet_config(codec, size))
    defaults = {"epochs": 20, "batch_size": 8, "lr": 2e-3, "warmup_steps": 200, "patience": 4, "grad_clip": 1.0}
    cfg = TrainConfig(**{**defaults, **{k: v for k, v in train_options.items() if v is not None}})
    log.info("WaveNet %s: %d parameters, receptive field %d samples (%.0f ms); %.0f s of training audio, %.0f s held out",
             size, sum(p.numel() for p in model.parameters()), model.receptive_field,
             1000 * model.receptive_field / codec.sample_rate, train_data.seconds, valid_data.seconds)
    return train(model, codec, train_data, valid_data, cfg, out_dir, style="wavenet", resume=resume, unit="sample",
                 extra={"audio_corpus": {"path": str(corpus), "seconds": manifest["seconds"],
                                         "crop_frames": crop_frames}}, progress=progress)


def load_wavenet(checkpoint, device: str = "cpu"):
    """(model, codec) of a WaveNet checkpoint; a clear error for any other kind of checkpoint."""
    from ..checkpoint import load_checkpoint, read_config

    cfg = read_config(checkpoint)
    if cfg["model"]["kind"] != "wavenet":
        raise CheckpointError(f"{checkpoint} holds a {cfg['model']['kind']} model, not a WaveNet")
    ck = load_checkpoint(checkpoint, device)
    return ck.model, ck.tokenizer


def render_wavenet(score: Score, checkpoint, *, seed: int = 0, temperature: float = 1.0, max_seconds: float | None = None,
                   device: str = "cpu", progress: bool = False) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) of ``score`` played by the WaveNet in ``checkpoint``."""
    model, codec = load_wavenet(checkpoint, device)
    if codec.conditioning == "none":
        raise InputError(f"{checkpoint} is an unconditional WaveNet: it cannot play a score")
    if not score.n_notes:
        raise InputError("the score has no notes to play")
    roll = codec.encode(score)
    if max_seconds:
        roll = roll[: max(1, int(max_seconds * codec.frame_rate))]
    n = len(roll) * codec.hop
    codes = generate_codes(model, n, roll[None], seed=seed, temperature=temperature, progress=progress)
    return codec.decode_audio(codes[0]), codec.sample_rate


def render_wavenet_file(score: Score, checkpoint, path, *, sample_rate: int | None = None, **kw) -> np.ndarray:
    """Render with ``render_wavenet`` and write an audio file (atomically), resampled when asked."""
    from ..io.audio import write_audio

    audio, sr = render_wavenet(score, checkpoint, **kw)
    if sample_rate and sample_rate != sr:
        from ..corpora.audio import resample

        audio, sr = resample(audio, sr, sample_rate), int(sample_rate)
    write_audio(path, audio, sr)
    return audio


def generate_codes(model, n: int, cond, **kw) -> np.ndarray:
    from ..models.wavenet import generate

    return generate(model, n, cond=cond, method="cached", **kw)


def bits_per_sample(model, data, batch_size: int = 8, device: str = "cpu") -> float:
    """Mean NLL of ``data`` (an AudioData) in bits per sample."""
    import torch

    from ..train import TrainConfig, evaluate_nll

    return evaluate_nll(model, data, TrainConfig(batch_size=batch_size), torch.device(device)) / math.log(2)


def pitch_accuracy(audio: np.ndarray, notes: list[tuple[float, float, int]], sr: int,
                   tolerance: float = 0.5) -> dict:
    """Share of notes whose heard fundamental is their pitch (within ``tolerance`` semitones; octave errors apart).

    ``notes`` are (start s, end s, MIDI pitch) of notes that sound alone (monophonic stretches);
    the fundamental is estimated over the middle of each note.
    """
    right = octave = judged = 0
    for start, end, pitch in notes:
        a, b = int((start + 0.25 * (end - start)) * sr), int((start + 0.75 * (end - start)) * sr)
        if b - a < int(0.03 * sr) or b > len(audio):
            continue
        f0, _ = yin(audio[a : min(b, a + int(0.1 * sr))], sr, hop=0.01, fmin=50.0, fmax=2000.0)
        f = float(np.median(f0[f0 > 0])) if (f0 > 0).any() else 0.0
        judged += 1
        if f <= 0:
            continue
        cents = 12 * math.log2(f / (440.0 * 2 ** ((pitch - 69) / 12)))
        if abs(cents) <= tolerance:
            right += 1
        elif abs(cents - 12 * round(cents / 12)) <= tolerance:
            octave += 1
    return {"notes": judged, "correct": right, "octave_errors": octave,
            "accuracy": right / judged if judged else float("nan")}
