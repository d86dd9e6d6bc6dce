"""Model registry: ``build_model(kind, config)`` from an explicit name -> class table."""

from __future__ import annotations

from dataclasses import asdict

from ..errors import CheckpointError

__all__ = ["MODEL_KINDS", "build_model", "model_kind", "config_dict"]

MODEL_KINDS = {
    "frame_lstm": ("composer.models.frame", "FrameLSTM", "FrameConfig"),
    "token_lstm": ("composer.models.lstm", "TokenLSTM", "LSTMConfig"),
    "token_transformer": ("composer.models.transformer", "TokenTransformer", "TransformerConfig"),
    "wavenet": ("composer.models.wavenet", "WaveNet", "WaveNetConfig"),
    "singer": ("composer.models.singer", "Singer", "SingerConfig"),
}


def _classes(kind: str):
    import importlib

    if kind not in MODEL_KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    module, cls, cfg = MODEL_KINDS[kind]
    mod = importlib.import_module(module)
    return getattr(mod, cls), getattr(mod, cfg)


def build_model(kind: str, config: dict):
    """A fresh model of ``kind`` from its JSON config; unknown config keys are an error."""
    cls, cfg_cls = _classes(kind)
    try:
        cfg = cfg_cls(**config)
    except TypeError as e:
        raise CheckpointError(f"bad {kind} config: {e}") from None
    return cls(cfg)


def model_kind(model) -> str:
    for kind, (module, cls, _) in MODEL_KINDS.items():
        if type(model).__module__ == module and type(model).__name__ == cls:
            return kind
    raise CheckpointError(f"{type(model).__name__} is not a registered model")


def config_dict(model) -> dict:
    return asdict(model.cfg)
