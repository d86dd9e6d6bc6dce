"""How good is the shipped drums model? Prints the figures the drums issue asks for.

(a) validation perplexity per token on the held-out songs of the built-in corpus;
(b) copying: the share of generated bars (and 2- and 4-bar phrases) found verbatim in training;
(c) groove statistics for the same prime: kick / snare / hat onset probability per grid position
    of generated vs corpus bars of that groove, as an L1 distance (sum over positions), beside
    the distance of the groove-blind pooled corpus (what ignoring the prime would score);
(d) fill placement: with --fill-every 4, bars heard as fills where asked and elsewhere; without
    it (a fill ends each 8 bars, the model's call half-way), fills heard, and how often the model
    plays the optional one (corpus: the same rate);
(e) the quantiser: humanised renders of known-grid songs read back from MIDI, hits recovered.

    python bench/drums.py [--checkpoint DIR] [--runs 8] [--bars 16]
"""

from __future__ import annotations

import argparse
import math
import time
from itertools import pairwise

import numpy as np

from composer.checkpoint import load_checkpoint
from composer.data import TokenData, split_indices
from composer.drums_io import is_fill
from composer.io.midi import midi_bytes, read_midi
from composer.pipeline import pretrained_dir
from composer.sample import sample_tokens
from composer.score import humanize
from composer.styles import get_style
from composer.train import TrainConfig, evaluate_nll

GROUPS = {"kick": (0,), "snare": (1,), "hat": (2, 3)}


def onset_hist(bars) -> dict[str, np.ndarray]:
    """Per group, the probability of an onset at each grid position (bars of one kind)."""
    lv = np.stack([b.levels for b in bars]) > 0  # (N, steps, 9)
    return {g: lv[:, :, list(c)].any(-1).mean(0) for g, c in GROUPS.items()}


def key(bar) -> tuple:
    return (bar.kind.marker, bar.words.tobytes())


