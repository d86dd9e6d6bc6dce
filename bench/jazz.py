"""How good is the shipped jazz model? Perplexity, form adherence, voice leading, in one run.

Prints:
(a) perplexity per token and per chord word on the held-out 10% of the built-in corpus (the
    split training used) and on the hand-entered real standards (corpora/jazz/standards.txt,
    never trained on), beside a unigram model of the training split for scale;
(b) form adherence of --runs generations per form with the grammar (goal >= 99%), and of free
    samples without it (does the model alone keep a well-formed form of its own?);
(c) voice leading: mean semitones moved per chord change by the rootless and shell voice-led
    comping vs root-position block chords, on the standards and on generated tunes;
(d) the music21 cross-check of chord pitch classes.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time

import numpy as np
import torch

from composer.checkpoint import load_checkpoint
from composer.comping import mean_movement, root_position, voice_lead
from composer.corpora import data_path
from composer.data import split_indices
from composer.io import read_all
from composer.pipeline import pretrained_dir
from composer.sample import sample_tokens
from composer.styles import get_style
from composer.tokenizers.chord_grammar import check_form, parse_form, section_cadence

FORMS = [("AABA", 32), ("A", 12), ("ABAC", 32), ("AB", 16)]


@torch.no_grad()
def nll(model, tok, seqs) -> tuple[float, float, int]:
    """(nats per token, nats per chord word, tokens) over whole sequences, streamed from the start."""
    model.eval()
    total = chord_total = 0.0
    n = n_chord = 0
    for s in seqs:
        ids = torch.tensor([s])
        logits, _ = model(ids[:, :-1])
        lp = torch.log_softmax(logits[0].float(), -1).gather(1, ids[0, 1:, None])[:, 0]
        is_chord = torch.tensor([t in tok.chords for t in s[1:]])
        total -= float(lp.sum())
        chord_total -= float(lp[is_chord].sum())
        n += len(s) - 1
        n_chord += int(is_chord.sum())
    return total / n, chord_total / max(n_chord, 1), n


def unigram(tok, train, seqs) -> float:
    counts = np.ones(len(tok.vocab))
    for s in train:
        np.add.at(counts, s[1:], 1)
    logp = np.log(counts / counts.sum())
    return -sum(logp[s[1:]].sum() for s in seqs) / sum(len(s) - 1 for s in seqs)


def own_form(chart) -> bool:
    """Free samples: sections of 8 or 12 bars (or one 16), each ending on a cadence, repeats repeating."""
    marks = sorted(chart.sections.items())
    if not marks or marks[0][0] != 0:
        return False
    bounds = [b for b, _ in marks] + [len(chart.bars)]
    plan = [(s, e - b) for (b, s), e in zip(marks, bounds[1:])]
    if any(n not in (8, 12, 16) for _, n in plan):
        return False
    return check_form(chart, plan)["all"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="default: the shipped jazz checkpoint")
    ap.add_argument("--runs", type=int, default=200, help="generations per form")
    ap.add_argument("--seed", type=int, default=0, help="the corpus/split seed training used")
    args = ap.parse_args()
    torch.set_num_threads(1)
    style = get_style("jazz")
    ck = load_checkpoint(args.checkpoint or pretrained_dir(style))
    model, tok = ck.model, ck.tokenizer

    # (a) perplexity
    corpus = style.build_corpus(args.seed)
    encoded = [tok.encode(s) for s in corpus]
    keys = [hashlib.sha1(np.asarray(e).tobytes()).hexdigest() for e in encoded]
    tr, va = split_indices(len(encoded), 0.1, args.seed, keys=keys)
    held = [encoded[i] for i in va]
    train = [encoded[i] for i in tr]
    standards = read_all(data_path("jazz/standards.txt"))
    tok.fallbacks = 0
    real = [tok.encode(s) for s in standards]
    print(f"model: {type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"vocabulary {len(tok.vocab)}, step {ck.config.get('step')}")
    print("(a) perplexity                          per token   per chord word   unigram/token   tokens")
    for name, seqs in ((f"held-out corpus split ({len(held)} tunes)", held),
                       (f"real standards ({len(real)} tunes, unseen)", real)):
        t, c, n = nll(model, tok, seqs)
        print(f"    {name:36s} {math.exp(t):9.2f} {math.exp(c):16.2f} {math.exp(unigram(tok, train, seqs)):15.2f} {n:8d}")
    seen = {tuple(e) for e in encoded}
    print(f"    (standards: {tok.fallbacks} chords outside the vocabulary, encoded as their nearest word; "
          f"{sum(tuple(e) in seen for e in real)} of them found in the training corpus)")

    # (b) form adherence
    print(f"(b) form adherence, {args.runs} generations per form, temperature {style.temperature}, top-p {style.top_p}")
    t0, total_ok, total = time.perf_counter(), 0, 0
    for form, bars in FORMS:
        plan = parse_form(form, bars)
        g = tok.grammar(bars, form=form)
        outs = sample_tokens(model, tok.prompt(bars, form=form), style.max_tokens, temperature=style.temperature,
                             top_p=style.top_p, seed=args.seed, grammar=g, batch=args.runs)
        res = [check_form(tok.decode_chart(o), plan) for o in outs]
        rate = {k: np.mean([r[k] for r in res]) for k in ("bars", "cadences", "repeats", "all")}
        total_ok, total = total_ok + sum(r["all"] for r in res), total + len(res)
        print(f"    with grammar {form:>5s} {bars:2d} bars: bars {100 * rate['bars']:.1f}%  cadences "
              f"{100 * rate['cadences']:.1f}%  repeats {100 * rate['repeats']:.1f}%  all {100 * rate['all']:.1f}%")
    print(f"    with grammar, all forms: {100 * total_ok / total:.2f}%   (goal >= 99%)  "
          f"[{time.perf_counter() - t0:.1f} s]")
    free = sample_tokens(model, [tok.index["_START_"]], 600, temperature=style.temperature, top_p=style.top_p,
                         seed=args.seed + 1, stop=tok.end_id, batch=args.runs)
    charts = [tok.decode_chart(o) for o in free]
    ended = np.mean([o[-1] == tok.end_id for o in free])
    cad = np.mean([all(section_cadence(c, b, e) for b, e in _sections(c)) for c in charts if c.sections])
    print(f"    model alone (no grammar, {args.runs} free samples): {100 * np.mean([own_form(c) for c in charts]):.1f}% "
          f"keep a form of 8/12/16-bar sections with cadences and repeated A's; {100 * ended:.1f}% end; "
          f"{100 * cad:.1f}% end every section on a cadence")

    # (c) voice leading
    print("(c) voice leading, mean semitones moved per chord change (lower is smoother)")
    gen = [tok.decode(o) for o in outs[:50]]
    for name, scores in (("real standards", standards), ("generated tunes", gen)):
        progs = [[(c.root, c.quality) for c in s.chords] for s in scores]
        rootless = np.mean([mean_movement(voice_lead(p)) for p in progs])
        shell = np.mean([mean_movement(voice_lead(p, "shell")) for p in progs])
        base = np.mean([mean_movement([root_position(r, q) for r, q in p]) for p in progs])
        print(f"    {name:16s} rootless voice-led {rootless:5.2f}   shell voice-led {shell:5.2f}   "
              f"root-position baseline {base:5.2f}   ({100 * (1 - rootless / base):.0f}% less movement)")

    # (d) music21
    from composer.harmony import QUALITIES
    from composer.io.leadsheet import music21_crosscheck

    differ, unsupported = music21_crosscheck()
    both = len(QUALITIES) - len(unsupported)
    print(f"(d) music21 cross-check: {both - len(differ)}/{both} qualities both spell give the same pitch classes; "
          f"differ: {', '.join(differ)}; music21 cannot spell: {', '.join(unsupported)}")


def _sections(chart):
    marks = sorted(chart.sections)
    return list(zip(marks, marks[1:] + [len(chart.bars)]))


if __name__ == "__main__":
    main()
