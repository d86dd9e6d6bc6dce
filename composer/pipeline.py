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


def cached_checkpoint(path: Path):
    """The loaded checkpoint, kept while its weights file is unchanged (a server or --count reuses it)."""
    from .checkpoint import WEIGHTS, load_checkpoint

    stamp = (Path(path).resolve(), (Path(path) / WEIGHTS).stat().st_mtime_ns if (Path(path) / WEIGHTS).exists() else 0)
    if _LOADED.get("stamp") != stamp:
        _LOADED.update(stamp=stamp, checkpoint=load_checkpoint(path))
    return _LOADED["checkpoint"]


_LOADED: dict = {}


def generate(style: str | None = None, checkpoint: str | Path | None = None, *, bars: int | None = None,
             key: str = "C", tempo: float | None = None, seed: int = 0, temperature: float | None = None,
             swing: float | None = None, humanize: float = 0.0, control=None, top_p: float | None = None,
             **options):
    """Compose one piece and return it as a Score in ``key``.

    ``options`` are the style's own (a tokenizer's ``prompt``/``grammar`` arguments, e.g. a meter).
    ``control`` (a ``constraints.Control``) adds scale lock, range, density, note lengths, a form;
    with ``control.explain`` the record of what each constraint changed is in ``meta['constraints']``.
    """
    from .score import Tempo, transpose
    from .score import humanize as apply_humanize
    from .score import swing as apply_swing
    from .theory import key_offset, name_to_pc

    st, path = resolve_model(style, checkpoint)
    tonic = name_to_pc(key)
    bars = st.bars if bars is None else bars
    if bars is not None and not 1 <= bars <= 10_000:
        raise InputError(f"bars must be between 1 and 10000, got {bars}")
    keep_tempos = st.tempo_from_tokens and tempo is None  # the piece's own tempo map (e.g. a MIDI prime's)
    tempo = st.tempo if tempo is None else tempo
    if not 10 <= tempo <= 400:
        raise InputError(f"tempo must be between 10 and 400 quarter notes per minute, got {tempo}")
    swing_amount = st.swing if swing is None else swing
    for name, value in (("swing", swing_amount), ("humanize", humanize)):
        if not 0 <= value <= 1:
            raise InputError(f"{name} must be between 0 and 1, got {value}")
    temperature = st.temperature if temperature is None else temperature
    ck = cached_checkpoint(path)
    tok = ck.tokenizer
    from .constraints import BindContext, bind_all, prepare

    bars, options, specs = prepare(control, st, tok, bars, options, tonic)
    ctx = BindContext(offset=key_offset(tonic) if st.keyed else 0, bars=bars, seed=seed, style=st.name)
    explain = None
    unknown = set(options) - set(tok.options)
    if unknown:
        raise InputError(f"style {st.name!r} takes no option {', '.join(sorted(unknown))}; "
                         f"its options: {', '.join(tok.options) or 'none'}")
    if tok.family == "frames":
        from .sample import new_explain, sample_frames

        cond, form_rules = tok.generation_inputs(bars * tok.steps_per_bar, seed, **options)
        rules = bind_all(specs, tok, ctx) + form_rules
        explain = new_explain(rules) if control is not None and control.explain else None
        frames = sample_frames(ck.model, cond, temperature=temperature, seed=seed, constraints=rules, explain=explain)
        score = tok.decode(frames[0])
    else:
        from .sample import new_explain, sample_tokens

        prompt, grammar = tok.prompt(bars=bars, **options), tok.grammar(bars=bars, **options)
        rules = bind_all(specs, tok, replace(ctx, grammar=grammar))
        explain = new_explain(rules) if control is not None and control.explain else None
        ids = sample_tokens(ck.model, prompt, st.max_tokens, temperature=temperature, top_k=st.top_k,
                            top_p=st.top_p if top_p is None else top_p, seed=seed, grammar=grammar, stop=tok.end_id, constraints=rules,
                            explain=explain)[0]
        score = tok.decode(ids)
    tempos = score.tempos if keep_tempos and score.tempos else [Tempo(0, float(tempo))]
    score = replace(score, tempos=tempos, meta={**score.meta, "style": st.name, "seed": seed,
                                                **({"constraints": explain} if explain is not None else {})})
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


def _shard_training_data(st: Style, tok, corpus, fit: bool, split: str):
    """training_data for a shard folder: its tokenizer, its own splits, memory-mapped windows."""
    import hashlib
    import json

    from .shard_data import ShardData, shard_splits

    shard_tok, train_data, _, manifest = shard_splits(corpus, st.seq_len)
    if shard_tok.kind != tok.kind:
        raise CorpusError(f"{corpus} holds {shard_tok.kind} tokens; style {st.name!r} needs {tok.kind}")
    if fit:
        tok = shard_tok
    elif shard_tok.vocab != tok.vocab:
        raise CorpusError(f"{corpus}: its vocabulary is not the checkpoint's")
    valid = ShardData.open(corpus, split, st.seq_len)
    log.info("%s: %d train pieces (%d tokens), %d %s pieces, streamed from shards", corpus,
             len(train_data.sequences), train_data.n_tokens, len(valid.sequences), split)
    info = {"corpus": str(corpus), "pieces": manifest["counts"]["tokenized"], "skipped": manifest["counts"]["skipped"],
            "corpus_sha256": hashlib.sha256(json.dumps(manifest["splits"], sort_keys=True).encode()).hexdigest()}
    return tok, train_data, valid, info


