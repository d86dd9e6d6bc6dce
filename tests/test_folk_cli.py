"""The folk style through the CLI: generate with meter/mode/key/prime/count, convert, corpus build."""

import json
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.corpora.folk import bundled_abc_paths
from composer.io.abc import read_abc
from composer.metrics import abc_bars_ok


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def book():
    return next(p for p in bundled_abc_paths() if p.name == "0001-0050.abc" and "oneills1850" in p.parts)


@pytest.fixture(scope="module")
def folk_run(tmp_path_factory, book):
    out = tmp_path_factory.mktemp("folk") / "run"
    r = run("train", "--style", "folk", "--corpus", book, "-o", out, "--size", "tiny", "--epochs", "1",
            "--batch-size", "8", "--lr", "0.01")
    assert r.exit_code == 0, r.output
    return out


def test_generate_tune_in_meter_mode_and_key(tmp_path, folk_run):
    out = tmp_path / "tune.abc"
    r = run("generate", "--checkpoint", folk_run, "--meter", "6/8", "--mode", "dorian", "--key", "D", "-o", out)
    assert r.exit_code == 0, r.output
    (tune,) = read_abc(out)
    assert (tune.time_signatures[0].numerator, tune.time_signatures[0].denominator) == (6, 8)
    assert tune.key_signatures[0].tonic == 2 and tune.meta["mode"] == "dorian"
    assert abc_bars_ok(tune)
    assert "K:Ddor" in out.read_text()


def test_mode_without_meter_lets_the_model_pick_the_meter(tmp_path, folk_run):
    for seed in range(3):
        out = tmp_path / f"tune{seed}.abc"
        r = run("generate", "--checkpoint", folk_run, "--mode", "mixolydian", "--seed", seed, "-o", out)
        assert r.exit_code == 0, r.output
        (tune,) = read_abc(out)
        assert tune.meta["mode"] == "mixolydian" and abc_bars_ok(tune)


def test_tune_book_midi_and_musicxml(tmp_path, folk_run):
    book_path = tmp_path / "book.abc"
    assert run("generate", "--checkpoint", folk_run, "--count", 3, "--bars", 8, "-o", book_path).exit_code == 0
    tunes = read_abc(book_path)
    assert len(tunes) == 3 and [t.meta["x"] for t in tunes] == [1, 2, 3]
    assert all(abc_bars_ok(t) for t in tunes)
    assert run("generate", "--checkpoint", folk_run, "--count", 2, "-o", tmp_path / "t.mid").exit_code == 0
    for name in ("t-1.mid", "t-2.mid"):
        assert len(mido.MidiFile(tmp_path / name).tracks) >= 2
    xml = tmp_path / "t.musicxml"
    assert run("generate", "--checkpoint", folk_run, "--bars", 4, "-o", xml).exit_code == 0
    from music21 import converter

    assert len(converter.parse(str(xml)).flatten().notes) > 0


def test_prime_is_continued(tmp_path, folk_run):
    out = tmp_path / "p.abc"
    r = run("generate", "--checkpoint", folk_run, "--prime", "M:6/8 K:Cmaj |: G A B", "--key", "G", "-o", out)
    assert r.exit_code == 0, r.output
    (tune,) = read_abc(out)
    assert tune.tracks[0].notes["pitch"][:3].tolist() == [62, 64, 66]  # G A B in C moved down a fourth to G: D E F#


@pytest.mark.parametrize("args,needle", [
    (["--mode", "phrygianish"], "unknown mode"),
    (["--meter", "13/8"], "vocabulary"),
    (["--prime", "M:6/8 K:Cmaj |: G ???"], "notation"),
    (["--prime", "M:6/8 K:Cmaj G2 G2 G2 G2"], "not valid here"),
    (["--groove", "rock"], "takes no option groove"),
    (["--count", "0"], "count must be"),
])
def test_bad_folk_input(tmp_path, folk_run, args, needle):
    r = run("generate", "--checkpoint", folk_run, *args, "-o", tmp_path / "x.abc")
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not (tmp_path / "x.abc").exists()


