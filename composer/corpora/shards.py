"""`compose tokenize`: a folder of MIDI files (any size) into memory-mappable token shards.

Layout of the output folder::

    manifest.json               counts, tokenizer config + vocab, splits and their shards, every
                                file's fate (tokenized / duplicate / skipped with its reason)
    train-00000.tokens.npy      flat token ids (uint16, or uint32 for vocabularies over 65,536),
    train-00000.index.npy       file boundaries in it: int64 offsets, one more than its files
    valid-00000..., test-00000...

Files are read, hashed, parsed and tokenised in worker processes (``workers``), a chunk of files
per task, and come back in sorted path order, so the shards are the same whatever the worker
count; the parent only dedupes, splits and appends to shards, so the run scales with the workers.
Each file lands in train/valid/test by a hash of its *content* (identical files are one piece,
kept once), so the split never changes when files are added.
A shard is written (atomically) when it reaches ``shard_tokens`` tokens, and then the manifest
records its files: an interrupted run loses at most the open shards, and re-running skips
every file the manifest already has (resumable). The whole run holds an exclusive lock on the
folder, so two runs into one folder cannot interleave.

Tokenising a corpus too big for one machine is the same command on parts of it: shards are
independent, so each machine tokenises its own subfolder into its own output folder.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import ComposerError, CorpusError
from ..score import NOTE_DTYPE, Score, Tempo, TimeSignature, Track

__all__ = ["FORMAT", "MANIFEST", "check_tokenizer", "is_shards", "load_manifest", "load_tokens", "midi_problem",
           "read_midi_fast", "shard_path", "tokenize_corpus"]

log = logging.getLogger(__name__)

FORMAT, VERSION = "composer-shards", 1
MANIFEST = "manifest.json"
SUFFIXES = (".mid", ".midi")
SPLIT_NAMES = ("train", "valid", "test")


# ---------------------------------------------------------------------------- reading MIDI


def midi_problem(data: bytes) -> str | None:
    """Why these bytes are not a readable MIDI file (None if the chunk structure is sound).

    Checked before any parser sees the file, so each skip has a plain reason and a truncated
    file is never half-read.
    """
    if not data:
        return "empty file"
    if data[:4] != b"MThd":
        return "not a MIDI file (no MThd header)"
    if len(data) < 14:
        return "truncated MIDI file (header cut short)"
    head_len = int.from_bytes(data[4:8], "big")
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if division == 0:
        return "zero ticks per quarter note"
    if division & 0x8000:
        return "SMPTE time division is not supported (need ticks per quarter note)"
    if fmt > 2:
        return f"unknown MIDI format {fmt}"
    if fmt == 2:
        return "MIDI type 2 (independent sequences) is not supported"
    pos, found = 8 + head_len, 0
    while pos + 8 <= len(data) and found < ntracks:
        size = int.from_bytes(data[pos + 4:pos + 8], "big")
        if pos + 8 + size > len(data):
            return f"truncated MIDI file (track {found + 1} ends past the end of the file)"
        found += data[pos:pos + 4] == b"MTrk"
        pos += 8 + size
    if found < ntracks:
        return f"truncated MIDI file ({found} of {ntracks} tracks present)"
    return None


def read_midi_fast(data: bytes, name: str = "<bytes>") -> Score:
    """A Score from MIDI bytes through symusic (C++, ~100x mido) when installed, else our mido
    reader. Raises MidiError with the reason for anything unreadable."""
    from ..errors import MidiError

    why = midi_problem(data)
    if why:
        raise MidiError(f"{name}: {why}")
    try:
        import symusic
    except ImportError:
        from ..io.midi import read_midi

        return read_midi(data)
    try:
        s = symusic.Score.from_midi(data)
    except Exception as e:  # noqa: BLE001 - symusic raises RuntimeError/ValueError with its own text
        raise MidiError(f"{name}: corrupt MIDI ({' '.join(str(e).split())[:120]})") from None
    tracks = []
    for t in s.tracks:
        a = t.notes.numpy()
        notes = np.zeros(len(a["time"]), dtype=NOTE_DTYPE)
        notes["start"], notes["duration"] = a["time"], a["duration"]
        notes["pitch"], notes["velocity"] = a["pitch"], a["velocity"]
        tracks.append(Track(t.name, int(t.program), bool(t.is_drum), notes))
    tempos = s.tempos.numpy()
    meters = s.time_signatures.numpy()
    return Score(
        tpq=int(s.ticks_per_quarter),
        tempos=[Tempo(int(t), 60e6 / m if m > 0 else 0.0) for t, m in zip(tempos["time"].tolist(), tempos["mspq"].tolist())],
        time_signatures=[TimeSignature(int(t), int(n), int(d)) for t, n, d in
                         zip(meters["time"].tolist(), meters["numerator"].tolist(), meters["denominator"].tolist())],
        tracks=tracks,
    )


# ---------------------------------------------------------------------------- workers

_TOKENIZER = None


def _init_worker(spec: dict) -> None:
    global _TOKENIZER
    from ..tokenizers import build_tokenizer

    _TOKENIZER = build_tokenizer(spec)


def _work(path: str) -> tuple[str, str, np.ndarray | None, str | None]:
    """(path, sha1 of the bytes, token ids or None, skip reason or None) for one file."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return path, "", None, f"unreadable ({e.strerror})"
    digest = hashlib.sha1(data).hexdigest()
    try:
        score = read_midi_fast(data, path)
        ids = _TOKENIZER.encode_array(score)
    except ComposerError as e:
        return path, digest, None, str(e).removeprefix(f"{path}: ")
    except Exception as e:  # noqa: BLE001 - a parser bug on a hostile file must not end a 100,000-file run
        return path, digest, None, f"unreadable ({type(e).__name__}: {' '.join(str(e).split())[:100]})"
    return path, digest, ids.astype(_TOKENIZER.dtype), None


