"""Grow a MIDI folder into a bigger one of distinct files (transposed and time-shifted copies),
for benchmarks that need tens of thousands of files, e.g. `compose tokenize`'s worker scaling.

Every variant is real music with its own content (so its own hash: nothing is deduplicated away)
and the same size and shape as its source. Variant k of a file is transposed by one of the
semitone offsets that keep all its notes in 0..127, its notes starting k // 12 quarter notes later.

    python scripts/music21_midi.py                          # once: data/music21-midi/
    python scripts/midi_variants.py                         # -> data/midi-variants/ (24 per file)
    python scripts/midi_variants.py --src my_midi/ -o big/ --per-file 50

A file already written is not written again, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def variants(src: Path, dst: Path, per_file: int) -> tuple[int, int]:
    """(files written, source files symusic could not read)."""
    import symusic
    from tqdm import tqdm

    paths = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    written = bad = 0
    for p in tqdm(paths, unit="file", desc="variants"):
        rel = p.relative_to(src).with_suffix("")
        targets = [dst / rel.parent / f"{rel.name}-v{k:03d}.mid" for k in range(per_file)]
        if all(t.exists() for t in targets):
            continue
        try:
            score = symusic.Score.from_file(str(p))
        except Exception:  # noqa: BLE001 - a source symusic cannot read makes no variants
            bad += 1
            continue
        pitches = [int(x) for t in score.tracks if not t.is_drum for x in t.notes.numpy()["pitch"]]
        lo, hi = (min(pitches), max(pitches)) if pitches else (60, 60)
        offsets = [o for o in sorted(range(-24, 25), key=lambda o: (abs(o), o)) if 0 <= lo + o and hi + o <= 127]
        targets[0].parent.mkdir(parents=True, exist_ok=True)
        for k, target in enumerate(targets):
            if target.exists():
                continue
            v = score.copy()
            for t in v.tracks:
                if not t.is_drum:
                    t.shift_pitch(offsets[k % 12 % len(offsets)], inplace=True)
                if k // 12:  # the notes (not the tempo map) start k // 12 quarter notes later
                    t.shift_time(score.ticks_per_quarter * (k // 12), inplace=True)
            tmp = target.with_suffix(".part")
            v.dump_midi(str(tmp))
            os.replace(tmp, target)
            written += 1
    return written, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=os.path.join(ROOT, "data", "music21-midi"))
    ap.add_argument("-o", "--out", default=os.path.join(ROOT, "data", "midi-variants"))
    ap.add_argument("--per-file", type=int, default=24, help="variants of each source file")
    args = ap.parse_args()
    src = Path(args.src)
    if not src.is_dir():
        sys.exit(f"no folder {src}; run python scripts/music21_midi.py first")
    written, bad = variants(src, Path(args.out), args.per_file)
    n = sum(1 for _ in Path(args.out).rglob("*.mid"))
    print(f"{args.out}: {n} files ({written} written now; {bad} sources unreadable)")


if __name__ == "__main__":
    main()
