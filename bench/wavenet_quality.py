"""How well a trained WaveNet plays held-out scores: validation NLL and a pitch check.

1. Validation NLL in bits per sample over fixed crops of the corpus's held-out clips (µ-law 256:
   8 bits is a uniform guess).
2. Pitch accuracy: for a few held-out clips, the WaveNet generates the first SECONDS from the
   clip's piano roll alone (cached generator, one batch); each note's fundamental is estimated
   (YIN-style autocorrelation over the middle of the note) and compared with the score's pitch
   (within half a semitone; octave errors counted apart). The same check on the synth's own
   rendering of those clips is the ceiling.

    python bench/wavenet_quality.py --checkpoint runs/wn --corpus data/wn_audio [--clips 4 --seconds 4]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from composer.corpora.audio import load_audio_corpus
from composer.io.audio import write_audio
from composer.models.wavenet import generate
from composer.synth.wavenet import bits_per_sample, load_wavenet, pitch_accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--valid-crops", type=int, default=256)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", help="folder to write the generated and reference clips to (WAV)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, codec = load_wavenet(args.checkpoint)
    _, _, valid, _ = load_audio_corpus(args.corpus, crop_frames=16, valid_crops=args.valid_crops)
    t0 = time.perf_counter()
    bits = bits_per_sample(model, valid)
    print(f"validation NLL: {bits:.3f} bits/sample over {len(valid)} crops of {valid.crop} samples "
          f"({len(valid.clips)} held-out clips; {time.perf_counter() - t0:.0f} s)")
    clips = valid.clips[: args.clips]
    frames = int(args.seconds * codec.frame_rate)
    n = frames * codec.hop
    cond = np.stack([np.asarray(c.roll[:frames], dtype=np.float32) for c in clips])
    t0 = time.perf_counter()
    codes = generate(model, n, cond=cond, temperature=args.temperature, seed=args.seed)
    dt = time.perf_counter() - t0
    print(f"generated {len(clips)} x {args.seconds:g} s in one batch in {dt:.0f} s "
          f"({len(clips) * n / dt:,.0f} samples/s, real-time factor {len(clips) * n / dt / codec.sample_rate:.3f})")
    totals = {"wavenet": [0, 0, 0], "synth (reference)": [0, 0, 0]}
    for i, clip in enumerate(clips):
        notes = [(a / codec.frame_rate, b / codec.frame_rate, p) for a, b, p in codec.pitches(cond[i])]
        ref = clip.read(0, n)
        gen = codec.decode_audio(codes[i])
        for name, audio in (("wavenet", gen), ("synth (reference)", ref)):
            r = pitch_accuracy(audio, notes, codec.sample_rate)
            t = totals[name]
            t[0], t[1], t[2] = t[0] + r["notes"], t[1] + r["correct"], t[2] + r["octave_errors"]
        if args.write:
            from pathlib import Path

            Path(args.write).mkdir(parents=True, exist_ok=True)
            write_audio(Path(args.write) / f"{clip.name}.wavenet.wav", gen, codec.sample_rate)
            write_audio(Path(args.write) / f"{clip.name}.synth.wav", ref, codec.sample_rate)
    for name, (judged, right, octave) in totals.items():
        acc = right / judged if judged else math.nan
        print(f"pitch accuracy, {name:18s}: {100 * acc:5.1f} % of {judged} notes right"
              f" (+{100 * octave / max(judged, 1):.1f} % octave errors)")


if __name__ == "__main__":
    main()
