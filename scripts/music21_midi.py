"""Write music21's bundled scores (Bach, Beethoven, Mozart, Palestrina, Monteverdi, ...) as MIDI,
once, into a cache folder outside git, for `bench/tokenize_midi.py` and for trying
`compose tokenize` on real polyphonic music.

    python scripts/music21_midi.py                      # -> data/music21-midi/<composer>/<name>.mid
    python scripts/music21_midi.py -o ~/.cache/m21 --workers 2 --limit 200

The folk tune books (ABC collections of thousands of one-line tunes) are left out: the folk
style has its own corpus. A file already written is not converted again, so an interrupted
run resumes; scores music21 cannot parse or write are listed at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

FOLK = {"ryansMammoth", "oneills1850", "essenFolksong", "airdsAirs", "nottingham-dataset", "miscFolk", "leadSheet"}


def _sources() -> list[tuple[str, Path]]:
    from music21 import corpus

    out = []
    for p in corpus.getPaths():
        p = Path(p)
        parts = p.as_posix().split("/corpus/", 1)[-1].split("/")
        if parts[0] in FOLK or p.suffix.lower() in (".abc",):
            continue
        out.append((parts[0], p))
    # round robin over composers, so a partial cache (--limit, or an interrupted run) is a mix
    by: dict[str, list] = {}
    for item in sorted(out, key=lambda x: str(x[1])):
        by.setdefault(item[0], []).append(item)
    rank = {id(item): i for items in by.values() for i, item in enumerate(items)}
    return sorted(out, key=lambda x: (rank[id(x)], x[0]))


def _convert(job: tuple[str, str]) -> tuple[str, str | None]:
    src, dst = job
    from music21 import converter

    try:
        s = converter.parse(src)
        tmp = dst + ".part"
        s.write("midi", fp=tmp)
        os.replace(tmp, dst)  # atomic: a killed run leaves no half-written .mid
        return src, None
    except Exception as e:  # noqa: BLE001 - music21 raises many kinds; report and go on
        return src, f"{type(e).__name__}: {str(e)[:80]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="data/music21-midi", help="cache folder (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="convert at most this many scores (0: all)")
    args = ap.parse_args()
    out = Path(args.output).expanduser()
    jobs = []
    for composer, p in _sources():
        stem = p.name.split(".")[0] if p.suffix != ".mxl" else p.stem
        dst = out / composer / f"{stem}.mid"
        if p.parent.name != composer:  # keep sub-collections apart (bach/bwv..., palestrina/...)
            dst = out / composer / f"{p.parent.name}-{stem}.mid"
        jobs.append((str(p), str(dst)))
    if args.limit:
        jobs = jobs[: args.limit]
    todo = [j for j in jobs if not Path(j[1]).exists()]
    for _, d in todo:
        Path(d).parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(jobs)} scores, {len(jobs) - len(todo)} already in {out}, converting {len(todo)}", file=sys.stderr)
    t0, failed = time.time(), []
    with multiprocessing.Pool(args.workers) as pool:
        for i, (src, err) in enumerate(pool.imap_unordered(_convert, todo), 1):
            if err:
                failed.append((src, err))
            if i % 50 == 0:
                print(f"  {i}/{len(todo)} ({i / (time.time() - t0):.1f} scores/s)", file=sys.stderr)
    for src, err in failed:
        print(f"failed {src}: {err}", file=sys.stderr)
    print(f"done: {len(todo) - len(failed)} written, {len(failed)} failed, {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