def test_convert_between_abc_midi_and_musicxml(tmp_path, book):
    r = run("convert", book, "-o", tmp_path / "book.mid")
    assert r.exit_code == 0, r.output
    mids = sorted(tmp_path.glob("book-*.mid"))
    assert len(mids) == len(read_abc(book))
    back = tmp_path / "back.abc"
    assert run("convert", mids[0], "-o", back, "--grid", 8).exit_code == 0  # the tune has 32nd notes
    (tune,) = read_abc(back)
    original = read_abc(book)[0]
    assert tune.tracks[0].notes["pitch"].tolist() == original.tracks[0].notes["pitch"].tolist()
    assert tune.key_signatures[0].tonic == original.key_signatures[0].tonic
    assert run("convert", mids[0], "-o", tmp_path / "one.musicxml").exit_code == 0
    again = tmp_path / "again.abc"
    assert run("convert", tmp_path / "one.musicxml", "-o", again, "--grid", 8).exit_code == 0
    assert read_abc(again)[0].tracks[0].notes["pitch"].tolist() == original.tracks[0].notes["pitch"].tolist()


def test_convert_detects_a_key_for_midi_without_one(tmp_path):
    from composer.io.midi import write_midi
    from composer.score import Score, Track

    notes = [(i * 240, 240, p, 80) for i, p in enumerate([67, 69, 71, 72, 74, 76, 78, 79, 74, 71, 67, 62, 67])]
    write_midi(Score(tracks=[Track("Melody", 0, False, notes)]), tmp_path / "g.mid")
    assert run("convert", tmp_path / "g.mid", "-o", tmp_path / "g.abc").exit_code == 0
    text = (tmp_path / "g.abc").read_text()
    assert "K:G" in text and "M:4/4" in text


def test_convert_bad_input(tmp_path):
    r = run("convert", tmp_path / "nope.abc", "-o", tmp_path / "x.mid")
    assert r.exit_code == 1 and "no such file" in r.stderr
    (tmp_path / "bad.abc").write_text("X:1\nT:t\nK:C\nCDE @@@\n")
    r = run("convert", tmp_path / "bad.abc", "-o", tmp_path / "x.mid")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1


def test_corpus_build_then_train(tmp_path, book):
    out = tmp_path / "folk"
    r = run("corpus", "build", "folk", "--source", book, "-o", out)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["kept"] + sum(m["skipped_by_reason"].values()) == m["read"] + m["unreadable"]
    assert sum(m["splits"].values()) == m["kept"]
    lines = (out / "train.txt").read_text().splitlines()
    assert len(lines) == m["splits"]["train"] and lines[0].startswith("<s> M:")
    run_dir = tmp_path / "run"
    r = run("train", "--style", "folk", "--corpus", out, "-o", run_dir, "--size", "tiny", "--max-steps", "2")
    assert r.exit_code == 0, r.output
    assert json.loads((run_dir / "config.json").read_text())["tokenizer"]["vocab"] == m["tokenizer"]["vocab"]


def test_corpus_split_keeps_duplicates_together(tmp_path, book):
    text = Path(book).read_text()
    (tmp_path / "twice.abc").write_text(text + "\n\n" + text.replace("X:", "X:9"))
    out = tmp_path / "c"
    assert run("corpus", "build", "folk", "--source", tmp_path / "twice.abc", "-o", out).exit_code == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["duplicates"] >= m["kept"] // 2 - 1
    splits = {s: set((out / f"{s}.txt").read_text().splitlines()) for s in ("train", "valid", "test")}
    assert not (splits["train"] & splits["valid"]) and not (splits["train"] & splits["test"])


def test_eval_prints_validation_nll(folk_run, book):
    r = run("eval", "--checkpoint", folk_run, "--corpus", book)
    assert r.exit_code == 0, r.output
    assert "validation NLL" in r.output and "nats per token" in r.output and "perplexity" in r.output


def test_the_transformer_trains_and_generates_on_the_same_tokens(tmp_path, book):
    out = tmp_path / "tf"
    r = run("train", "--style", "folk", "--model", "transformer", "--corpus", book, "-o", out, "--size", "tiny",
            "--max-steps", "3")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["model"]["kind"] == "token_transformer"
    tune = tmp_path / "tf.abc"
    assert run("generate", "--checkpoint", out, "--bars", 8, "-o", tune).exit_code == 0
    assert abc_bars_ok(read_abc(tune)[0])
