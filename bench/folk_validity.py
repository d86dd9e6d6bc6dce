"""Do sampled folk tunes parse, and are their bars the meter's length? With and without the grammar.

For each condition, N tunes are sampled from a folk checkpoint and written token for token as
ABC; each must parse with our reader *and* with music21, and every bar between bar lines must
hold exactly the meter's length (the pickup and the last bar excepted). With the grammar the
same tunes also go through the product path (tokens -> Score -> our ABC writer).
"""

from __future__ import annotations

import argparse
import time

from composer.checkpoint import load_checkpoint
from composer.io.abc import score_to_abc
from composer.metrics import check_abc_tune as check
from composer.pipeline import pretrained_dir
from composer.sample import sample_tokens
from composer.styles import get_style
from composer.tokenizers.abc_tokens import abc_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--temperature", type=float, default=1.0)
    args = ap.parse_args()
    style = get_style("folk")
    ck = load_checkpoint(args.checkpoint or pretrained_dir(style))
    tok = ck.tokenizer
    for label, grammar in (("with the grammar", True), ("without it", False)):
        t0 = time.perf_counter()
        counts = [0, 0, 0, 0]  # ours, music21, bars, product path
        done = 0
        while done < args.n:
            b = min(args.batch, args.n - done)
            seqs = sample_tokens(ck.model, tok.prompt(), style.max_tokens, temperature=args.temperature,
                                 seed=done, batch=b, grammar=tok.grammar() if grammar else None, stop=tok.end_id)
            for seq in seqs:
                words = [tok.vocab[i] for i in seq]
                for k, ok in enumerate(check(abc_text(words))):
                    counts[k] += ok
                if grammar:
                    counts[3] += all(check(score_to_abc(tok.decode(seq))))
            done += b
        n = args.n
        print(f"{label:18s}: parse (ours) {100 * counts[0] / n:5.1f}%  parse (music21) {100 * counts[1] / n:5.1f}%  "
              f"bar lengths right {100 * counts[2] / n:5.1f}%"
              + (f"  product path all three {100 * counts[3] / n:5.1f}%" if grammar else "")
              + f"   [{n} tunes, {time.perf_counter() - t0:.0f} s]")


if __name__ == "__main__":
    main()
