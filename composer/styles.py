"""The style registry: a style names its corpus, tokenizer, model and sampling defaults.

Nothing else in composer branches on a style's name; adding a style is adding an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import CorpusError, StyleError

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
    bars: int | None = 36  # default length of a generation (None: the model ends the piece, under its grammar)
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
    alternatives: dict = field(default_factory=dict)  # other models: name -> (kind, sizes)
    split_by_content: bool = False  # identical pieces (after encoding) always share a split
    # (corpus, tokenizer, fit) -> (tokenizer, {split: encoded pieces}, description), or None when
    # the corpus is not in the style's own split format (then it is read as music files)
    read_splits: Callable | None = None
    tempo_from_tokens: bool = False  # the tokens carry tempo: keep the decoded tempo map unless --tempo is given
    metrics: Callable | None = None  # (sampled Scores, tokenizer) -> {name: value}, for `compose eval`

    def model(self, name: str | None, tokenizer, size: str = "default") -> tuple[str, dict]:
        """(model kind, config) for ``--model name`` (None: the style's own) at a size preset."""
        kind, sizes = (self.model_kind, self.sizes) if name in (None, "default") else self.alternatives.get(name, (None, None))
        if kind is None:
            raise StyleError(f"style {self.name!r} has no model {name!r}; models: "
                             f"{', '.join(['default', *self.alternatives])}")
        if size not in sizes:
            raise StyleError(f"style {self.name!r} has no size {size!r}; sizes: {', '.join(sizes)}")
        return kind, {**tokenizer.model_inputs(), **sizes[size]}


def _pianoroll():
    from .tokenizers.pianoroll import PianoRollTokenizer

    from .corpora.blues import load_progressions

    return PianoRollTokenizer(forms=load_progressions())


def _blues_corpus(seed: int) -> list:
    from .corpora.blues import generate_blues

    # Long songs (12 choruses): the model must keep the form past the 10 choruses the benchmark asks for.
    return generate_blues(n_songs=240, choruses=12, seed=seed)


def _drums_tokenizer():
    from .tokenizers.drums import DrumsTokenizer

    return DrumsTokenizer()


def _drums_corpus(seed: int) -> list:
    from .corpora.drums import generate_drums

    return generate_drums(n_songs=120, seed=seed)


def _chords_tokenizer():
    from .tokenizers.chords import ChordTokenizer

    return ChordTokenizer()


def _jazz_corpus(seed: int) -> list:
    from .corpora.jazz import generate_jazz

    return generate_jazz(n_tunes=3000, seed=seed)


def _blues_metrics(scores, tokenizer) -> dict:
    from .evaluation import blues_metrics

    return blues_metrics(scores, tokenizer)


def _folk_metrics(scores, tokenizer) -> dict:
    from .evaluation import folk_metrics

    return folk_metrics(scores, tokenizer)


STYLES: dict[str, Style] = {
    "blues": Style(
        name="blues",
        description="12-bar bebop blues, chords + blues-scale melody + walking bass (Eck & Schmidhuber 2002)",
        make_tokenizer=_pianoroll,
        model_kind="frame_lstm",
        sizes={"tiny": {"hidden": 32, "layers": 1, "nade_hidden": 8, "dropout": 0.0},
               "default": {"hidden": 256, "layers": 2, "nade_hidden": 32, "dropout": 0.1}},
        build_corpus=_blues_corpus,
        # Small batches of whole 12-chorus songs: many updates per epoch, and form learnt over 1152 steps.
        train_defaults={"epochs": 30, "batch_size": 4, "lr": 2e-3, "patience": 6},
        bars=36, form_bars=12, tempo=120.0, temperature=0.8, swing=0.5, seq_len=1152,
        pretrained="blues",
        metrics=_blues_metrics,
    ),
    "drums": Style(
        name="drums",
        description="drum grooves and fills, one word per 16th step, 9 GM drum classes (LSTMetallica, Choi et al. 2016)",
        make_tokenizer=_drums_tokenizer,
        model_kind="token_lstm",
        sizes={"tiny": {"input_size": 16, "hidden": 32, "layers": 1, "dropout": 0.0},
               "default": {"input_size": 64, "hidden": 256, "layers": 2, "dropout": 0.2}},
        build_corpus=_drums_corpus,
        train_defaults={"epochs": 40, "batch_size": 16, "lr": 3e-3, "patience": 5},
        bars=16, form_bars=8, tempo=120.0, temperature=0.9, swing=0.0, keyed=False,
        top_k=0, top_p=0.95, max_tokens=8192, seq_len=272,
        pretrained="drums",
    ),
    "jazz": Style(
        name="jazz",
        description="jazz chord changes, a word per chord (LSTM Realbook, Choi et al. 2016), with a swung "
                    "backing: voice-led piano, walking bass, ride",
        make_tokenizer=_chords_tokenizer,
        model_kind="token_lstm",
        sizes={"tiny": {"input_size": 16, "hidden": 32, "layers": 1, "dropout": 0.0},
               "default": {"input_size": 64, "hidden": 256, "layers": 2, "dropout": 0.2}},
        alternatives={"transformer": ("token_transformer", {
            "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 256, "dropout": 0.0},
            "default": {"n_layer": 4, "n_head": 4, "n_embd": 192, "block_size": 256, "dropout": 0.1}})},
        build_corpus=_jazz_corpus,
        train_defaults={"epochs": 20, "batch_size": 64, "lr": 3e-3, "patience": 3, "threads": 1},
        bars=32, form_bars=32, tempo=160.0, temperature=0.9, swing=0.6, keyed=True,
        # max_tokens: room for 10,000 bars of up to 15 tokens; the grammar ends a tune at its last bar
        top_k=0, top_p=0.95, max_tokens=150_000, seq_len=128, split_by_content=True,
        pretrained="jazz",
    ),
}


def _abc_tokenizer():
    from .tokenizers.abc_tokens import AbcTokenizer

    return AbcTokenizer()


def _folk_corpus(seed: int):
    from .corpora.folk import read_folk_corpus

    return read_folk_corpus()


STYLES["folk"] = Style(
    name="folk",
    description="folk tunes as ABC tokens, every bar the meter's length (folk-rnn, Sturm et al. 2016)",
    make_tokenizer=_abc_tokenizer,
    model_kind="token_lstm",
    # "default" is folk-rnn's size (3 x 512, dropout 0.5, 22 MB); "small" is what ships (3.6 MB).
    sizes={"tiny": {"input_size": 16, "hidden": 32, "layers": 1, "dropout": 0.0},
           "small": {"input_size": 64, "hidden": 256, "layers": 2, "dropout": 0.2},
           "default": {"input_size": 137, "hidden": 512, "layers": 3, "dropout": 0.5}},
    alternatives={"transformer": ("token_transformer", {
        "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 512, "dropout": 0.0},
        "default": {"n_layer": 4, "n_head": 4, "n_embd": 192, "block_size": 1024, "dropout": 0.1}})},
    build_corpus=_folk_corpus,
    train_defaults={"epochs": 10, "batch_size": 32, "lr": 2e-3, "patience": 2},
    bars=None, form_bars=8, tempo=120.0, temperature=1.0, swing=0.0, keyed=True,
    top_k=0, top_p=1.0, max_tokens=3000, seq_len=256, split_by_content=True,
    pretrained="folk",
    metrics=_folk_metrics,
)


def _poly_tokenizer():
    from .tokenizers.polyroll import PolyRollTokenizer

    return PolyRollTokenizer()


def _poly_corpus(seed: int):
    raise CorpusError("the poly style has no built-in corpus: give --corpus a piano-roll JSON file "
                      "(e.g. jsb_chorales.json) or a folder of MIDI files")


def _poly_splits(corpus, tokenizer, fit: bool = True):
    from .corpora.polyphonic import poly_splits

    return poly_splits(corpus, tokenizer, fit)


def _poly_sizes(kind: str) -> dict:
    """88-key frame models: one group of ``kind`` (bernoulli = sigmoid LSTM, nade = RNN-NADE,
    pitchconv = LSTM + pitch CNN); "default" fits a CPU, "full" is for a GPU."""
    groups = [{"name": "keys", "kind": kind, "size": 88}]
    # bit_bias -3: start near the rolls' sparsity so the LSTM does not saturate in the first steps
    # (the pitch CNN's "default" keeps 0, the setting of its published JSB figure in the README).
    bias = 0.0 if kind == "pitchconv" else -3.0
    return {"tiny": {"groups": groups, "hidden": 16, "layers": 1, "dropout": 0.0, "nade_hidden": 8,
                     "conv_channels": 8, "conv_layers": 2, "conv_below": 4, "conv_window": 4, "conv_key_features": 2},
            "default": {"groups": groups, "hidden": 256, "layers": 2, "dropout": 0.3, "nade_hidden": 150,
                        "conv_channels": 24, "conv_layers": 5, "bit_bias": bias},
            # the pitch CNN also reads 4 past frames around each key (two beats at an eighth-note grid)
            "history4": {"groups": groups, "hidden": 256, "layers": 2, "dropout": 0.3, "nade_hidden": 150,
                         "conv_channels": 24, "conv_layers": 5, "conv_history": 4, "bit_bias": -3.0},
            "full": {"groups": groups, "hidden": 512, "layers": 2, "dropout": 0.4, "nade_hidden": 300,
                     "conv_channels": 64, "conv_layers": 7, "conv_key_features": 16, "conv_history": 4,
                     "bit_bias": -3.0}}


STYLES["poly"] = Style(
    name="poly",
    description="polyphonic piano rolls, 88 keys (the Boulanger-Lewandowski 2012 benchmarks): "
                "sigmoid LSTM, RNN-NADE, LSTM + pitch CNN",
    make_tokenizer=_poly_tokenizer,
    model_kind="frame_lstm",
    sizes=_poly_sizes("pitchconv"),
    alternatives={"lstm": ("frame_lstm", _poly_sizes("bernoulli")), "nade": ("frame_lstm", _poly_sizes("nade")),
                  "pitchconv": ("frame_lstm", _poly_sizes("pitchconv"))},
    build_corpus=_poly_corpus,
    train_defaults={"epochs": 60, "batch_size": 8, "lr": 2e-3, "patience": 10, "threads": 1},
    bars=16, form_bars=4, tempo=90.0, temperature=1.0, swing=0.0, keyed=True,
    seq_len=4096,  # whole pieces (the longest in the four sets is 3,857 frames): validation is exact
    read_splits=_poly_splits,
)


def _remi_tokenizer():
    from .tokenizers.remi import RemiTokenizer

    return RemiTokenizer()


def _midi_corpus(seed: int):
    raise CorpusError("the midi style has no built-in corpus: give --corpus a folder from `compose tokenize` "
                      "(or a folder of MIDI files)")


STYLES["midi"] = Style(
    name="midi",
    description="any multi-track MIDI as REMI tokens (Huang & Yang 2020; MidiTok's REMI+), decoder-only transformer",
    make_tokenizer=_remi_tokenizer,
    model_kind="token_transformer",
    sizes={"tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 1024, "dropout": 0.0},
           "default": {"n_layer": 6, "n_head": 8, "n_embd": 512, "block_size": 1024, "dropout": 0.1},
           "large": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 2048, "dropout": 0.1}},
    build_corpus=_midi_corpus,
    train_defaults={"epochs": 20, "batch_size": 16, "lr": 6e-4, "patience": 3, "warmup_steps": 200},
    bars=16, form_bars=4, tempo=120.0, temperature=1.0, swing=0.0, keyed=False,
    top_k=0, top_p=0.95, max_tokens=200_000, seq_len=1024, tempo_from_tokens=True,
)


def get_style(name: str) -> Style:
    if name not in STYLES:
        raise StyleError(f"unknown style {name!r}; available: {', '.join(sorted(STYLES))}")
    return STYLES[name]
