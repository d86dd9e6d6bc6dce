"""MIDI tokenising speed: ours against MidiTok's REMI on symusic, and the older miditoolkit /
pretty_midi parsers, on the same files in one process; then `compose tokenize` with 1 and 2
workers (on data/midi-variants/, see bench/tokenize_scaling.py). Also the cross-check on real
music: how many files give MidiTok's exact token stream.

The files are music21's bundled scores written as MIDI by ``scripts/music21_midi.py`` (Bach,
Beethoven, Mozart, Palestrina, Monteverdi, ...). Every library reads the same bytes from memory,
so disk speed is out of the figures; "ours" is symusic's C++ parse plus our vectorised REMI,
"ours (mido)" the pure-Python path used when symusic is not installed.

    python scripts/music21_midi.py            # once: data/music21-midi/
    python bench/tokenize_midi.py             # all files there
    python bench/tokenize_midi.py --limit 300 --dir my_midi/
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TQDM_DISABLE", "1")

from bench.tokenize_scaling import scaling
from composer.corpora.shards import read_midi_fast
from composer.errors import ComposerError
from composer.io.midi import read_midi
from composer.tokenizers.remi import RemiTokenizer, miditok_remi


def timed(fn, blobs: list[bytes]) -> tuple[float, int, list]:
    """(seconds, tokens, per-file results) of ``fn`` over every file; failures count as skipped."""
    out, tokens = [], 0
    t0 = time.perf_counter()
    for b in blobs:
        try:
            r = fn(b)
        except Exception:  # noqa: BLE001 - a file a library cannot read: skipped, as a corpus run would
            r = None
        out.append(r)
        tokens += 0 if r is None else len(r)
    return time.perf_counter() - t0, tokens, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(ROOT, "data", "music21-midi"))
    ap.add_argument("--limit", type=int, default=0, help="at most this many files (0: all)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 1- and 2-worker `compose tokenize` runs")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    paths = sorted(p for p in Path(args.dir).rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if args.limit:
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]  # an even sample of the collection
    if not paths:
        sys.exit(f"no MIDI files under {args.dir}; run python scripts/music21_midi.py first")
    blobs = [p.read_bytes() for p in paths]
    tok = RemiTokenizer()
    import symusic

    mt = miditok_remi(tok)

    def ours(b):
        return tok.encode_array(read_midi_fast(b))

    def ours_mido(b):
        return tok.encode_array(read_midi(b))

    def miditok_symusic(b):
        seq = mt.encode(symusic.Score.from_midi(b))
        return (seq[0] if isinstance(seq, list) else seq).tokens

    def symusic_parse(b):
        return [len(t.notes) for t in symusic.Score.from_midi(b).tracks]

    def miditoolkit_parse(b):
        import miditoolkit

        return [len(i.notes) for i in miditoolkit.MidiFile(file=io.BytesIO(b)).instruments]

    def pretty_midi_parse(b):
        import pretty_midi

        return [len(i.notes) for i in pretty_midi.PrettyMIDI(io.BytesIO(b)).instruments]

    n_notes = sum(sum(symusic_parse(b)) for b in blobs)
    print(f"{len(blobs)} files from {args.dir}, {sum(map(len, blobs)) / 1e6:.1f} MB, {n_notes:,} notes; "
          f"one process, files read from memory\n")
    ours(blobs[0]), miditok_symusic(blobs[0])  # warm-up: imports and first-call costs out of the figures
    rows = []
    t_ours, n_ours, r_ours = timed(ours, blobs)
    rows.append(("ours: symusic parse + our REMI", t_ours, n_ours))
    t_mt, n_mt, r_mt = timed(miditok_symusic, blobs)
    rows.append(("MidiTok REMI on symusic", t_mt, n_mt))
    t_om, n_om, _ = timed(ours_mido, blobs)
    rows.append(("ours, mido parse (no symusic)", t_om, n_om))
    for label, fn in (("symusic parse only", symusic_parse), ("miditoolkit parse only", miditoolkit_parse),
                      ("pretty_midi parse only", pretty_midi_parse)):
        t, _, _ = timed(fn, blobs)
        rows.append((label, t, 0))
    print(f"{'':34s} {'files/s':>9} {'tokens/s':>11} {'vs MidiTok':>11}")
    for label, t, n in rows:
        tps = f"{n / t:11,.0f}" if n else f"{'-':>11}"
        print(f"{label:34s} {len(blobs) / t:9,.1f} {tps} {t_mt / t:10.2f}x")

    # cross-check on real music. MidiTok (remove_duplicated_notes, which gives its canonical note
    # order) drops a note repeating another's onset and pitch in one program: voices in unison. Our
    # default keeps them; with dedupe_notes=True we drop them too and the streams should be equal.
    tok_d = RemiTokenizer(dedupe_notes=True)
    _, _, r_dedupe = timed(lambda b: tok_d.encode_array(read_midi_fast(b)), blobs)
    for label, results in (("dedupe_notes=True", r_dedupe), ("default (unisons kept)", r_ours)):
        same = both = 0
        diffs = []
        for p, a, b in zip(paths, results, r_mt):
            if a is None or b is None:
                continue
            both += 1
            mine = [tok.vocab[i] for i in a.tolist()[1:-1]]
            if mine == b:
                same += 1
            elif len(diffs) < 5:
                k = next((i for i, (x, y) in enumerate(zip(mine, b)) if x != y), min(len(mine), len(b)))
                diffs.append(f"    {p.name}: first difference at token {k}: ours {mine[k:k + 3]} MidiTok {b[k:k + 3]}")
        print(f"\ncross-check, ours {label}: {same} of {both} files ({100 * same / max(both, 1):.1f} %) give MidiTok's "
              f"exact token stream; tokenized by us only: {sum(a is not None and b is None for a, b in zip(results, r_mt))}"
              f", by MidiTok only: {sum(a is None and b is not None for a, b in zip(results, r_mt))}")
        print("\n".join(diffs))

    if args.no_scaling:
        return
    # worker scaling needs tens of thousands of files (on a few hundred, starting the pool is the figure)
    big = os.path.join(ROOT, "data", "midi-variants")
    if not os.path.isdir(big):
        print(f"\n(no {big}: `python scripts/midi_variants.py` makes it; scaling measured on these "
              f"{len(blobs)} files, too few for a fair figure)")
        big = tempfile.mkdtemp(prefix="bench-midi-")
        for i, b in enumerate(blobs):
            Path(big, f"{i:05d}.mid").write_bytes(b)
    print()
    scaling(big, [1, 2], repeats=1)  # bench/tokenize_scaling.py for the median of several runs


if __name__ == "__main__":
    try:
        main()
    except ComposerError as e:
        sys.exit(f"error: {e}")
