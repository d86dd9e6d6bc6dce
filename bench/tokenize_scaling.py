"""`compose tokenize` end to end (walk, read, hash, parse, tokenise, dedupe, write shards) by worker
count, on a corpus big enough that starting the pool is noise: 10,272 distinct files made from
music21's scores (24 transposed / time-shifted variants of each, ``scripts/midi_variants.py``).

Each worker count runs ``--repeats`` times into a fresh folder, interleaved (1, 2, 1, 2, ...) so a
drift in machine load hits every count alike; the medians and the speed-up over 1 worker print,
over the runs no other process disturbed (each run prints the CPU others took meanwhile).
The files are read once first, so every run finds them in the page cache. ``--ceiling`` also
times the per-file work alone split over the processes: the best speed-up this machine allows.

    python scripts/music21_midi.py && python scripts/midi_variants.py   # once
    python bench/tokenize_scaling.py
    python bench/tokenize_scaling.py --dir my_midi/ --workers 1,2,4,8 --repeats 5
    python bench/tokenize_scaling.py --ceiling
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TQDM_DISABLE", "1")

from composer.corpora import shards
from composer.corpora.shards import tokenize_corpus
from composer.errors import ComposerError
from composer.tokenizers.remi import RemiTokenizer


def _tokens_of(paths: list[str], spec: dict) -> int:
    """The workers' share of a run (read, hash, parse, tokenise) for ``paths``, nothing else."""
    shards._init_worker(spec)
    return sum(len(r[2]) for r in map(shards._work, paths) if r[2] is not None)


def ceiling(src: str, n: int) -> float:
    """The speed-up this machine gives the per-file work alone: all files in this process against
    ``n`` processes each taking a 1/n slice at once (no parent, no shards, no results sent back).
    What `compose tokenize` gets with ``n`` workers is to be read against this."""
    from concurrent.futures import ProcessPoolExecutor

    paths = [os.path.join(src, rel) for rel in shards._midi_files(Path(src))]
    spec = RemiTokenizer().to_dict()
    t0 = time.perf_counter()
    _tokens_of(paths, spec)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(n) as pool:
        list(pool.map(_tokens_of, [paths[i::n] for i in range(n)], [spec] * n))
    return one / (time.perf_counter() - t0)


def _busy() -> float | None:
    """CPU seconds the whole machine has run (user, system, interrupts), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def _own() -> float:
    """CPU seconds of this process and its (joined) children: the pool's workers."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def scaling(src: str, workers: list[int], repeats: int) -> dict[int, tuple[float, float]]:
    """Print every run and the medians; returns {workers: (median files/s, median tokens/s)}.

    Each run also prints the CPU time other processes took meanwhile (the machine's total minus
    ours): the medians are over the runs where that was under 0.5 s, when there are any."""
    files = shards._midi_files(Path(src))  # the files tokenize_corpus walks, in its order
    size = sum(len(Path(src, rel).read_bytes()) for rel in files)  # and now they are in the page cache
    print(f"`compose tokenize` end to end on {len(files):,} files ({size / 1e6:.1f} MB) from {src}; "
          f"{os.cpu_count()} CPUs on this machine")
    runs: dict[int, list[tuple[float, float, float | None]]] = {w: [] for w in workers}
    for r in range(repeats):
        for w in workers:
            with tempfile.TemporaryDirectory() as out:
                busy, own, t0 = _busy(), _own(), time.perf_counter()
                m = tokenize_corpus(src, out, workers=w, progress=False)
                t = time.perf_counter() - t0
                time.sleep(0.2)  # let the kernel's counters catch up
                other = None if busy is None else max(0.0, _busy() - busy - (_own() - own))
            runs[w].append((m["counts"]["files"] / t, m["tokens"] / t, other))
            print(f"  run {r + 1}, {w} worker{'s' if w > 1 else ' '}: {t:6.2f} s, {runs[w][-1][0]:8,.0f} files/s "
                  f"({m['counts']['tokenized']:,} tokenized, {m['counts']['duplicates']} duplicates, "
                  f"{m['counts']['skipped']} skipped, {m['tokens']:,} tokens)"
                  + ("" if other is None else f"; other processes' CPU meanwhile {other:.1f} s"), flush=True)
    med = {}
    for w, v in runs.items():
        quiet = [x for x in v if x[2] is not None and x[2] < 0.5]
        used = quiet or v
        med[w] = (statistics.median(x[0] for x in used), statistics.median(x[1] for x in used),
                  f"{len(quiet)} undisturbed runs" if quiet else f"all {len(v)} runs, none undisturbed")
    base = med[workers[0]][0]
    print("\nmedians:")
    for w, (fps, tps, n) in med.items():
        print(f"  {w} worker{'s' if w > 1 else ' '}: {fps:8,.0f} files/s {tps:12,.0f} tokens/s   "
              f"speed-up {fps / base:.2f}x over {workers[0]}   ({n})")
    return {w: (fps, tps) for w, (fps, tps, _) in med.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(ROOT, "data", "midi-variants"))
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (the first is the base)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ceiling", action="store_true",
                    help="also time the per-file work alone, split over the processes: the machine's limit")
    args = ap.parse_args()
    if not Path(args.dir).is_dir():
        sys.exit(f"no folder {args.dir}; run python scripts/music21_midi.py && python scripts/midi_variants.py")
    workers = [int(w) for w in args.workers.split(",")]
    scaling(args.dir, workers, args.repeats)
    if args.ceiling:
        for n in workers[1:]:
            ups = [ceiling(args.dir, n) for _ in range(args.repeats)]
            print(f"  ceiling: the per-file work alone in {n} processes (no parent): {statistics.median(ups):.2f}x "
                  f"one process (median of {len(ups)}: {', '.join(f'{u:.2f}' for u in ups)})")


if __name__ == "__main__":
    try:
        main()
    except ComposerError as e:
        sys.exit(f"error: {e}")