def _work_chunk(paths: list[str]) -> tuple[list[str], list[int], np.ndarray, dict[int, str]]:
    """One task for a worker: many files, so the pool's cost per task (pickling, queues, waking the
    parent) is paid once per chunk, not per file. Returns (sha1 per file, token count per file with
    -1 for a skip, all kept files' tokens as one flat array, {position in chunk: skip reason})."""
    digests, lengths, parts, reasons = [], [], [], {}
    for i, path in enumerate(paths):
        _, digest, ids, reason = _work(path)
        digests.append(digest)
        if ids is None:
            lengths.append(-1)
            reasons[i] = reason
        else:
            lengths.append(len(ids))
            parts.append(ids)
    tokens = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.empty(0, _TOKENIZER.dtype)
    return digests, lengths, tokens, reasons


def _chunk_results(paths: list[str], spec: dict, n_workers: int):
    """``_work_chunk`` results for ``paths`` in order: in this process one file at a time, else in a
    pool with a bounded number of chunks in flight (memory stays flat however big the corpus)."""
    if n_workers <= 1 or len(paths) <= 1:
        _init_worker(spec)
        for p in paths:
            yield _work_chunk([p])
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # 64 files (~40 ms of work) per task makes the per-task cost negligible; smaller chunks for
    # small corpora, so that every worker gets several and the last one does not run alone
    size = max(1, min(64, len(paths) // (4 * n_workers)))
    chunks = (paths[i:i + size] for i in range(0, len(paths), size))
    # an executor, not a Pool: a worker killed by a parser crash ends the run with an error
    # (BrokenProcessPool) instead of a hang; what is committed stays, so a rerun resumes
    pool = ProcessPoolExecutor(n_workers, initializer=_init_worker, initargs=(spec,))
    try:
        window = deque(pool.submit(_work_chunk, c) for c in itertools.islice(chunks, 4 * n_workers))
        while window:
            result = window.popleft().result()
            for c in itertools.islice(chunks, 1):
                window.append(pool.submit(_work_chunk, c))
            yield result
    finally:
        # wait: forked workers hold a copy of the folder lock's descriptor, so the lock is free
        # only once they are gone (after a crash the executor has already killed the others)
        pool.shutdown(wait=True, cancel_futures=True)


def _midi_files(src: Path) -> list[str]:
    """Relative POSIX paths of the .mid/.midi files below ``src``, in sorted path order (by path
    components, as sorted Paths are). ``os.scandir``: ~10x ``Path.rglob`` on 100,000 files."""
    found, stack = [], [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(src, rel)))
        except OSError:  # an unreadable subfolder is left out, as rglob leaves it out
            continue
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            if e.is_dir(follow_symlinks=False):
                stack.append(r)
            elif os.path.splitext(e.name)[1].lower() in SUFFIXES and e.is_file():
                found.append(r)
    return sorted(found, key=lambda r: r.split("/"))


def _reason_key(reason: str) -> str:
    """Group reasons for the report: numbers and tick positions differ from file to file."""
    import re

    reason = re.sub(r" at tick -?\d+", "", reason)
    return re.sub(r"\d[\d,.]*", "N", reason)[:100]


# ---------------------------------------------------------------------------- writing


def shard_path(root: Path, name: str, part: str) -> Path:
    return root / f"{name}.{part}.npy"


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


class _ShardWriter:
    """Fills one split's shards; ``add`` returns the shard it closed (or None)."""

    def __init__(self, root: Path, split: str, first: int, limit: int, dtype: np.dtype) -> None:
        self.root, self.split, self.number, self.limit, self.dtype = root, split, first, limit, dtype
        self.parts: list[np.ndarray] = []
        self.files: list[str] = []
        self.size = 0

    def add(self, ids: np.ndarray, rel: str) -> dict | None:
        closed = self.close() if self.parts and self.size + len(ids) > self.limit else None
        self.parts.append(ids)
        self.files.append(rel)
        self.size += len(ids)
        return closed

    def close(self) -> dict | None:
        """Write the open shard (tokens, then its index) and return its manifest entry."""
        from ..io.atomic import atomic_write

        if not self.parts:
            return None
        name = f"{self.split}-{self.number:05d}"
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in self.parts])]).astype(np.int64)
        atomic_write(shard_path(self.root, name, "tokens"), _npy_bytes(np.concatenate(self.parts).astype(self.dtype)))
        atomic_write(shard_path(self.root, name, "index"), _npy_bytes(offsets))
        entry = {"name": name, "tokens": int(offsets[-1]), "files": len(self.parts), "members": self.files}
        self.parts, self.files, self.size = [], [], 0
        self.number += 1
        return entry


