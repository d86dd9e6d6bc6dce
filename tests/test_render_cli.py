"""compose render / generate -o x.wav / --play / plot, through click's runner, and every bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.io.audio import read_audio
from composer.io.midi import write_midi
from composer.score import ChordSymbol, Score, Tempo, TimeSignature, Track


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def _song(tmp_path) -> Path:
    s = Score(tpq=480, tempos=[Tempo(0, 120.0)], time_signatures=[TimeSignature(0, 4, 4)],
              tracks=[Track("Piano", 0, False, [(i * 480, 480, 60 + (i % 8), 90) for i in range(16)]),
                      Track("Bass", 33, False, [(i * 960, 900, 36 + (i % 4) * 2, 100) for i in range(8)]),
                      Track("Drums", 0, True, [(i * 240, 60, (36, 42, 38, 42)[i % 4], 100) for i in range(32)])],
              chords=[ChordSymbol(i * 1920, 1920, (0, 5, 7, 0)[i], "7") for i in range(4)])
    p = tmp_path / "song.mid"
    write_midi(s, p)
    return p


def test_render_midi_to_wav(tmp_path):
    out = tmp_path / "song.wav"
    r = run("render", _song(tmp_path), "-o", out)
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert sr == 44100 and x.shape[1] == 2
    assert 9.0 <= len(x) / sr < 11.0  # 4 bars at 120 qpm plus the release and the room's tail
    assert 0.85 < np.abs(x).max() < 0.9  # -1 dBFS peak, no clipping
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_render_sample_rate_and_flac(tmp_path):
    pytest.importorskip("soundfile")
    out = tmp_path / "song.flac"
    r = run("render", _song(tmp_path), "-o", out, "--sample-rate", 22050)
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert sr == 22050 and 9.0 <= len(x) / sr < 11.0


def test_generate_renders_audio_directly(tmp_path):
    out = tmp_path / "blues.wav"
    r = run("generate", "--style", "blues", "--bars", 12, "-o", out)
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert 25.0 <= len(x) / sr < 28.0 and np.abs(x).max() > 0.5  # 12 bars of 4/4 at the style's tempo


def test_play_without_a_device_says_so_and_never_hangs(tmp_path):
    env = {"COMPOSER_NO_AUDIO": "1"}
    out = tmp_path / "song.wav"
    r = run("render", _song(tmp_path), "-o", out, "--play", env=env)
    assert r.exit_code == 0 and out.exists()
    assert "cannot play" in r.output and "COMPOSER_NO_AUDIO" in r.output
    r = run("render", _song(tmp_path), "--play", env=env)  # nothing to write and nothing to hear: an error
    assert r.exit_code == 1 and r.output.startswith("error: cannot play")
    r = run("generate", "--style", "blues", "--bars", 12, "-o", tmp_path / "b.mid", "--play")
    assert r.exit_code == 1 and "audio output" in r.output


def test_play_uses_the_platform_player(tmp_path, monkeypatch):
    import subprocess

    from composer.synth import play

    calls = []
    monkeypatch.setattr(play, "audio_device_reason", lambda: None)
    monkeypatch.setattr(play.sys, "platform", "linux")
    monkeypatch.setattr(play.shutil, "which", lambda name: "/usr/bin/aplay" if name == "aplay" else None)
    monkeypatch.setattr(play.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0, b"", b""))
    assert play.play_file(tmp_path / "x.wav") is None
    assert calls == [["aplay", "-q", str(tmp_path / "x.wav")]]


@pytest.mark.parametrize("case", ["unreadable_midi", "missing_midi", "no_folder", "output_is_folder", "not_audio",
                                  "no_output"])
def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, case):
    song = _song(tmp_path)
    out = tmp_path / "out.wav"
    if case == "unreadable_midi":
        bad = tmp_path / "bad.mid"
        bad.write_bytes(b"MThd garbage")
        args = ["render", bad, "-o", out]
    elif case == "missing_midi":
        args = ["render", tmp_path / "missing.mid", "-o", out]
    elif case == "no_folder":
        args = ["render", song, "-o", tmp_path / "nope" / "out.wav"]
    elif case == "output_is_folder":
        out.mkdir()
        args = ["render", song, "-o", out]
    elif case == "not_audio":
        args = ["render", song, "-o", tmp_path / "out.mp3"]
    else:
        args = ["render", song]
    before = set(tmp_path.iterdir())
    r = run(*args)
    assert r.exit_code == 1, r.output
    assert r.output.startswith("error: ") and r.output.count("\n") == 1, r.output
    assert set(tmp_path.iterdir()) == before  # no partial or temp file left behind
    if case == "output_is_folder":
        assert not any(out.iterdir())


def test_plot_piano_roll_and_training_curves(tmp_path):
    song = _song(tmp_path)
    png = tmp_path / "roll.png"
    r = run("plot", song, "-o", png)
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "log.jsonl").write_text("".join(
        json.dumps({"epoch": e, "step": 10 * e, "train_loss": 3.0 / e, "valid_loss": 3.2 / e}) + "\n" for e in (1, 2, 3)))
    loss = tmp_path / "loss.png"
    r = run("plot", run_dir, "-o", loss)
    assert r.exit_code == 0, r.output
    assert loss.read_bytes()[:4] == b"\x89PNG"
    for args, msg in (([tmp_path, "-o", tmp_path / "x.png"], "not a training run"),
                      ([song, "-o", tmp_path / "x.wav"], ".png"),
                      ([tmp_path / "missing.mid", "-o", tmp_path / "x.png"], "missing.mid")):
        r = run("plot", *args)
        assert r.exit_code == 1 and msg in r.output and r.output.count("\n") == 1, r.output


def test_bar_lines_follow_meter_changes():
    from composer.plot import bar_starts

    s = Score(tpq=480, time_signatures=[TimeSignature(0, 4, 4), TimeSignature(3840, 3, 4)],
              tracks=[Track("p", 0, False, [(0, 480 * 14, 60, 80)])])
    assert bar_starts(s).tolist() == [0, 1920, 3840, 5280, 6720]

