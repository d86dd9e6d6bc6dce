"""What control costs and delivers: key lock, form, accompaniment, in one run on the shipped models.

Prints:
(a) key lock: share of pitched notes in the scale and the model's log-likelihood per token
    (folk) or per frame (blues) of free samples, of samples drawn under the hard lock, and of
    the free samples snapped into the scale afterwards (nearest in-scale pitch): the lock's
    cost beside post-hoc snapping's, both against the free samples;
(b) form: share of generated tunes whose sections match the plan (folk AABB by the form
    constraint, jazz AABA by its grammar), verbatim (--vary 0) and varied (--vary 0.3), with
    the measured share of bars of a repeated section that differ from its first statement;
(c) accompaniment on held-out corpus pieces (blues corpus seed 12345, jazz corpus seed 999,
    never trained on): remove a track, regenerate it with `accompany`, and report onset
    alignment with the kept tracks and chord-tone agreement, beside the original track's.

    python bench/control.py [--runs 20] [--pieces 10]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from itertools import pairwise

import numpy as np
import torch

from composer.accompany import accompany
from composer.checkpoint import load_checkpoint
from composer.comping import render_backing
from composer.constraints import BindContext, Control, ScaleLock, bind_all
from composer.corpora.blues import generate_blues
from composer.corpora.jazz import generate_jazz
from composer.harmony import quality_pcs
from composer.pipeline import generate, pretrained_dir
from composer.sample import sample_frames, sample_tokens, token_log_likelihood
from composer.styles import get_style
from composer.theory import SCALES
from composer.tokenizers.abc_tokens import _PITCH_RE, token_pitch
from composer.tokenizers.chord_grammar import check_form, parse_form


# --- (a) key lock -------------------------------------------------------------------------
def _mode(vocab, ids):
    from composer.tokenizers.abc_tokens import TOKEN_MODE

    return next((TOKEN_MODE[vocab[i]] for i in ids if vocab[i] in TOKEN_MODE), "major")


def _snap_tokens(tok, ids, pcs):
    """Each out-of-scale pitch token -> the vocabulary's nearest in-scale pitch token (ties: down)."""
    mode = _mode(tok.vocab, ids)
    pitch = {i: token_pitch(t, mode) for i, t in enumerate(tok.vocab) if _PITCH_RE.match(t)}
    good = sorted((p, i) for i, p in pitch.items() if p % 12 in pcs)
    out = []
    for i in ids:
        if i in pitch and pitch[i] % 12 not in pcs:
            i = min(good, key=lambda g: (abs(g[0] - pitch[i]), g[0]))[1]
        out.append(i)
    return out


def _in_scale(tok, ids, pcs):
    mode = _mode(tok.vocab, ids)
    ps = [token_pitch(tok.vocab[i], mode) for i in ids if _PITCH_RE.match(tok.vocab[i])]
    return sum(p % 12 in pcs for p in ps), len(ps)


def folk_lock(runs: int, scale: str, mode: str) -> None:
    st = get_style("folk")
    ck = load_checkpoint(pretrained_dir(st))
    tok, model = ck.tokenizer, ck.model
    pcs = {i for i in SCALES[scale]}
    opts = {"meter": "4/4", "mode": mode}
    rows = {"free": [], "locked": [], "snapped": []}
    counts = {k: [0, 0] for k in rows}
    for seed in range(runs):
        prompt, grammar = tok.prompt(**opts), tok.grammar(**opts)
        free = sample_tokens(model, prompt, st.max_tokens, seed=seed, grammar=grammar, stop=tok.end_id)[0]
        rules = bind_all([ScaleLock(0, scale)], tok, BindContext(grammar=grammar))
        locked = sample_tokens(model, prompt, st.max_tokens, seed=seed, grammar=grammar, stop=tok.end_id,
                               constraints=rules)[0]
        snapped = _snap_tokens(tok, free, pcs)
        for name, ids in (("free", free), ("locked", locked), ("snapped", snapped)):
            rows[name].append(token_log_likelihood(model, ids, tok.grammar(**opts), n_given=len(prompt)))
            a, n = _in_scale(tok, ids, pcs)
            counts[name][0] += a
            counts[name][1] += n
    base = np.concatenate(rows["free"]).mean()
    print(f"folk, C {scale} (the model writing C {mode}, 4/4), {runs} tunes each:")
    for name, parts in rows.items():
        ll = np.concatenate(parts).mean()
        a, n = counts[name]
        print(f"  {name:8s} in scale {100 * a / n:6.2f}% of {n:5d} notes   log-lik/token {ll:7.4f}   "
              f"drop vs free {base - ll:+.4f} nats")


