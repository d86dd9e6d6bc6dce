"""The CLI through click's runner: the main job, its options, and every bad input."""

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.io.midi import read_midi
from composer.theory import scale_pcs

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_generate_blues_writes_a_daw_ready_file(tmp_path):
    out = tmp_path / "blues.mid"
    r = run("generate", "--style", "blues", "-o", out)
    assert r.exit_code == 0, r.output
    mid = mido.MidiFile(out)
    metas = {m.type for t in mid.tracks for m in t if m.is_meta}
    assert {"set_tempo", "time_signature", "key_signature", "track_name"} <= metas
    programs = {m.program for t in mid.tracks for m in t if m.type == "program_change"}
    assert {0, 66, 32} <= programs
    s = read_midi(out)
    assert [t.name for t in s.tracks] == ["Chords", "Melody", "Bass"]
    assert s.end == 36 * 4 * s.tpq  # 3 choruses of 12 bars by default
    assert all(len(t) > 20 for t in s.tracks)


def test_same_seed_same_bytes_other_seed_other_music(tmp_path):
    paths = [tmp_path / f"{i}.mid" for i in range(3)]
    for p, seed in zip(paths, (5, 5, 6)):
        assert run("generate", "--seed", seed, "--choruses", 1, "-o", p).exit_code == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize("key,tonic", [("C", 0), ("Db", 1), ("D", 2), ("Eb", 3), ("E", 4), ("F", 5),
                                       ("F#", 6), ("G", 7), ("Ab", 8), ("A", 9), ("Bb", 10), ("B", 11)])
def test_every_key(tmp_path, key, tonic):
    out = tmp_path / "k.mid"
    assert run("generate", "--key", key, "--choruses", 1, "--swing", 0, "-o", out).exit_code == 0
    s = read_midi(out)
    assert s.key_signatures[0].tonic == tonic
    pcs = s.track("Melody").notes["pitch"] % 12
    assert np.isin(pcs, list(scale_pcs(tonic, "blues"))).mean() >= 0.9


def test_options_bars_tempo_swing(tmp_path):
    out = tmp_path / "o.mid"
    r = run("generate", "--bars", 5, "--tempo", 96, "--swing", 1.0, "--temperature", 0.8, "-o", out)
    assert r.exit_code == 0, r.output
    s = read_midi(out)
    assert s.end <= 5 * 4 * s.tpq and abs(s.tempos[0].qpm - 96) < 1e-6
    starts = s.track("Melody").notes["start"] % s.tpq
    assert set(starts.tolist()) <= {0, 320}  # off-beat eighths moved to the triplet position


@pytest.mark.parametrize("form", ["basic", "quick_change", "jazz", "minor"])
def test_blues_form_is_the_one_asked_for(tmp_path, form):
    from composer.checkpoint import load_checkpoint
    from composer.corpora.blues import load_progressions
    from composer.metrics import blues_form_report
    from composer.pipeline import pretrained_dir
    from composer.score import transpose
    from composer.styles import get_style

    out = tmp_path / "f.mid"
    r = run("generate", "--form", form, "--choruses", 2, "--key", "Eb", "--swing", 0, "--seed", 4, "-o", out)
    assert r.exit_code == 0, r.output
    tok = load_checkpoint(pretrained_dir(get_style("blues"))).tokenizer
    frames = tok.encode(transpose(read_midi(out), -3))[None]
    assert blues_form_report(frames, tok, load_progressions(), [form]).bar_match == 1.0


def test_midi_to_stdout():
    r = CliRunner().invoke(cli, ["generate", "--bars", 2, "-o", "-"])
    assert r.exit_code == 0
    assert r.stdout_bytes.startswith(b"MThd")


def test_info_lists_styles_and_checkpoints():
    r = run("info")
    assert r.exit_code == 0
    assert "blues" in r.output and "parameters" in r.output and "MB" in r.output


@pytest.mark.parametrize("args,needle", [
    (["generate", "--style", "polka", "-o", "{tmp}/x.mid"], "unknown style 'polka'"),
    (["generate", "--key", "H", "-o", "{tmp}/x.mid"], "unknown key"),
    (["generate", "--key", "Am", "-o", "{tmp}/x.mid"], "unknown key"),
    (["generate", "-o", "{tmp}/missing/x.mid"], "does not exist"),
    (["generate", "-o", "{tmp}/x.mp3"], "supported outputs"),
    (["generate", "--bars", "0", "-o", "{tmp}/x.mid"], "bars must be"),
    (["generate", "--choruses", "0", "-o", "{tmp}/x.mid"], "choruses must be"),
    (["generate", "--bars", "4", "--choruses", "1", "-o", "{tmp}/x.mid"], "not both"),
    (["generate", "--tempo", "0", "-o", "{tmp}/x.mid"], "tempo must be"),
    (["generate", "--swing", "2", "-o", "{tmp}/x.mid"], "swing must be"),
    (["generate", "--temperature", "0", "-o", "{tmp}/x.mid"], "temperature must be"),
    (["generate", "--checkpoint", "{tmp}", "-o", "{tmp}/x.mid"], "not a checkpoint"),
    (["generate", "--checkpoint", "{tmp}/nope", "-o", "{tmp}/x.mid"], "no such checkpoint"),
    (["generate", "--bars", "x", "-o", "{tmp}/x.mid"], "not a valid integer"),
    (["generate"], "Missing option"),
    (["generate", "--nope"], "No such option"),
    (["train", "--style", "blues", "--corpus", "{tmp}/nope", "-o", "{tmp}/run"], "does not exist"),
    (["train", "--style", "blues", "--corpus", "{tmp}", "-o", "{tmp}/run"], "no music files"),
    (["train", "--style", "blues", "--resume", "-o", "{tmp}/run"], "nothing to resume"),
    (["train", "--style", "blues", "--device", "tpu", "--max-steps", "1", "-o", "{tmp}/run"], "unknown device"),
    (["info", "{tmp}"], "not a checkpoint"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, needle):
    r = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.output
    assert not (tmp_path / "x.mid").exists()


def test_top_level_shim_works_like_compose(tmp_path):
    out = tmp_path / "shim.mid"
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "generate", "--bars", "4", "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"MThd"
    bad = subprocess.run([sys.executable, str(ROOT / "cli.py"), "generate", "--key", "Q", "-o", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
