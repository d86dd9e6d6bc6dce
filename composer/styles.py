"""The style registry: a style names its corpus, tokenizer, model and sampling defaults.

Nothing else in composer branches on a style's name; adding a style is adding an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import StyleError

__all__ = ["Style", "STYLES", "get_style"]


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    make_tokenizer: Callable[[], object]
    model_kind: str
    sizes: dict  # size name -> model config overrides ("tiny" for tests, "default" for real runs)
    build_corpus: Callable[[int], list]  # seed -> the built-in corpus as Scores
    train_defaults: dict = field(default_factory=dict)  # TrainConfig overrides
    bars: int = 36  # default length of a generation
    form_bars: int = 12  # what --choruses counts in
    tempo: float = 120.0
    temperature: float = 1.0
    swing: float = 0.0
    keyed: bool = True  # the tokenizer works in C and the sampler's output moves to --key
    top_k: int = 0  # token styles: sampling filters and a length cap
    top_p: float = 1.0
    max_tokens: int = 4096
    seq_len: int = 576  # training window, in frames or tokens
    pretrained: str | None = None  # folder under composer/pretrained

    def model_config(self, tokenizer, size: str = "default") -> dict:
        """The model config: shapes from the tokenizer, capacity from the size preset."""
        if size not in self.sizes:
            raise StyleError(f"style {self.name!r} has no size {size!r}; sizes: {', '.join(self.sizes)}")
        return {**tokenizer.model_inputs(), **self.sizes[size]}


def _pianoroll():
    from .tokenizers.pianoroll import PianoRollTokenizer

    return PianoRollTokenizer()


def _blues_corpus(seed: int) -> list:
    from .corpora.blues import generate_blues

    return generate_blues(n_songs=480, choruses=6, seed=seed)


STYLES: dict[str, Style] = {
    "blues": Style(
        name="blues",
        description="12-bar bebop blues, chords + blues-scale melody + walking bass (Eck & Schmidhuber 2002)",
        make_tokenizer=_pianoroll,
        model_kind="frame_lstm",
        sizes={"tiny": {"hidden": 32, "layers": 1, "nade_hidden": 8, "dropout": 0.0},
               "default": {"hidden": 256, "layers": 2, "nade_hidden": 32, "dropout": 0.1}},
        build_corpus=_blues_corpus,
        train_defaults={"epochs": 40, "batch_size": 16, "lr": 3e-3, "patience": 6},
        bars=36, form_bars=12, tempo=120.0, temperature=1.0, swing=0.5,
        pretrained="blues",
    ),
}


def get_style(name: str) -> Style:
    if name not in STYLES:
        raise StyleError(f"unknown style {name!r}; available: {', '.join(sorted(STYLES))}")
    return STYLES[name]
