"""Train the NPSS singer (composer/models/singer.py) on a singing corpus through the one training loop."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

__all__ = ["evaluate_singer", "train_singer"]


def _split(utts: list, seed: int):
    from ..data import split_indices

    tr, va = split_indices(len(utts), 0.1, seed)
    return [utts[i] for i in tr], [utts[i] for i in va]


def train_singer(corpus: str | Path, out: str | Path, *, size: str = "default", seq_len: int = 200,
                 resume: bool = False, progress: bool = True, model_options: dict | None = None, **train_options):
    """Fit the feature codec on ``corpus``, build a Singer of ``size`` and train it; returns TrainResult.

    ``model_options`` override SingerConfig fields (e.g. ``input_noise``); ``train_options``
    override TrainConfig fields (epochs, batch_size, lr, max_steps, seed, ...).
    Songs, not frames, are split 90/10 for validation, so validation songs are never heard.
    """
    from ..errors import InputError
    from ..models.singer import SIZES, Singer, SingerConfig
    from ..train import TrainConfig, train
    from .sing_corpus import FeatureCodec, SingerData, load_corpus

    if size not in SIZES:
        raise InputError(f"unknown singer size {size!r}; known: {', '.join(SIZES)}")
    codec = None
    if resume and (Path(out) / "config.json").exists():
        from ..checkpoint import read_config

        codec = FeatureCodec.from_dict(read_config(out)["tokenizer"])
    utts, codec = load_corpus(corpus, codec, progress=progress)
    cfg = replace(TrainConfig(epochs=30, batch_size=16, lr=2e-3, patience=5, warmup_steps=100),
                  **{k: v for k, v in train_options.items() if v is not None})
    train_utts, valid_utts = _split(utts, cfg.seed)
    model = Singer(SingerConfig(**{**codec.model_inputs(), **SIZES[size], **(model_options or {})}))
    return train(model, codec, SingerData(train_utts, seq_len), SingerData(valid_utts, seq_len), cfg, out,
                 style="sing", resume=resume, progress=progress, unit="frame")


def evaluate_singer(checkpoint: str | Path, corpus: str | Path, *, seed: int = 0, max_songs: int = 4,
                    progress: bool = False) -> dict:
    """Validation NLL (nats per frame) and mel-cepstral distortion (dB) of generated vs analysed
    features on the held-out songs (generated from their labels and analysed F0)."""
    import numpy as np
    import torch

    from ..models.singer import SingerVoice
    from ..train import TrainConfig, evaluate_nll
    from .sing_corpus import SingerData, _interp_f0, load_corpus
    from .world import mel_cepstral_distortion

    voice = SingerVoice.load(checkpoint)
    utts, _ = load_corpus(corpus, voice.codec, progress=progress)
    _, valid = _split(utts, seed)
    nll = evaluate_nll(voice.model, SingerData(valid, 200), TrainConfig(batch_size=8), torch.device("cpu"))
    mcds, frames = [], 0
    for u in valid[:max_songs]:
        feat = voice.render(u.score, _interp_f0(u.f0), progress=progress)
        voiced = u.f0 > 0
        mcds.append(mel_cepstral_distortion(feat.mcep, u.mcep, voiced))
        frames += len(u.f0)
    return {"valid_nll": float(nll), "mcd_db": float(np.mean(mcds)), "songs": len(valid), "mcd_songs": len(mcds),
            "frames": frames}