def _frame_ll(model, tok, frames, cond):
    with torch.no_grad():
        x = torch.as_tensor(frames, dtype=torch.float32)[None]
        inp = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
        h, _ = model(inp, torch.as_tensor(cond, dtype=torch.float32)[None])
        return model.log_prob(h, x)[0].numpy()


def blues_lock(runs: int, scale: str, bars: int = 12) -> None:
    st = get_style("blues")
    ck = load_checkpoint(pretrained_dir(st))
    tok, model = ck.tokenizer, ck.model
    pcs = set(SCALES[scale])
    ms = tok.slices["melody"]
    mel_pitch = np.array([-1] + list(range(tok.config.melody_low, tok.config.melody_high)))
    good = [j for j in range(1, len(mel_pitch)) if mel_pitch[j] % 12 in pcs]
    lls = {"free": [], "locked": [], "snapped": []}
    counts = {k: [0, 0] for k in lls}
    for seed in range(runs):
        n = bars * tok.steps_per_bar
        cond, _ = tok.generation_inputs(n, seed)
        free = sample_frames(model, cond, temperature=1.0, seed=seed)[0]
        rules = bind_all([ScaleLock(0, scale)], tok, BindContext())
        locked = sample_frames(model, cond, temperature=1.0, seed=seed, constraints=rules)[0]
        snapped = free.copy()
        idx = snapped[:, ms].argmax(1)
        for t, j in enumerate(idx):
            if j and mel_pitch[j] % 12 not in pcs:
                k = min(good, key=lambda g: (abs(mel_pitch[g] - mel_pitch[j]), g))
                snapped[t, ms] = 0
                snapped[t, ms.start + k] = 1
        for name, fr in (("free", free), ("locked", locked), ("snapped", snapped)):
            lls[name].append(_frame_ll(model, tok, fr, cond))
            on = fr[:, tok.slices["melody_onset"].start] > 0
            j = fr[on][:, ms].argmax(1)
            counts[name][0] += int(sum(mel_pitch[x] % 12 in pcs for x in j if x))
            counts[name][1] += int((j > 0).sum())
    base = np.concatenate(lls["free"]).mean()
    print(f"blues melody, C {scale}, {runs} x {bars} bars (temperature 1):")
    for name, parts in lls.items():
        ll = np.concatenate(parts).mean()
        a, n = counts[name]
        print(f"  {name:8s} in scale {100 * a / max(n, 1):6.2f}% of {n:5d} notes   log-lik/frame {ll:8.4f}   "
              f"drop vs free {base - ll:+.4f} nats")


# --- (b) form -----------------------------------------------------------------------------
def _bars(score):
    ticks = [0] + [t for t, _ in score.meta["bars"]]
    n = score.tracks[0].notes
    out = []
    for a, b in pairwise(ticks):
        sel = n[(n["start"] >= a) & (n["start"] < b)]
        out.append(tuple((int(x["start"] - a), int(x["duration"]), int(x["pitch"])) for x in sel))
    return out, [k for _, k in score.meta["bars"]]


