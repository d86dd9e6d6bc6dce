"""The library's entry points, which the CLI wraps: ``generate``, ``train_style`` and ``evaluate``.

They run the one pipeline of DESIGN.md (corpus -> tokenizer -> model -> sampler -> Score) with
the parts a style names; nothing here depends on which style it is.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from .errors import CheckpointError, CorpusError, InputError
from .styles import Style, get_style

__all__ = ["pretrained_dir", "resolve_model", "generate", "encode_corpus", "load_scores", "training_data",
           "train_style", "evaluate"]

log = logging.getLogger(__name__)


def pretrained_dir(style: Style) -> Path:
    return Path(__file__).resolve().parent / "pretrained" / (style.pretrained or style.name)


def resolve_model(style: str | None, checkpoint: str | Path | None):
    """(Style, checkpoint folder) from a style name, a checkpoint folder, or both."""
    from .checkpoint import read_config

    if checkpoint is not None:
        cfg = read_config(checkpoint)
        st = get_style(style or cfg["style"])
        if style and cfg["style"] != style:
            raise InputError(f"checkpoint {checkpoint} is a {cfg['style']!r} model, not {style!r}")
        return st, Path(checkpoint)
    st = get_style(style or "blues")
    path = pretrained_dir(st)
    if not (path / "config.json").exists():
        raise CheckpointError(f"no shipped checkpoint for style {st.name!r}; train one with `compose train --style {st.name}`")
    return st, path


def generate(style: str | None = None, checkpoint: str | Path | None = None, *, bars: int | None = None,
             key: str = "C", tempo: float | None = None, seed: int = 0, temperature: float | None = None,
             swing: float | None = None, humanize: float = 0.0, **options):
    """Compose one piece and return it as a Score in ``key``.

    ``options`` are the style's own (a tokenizer's ``prompt``/``grammar`` arguments, e.g. a meter).
    """
    from .checkpoint import load_checkpoint
    from .score import Tempo, transpose
    from .score import humanize as apply_humanize
    from .score import swing as apply_swing
    from .theory import key_offset, name_to_pc

    st, path = resolve_model(style, checkpoint)
    tonic = name_to_pc(key)
    bars = st.bars if bars is None else bars
    if bars is not None and not 1 <= bars <= 10_000:
        raise InputError(f"bars must be between 1 and 10000, got {bars}")
    tempo = st.tempo if tempo is None else tempo
    if not 10 <= tempo <= 400:
        raise InputError(f"tempo must be between 10 and 400 quarter notes per minute, got {tempo}")
    swing_amount = st.swing if swing is None else swing
    for name, value in (("swing", swing_amount), ("humanize", humanize)):
        if not 0 <= value <= 1:
            raise InputError(f"{name} must be between 0 and 1, got {value}")
    temperature = st.temperature if temperature is None else temperature
    ck = load_checkpoint(path)
    tok = ck.tokenizer
    unknown = set(options) - set(tok.options)
    if unknown:
        raise InputError(f"style {st.name!r} takes no option {', '.join(sorted(unknown))}; "
                         f"its options: {', '.join(tok.options) or 'none'}")
    if tok.family == "frames":
        from .sample import sample_frames

        frames = sample_frames(ck.model, tok.conditioning(bars * tok.steps_per_bar), temperature=temperature, seed=seed)
        score = tok.decode(frames[0])
    else:
        from .sample import sample_tokens

        prompt, grammar = tok.prompt(bars=bars, **options), tok.grammar(bars=bars, **options)
        ids = sample_tokens(ck.model, prompt, st.max_tokens, temperature=temperature, top_k=st.top_k,
                            top_p=st.top_p, seed=seed, grammar=grammar, stop=tok.end_id)[0]
        score = tok.decode(ids)
    score = replace(score, tempos=[Tempo(0, float(tempo))], meta={**score.meta, "style": st.name, "seed": seed})
    if st.keyed:
        score = transpose(score, key_offset(tonic))
    return apply_humanize(apply_swing(score, swing_amount), humanize, seed)


def encode_corpus(tokenizer, scores, names=None):
    """Encode each score; skip (and report) those the tokenizer cannot represent."""
    from .errors import TokenizerError

    encoded, skipped = [], []
    for i, s in enumerate(scores):
        try:
            encoded.append(tokenizer.encode(s))
        except TokenizerError as e:
            skipped.append((names[i] if names else f"piece {i}", str(e)))
    return encoded, skipped


def _corpus_parts(result) -> tuple[list, list | None, list]:
    """A style's build_corpus gives Scores, or (scores, names, skipped) when it read files."""
    return result if isinstance(result, tuple) else (result, None, [])


