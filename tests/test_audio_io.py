"""composer.io.audio: WAV round trips (checked against the stdlib wave module and soundfile), FLAC/OGG, bad input."""

import wave

import numpy as np
import pytest

from composer.errors import InputError
from composer.io import audio
from composer.io.audio import read_audio, write_audio

SR = 22050


def _tone(n=SR // 2, channels=2):
    t = np.arange(n) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)], 1)[:, :channels]
    return x.astype(np.float32)


@pytest.mark.parametrize("channels", [1, 2])
def test_wav_round_trip_is_16_bit_exact(tmp_path, channels):
    x = _tone(channels=channels)
    p = tmp_path / "a.wav"
    write_audio(p, x[:, 0] if channels == 1 else x, SR)
    with wave.open(str(p)) as w:  # an independent reader sees 16-bit PCM at our rate
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (channels, 2, SR, len(x))
    y, sr = read_audio(p)
    assert sr == SR and y.dtype == np.float32 and y.shape == (len(x), channels)
    assert np.abs(y - x).max() <= 1.0 / 32767 + 1e-6


def test_out_of_range_samples_are_clipped_not_wrapped(tmp_path):
    p = tmp_path / "c.wav"
    write_audio(p, np.array([2.0, -2.0, np.nan, 0.5], dtype=np.float32), SR)
    y, _ = read_audio(p)
    assert y[:, 0].tolist() == pytest.approx([32767 / 32768, -1.0, 0.0, 0.5], abs=1e-4)


def test_read_24_bit_and_8_bit_wav(tmp_path):
    for width, data in ((3, b"\x00\x00\x40\x00\x00\xc0"), (1, b"\xc0\x40")):
        p = tmp_path / f"w{width}.wav"
        with wave.open(str(p), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(width)
            w.setframerate(8000)
            w.writeframes(data)
        y, sr = read_audio(p)
        assert sr == 8000 and y[:, 0].tolist() == pytest.approx([0.5, -0.5])


@pytest.mark.parametrize("ext", [".flac", ".ogg"])
def test_flac_and_ogg_with_soundfile(tmp_path, ext):
    sf = pytest.importorskip("soundfile", reason="FLAC/OGG need the soundfile package")
    x = _tone()
    p = tmp_path / f"a{ext}"
    write_audio(p, x, SR)
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.frames) == (SR, 2, len(x))
    y, sr = read_audio(p)
    assert sr == SR and y.shape == x.shape
    tol = 1e-4 if ext == ".flac" else 0.05  # Vorbis is lossy
    assert np.sqrt(np.mean((y - x) ** 2)) < tol


def test_flac_without_soundfile_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "soundfile_available", lambda: False)
    with pytest.raises(InputError, match="soundfile"):
        write_audio(tmp_path / "a.flac", _tone(), SR)
    assert not list(tmp_path.iterdir())


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wave file at all")
    with pytest.raises(InputError, match="junk.wav"):
        read_audio(junk)
    with pytest.raises(InputError, match="suffix"):
        write_audio(tmp_path / "a.mp4", _tone(), SR)
    with pytest.raises(InputError, match="shape"):
        write_audio(tmp_path / "a.wav", np.zeros((2, 2, 2), np.float32), SR)
    with pytest.raises(InputError, match="does not exist"):
        write_audio(tmp_path / "nope" / "a.wav", _tone(), SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.wav"]  # nothing half-written


def test_float_wav_is_read_through_soundfile(tmp_path):
    sf = pytest.importorskip("soundfile")
    x = _tone()
    p = tmp_path / "float.wav"
    sf.write(str(p), x, SR, subtype="FLOAT")  # WAVE_FORMAT_IEEE_FLOAT: the stdlib wave module refuses it
    y, sr = read_audio(p)
    assert sr == SR and np.allclose(y, x, atol=1e-7)