def folk_form(runs: int, vary: float) -> None:
    ok = differ = total = 0
    t0 = time.perf_counter()
    for seed in range(runs):
        s = generate("folk", key="C", seed=seed, form="AABB", control=Control(vary=vary))
        bars, marks = _bars(s)
        shape = len(bars) == 32 and [marks[i] for i in (7, 15, 23, 31)] == ["||", "||", "||", "|]"]
        cad = shape and all(bars[e] and bars[e][-1][2] % 12 in c
                            for e, c in ((7, {0, 7}), (15, {0, 7}), (23, {0}), (31, {0})))
        d = sum(bars[i] != bars[i + 8] for i in range(8)) + sum(bars[16 + i] != bars[24 + i] for i in range(8))
        same = d <= round(vary * 8) * 2  # only the bars drawn to vary may differ (a redrawn bar may come out the same)
        ok += bool(shape and cad and same)
        differ += d
        total += 16
    print(f"  folk AABB  vary {vary:.1f}: {ok}/{runs} tunes match the plan (bars, section marks, cadences, "
          f"repeats); A' vs A and B' vs B: {100 * differ / total:.1f}% of bars differ "
          f"({(time.perf_counter() - t0) / runs:.2f} s/tune)")


def jazz_form(runs: int, vary: float) -> None:
    from composer.chart import score_to_chart

    plan = parse_form("AABA", 32)
    ok = differ = total = 0
    for seed in range(runs):
        s = generate("jazz", key="C", seed=seed, form="AABA", control=Control(vary=vary) if vary else None)
        chart = score_to_chart(s)
        r = check_form(chart, plan)
        ok += r["all"] if vary == 0 else (r["bars"] and r["sections"] and r["cadences"])
        differ += sum(chart.bars[i] != chart.bars[8 + i] for i in range(8))
        differ += sum(chart.bars[i] != chart.bars[24 + i] for i in range(8))
        total += 16
    what = "bars, sections, cadences, repeats" if vary == 0 else "bars, sections, cadences"
    print(f"  jazz AABA  vary {vary:.1f}: {ok}/{runs} tunes match the plan ({what}); A' vs A: "
          f"{100 * differ / total:.1f}% of bars differ (the grammar frees the last 2 bars of each A)")