def training_data(st: Style, tok, corpus=None, seed: int = 0, fit: bool = True, split: str = "valid"):
    """(tokenizer, train data, valid data, description) for a style from its built-in corpus, a file
    or folder of music, or a corpus built by `compose corpus build` (whose own split is kept).

    ``fit=False`` keeps the given tokenizer's vocabulary (evaluating a trained model). A corpus
    with its own splits (a built corpus, a style's split file) gives ``split`` as the valid part.
    """
    import hashlib

    import numpy as np

    from .corpora.build import is_built, load_built
    from .corpora.shards import is_shards
    from .data import FrameData, TokenData, split_indices

    if corpus is not None and is_shards(corpus):  # `compose tokenize` shards: streamed, never all in RAM
        return _shard_training_data(st, tok, corpus, fit, split)
    if corpus is not None and is_built(corpus):
        built_tok, splits, manifest = load_built(corpus)
        if manifest["style"] != st.name:
            raise CorpusError(f"{corpus} was built for style {manifest['style']!r}, not {st.name!r}")
        if fit:
            tok = built_tok
        elif built_tok.vocab != tok.vocab:
            raise CorpusError(f"{corpus}: its vocabulary is not the checkpoint's")
        if split not in splits:
            raise CorpusError(f"{corpus}: no split {split!r}; splits: {', '.join(splits)}")
        encoded, skipped, source = splits["train"] + splits[split], [], str(corpus)
        n_train = len(splits["train"])
        tr, va = np.arange(n_train), np.arange(n_train, len(encoded))
    elif corpus is not None and st.read_splits is not None and (own := st.read_splits(corpus, tok, fit)) is not None:
        tok, splits, source = own  # the style's own split format (e.g. the piano-roll benchmark JSON)
        if split not in splits:
            raise CorpusError(f"{corpus}: no split {split!r}; splits: {', '.join(splits)}")
        train_part = splits.get("train", []) if fit else []
        if fit and not train_part:
            raise CorpusError(f"{corpus}: no 'train' split to train on; splits: {', '.join(splits)}")
        encoded, skipped = train_part + splits[split], []
        tr, va = np.arange(len(train_part)), np.arange(len(train_part), len(encoded))
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
        data = FrameData(encoded, [tok.piece_conditioning(f) for f in encoded], st.seq_len)
    else:
        data = TokenData(encoded, st.seq_len)
    digest = hashlib.sha256()  # the model card's corpus fingerprint: the encoded pieces and the split
    for part in (tr, va):
        digest.update(np.asarray(part, dtype=np.int64).tobytes())
    for e in encoded:
        digest.update(np.ascontiguousarray(e).tobytes())
    info = {"corpus": source, "pieces": len(encoded), "skipped": len(skipped), "corpus_sha256": digest.hexdigest()}
    return tok, data.subset(tr), data.subset(va), info


def train_style(style: str, out_dir, *, corpus: str | Path | None = None, size: str = "default",
                model: str | None = None, resume: bool = False, progress: bool = True, **overrides):
    """Train ``style``'s model on its built-in corpus, a file or folder of music, or a built corpus."""
    import torch

    from .models import build_model
    from .train import TrainConfig, check_config, check_resumable, pick_device, train

    if resume:
        check_resumable(out_dir)
    st = get_style(style)
    try:
        cfg = TrainConfig(**{**st.train_defaults, **{k: v for k, v in overrides.items() if v is not None}})
    except TypeError as e:  # an option TrainConfig does not have
        raise InputError(f"unknown training option: {e}") from None
    check_config(cfg)  # bad values and a bad --device fail before the corpus is read
    pick_device(cfg.device)
    tok, train_data, valid_data, info = training_data(st, st.make_tokenizer(), corpus, cfg.seed)
    if cfg.window:  # shorter windows: more optimizer steps per epoch, less padding of long pieces
        train_data = train_data.windowed(cfg.window)
    kind, config = st.model(model, tok, size)
    torch.manual_seed(cfg.seed)  # the initial weights are part of what a seed repeats
    net = build_model(kind, config)
    from dataclasses import asdict

    run_config = {"style": st.name, "corpus": None if corpus is None else str(corpus), "size": size, "model": model,
                  "output": str(out_dir), **asdict(cfg)}
    return train(net, tok, train_data, valid_data, cfg, out_dir, style=st.name, resume=resume,
                 progress=progress, extra=info, run_config=run_config, unit=tok.family[:-1])


def evaluate(checkpoint, *, corpus=None, seed: int = 0, batch_size: int = 16, split: str = "valid") -> dict:
    """Validation NLL (nats per frame or token) and perplexity of a checkpoint on its style's
    validation split (rebuilt with the training seed), or on the ``split`` of a ``corpus`` that has
    its own splits (a built corpus, a piano-roll JSON file), else on its seeded valid split."""
    import math

    from .checkpoint import load_checkpoint
    from .train import TrainConfig, evaluate_nll

    ck = load_checkpoint(checkpoint)
    st = get_style(ck.config["style"])
    tok, _, valid, info = training_data(st, ck.tokenizer, corpus, seed, fit=False, split=split)
    nll = evaluate_nll(ck.model, valid, TrainConfig(batch_size=batch_size), "cpu")
    return {"style": st.name, "nll": nll, "perplexity": math.exp(nll), "unit": tok.family[:-1],
            "valid_pieces": len(valid.frames if tok.family == "frames" else valid.sequences), "split": split, **info}
