"""SoundFont path end to end with a tiny sine SF2 built here (no system font needed), and the render CLI."""

import struct

import numpy as np
import pytest
from click.testing import CliRunner
from test_synth import peak_hz  # the one spectral-peak estimator of the synth tests

from composer.cli import cli
from composer.errors import InputError
from composer.io.audio import read_audio
from composer.io.midi import write_midi
from composer.score import Score, Tempo, Track
from composer.synth import render
from composer.synth.voices import pitch_to_hz

SR = 44100


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(tag: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", tag + b"".join(chunks))


def sine_sf2(root: int = 69, rate: int = 44000) -> bytes:
    """A one-preset SoundFont 2.01: a looped 440 Hz sine (exactly 100 samples a period at 44 kHz)."""
    n = 4400
    pcm = (np.sin(2 * np.pi * np.arange(n) / 100) * 20000).astype("<i2").tobytes() + b"\0\0" * 46
    name = lambda s: s.encode().ljust(20, b"\0")
    phdr = struct.pack("<20sHHHIII", name("Sine"), 0, 0, 0, 0, 0, 0) + struct.pack("<20sHHHIII", name("EOP"), 0, 0, 1, 0, 0, 0)
    pbag = struct.pack("<HHHH", 0, 0, 1, 0)
    pgen = struct.pack("<HHHH", 41, 0, 0, 0)  # instrument 0; terminal
    inst = struct.pack("<20sH", name("Sine"), 0) + struct.pack("<20sH", name("EOI"), 1)
    ibag = struct.pack("<HHHH", 0, 0, 2, 0)
    igen = struct.pack("<HHHHHH", 54, 1, 53, 0, 0, 0)  # loop continuously, sample 0; terminal
    shdr = struct.pack("<20sIIIIIBbHH", name("sine"), 0, n, 2200, n, rate, root, 0, 0, 1) + struct.pack(
        "<20sIIIIIBbHH", name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    info = _list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                 _chunk(b"INAM", b"Sine test\0"))
    sdta = _list(b"sdta", _chunk(b"smpl", pcm))
    pdta = _list(b"pdta", _chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", bytes(10)), _chunk(b"pgen", pgen),
                 _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", bytes(10)), _chunk(b"igen", igen),
                 _chunk(b"shdr", shdr))
    return _chunk(b"RIFF", b"sfbk" + info + sdta + pdta)


@pytest.fixture
def sf2(tmp_path):
    p = tmp_path / "sine.sf2"
    p.write_bytes(sine_sf2())
    return p


def _score():
    return Score(tpq=480, tempos=[Tempo(0, 120.0)],
                 tracks=[Track("lead", 81, False, [(0, 960, 69, 100), (960, 960, 57, 60), (1920, 960, 76, 110)]),
                         Track("drums", 0, True, [(0, 60, 36, 100)])])


def test_sine_soundfont_plays_in_tune_and_follows_velocity(sf2):
    pytest.importorskip("tinysoundfont", reason="the SoundFont binding (tinysoundfont) is not installed")
    a = render(_score(), SR, soundfont=sf2, reverb=0)
    assert a.dtype == np.float32 and a.shape[1] == 2 and np.abs(a).max() == pytest.approx(0.891, abs=1e-5)
    x = a.mean(1).astype(np.float64)
    levels = []
    for i, p in enumerate((69, 57, 76)):
        seg = x[int((i + 0.1) * SR):int((i + 0.9) * SR)]
        f = peak_hz(seg, pitch_to_hz(p))
        assert abs(1200 * np.log2(f / pitch_to_hz(p))) < 5.0, (p, f)
        levels.append(np.sqrt(np.mean(seg**2)))
    assert levels[1] < levels[0] < levels[2]  # velocities 60 < 100 < 110


def test_soundfont_cli_and_bad_fonts(sf2, tmp_path):
    pytest.importorskip("tinysoundfont", reason="the SoundFont binding (tinysoundfont) is not installed")
    mid = tmp_path / "song.mid"
    write_midi(_score(), mid)
    out = tmp_path / "song.wav"
    r = CliRunner().invoke(cli, ["render", str(mid), "-o", str(out), "--soundfont", str(sf2)])
    assert r.exit_code == 0, r.output
    y, sr = read_audio(out)
    assert sr == SR and y.shape[1] == 2 and len(y) > 3 * SR
    corrupt = tmp_path / "corrupt.sf2"
    corrupt.write_bytes(sine_sf2()[:300])  # a truncated font: right header, missing chunks
    for font, msg in ((tmp_path / "missing.sf2", "no such file"), (corrupt, "corrupt.sf2")):
        bad_out = tmp_path / "bad.wav"
        r = CliRunner().invoke(cli, ["render", str(mid), "-o", str(bad_out), "--soundfont", str(font)])
        assert r.exit_code == 1 and msg in r.output and r.output.count("\n") == 1, r.output
        assert not bad_out.exists()
    with pytest.raises(InputError, match="SoundFont"):
        render(_score(), SR, soundfont=tmp_path / "notes.txt")


def test_missing_binding_is_one_clear_line(sf2, monkeypatch):
    from composer.synth import soundfont

    monkeypatch.setattr(soundfont, "soundfont_available", lambda: False)
    with pytest.raises(InputError, match="tinysoundfont"):
        render(_score(), SR, soundfont=sf2)


def test_system_soundfont_lookup(monkeypatch, tmp_path, sf2):
    from composer.synth import soundfont

    monkeypatch.setattr(soundfont, "SYSTEM_SOUNDFONTS", (str(tmp_path / "none.sf2"),))
    monkeypatch.delenv("COMPOSER_SOUNDFONT", raising=False)
    assert soundfont.find_system_soundfont() is None
    with pytest.raises(InputError, match="no General MIDI SoundFont"):
        render(_score(), SR, soundfont="system")
    monkeypatch.setenv("COMPOSER_SOUNDFONT", str(sf2))
    assert soundfont.find_system_soundfont() == str(sf2.resolve())


def test_generate_renders_through_the_soundfont(sf2, tmp_path):
    pytest.importorskip("tinysoundfont", reason="the SoundFont binding (tinysoundfont) is not installed")
    out = tmp_path / "groove.wav"
    r = CliRunner().invoke(cli, ["generate", "--style", "drums", "--bars", "2", "--count", "2", "-o", str(out),
                                 "--soundfont", str(sf2)])
    assert r.exit_code == 0, r.output
    for name in ("groove-1.wav", "groove-2.wav"):
        y, sr = read_audio(tmp_path / name)
        assert sr == SR and len(y) > 4 * SR and np.abs(y).max() > 0.5
