"""WORLD features: mel-cepstrum coding, analysis -> synthesis round trip, feature arrays."""

import numpy as np
import pytest

from composer.errors import InputError
from composer.synth import world

SR = 22050


@pytest.fixture(scope="module")
def pw():
    try:
        return world.require_pyworld()
    except InputError as e:
        pytest.skip(str(e))


def _vowel(seconds=1.5, f0=220.0, vibrato=0.01):
    """A harmonic tone with three formants, harmonics up to Nyquist (no empty band)."""
    t = np.arange(int(SR * seconds)) / SR
    f = f0 * (1 + vibrato * np.sin(2 * np.pi * 5 * t))
    ph = 2 * np.pi * np.cumsum(f) / SR
    env = lambda hz: (np.exp(-((hz - 700) / 300) ** 2) + 0.5 * np.exp(-((hz - 1200) / 300) ** 2)
                      + 0.3 * np.exp(-((hz - 2600) / 400) ** 2) + 0.02)
    x = sum(np.sin(k * ph) * env(k * f) / np.sqrt(k) * (k * f < 10800) for k in range(1, 50))
    return 0.3 * x / np.abs(x).max(), f


def test_mcep_with_no_warping_is_the_real_cepstrum():
    """alpha = 0: the coded coefficients are the FFT cepstrum of the log amplitude (independent check)."""
    rng = np.random.default_rng(0)
    n_bins = 513
    true = rng.standard_normal(20) * np.exp(-np.arange(20) / 4)  # a smooth log-amplitude spectrum
    w = np.linspace(0, np.pi, n_bins)
    log_amp = np.cos(np.outer(w, np.arange(20))) @ true
    sp = np.exp(2 * log_amp)[None]
    analysis, _ = world._mcep_matrices(39, 0.0, n_bins)
    c = 0.5 * np.log(sp) @ analysis
    ceps = np.fft.irfft(log_amp)[:40] * np.r_[1, 2 * np.ones(39)]  # real cepstrum, one-sided
    assert np.allclose(c[0], ceps, atol=1e-6)
    assert np.allclose(c[0, :20], true, atol=1e-6)


def test_mcep_round_trip_of_a_smooth_envelope():
    w = np.linspace(0, np.pi, 513)
    sp = (np.exp(-((w - 0.2) / 0.05) ** 2) + 0.3 * np.exp(-((w - 0.5) / 0.1) ** 2) + 1e-3)[None] ** 2
    back = world.decode_mcep(world.encode_mcep(sp, SR, 59), SR, 1024)
    lsd = np.sqrt(np.mean((10 * np.log10(back / sp)) ** 2))
    assert lsd < 1.0  # dB


def test_analysis_synthesis_round_trip(pw):
    x, f = _vowel()
    feat = world.analyze(x, SR)
    assert feat.mcep.shape == (len(feat.f0), 60) and feat.bap.shape[1] == pw.get_num_aperiodicities(SR)
    assert abs(len(feat.f0) - len(x) / SR / 0.005) <= 2  # 5 ms frames
    y = world.synthesize(feat)
    assert abs(len(y) - len(x)) < 0.01 * SR
    again = world.analyze(y, SR)
    v = (feat.f0 > 0) & (again.f0 > 0)
    v[:20] = v[-20:] = False
    assert v.sum() > 0.8 * len(v)
    truth = np.interp(np.arange(len(feat.f0)) * 0.005, np.arange(len(f)) / SR, f)
    assert np.median(np.abs(1200 * np.log2(feat.f0[v] / truth[v]))) < 5  # cents: analysis is right
    assert np.median(np.abs(1200 * np.log2(again.f0[v] / feat.f0[v]))) < 5  # and survives synthesis
    assert world.mel_cepstral_distortion(feat.mcep, again.mcep, v) < 3.0  # dB


def test_feature_array_round_trip_and_mcd(pw):
    x, _ = _vowel(0.5)
    feat = world.analyze(x, SR)
    back = world.array_to_features(world.features_to_array(feat), SR, feat.fft_size)
    assert np.allclose(back.f0, feat.f0, rtol=1e-4) and np.allclose(back.mcep, feat.mcep, atol=1e-4)
    assert world.mel_cepstral_distortion(feat.mcep, feat.mcep) == 0.0
    other = feat.mcep.copy()
    other[:, 1] += 0.1
    assert world.mel_cepstral_distortion(feat.mcep, other) == pytest.approx(10 / np.log(10) * np.sqrt(2 * 0.01))


def test_too_short_audio_is_refused(pw):
    with pytest.raises(InputError, match="too short"):
        world.analyze(np.zeros(50), SR)
