"""`compose corpus build`: tokenise a corpus once into train/valid/test splits and a manifest.

Each split is a text file with one piece per line, its tokens separated by spaces (folk-rnn's
own data format). Pieces whose tokens are identical (the same tune entered twice) hash to the
same split, so no tune is in both training and validation. The manifest says where the data
came from, how many pieces were kept, and why each other one was skipped.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from pathlib import Path

from ..errors import CorpusError, TokenizerError

__all__ = ["SPLITS", "build_corpus", "load_built", "is_built"]

SPLITS = {"train": 0.90, "valid": 0.05, "test": 0.05}
MANIFEST = "manifest.json"


def _split_of(key: str, seed: int) -> str:
    x = int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / 16**12
    return "train" if x < SPLITS["train"] else "valid" if x < SPLITS["train"] + SPLITS["valid"] else "test"


def _reason(text: str) -> str:
    """Group skip reasons: drop positions and numbers that differ from piece to piece."""
    text = re.sub(r" at (eighth|tick|line|bar)\b.*", "", text)
    return re.sub(r"\d+", "N", text)[:90]


def build_corpus(style: str, out_dir, *, source=None, seed: int = 0) -> dict:
    """Build the splits for ``style`` from ``source`` (a file/folder) or the style's built-in corpus."""
    from ..checkpoint import write_json
    from ..io.atomic import atomic_write
    from ..pipeline import load_scores
    from ..styles import get_style

    st = get_style(style)
    tok = st.make_tokenizer()
    if tok.family != "tokens":
        raise CorpusError(f"style {style!r} encodes frames, not tokens: it trains from its corpus directly")
    scores, names, unreadable, origin = load_scores(st, source, seed)
    names = names or [f"piece {i}" for i in range(len(scores))]
    if hasattr(tok, "fit"):
        tok = tok.fit(scores)
    if any(any(c.isspace() for c in w) for w in tok.vocab):
        raise CorpusError(f"style {style!r} has tokens with spaces: they cannot be written one piece a line")
    reasons = collections.Counter(_reason(why) for _, why in unreadable)
    lines = {name: [] for name in SPLITS}
    seen: dict[str, str] = {}
    tokens = duplicates = 0
    for name, score in zip(names, scores):
        try:
            ids = tok.encode(score)
        except TokenizerError as e:
            reasons[_reason(str(e))] += 1
            continue
        line = " ".join(tok.vocab[i] for i in ids)
        key = hashlib.sha1(line.encode()).hexdigest()
        duplicates += key in seen
        split = seen.setdefault(key, _split_of(key, seed))
        lines[split].append(line)
        tokens += len(ids)
    kept = sum(len(v) for v in lines.values())
    if not kept:
        raise CorpusError(f"{origin}: no piece the {style} tokenizer can represent")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        atomic_write(out / f"{split}.txt", ("\n".join(rows) + "\n").encode() if rows else b"")
    manifest = {
        "format": "composer-corpus", "version": 1, "style": style, "source": origin, "seed": seed,
        "read": len(scores), "unreadable": len(unreadable), "kept": kept, "tokens": tokens,
        "duplicates": duplicates, "splits": {k: len(v) for k, v in lines.items()},
        "skipped_by_reason": dict(reasons.most_common()), "tokenizer": tok.to_dict(),
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def is_built(path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def load_built(path) -> tuple[object, dict[str, list[list[int]]], dict]:
    """(tokenizer, {split: [ids per piece]}, manifest) of a built corpus folder."""
    from ..tokenizers import build_tokenizer

    root = Path(path)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"{root / MANIFEST}: unreadable ({e})") from None
    if manifest.get("format") != "composer-corpus":
        raise CorpusError(f"{root}: not a corpus built by `compose corpus build`")
    tok = build_tokenizer(manifest["tokenizer"])
    index = {w: i for i, w in enumerate(tok.vocab)}
    splits = {}
    for split in SPLITS:
        rows = []
        for n, line in enumerate((root / f"{split}.txt").read_text().splitlines(), 1):
            try:
                rows.append([index[w] for w in line.split()])
            except KeyError as e:
                raise CorpusError(f"{root / split}.txt line {n}: token {e.args[0]!r} is not in the manifest's vocabulary") from None
        splits[split] = rows
    return tok, splits, manifest