def load_scores(st: Style, corpus=None, seed: int = 0) -> tuple[list, list | None, list, str]:
    """(scores, names, [(name, reason) skipped], description) from the style's built-in corpus or a
    file or folder of music."""
    from .corpora.folder import read_corpus

    if corpus is None:
        return (*_corpus_parts(st.build_corpus(seed)), f"built-in {st.name} corpus")
    return (*read_corpus(corpus), str(corpus))


def training_data(st: Style, tok, corpus=None, seed: int = 0, fit: bool = True):
    """(tokenizer, train data, valid data, description) for a style from its built-in corpus, a file
    or folder of music, or a corpus built by `compose corpus build` (whose own split is kept).

    ``fit=False`` keeps the given tokenizer's vocabulary (evaluating a trained model).
    """
    import hashlib

    import numpy as np

    from .corpora.build import is_built, load_built
    from .data import FrameData, TokenData, split_indices

    if corpus is not None and is_built(corpus):
        built_tok, splits, manifest = load_built(corpus)
        if manifest["style"] != st.name:
            raise CorpusError(f"{corpus} was built for style {manifest['style']!r}, not {st.name!r}")
        if fit:
            tok = built_tok
        elif built_tok.vocab != tok.vocab:
            raise CorpusError(f"{corpus}: its vocabulary is not the checkpoint's")
        encoded, skipped, source = splits["train"] + splits["valid"], [], str(corpus)
        n_train = len(splits["train"])
        tr, va = np.arange(n_train), np.arange(n_train, len(encoded))
    else:
        scores, names, skipped, source = load_scores(st, corpus, seed)
        if fit and hasattr(tok, "fit"):  # a vocabulary built from the corpus
            tok = tok.fit(scores)
        encoded, bad = encode_corpus(tok, scores, names)
        skipped += bad
        keys = [hashlib.sha1(np.asarray(e).tobytes()).hexdigest() for e in encoded] if st.split_by_content else None
        tr, va = split_indices(len(encoded), 0.1, seed, keys=keys) if encoded else ([], [])
    for name, why in skipped:
        log.warning("skipped %s: %s", name, why)
    if not encoded:
        raise CorpusError(f"{source}: no usable piece ({len(skipped)} skipped)")
    log.info("%s: %d pieces, %d %s (%d skipped)", source, len(encoded), sum(len(e) for e in encoded), tok.family,
             len(skipped))
    if tok.family == "frames":
        data = FrameData(encoded, [tok.conditioning(len(f)) for f in encoded], st.seq_len)
    else:
        data = TokenData(encoded, st.seq_len)
    info = {"corpus": source, "pieces": len(encoded), "skipped": len(skipped)}
    return tok, data.subset(tr), data.subset(va), info


def train_style(style: str, out_dir, *, corpus: str | Path | None = None, size: str = "default",
                model: str | None = None, resume: bool = False, progress: bool = True, **overrides):
    """Train ``style``'s model on its built-in corpus, a file or folder of music, or a built corpus."""
    import torch

    from .models import build_model
    from .train import TrainConfig, check_resumable, pick_device, train

    if resume:
        check_resumable(out_dir)
    st = get_style(style)
    cfg = TrainConfig(**{**st.train_defaults, **{k: v for k, v in overrides.items() if v is not None}})
    pick_device(cfg.device)  # a bad --device fails before the corpus is read
    tok, train_data, valid_data, info = training_data(st, st.make_tokenizer(), corpus, cfg.seed)
    kind, config = st.model(model, tok, size)
    torch.manual_seed(cfg.seed)  # the initial weights are part of what a seed repeats
    net = build_model(kind, config)
    return train(net, tok, train_data, valid_data, cfg, out_dir, style=st.name, resume=resume,
                 progress=progress, extra=info)


def evaluate(checkpoint, *, corpus=None, seed: int = 0, batch_size: int = 16) -> dict:
    """Validation NLL (nats per frame or token) and perplexity of a checkpoint on its style's
    validation split (rebuilt with the training seed), or on the valid split of ``corpus``."""
    import math

    from .checkpoint import load_checkpoint
    from .train import TrainConfig, evaluate_nll

    ck = load_checkpoint(checkpoint)
    st = get_style(ck.config["style"])
    tok, _, valid, info = training_data(st, ck.tokenizer, corpus, seed, fit=False)
    nll = evaluate_nll(ck.model, valid, TrainConfig(batch_size=batch_size), "cpu")
    return {"style": st.name, "nll": nll, "perplexity": math.exp(nll), "unit": tok.family[:-1],
            "valid_pieces": len(valid.frames if tok.family == "frames" else valid.sequences), **info}
