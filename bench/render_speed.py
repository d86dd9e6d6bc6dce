"""Render speed: seconds of audio per CPU second, built-in synth vs SoundFont paths, on one 3-minute file.

The piece is a generated blues (chords, melody, bass) with a generated drum track laid over it,
90 bars at 120 qpm = 3 minutes, four tracks. Every renderer gets the same Score (or the same
MIDI file, for the FluidSynth command line) and is timed in CPU seconds on one thread:

- built-in synthesiser (composer.synth.render), the goal being ≥ 200× real time; also without its room;
- SoundFont through tinysoundfont (composer's SoundFont path), if installed;
- SoundFont through pyfluidsynth, if installed (the binding we did not pick; same events);
- the FluidSynth command-line renderer (``fluidsynth -ni -F``), if installed.

The SoundFont is --soundfont, else a system GM font (fluid-soundfont-gm), else those rows are skipped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def three_minute_song():
    """Blues (3 tracks) + a drum track, 90 bars of 4/4 at 120 qpm."""
    import torch

    from composer.pipeline import generate

    torch.set_num_threads(1)
    blues = generate("blues", bars=90, seed=1, tempo=120.0)
    drums = generate("drums", bars=90, seed=1, tempo=120.0)
    scale = blues.tpq / drums.tpq
    for t in drums.tracks:
        if scale != 1:
            t.notes["start"] = (t.notes["start"] * scale).astype(np.int64)
            t.notes["duration"] = np.maximum((t.notes["duration"] * scale).astype(np.int64), 1)
        t.is_drum = True
        blues.tracks.append(t)
    return blues


def cpu_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), out


def render_pyfluidsynth(score, font: str, sample_rate: int = 44100) -> np.ndarray:
    """The same event loop as composer.synth.soundfont, through pyfluidsynth (for comparison only)."""
    import fluidsynth

    from composer.synth.engine import note_samples
    from composer.synth.soundfont import _channels

    fs = fluidsynth.Synth(samplerate=float(sample_rate))
    sfid = fs.sfload(font)
    chans = _channels(score)
    rows = []
    for t, ch in zip(score.tracks, chans):
        fs.program_select(ch, sfid, 128 if t.is_drum else 0, 0 if t.is_drum else int(t.program))
        on, held = note_samples(score, t, sample_rate)
        for s, h, p, v in zip(on.tolist(), held.tolist(), t.notes["pitch"].tolist(), t.notes["velocity"].tolist()):
            rows += [(s + h, 0, ch, p, v), (s, 1, ch, p, v)]
    rows.sort()
    chunks, pos = [], 0
    for s, kind, ch, p, v in rows:
        if s > pos:
            chunks.append(fs.get_samples(s - pos))
            pos = s
        if kind:
            fs.noteon(ch, p, v)
        else:
            fs.noteoff(ch, p)
    chunks.append(fs.get_samples(2 * sample_rate))
    fs.delete()
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--soundfont", help="A .sf2 to use for the SoundFont rows (default: a system GM font).")
    ap.add_argument("--repeats", type=int, default=3, help="Timed runs per renderer (the median is shown).")
    args = ap.parse_args()

    from composer.io.midi import write_midi
    from composer.synth import render
    from composer.synth.soundfont import find_system_soundfont, soundfont_available

    score = three_minute_song()
    seconds = float(score.seconds(score.end))
    notes = score.n_notes
    print(f"piece: {seconds:.0f} s, {len(score.tracks)} tracks ({', '.join(t.name for t in score.tracks)}), "
          f"{notes} notes; CPU seconds on one thread, median of {args.repeats}")
    rows = []
    render(score)  # warm caches (wavetables, drum sounds) and imports, as a long session would be
    t, audio = cpu_time(lambda: render(score), args.repeats)
    rows.append(("built-in synth (composer.synth)", t))
    t, _ = cpu_time(lambda: render(score, reverb=0.0), args.repeats)
    rows.append(("built-in synth, dry (reverb=0)", t))
    font = args.soundfont or find_system_soundfont()
    if font is None:
        print("no SoundFont given or found (apt install fluid-soundfont-gm, or --soundfont F): SoundFont rows skipped")
    else:
        print(f"SoundFont: {font} ({os.path.getsize(font) / 1e6:.0f} MB)")
        if soundfont_available():
            t, _ = cpu_time(lambda: render(score, soundfont=font), args.repeats)
            rows.append(("SoundFont via tinysoundfont (composer)", t))
        else:
            print("tinysoundfont not installed: its row is skipped")
        try:
            import fluidsynth  # noqa: F401

            t, _ = cpu_time(lambda: render_pyfluidsynth(score, font), args.repeats)
            rows.append(("SoundFont via pyfluidsynth", t))
        except ImportError as e:
            print(f"pyfluidsynth not usable ({e}): its row is skipped")
        exe = shutil.which("fluidsynth")
        if exe:
            with tempfile.TemporaryDirectory() as d:
                mid, wav = Path(d) / "song.mid", Path(d) / "song.wav"
                write_midi(score, mid)
                times = []
                for _ in range(args.repeats):
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    subprocess.run([exe, "-ni", "-q", "-o", "synth.cpu-cores=1", "-F", str(wav), "-r", "44100", font,
                                    str(mid)], check=True, capture_output=True)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                rows.append(("FluidSynth command line (fluidsynth -F)", statistics.median(times)))
        else:
            print("fluidsynth command line not installed: its row is skipped")
    print(f"\n{'renderer':42s} {'CPU s':>7s} {'× real time':>12s} {'vs built-in':>12s}")
    base = rows[0][1]
    for name, t in rows:
        print(f"{name:42s} {t:7.2f} {seconds / t:12.0f} {base / t:11.2f}×")
    speed = seconds / base
    print(f"\nbuilt-in goal ≥ 200× real time on one core: {'met' if speed >= 200 else 'NOT met'} ({speed:.0f}×)")
    del audio


if __name__ == "__main__":
    sys.exit(main())