# --- (c) accompaniment --------------------------------------------------------------------
def _onset_alignment(track, kept, tpq) -> float:
    """Share of the track's onsets on a kept track's onset (within a 16th)."""
    grid = tpq // 4
    on = set()
    for t in kept:
        on |= set((t.notes["start"] // grid).tolist())
    starts = track.notes["start"] // grid
    return float(np.mean([s in on for s in starts])) if len(starts) else 0.0


def _chord_tone_share(track, chords) -> float:
    starts = np.array([c.start for c in chords])
    n = track.notes
    if not len(n):
        return 0.0
    ok = []
    for s, p in zip(n["start"], n["pitch"]):
        c = chords[max(0, int(np.searchsorted(starts, s, side="right")) - 1)]
        ok.append(int(p) % 12 in quality_pcs(c.root, c.quality))
    return float(np.mean(ok))


def _chord_agreement(new, old, beats_end, tpq) -> float:
    """Per beat: |pcs(new) & pcs(old)| / |pcs(old)| of the chord sounding there."""
    def at(chords, t):
        starts = [c.start for c in chords]
        c = chords[max(0, int(np.searchsorted(starts, t, side="right")) - 1)]
        return set(quality_pcs(c.root, c.quality))

    vals = [len(at(new, b * tpq) & at(old, b * tpq)) / len(at(old, b * tpq)) for b in range(beats_end)]
    return float(np.mean(vals))


def accompaniment(pieces: int) -> None:
    blues = generate_blues(pieces, choruses=2, seed=12345)
    rows = {k: [] for k in ("bass", "bass from melody", "chords", "melody", "drums")}
    for i, s in enumerate(blues):
        tpq = s.tpq
        n_beats = -(-s.end // tpq)
        # bass: keep chords + melody (bass comes from the chord symbols)
        kept = [t for t in s.tracks if t.name != "Bass"]
        out = accompany(replace(s, tracks=kept), "bass", seed=i)
        rows["bass"].append((_onset_alignment(out.tracks[-1], kept, tpq), _onset_alignment(s.track("Bass"), kept, tpq),
                             _chord_tone_share(out.tracks[-1], s.chords), _chord_tone_share(s.track("Bass"), s.chords)))
        # bass with no chords given: keep the melody only; the chords are composed first
        mel = replace(s, tracks=[s.track("Melody")], chords=[])
        out = accompany(mel, "bass", seed=i)
        rows["bass from melody"].append((_onset_alignment(out.tracks[-1], mel.tracks, tpq),
                                         _onset_alignment(s.track("Bass"), mel.tracks, tpq),
                                         _chord_tone_share(out.tracks[-1], s.chords),
                                         _chord_tone_share(s.track("Bass"), s.chords)))
        # chords: keep the melody only, no chord symbols
        mel = replace(s, tracks=[s.track("Melody")], chords=[])
        out = accompany(mel, "chords", seed=i)
        rows["chords"].append((_onset_alignment(out.tracks[-1], mel.tracks, tpq),
                               _onset_alignment(s.track("Chords"), mel.tracks, tpq),
                               _chord_agreement(out.chords, s.chords, n_beats, tpq),
                               _chord_tone_share(s.track("Melody"), out.chords),
                               _chord_tone_share(s.track("Melody"), s.chords)))
        # melody: keep the chords
        ch = replace(s, tracks=[s.track("Chords")])
        out = accompany(ch, "melody", seed=i)
        rows["melody"].append((_onset_alignment(out.tracks[-1], ch.tracks, tpq),
                               _onset_alignment(s.track("Melody"), ch.tracks, tpq),
                               _chord_tone_share(out.tracks[-1], s.chords), _chord_tone_share(s.track("Melody"), s.chords)))
    for i, j in enumerate(generate_jazz(pieces, seed=999)):
        bars = -(-j.end // (4 * j.tpq))
        backing = render_backing(j.chords, j.tpq, 4, bars)
        kept = [t for t in backing if not t.is_drum]
        orig = next(t for t in backing if t.is_drum)
        out = accompany(replace(j, tracks=kept), "drums", seed=i)
        free = generate("drums", bars=bars, seed=i).tracks[0]  # the same model with no conditioning
        rows["drums"].append((_onset_alignment(out.tracks[-1], kept, j.tpq), _onset_alignment(orig, kept, j.tpq),
                              _onset_alignment(free, kept, j.tpq), 0.0))
    print(f"accompaniment, {pieces} held-out pieces per part (blues corpus seed 12345; jazz corpus seed 999 for drums):")
    m = {k: np.array(r, dtype=float).mean(0) for k, r in rows.items()}
    print("  onset alignment (share of the part's onsets on a kept track's onset), regenerated / original:")
    for k in rows:
        print(f"    {k:16s} {m[k][0]:.3f} / {m[k][1]:.3f}"
              + (f"   (drums style unconditioned: {m[k][2]:.3f})" if k == "drums" else ""))
    print("  chord-tone agreement:")
    print(f"    bass    notes on the original chords' tones: regenerated {m['bass'][2]:.3f}, original {m['bass'][3]:.3f} "
          f"(from the given chords: the same walking line); with chords composed from the melody "
          f"{m['bass from melody'][2]:.3f}")
    print(f"    melody  notes on the original chords' tones: regenerated {m['melody'][2]:.3f}, "
          f"original {m['melody'][3]:.3f}")
    print(f"    chords  original chord tones the regenerated chord holds, per beat: {m['chords'][2]:.3f}; "
          f"melody notes on chord tones: regenerated chords {m['chords'][3]:.3f}, original {m['chords'][4]:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--pieces", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("(a) key lock")
    folk_lock(args.runs, "dorian", "dorian")
    folk_lock(args.runs, "major_pentatonic", "major")
    blues_lock(args.runs, "minor_pentatonic")
    blues_lock(args.runs, "major_pentatonic")
    print("(b) form")
    for vary in (0.0, 0.3):
        folk_form(args.runs, vary)
    for vary in (0.0, 0.3):
        jazz_form(args.runs, vary)
    print("(c) accompaniment")
    accompaniment(args.pieces)


if __name__ == "__main__":
    main()