def is_shards(path) -> bool:
    """Whether ``path`` is a folder written by ``compose tokenize``."""
    p = Path(path) / MANIFEST
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_manifest(path, *, complete: bool = True) -> dict:
    root = Path(path)
    try:
        m = json.loads((root / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"{root / MANIFEST}: unreadable ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise CorpusError(f"{root}: not a shard folder written by `compose tokenize`")
    if m.get("version") != VERSION:
        raise CorpusError(f"{root}: shard format version {m.get('version')!r}, this composer reads {VERSION}")
    if complete and not m.get("complete"):
        raise CorpusError(f"{root}: tokenising did not finish; run `compose tokenize` into it again to complete it")
    return m


def _summary(m: dict) -> None:
    """Recompute the counts from the per-file records (the one source of truth)."""
    from collections import Counter

    status = Counter(r["status"] for r in m["files"].values())
    reasons = Counter(_reason_key(r["reason"]) for r in m["files"].values() if r["status"] == "skipped")
    m["counts"] = {"files": len(m["files"]), "tokenized": status["ok"], "duplicates": status["duplicate"],
                   "skipped": status["skipped"]}
    m["skipped_by_reason"] = dict(reasons.most_common())
    for split in SPLIT_NAMES:
        shards = m["splits"][split]["shards"]
        m["splits"][split]["files"] = sum(s["files"] for s in shards)
        m["splits"][split]["tokens"] = sum(s["tokens"] for s in shards)
    m["tokens"] = sum(m["splits"][s]["tokens"] for s in SPLIT_NAMES)


def _guarded(results):
    """Results as they come; a dead worker process becomes one clear error."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        yield from results
    except BrokenProcessPool:
        raise CorpusError("a parsing process died (a crash in the MIDI parser on some file); "
                          "run again to resume, with --workers 1 to find the file") from None


def tokenize_corpus(source, out_dir, *, tokenizer=None, workers: int = 0, shard_tokens: int = 1 << 24,
                    seed: int = 0, progress: bool = True) -> dict:
    """Tokenise every .mid/.midi under ``source`` into shards in ``out_dir``; returns the manifest.

    ``workers`` 0 uses every CPU; 1 parses in this process. Resumes a run the folder already holds
    (same tokenizer config and seed required).
    """
    from tqdm import tqdm

    from ..checkpoint import write_json
    from ..io.lock import exclusive
    from .build import _split_of

    src, out = Path(source), Path(out_dir)
    if not src.is_dir():
        raise CorpusError(f"{src}: no such folder")
    if shard_tokens < 1:
        raise CorpusError(f"shard size must be at least 1 token, got {shard_tokens}")
    if tokenizer is None:
        from ..tokenizers.remi import RemiTokenizer

        tokenizer = RemiTokenizer()
    spec = json.loads(json.dumps(tokenizer.to_dict()))  # as the manifest stores it (tuples become lists)
    with exclusive(out):
        for stale in out.glob(".*.tmp"):  # temp files of a killed run (atomic_write's names)
            stale.unlink(missing_ok=True)
        if (out / MANIFEST).exists():
            m = load_manifest(out, complete=False)
            if m["tokenizer"] != spec or m["seed"] != seed:
                raise CorpusError(f"{out} holds shards made with another tokenizer config or seed; "
                                  "choose another folder")
        else:
            m = {"format": FORMAT, "version": VERSION, "source": str(src), "seed": seed, "tokenizer": spec,
                 "dtype": tokenizer.dtype.name, "shard_tokens": shard_tokens, "complete": False,
                 "splits": {s: {"shards": []} for s in SPLIT_NAMES}, "files": {}}
        todo = [rel for rel in _midi_files(src) if rel not in m["files"]]
        seen = {r["sha1"]: rel for rel, r in m["files"].items() if r["status"] == "ok"}
        writers = {s: _ShardWriter(out, s, len(m["splits"][s]["shards"]), m["shard_tokens"], tokenizer.dtype)
                   for s in SPLIT_NAMES}
        pending: dict[str, dict] = {}  # records whose shard is not written yet, or skips not yet saved

        def commit(entry: dict | None, split: str, save: bool = True) -> None:
            if entry is not None:
                m["splits"][split]["shards"].append({k: v for k, v in entry.items() if k != "members"})
                for rel in entry["members"]:
                    m["files"][rel] = pending.pop(rel)
            for rel in [r for r, rec in pending.items() if rec["status"] != "ok"]:
                m["files"][rel] = pending.pop(rel)
            if save:
                _summary(m)
                write_json(out / MANIFEST, m)

        n_workers = workers or os.cpu_count() or 1
        try:
            import symusic  # noqa: F401
        except ImportError:
            log.info("symusic is not installed: parsing MIDI with mido (`pip install symusic`: about 30x faster)")
        bar = tqdm(total=len(todo), unit="file", desc="tokenize", disable=not progress, smoothing=0.1)
        results = _chunk_results([os.path.join(src, rel) for rel in todo], spec, n_workers)
        try:
            done = tokens = 0
            # the parent only dedupes, splits and appends: parsing, hashing and tokenising are the workers'
            for digests, lengths, flat, reasons in _guarded(results):
                at = 0
                for i, (rel, digest, n) in enumerate(zip(todo[done:done + len(digests)], digests, lengths)):
                    if n < 0:
                        reason = reasons[i]
                        pending[rel] = {"sha1": digest, "status": "skipped", "reason": reason}
                        log.debug("skipped %s: %s", rel, reason)
                        continue
                    ids, at = flat[at:at + n], at + n
                    if digest in seen:
                        pending[rel] = {"sha1": digest, "status": "duplicate", "of": seen[digest]}
                        continue
                    seen[digest] = rel
                    split = _split_of(digest, seed)
                    pending[rel] = {"sha1": digest, "status": "ok", "split": split, "tokens": n}
                    closed = writers[split].add(ids, rel)
                    if closed is not None:
                        commit(closed, split)
                    tokens += n
                done += len(digests)
                bar.update(len(digests))
                bar.set_postfix(tokens=f"{tokens:,}", refresh=False)
        finally:
            bar.close()
            results.close()  # shuts the pool down (cancelling what is queued) on an error, too
        for split, w in writers.items():
            commit(w.close(), split, save=False)
        m["complete"] = True
        _summary(m)
        write_json(out / MANIFEST, m)
    if not m["counts"]["tokenized"]:
        raise CorpusError(f"{src}: no usable MIDI file ({m['counts']['skipped']} skipped)")
    return m


def load_tokens(root, split: str) -> list[np.ndarray]:
    """Every file's tokens in ``split`` as memory-mapped slices (for small corpora and tests)."""
    m = load_manifest(root)
    out = []
    for s in m["splits"][split]["shards"]:
        tokens = np.load(shard_path(Path(root), s["name"], "tokens"), mmap_mode="r")
        index = np.load(shard_path(Path(root), s["name"], "index"))
        out += [tokens[a:b] for a, b in itertools.pairwise(index)]
    return out


def check_tokenizer(manifest: dict) -> object:
    """The tokenizer a shard folder was made with."""
    from ..tokenizers import build_tokenizer

    try:
        return build_tokenizer(manifest["tokenizer"])
    except (ComposerError, KeyError) as e:
        raise CorpusError(f"shard manifest: bad tokenizer ({e})") from None

