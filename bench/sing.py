"""Singing benchmark: speed of `compose sing` on a 30-second song, pitch/timing/voicing checks of the
default voice, and the NPSS model's validation loss and mel-cepstral distortion.

    python bench/sing.py                                   # default voice only
    python bench/sing.py --checkpoint RUN --corpus CORPUS  # and a trained singer (compose train-singer)

Reference runs in the same process: WORLD synthesis alone of the same song (the vocoder's floor
for the real-time factor), and for the distortion a baseline that predicts each phone's mean
mel-cepstrum (what a model with no context would do).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def thirty_second_song(folder: Path) -> Path:
    from composer.synth.sing_corpus import random_song_abc

    text = random_song_abc(np.random.default_rng(7), bars=16, title="bench").replace("Q:1/4=", "Q:1/4=128 %")
    p = folder / "bench.abc"
    p.write_text(text)
    return p


def timed_cli(song: Path, out: Path, voice: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "composer.cli", "sing", str(song), "-o", str(out), "--voice", voice, "--force"],
                   check=True, capture_output=True, env={**os.environ, "TQDM_DISABLE": "1"})
    return time.perf_counter() - t


def _librosa_available() -> bool:
    try:
        import librosa  # noqa: F401
    except ModuleNotFoundError:
        print("(librosa is not installed: the pYIN cross-check is skipped; pip install librosa)")
        return False
    return True


def _figures(name: str, cents: list, legato: list, n_notes: int, songs: int) -> None:
    a = np.abs(np.array(cents))
    print(f"pitch ({name}; steady part: middle half of the vowel, >= 150 ms after the onset; {len(a)} notes "
          f"long enough of {n_notes} in {songs} songs, vibrato on): "
          f"median |error| {np.median(a):.1f} cents, max {a.max():.1f} cents, {np.mean(a <= 20) * 100:.1f} % within 20")
    e = np.abs(np.array(legato)) * 1000
    print(f"onsets, legato pitch changes ({name}, {len(e)}): median {np.median(e):.0f} ms, max {e.max():.0f} ms, "
          f"{np.mean(e <= 20) * 100:.1f} % within 20 ms")


def consonant_pitch() -> None:
    """The root cause of the legato onsets heard early before: YIN's reading in a voiced consonant
    between two vowels on ONE pitch (the F0 is constant, so every deviation is the consonant's)."""
    from composer.synth.phonemes import phone_set
    from composer.synth.sing import sing
    from composer.synth.sing_check import yin
    from composer.synth.sing_f0 import hz_to_midi
    from composer.synth.sing_score import Song, SungNote
    from composer.synth.sing_voice import DefaultVoice

    voice = DefaultVoice(phone_set("en"))
    pairs = [("you", "one"), ("ah", "law"), ("ah", "ma"), ("ah", "ra"), ("oh", "we"), ("see", "you"),
             ("ah", "no"), ("I", "will"), ("so", "yell")]
    worst = []
    for a, b in pairs:
        for pitch in (55, 62, 69):
            r = sing(Song([SungNote(0, 1, pitch, a), SungNote(1, 1, pitch, b)], 100), voice, vibrato=0)
            f0, _ = yin(r.samples, r.sample_rate)
            on = r.score.notes[1, 0]
            lo, hi = int((on - 0.12) / 0.005), int((on + 0.03) / 0.005)
            ok = f0[lo:hi] > 0
            dev = hz_to_midi(f0[lo:hi][ok]) - hz_to_midi(r.features.f0[lo:hi][ok])
            worst.append(float(np.abs((dev + 6) % 12 - 6).max()) * 100)  # octave errors aside
    w = np.array(worst)
    print(f"voiced consonants between two vowels on one pitch ({len(w)} cases: W Y L M N R, MIDI 55/62/69): "
          f"YIN reads them off the F0 by median {np.median(w):.0f} cents, max {w.max():.0f}; "
          f"{np.mean(w > 50) * 100:.0f} % of cases more than 50 cents off")


def quality(songs: int = 5) -> None:
    from composer.synth.phonemes import phone_set
    from composer.synth.sing import sing
    from composer.synth.sing_check import onset_errors, pitch_report, pyin, voicing_report, yin
    from composer.synth.sing_corpus import random_song_abc
    from composer.synth.sing_score import read_song
    from composer.synth.sing_voice import DefaultVoice

    ps = phone_set("en")
    voice = DefaultVoice(ps)
    cents, legato, voiced_on, vv, cu, n_notes = [], [], [], [], [], 0
    with_pyin = _librosa_available()
    p_cents, p_legato = [], []
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        for i in range(songs):
            p = Path(d) / f"q{i}.abc"
            p.write_text(random_song_abc(rng, 8))
            r = sing(read_song(p), voice, seed=i)
            f0, _ = yin(r.samples, r.sample_rate)
            rep = pitch_report(f0, r.score, ps)
            cents += list(rep.cents[~np.isnan(rep.cents)])
            n_notes += len(rep.cents)
            legato += list(onset_errors(f0, r.score))
            if with_pyin:  # the same checks on an independent estimator's F0
                pf0 = pyin(r.samples, r.sample_rate)
                prep = pitch_report(pf0, r.score, ps)
                p_cents += list(prep.cents[~np.isnan(prep.cents)])
                p_legato += list(onset_errors(pf0, r.score))
            v = voicing_report(f0, r.score, ps)
            voiced_on += list(v["onset_errors"])
            vv.append(v["vowel_voiced"])
            cu.append(v["consonant_unvoiced"])
    _figures("our YIN", cents, legato, n_notes, songs)
    if with_pyin:
        _figures("librosa pYIN", p_cents, p_legato, n_notes, songs)
    e = np.abs(np.array(voiced_on)) * 1000
    print(f"onsets, vowels after voiceless consonants (YIN voicing, {len(e)}): median {np.median(e):.0f} ms, "
          f"max {e.max():.0f} ms, {np.mean(e <= 20) * 100:.1f} % within 20 ms")
    print(f"phoneme timing: {np.mean(vv) * 100:.1f} % of vowel frames voiced, "
          f"{np.mean(cu) * 100:.1f} % of voiceless-consonant frames unvoiced")


def npss(checkpoint: str, corpus: str) -> None:
    from composer.synth.sing_corpus import load_corpus
    from composer.synth.sing_train import _split, evaluate_singer
    from composer.synth.world import mel_cepstral_distortion

    m = evaluate_singer(checkpoint, corpus, max_songs=4)
    utts, _ = load_corpus(corpus, progress=False)
    train, valid = _split(utts, 0)
    # Baseline: each phone's mean mel-cepstrum over the training songs.
    sums: dict = {}
    for u in train:
        for ph in np.unique(u.phones[:, 1]):
            rows = u.mcep[u.phones[:, 1] == ph]
            s, n = sums.get(ph, (0, 0))
            sums[ph] = (s + rows.sum(0), n + len(rows))
    base = []
    for u in valid[: m["mcd_songs"]]:
        pred = np.stack([sums[p][0] / sums[p][1] if p in sums else u.mcep.mean(0) for p in u.phones[:, 1]])
        base.append(mel_cepstral_distortion(pred, u.mcep, u.f0 > 0))
    print(f"NPSS {checkpoint}: validation NLL {m['valid_nll']:.2f} nats/frame on {m['songs']} held-out songs; "
          f"MCD {m['mcd_db']:.2f} dB (generated vs analysed, voiced frames, {m['mcd_songs']} songs) vs "
          f"{np.mean(base):.2f} dB for the per-phone mean baseline: {np.mean(base) / m['mcd_db']:.2f}x lower")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--corpus")
    args = ap.parse_args()
    from composer.io.audio import read_audio
    from composer.synth.sing_score import read_song
    from composer.synth.world import analyze, synthesize

    with tempfile.TemporaryDirectory() as d:
        song = thirty_second_song(Path(d))
        print(f"song: {len(read_song(song).notes)} notes")
        voices = ["default"] + ([args.checkpoint] if args.checkpoint else [])
        for v in voices:
            out = Path(d) / "out.wav"
            wall = timed_cli(song, out, v)
            x, sr = read_audio(out)
            seconds = len(x) / sr
            t = time.perf_counter()
            synthesize(analyze(x[:, 0], sr))
            vocoder = time.perf_counter() - t
            print(f"compose sing --voice {'default' if v == 'default' else 'NPSS'}: {seconds:.1f} s of song in {wall:.1f} s "
                  f"(whole process): real-time factor {wall / seconds:.2f}; WORLD analysis+synthesis alone "
                  f"{vocoder:.1f} s ({wall / vocoder:.1f}x of that)")
    quality()
    consonant_pitch()
    if args.checkpoint and args.corpus:
        npss(args.checkpoint, args.corpus)


if __name__ == "__main__":
    main()
