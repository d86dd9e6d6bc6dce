"""The built-in synthesiser: in tune (FFT, 5 cents), drums on time (5 ms), loudness follows velocity, stereo, shape."""

import itertools

import numpy as np
import pytest

from composer.score import ChordSymbol, Score, Tempo, TimeSignature, Track
from composer.synth import render
from composer.synth.engine import PEAK, pan_gains, track_pans
from composer.synth.voices import pitch_to_hz, voice_for_program

SR = 44100


def score_of(*tracks, qpm=120.0):
    return Score(tpq=480, tempos=[Tempo(0, qpm)], time_signatures=[TimeSignature(0, 4, 4)], tracks=list(tracks))


def peak_hz(x: np.ndarray, f_near: float, sr: int = SR) -> float:
    """Frequency of the strongest spectral peak within half a semitone of ``f_near``.

    Hann window, 8× zero padding, then a parabola through the log magnitudes of the top bin
    and its neighbours: accurate to well under a cent for a steady tone of a second.
    """
    n = 8 * (1 << int(np.ceil(np.log2(len(x)))))
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    band = np.flatnonzero((freqs > f_near * 2 ** (-0.5 / 12)) & (freqs < f_near * 2 ** (0.5 / 12)))
    i = band[np.argmax(spec[band])]
    a, b, c = np.log(spec[i - 1:i + 2] + 1e-30)
    return float(freqs[i] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0]))


def cents(f: float, ref: float) -> float:
    return 1200.0 * np.log2(f / ref)


def mono(audio: np.ndarray) -> np.ndarray:
    return audio.mean(axis=1).astype(np.float64)


CASES = [(0, p) for p in (33, 48, 60, 72, 88)] + [(24, p) for p in (40, 52, 64, 76)] + [(33, p) for p in (28, 40, 52)] + [
    (4, 60), (11, 72), (19, 55), (30, 52), (48, 60), (52, 64), (56, 65), (65, 62), (66, 58), (71, 62), (73, 79),
    (81, 69), (89, 57), (104, 62), (110, 69)]


@pytest.mark.parametrize("program,pitch", CASES)
def test_single_note_fundamental_within_5_cents(program, pitch):
    s = score_of(Track("t", program, False, [(0, 3 * 480, pitch, 100)]))
    x = mono(render(s, SR, reverb=0))[int(0.05 * SR):int(1.45 * SR)]  # skip the attack transient
    f0 = pitch_to_hz(pitch)
    f = peak_hz(x, f0)
    assert abs(cents(f, f0)) < 5.0, (voice_for_program(program).name, pitch, f, f0)
    # and it *is* the fundamental: nothing as strong an octave or a fifth below
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    below = spec[(freqs > 20) & (freqs < 0.8 * f0)]
    if len(below):
        assert below.max() < 0.3 * spec[np.abs(freqs - f0) < 3].max()


@pytest.mark.parametrize("program", [0, 19, 24, 48, 89])
def test_chord_notes_each_within_5_cents(program):
    chord = (48, 55, 64, 70)  # C3 G3 E4 Bb4: no note near another's low harmonics
    s = score_of(Track("t", program, False, [(0, 4 * 480, p, 90) for p in chord]))
    x = mono(render(s, SR, reverb=0))[int(0.1 * SR):int(1.5 * SR)]
    for p in chord:
        f = peak_hz(x, pitch_to_hz(p))
        assert abs(cents(f, pitch_to_hz(p))) < 5.0, (program, p, f)