def ngram_share(pieces, train_sets, n: int) -> float:
    got = [tuple(key(b) for b in p[i:i + n]) for p in pieces for i in range(len(p) - n + 1)]
    return sum(g in train_sets[n] for g in got) / max(len(got), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="default: the shipped drums checkpoint")
    ap.add_argument("--runs", type=int, default=8, help="pieces per groove")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    st = get_style("drums")
    ck = load_checkpoint(args.checkpoint or pretrained_dir(st))
    tok, model = ck.tokenizer, ck.model
    songs = st.build_corpus(0)
    tr, va = split_indices(len(songs), 0.1, 0)

    # (a) perplexity
    encoded = [tok.encode(s) for s in songs]
    nll = evaluate_nll(model, TokenData([encoded[i] for i in va], st.seq_len), TrainConfig(batch_size=16), "cpu")
    print(f"(a) validation perplexity: {math.exp(nll):.3f} per token (NLL {nll:.4f} nats; {len(va)} held-out songs, "
          f"vocabulary {len(tok.vocab)})")

    train_bars = {i: tok.bars(songs[i])[0] for i in tr}
    train_sets = {n: {tuple(key(b) for b in bars[j:j + n]) for bars in train_bars.values()
                      for j in range(len(bars) - n + 1)} for n in (1, 2, 4)}
    by_groove: dict[str, list] = {}
    for i, bars in train_bars.items():
        by_groove.setdefault(songs[i].meta["groove"], []).extend(b for b in bars if not b.fill)

    # generation: free, and with --fill-every 4
    t0 = time.perf_counter()
    free, fixed = {}, {}
    for g in by_groove:
        for out, every in ((free, None), (fixed, 4)):
            ids = sample_tokens(model, tok.prompt(args.bars, groove=g, fill_every=every), st.max_tokens,
                                temperature=st.temperature, top_k=st.top_k, top_p=st.top_p, seed=args.seed,
                                grammar=tok.grammar(args.bars, groove=g, fill_every=every), stop=tok.end_id,
                                batch=args.runs)
            out[g] = [tok.ids_to_bars(x) for x in ids]
    n_prime = tok.config.prime_bars
    print(f"    sampled {2 * len(free) * args.runs} pieces of {args.bars} bars in {time.perf_counter() - t0:.1f} s")

    # (b) copying
    gen = [p[n_prime:] for pieces in free.values() for p in pieces]
    shares = {n: ngram_share(gen if n == 1 else [p for pieces in free.values() for p in pieces], train_sets, n)
              for n in (1, 2, 4)}
    print(f"(b) generated bars verbatim in training: {100 * shares[1]:.1f}%   2-bar phrases: {100 * shares[2]:.1f}%"
          f"   4-bar phrases: {100 * shares[4]:.1f}%")

    # (c) groove statistics
    print("(c) onset-histogram L1 (sum over grid positions), generated vs corpus, same prime; in brackets the")
    print("    groove-blind pooled corpus. 'section': the rest of the prime's 8-bar section vs corpus sections")
    print("    on the prime's hats/ride layer; 'piece': all generated bars vs all bars of the groove.")
    rows = []
    for g, bars in by_groove.items():
        kind = bars[0].kind
        same = [b for i in tr if songs[i].meta["groove"] == g for sec in songs[i].meta["sections"]
                if sec["layer"] == "time" and sec["time"] == 0
                for b in train_bars[i][sec["bar"] + n_prime: sec["bar"] + 8] if not b.fill]
        sec_bars = [b for p in free[g] for b in p[n_prime:8] if not b.fill and b.kind == kind]
        gen_bars = [b for p in free[g] for b in p[n_prime:] if not b.fill and b.kind == kind]
        pooled = [b for bs in by_groove.values() for b in bs if b.kind == kind]
        if not gen_bars or not sec_bars or not same:
            print(f"    {g:9s} too few bars to compare")
            continue
        hs, hr, hg, hb, hp = map(onset_hist, (sec_bars, same, gen_bars, bars, pooled))
        l1 = [{k: float(np.abs(a[k] - b[k]).sum()) for k in GROUPS} for a, b in ((hs, hr), (hg, hb), (hp, hb))]
        rows.append(l1)
        print(f"    {g:9s} section " + " ".join(f"{k} {l1[0][k]:.2f}" for k in GROUPS) + " | piece "
              + " ".join(f"{k} {l1[1][k]:.2f} ({l1[2][k]:.2f})" for k in GROUPS))
    mean = [{k: float(np.mean([r[j][k] for r in rows])) for k in GROUPS} for j in range(3)]
    print("    mean      section " + " ".join(f"{k} {mean[0][k]:.2f}" for k in GROUPS) + " | piece "
          + " ".join(f"{k} {mean[1][k]:.2f} ({mean[2][k]:.2f})" for k in GROUPS))

    # (d) fill placement
    asked = other = asked_fill = other_fill = 0
    for pieces in fixed.values():
        for p in pieces:
            for i, b in enumerate(p[n_prime:], n_prime):
                heard = is_fill(b.levels)
                if (i + 1) % 4 == 0:
                    asked, asked_fill = asked + 1, asked_fill + heard
                else:
                    other, other_fill = other + 1, other_fill + heard
    mid = [b for pieces in free.values() for p in pieces for i, b in enumerate(p) if i >= n_prime and i % 8 == 3]
    sec_end = [b for pieces in free.values() for p in pieces for i, b in enumerate(p) if i % 8 == 7]
    starts = [[x["bar"] for x in s.meta["sections"]] + [s.meta["bars"] - 1] for s in (songs[i] for i in tr)]
    corpus_mid = np.mean([(a + 3 in songs[i].meta["fills"]) for i, st_ in zip(tr, starts)
                          for a, b in pairwise(st_) if b - a == 8])  # 8-bar sections, fill at bar 4?
    print(f"(d) --fill-every 4: fills heard at the asked bars {100 * asked_fill / max(asked, 1):.1f}%, "
          f"elsewhere {100 * other_fill / max(other, 1):.1f}%")
    print(f"    default (a fill ends each 8 bars, the model's call at bar 4): fills heard at section ends "
          f"{100 * np.mean([is_fill(b.levels) for b in sec_end]):.1f}%; the model plays one half-way through "
          f"{100 * np.mean([b.fill for b in mid]):.1f}% of sections (corpus {100 * corpus_mid:.1f}%)")

    # (e) quantiser
    hits = found = grids = n_bars = 0
    errs = []
    for s in (songs[i] for i in range(min(len(songs), 24))):
        truth, _ = tok.bars(s)
        got, rep = tok.bars(read_midi(midi_bytes(humanize(s, 1.0, seed=args.seed + 1))))
        errs.append(rep.mean_error)
        grids += sum(a.kind == b.kind for a, b in zip(truth, got))
        n_bars += len(truth)
        for a, b in zip(truth, got):
            hits += int((a.levels > 0).sum())
            found += int(((a.levels > 0) & (b.levels > 0) & (a.kind == b.kind)).sum())
    print(f"(e) quantiser on humanised files (onset sd 1/6 of a 16th, clipped at a 32nd): "
          f"{100 * found / hits:.2f}% of {hits} hits recovered on their step (goal >= 99%), grid chosen right in "
          f"{100 * grids / max(n_bars, 1):.1f}% of bars, mean error {100 * np.mean(errs):.1f}% of a step")


if __name__ == "__main__":
    main()