def _band_onsets(x: np.ndarray, hop: int = 44, look: int = 30) -> list[int]:
    """Onset samples of one band: the first sample whose magnitude is twice (6 dB) the peak of
    the 30 ms before it, and above -40 dB. A decaying tail never beats its own recent peak."""
    n = len(x) // hop * hop
    p = np.abs(x[:n]).reshape(-1, hop).max(1)  # 1 ms frame peaks
    padded = np.concatenate([np.zeros(look), p])
    ref = np.lib.stride_tricks.sliding_window_view(padded, look)[:-1].max(1)
    frames = np.flatnonzero((p > 2.0 * ref) & (p > 0.01 * p.max()))
    return [f * hop + int(np.argmax(np.abs(x[f * hop:(f + 1) * hop]) > 2.0 * ref[f])) for f in frames.tolist()]


def _onsets(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """Onset times, the union over three causal bands (all, low-passed, differenced = high),
    so a side stick under a ringing ride or a tom under a crash is still found; one per 40 ms."""
    tri = np.convolve(np.ones(16), np.ones(16)) / 256.0  # causal triangular low-pass, ~1 kHz
    low = np.convolve(x, tri)[: len(x)]
    high = np.diff(x, prepend=0.0)
    hits = sorted(set(_band_onsets(x)) | set(_band_onsets(low)) | set(_band_onsets(high)))
    out = []
    for h in hits:
        if not out or h - out[-1] > 0.04 * sr:
            out.append(h)
    return np.asarray(out) / sr


def test_drum_onsets_within_5_ms():
    kit = [36, 42, 38, 42, 36, 46, 38, 44, 45, 49, 41, 51, 37, 56, 39, 43]
    # uneven gaps, as a groove has, at 100 qpm (one step = an eighth = 300 ms); velocities vary too
    steps = [0, 2, 4, 6, 7, 10, 12, 14, 16, 18, 21, 24, 26, 28, 31, 34]
    notes = [(s * 240 - (5 if i % 3 == 1 else 0), 60, k, 70 + 17 * (i % 3)) for i, (s, k) in enumerate(zip(steps, kit))]
    s = score_of(Track("drums", 0, True, notes), qpm=100.0)
    x = mono(render(s, SR))
    expected = s.seconds(np.array([n[0] for n in notes]))
    found = _onsets(x)
    assert len(found) == len(expected), (found, expected)
    assert np.abs(found - expected).max() < 0.005


def _rms(x):
    return float(np.sqrt(np.mean(x**2)))


@pytest.mark.parametrize("program,drum", [(0, False), (33, False), (81, False), (0, True)])
def test_loudness_follows_velocity(program, drum):
    vels = [20, 45, 70, 95, 127]
    pitch = 38 if drum else 60
    s = score_of(Track("t", program, drum, [(i * 4 * 480, 480, pitch, v) for i, v in enumerate(vels)]))
    x = mono(render(s, SR, reverb=0))
    seg = int(2.0 * SR)
    levels = [_rms(x[i * seg:i * seg + int(0.4 * SR)]) for i in range(len(vels))]
    assert all(a < b for a, b in itertools.pairwise(levels)), levels
    db = 20 * np.log10(levels[-1] / levels[2])  # 127 vs 70: about 40·log10(127/70) = 10.4 dB
    assert 6.0 < db < 15.0, db


def test_peak_normalised_stereo_float32_and_deterministic():
    s = score_of(Track("piano", 0, False, [(i * 240, 480, 60 + i % 12, 100) for i in range(40)]),
                 Track("bass", 33, False, [(i * 480, 400, 36 + i % 5, 110) for i in range(20)]),
                 Track("drums", 0, True, [(i * 240, 60, (36, 42, 38, 42)[i % 4], 100) for i in range(40)]))
    a = render(s, SR, reverb=0)
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape[1] == 2
    assert np.abs(a).max() == pytest.approx(PEAK, abs=1e-6) and np.isfinite(a).all()
    assert len(a) >= s.seconds(s.end) * SR
    assert np.array_equal(a, render(s, SR, reverb=0))
    b = render(s, 22050, reverb=0)  # another rate: same length in seconds
    assert abs(len(b) / 22050 - len(a) / SR) < 0.01


def test_empty_score_is_silence():
    a = render(score_of(Track("t", 0, False, [])), SR)
    assert a.shape[1] == 2 and not np.any(a)


def test_tracks_are_panned_apart_and_drums_bass_centred():
    piano = Track("piano", 0, False, [(0, 960, 60, 100)])
    guitar = Track("guitar", 24, False, [(0, 960, 64, 100)])
    bass = Track("bass", 33, False, [(0, 960, 36, 100)])
    drums = Track("drums", 0, True, [(0, 60, 36, 100)])
    s = score_of(piano, guitar, bass, drums)
    pans = track_pans(s)
    assert pans[0] < 0 < pans[1] and pans[2] == pans[3] == 0.0
    left, right = pan_gains(-1.0)
    assert left == pytest.approx(1.0) and right == pytest.approx(0.0, abs=1e-9)
    assert sum(g * g for g in pan_gains(0.3)) == pytest.approx(1.0)  # constant power
    a = render(score_of(piano, guitar), SR, reverb=0)
    xl, xr = a[: int(1.0 * SR), 0].astype(np.float64), a[: int(1.0 * SR), 1].astype(np.float64)
    # the piano's C4 is louder on the left, the guitar's E4 on the right
    spec_l, spec_r = np.abs(np.fft.rfft(xl)), np.abs(np.fft.rfft(xr))
    c4, e4 = round(pitch_to_hz(60)), round(pitch_to_hz(64))  # 1 Hz bins
    assert spec_l[c4 - 2:c4 + 3].max() > 1.5 * spec_r[c4 - 2:c4 + 3].max()
    assert spec_r[e4 - 2:e4 + 3].max() > 1.5 * spec_l[e4 - 2:e4 + 3].max()


def test_note_off_and_release():
    s = score_of(Track("organ", 19, False, [(0, 480, 60, 100)]))  # a quarter at 120 qpm: 0.5 s
    x = mono(render(s, SR, reverb=0))
    held, after = _rms(x[int(0.3 * SR):int(0.45 * SR)]), _rms(x[int(0.575 * SR):int(0.6 * SR)])
    assert held > 0.1 and after < 1e-3 * held  # organ release is 60 ms


def test_every_gm_program_and_drum_note_renders():
    tracks = [Track(f"p{p}", p, False, [(0, 240, 60, 90)]) for p in range(128)]
    tracks.append(Track("kit", 0, True, [(i * 60, 60, 27 + i, 90) for i in range(61)]))
    a = render(score_of(*tracks), 22050)
    assert np.isfinite(a).all() and np.abs(a).max() > 0


def test_score_with_chords_and_tempo_change_renders_at_the_right_times():
    s = score_of(Track("p", 0, False, [(0, 480, 60, 100), (1920, 480, 60, 100)]))
    s.tempos = [Tempo(0, 120.0), Tempo(960, 60.0)]  # second note at 1.0 + 2.0 s
    s.chords = [ChordSymbol(0, 1920, 0, "maj")]
    x = mono(render(s, SR, reverb=0))
    found = _onsets(x)
    assert np.allclose(found, [0.0, 3.0], atol=0.005)


@pytest.mark.parametrize("program", [0, 19, 24, 33, 48, 81])
def test_default_render_with_the_room_stays_in_tune(program):
    """The reverb is a linear filter: it must not pull a note or a chord off pitch."""
    chord = (48, 55, 64, 70) if program != 33 else (40,)
    s = score_of(Track("t", program, False, [(0, 4 * 480, p, 90) for p in chord]))
    a = render(s, SR)  # default reverb
    assert len(a) > 2.0 * SR + 1.0 * SR  # the room's tail rings past the last note-off
    x = mono(a)[int(0.1 * SR):int(1.5 * SR)]
    for p in chord:
        f = peak_hz(x, pitch_to_hz(p))
        assert abs(cents(f, pitch_to_hz(p))) < 5.0, (program, p, f)
