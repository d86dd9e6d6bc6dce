"""The jazz style end to end: tokenizer, grammar, corpus, backing, CLI, and a seconds-long train run."""

import json
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from composer.chart import score_to_chart
from composer.cli import cli
from composer.comping import mean_movement, root_position, voice_lead
from composer.corpora import data_path
from composer.corpora.jazz import FORMS, generate_jazz
from composer.errors import CheckpointError, InputError, TokenizerError
from composer.harmony import parse_chord
from composer.io import read, read_all
from composer.io.ireal import ireal_link, parse_ireal
from composer.score import Score, TimeSignature
from composer.tokenizers import build_tokenizer
from composer.tokenizers.chord_grammar import check_form, parse_form
from composer.tokenizers.chords import ChordTokenizer


@pytest.fixture(scope="module")
def corpus():
    return generate_jazz(60, seed=3)


@pytest.fixture(scope="module")
def tok(corpus):
    return ChordTokenizer().fit(corpus)


def _in_c(score):
    chart = score_to_chart(score)
    return chart.transpose(-chart.key[0])


def test_golden_encoding():
    from composer.chart import chart_to_score
    from composer.io.chordtext import parse_chord_text

    (chart,) = parse_chord_text("Key: Eb major\nA | Fm7 | Bb7 | Ebmaj7 | Fm7 Bb7 |\nB | Ab7 | % | C7 . . F7 | Bb7 |")
    t = ChordTokenizer()
    words = [t.vocab[i] for i in t.encode(chart_to_score(chart))]
    assert " ".join(words) == ("_START_ Key_C Meter_4 Sec_A | D:m7 | G:7 | C:maj7 | D:m7 Beat_3 G:7 "
                               "Sec_B | F:7 | | A:7 Beat_4 D:7 | G:7 _END_")


def test_round_trip_and_key_normalisation(corpus, tok):
    from composer.score import transpose

    for s in corpus:
        ids = tok.encode(s)
        back = tok.decode_chart(ids)
        chart = _in_c(s)
        assert (back.bars, back.sections, back.meter, back.key[1]) == (chart.bars, chart.sections, chart.meter, chart.key[1])
        assert back.key[0] == 0
        assert tok.encode(transpose(s, 5)) == ids  # every key encodes the same (tonic from the key signature)
    assert tok.fallbacks == 0
    minor = next(s for s in corpus if s.key_signatures[0].mode == "minor")
    assert tok.vocab[tok.encode(minor)[1]] == "Key_Cm"


def test_decode_renders_a_backing(corpus, tok):
    s = tok.decode(tok.encode(corpus[0]))
    names = {t.name: t for t in s.tracks}
    assert set(names) == {"Piano", "Bass", "Drums"} and names["Drums"].is_drum
    n_bars = len(score_to_chart(corpus[0]).bars)
    assert s.end == n_bars * 4 * s.tpq or s.time_signatures[0].numerator == 3
    assert 28 <= names["Bass"].notes["pitch"].min() and names["Bass"].notes["pitch"].max() <= 52
    assert set(np.unique(names["Drums"].notes["pitch"]).tolist()) == {44, 51}


def test_tokenizer_errors_and_config(tok, corpus):
    with pytest.raises(TokenizerError, match="no chord symbols"):
        tok.encode(Score())
    odd = score_to_chart(corpus[0])
    from composer.chart import chart_to_score

    seven_eight = chart_to_score(odd)
    seven_eight.time_signatures = [TimeSignature(0, 7, 8)]
    with pytest.raises(TokenizerError, match="7/8"):
        tok.encode(seven_eight)
    spec = json.loads(json.dumps(tok.to_dict()))
    assert build_tokenizer(spec).vocab == tok.vocab
    from composer.tokenizers.chords import STRUCTURE

    n = len(STRUCTURE)
    spec["vocab"][n], spec["vocab"][n + 1] = spec["vocab"][n + 1], spec["vocab"][n]
    with pytest.raises(CheckpointError, match="out of order"):
        build_tokenizer(spec)
    spec["vocab"][-1] = "C:bogus"
    with pytest.raises(CheckpointError, match="bad chord word"):
        build_tokenizer(spec)
    plain = ChordTokenizer()  # an unknown colour falls back to the nearest word, and is counted
    from composer.io.chordtext import parse_chord_text

    (chart,) = parse_chord_text("Key: C\n| C7(b9,#11,13) | Fmaj7/E |")
    ids = plain.encode(chart_to_score(chart))
    assert plain.fallbacks == 2 and [plain.vocab[i] for i in ids[4:]] == ["|", "C:7", "|", "F:maj7", "_END_"]


@pytest.mark.parametrize("form,bars,meter,mode", [
    (None, 32, None, None), ("AABA", 32, "3/4", "minor"), (None, 12, None, None), ("A8B8", 16, None, "major"),
    ("ABAC", 64, None, None), ("AAB", 24, "5/4", None), (None, 7, None, None),
])
def test_grammar_keeps_the_form_on_random_walks(tok, form, bars, meter, mode):
    plan = parse_form(form, bars)
    rng = np.random.default_rng(bars)
    for _ in range(25):
        g = tok.grammar(bars, form=form, meter=meter, mode=mode)
        state, seq = g.start(), []
        while not g.done(state):
            mask = g.allowed(state)
            t = int(rng.choice(np.flatnonzero(mask)))
            seq.append(t)
            state = g.advance(state, t)
        chart = tok.decode_chart(seq)
        assert check_form(chart, plan)["all"], chart
        assert chart.beats == (ChordTokenizer._meter(meter)) and (mode is None or chart.key[1] == mode)


@pytest.mark.parametrize("form,bars,needle", [
    ("AAXA", 32, "unknown form"), ("AABA", 30, "do not split evenly"), ("A8B", 16, "give every section"),
    ("A12", 32, "not a whole number of choruses"),
])
def test_bad_forms(tok, form, bars, needle):
    with pytest.raises(InputError, match=needle):
        tok.prompt(bars, form=form)
    with pytest.raises(InputError, match="major or minor"):
        tok.grammar(32, mode="dorian")
    with pytest.raises(InputError, match="2/4 to 7/4"):
        tok.grammar(32, meter="7/8")


def test_default_forms():
    assert parse_form(None, 32) == [("A", 8), ("A", 8), ("B", 8), ("A", 8)]
    assert parse_form(None, 24) == [("A", 12), ("A", 12)] and parse_form(None, 16) == [("A", 8), ("B", 8)]
    assert parse_form("A8A8B8A8", 64) == parse_form(None, 64)


def test_corpus(corpus):
    assert len(corpus) == 60 and [s.meta["title"] for s in corpus] == [s.meta["title"] for s in generate_jazz(60, 3)]
    for s in corpus:
        assert check_form(_in_c(s), FORMS[s.meta["form"]][0])["all"]
    assert len({s.key_signatures[0].tonic for s in corpus}) >= 10
    assert {s.meta["form"] for s in generate_jazz(200, 0)} == set(FORMS)
    readme = data_path("jazz/README.md").read_text()
    assert "Steedman" in readme and "held out" in readme


def test_standards_are_real_and_held_out():
    standards = read_all(data_path("jazz/standards.txt"))
    assert len(standards) >= 12 and all(len(score_to_chart(s).bars) >= 12 for s in standards)
    train = {tuple(map(tuple, _in_c(s).bars)) for s in generate_jazz(300, 0)}  # bench/jazz.py checks all 3000
    assert not any(tuple(map(tuple, _in_c(s).bars)) in train for s in standards)


def test_voice_leading_beats_root_position(corpus):
    for s in corpus[:10]:
        chords = [(c.root, c.quality) for c in s.chords]
        led = voice_lead(chords)
        assert all(48 <= v[0] and v[-1] <= 77 for v in led)
        assert mean_movement(led) < 0.6 * mean_movement([root_position(r, q) for r, q in chords])
    ii_v_i = [(c.root, c.quality) for c in map(parse_chord, ("Dm7", "G7", "Cmaj7"))]
    assert mean_movement(voice_lead(ii_v_i)) <= 4  # rootless A/B forms: a note or two moves by a step


# ---------------------------------------------------------------------------------- CLI


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    """`compose train --style jazz --corpus my.html` on an iReal playlist: seconds on a tiny model."""
    d = tmp_path_factory.mktemp("jazz")
    (d / "my.html").write_text(f'<html><body><a href="{ireal_link(corpus[:40], "Mine")}">Mine</a></body></html>')
    r = run("train", "--style", "jazz", "--corpus", d / "my.html", "-o", d / "run", "--size", "tiny",
            "--epochs", "2", "--batch-size", "8")
    assert r.exit_code == 0, r.output
    return d / "run"


def test_train_generate_export(trained, tmp_path):
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["style"] == "jazz" and cfg["pieces"] == 40 and cfg["tokenizer"]["kind"] == "chords"
    out = {ext: tmp_path / f"changes.{ext}" for ext in ("mid", "txt", "musicxml", "html", "lab")}
    for path in out.values():
        r = run("generate", "--checkpoint", trained, "--bars", 32, "--form", "AABA", "--key", "Bb", "--tempo", 140,
                "--seed", 4, "-o", path)
        assert r.exit_code == 0, r.output
    midi = mido.MidiFile(out["mid"])
    assert any(m.type == "note_on" and m.channel == 9 for t in midi.tracks for m in t)  # ride and hi-hat
    s = read(out["mid"])
    assert abs(s.tempos[0].qpm - 140) < 1e-6 and s.key_signatures[0].tonic == 10
    chart = score_to_chart(s)
    sheet = score_to_chart(read(out["txt"]))  # MIDI has no section marks; the lead sheet does
    assert sheet.bars == chart.bars and check_form(sheet.transpose(-10), parse_form("AABA", 32))["all"]
    text = out["txt"].read_text()
    rows = [x for x in text.splitlines() if "|" in x]
    assert len(rows) == 8 and all(x.count("|") == 5 for x in rows) and [x[0] for x in rows[::2]] == list("AABA")
    assert out["musicxml"].read_text().count("<harmony") == len(s.chords)
    (song,) = parse_ireal(out["html"].read_text())
    assert song.bars == chart.bars and song.key == (10, s.key_signatures[0].mode)
    assert score_to_chart(read(out["lab"])).bars == chart.bars
    same = tmp_path / "again.mid"
    run("generate", "--checkpoint", trained, "--bars", 32, "--form", "AABA", "--key", "Bb", "--tempo", 140,
        "--seed", 4, "-o", same)
    assert same.read_bytes() == out["mid"].read_bytes()


@pytest.mark.parametrize("args,needle", [
    (["--form", "AXBA"], "unknown form"), (["--mode", "lydian"], "major or minor"), (["--meter", "7/8"], "7/4"),
    (["--bars", "30", "--form", "AABA"], "do not split evenly"), (["--groove", "x"], "takes no option groove"),
])
def test_generate_bad_options(trained, tmp_path, args, needle):
    r = run("generate", "--checkpoint", trained, *args, "-o", tmp_path / "x.mid")
    lines = r.stderr.strip().splitlines()
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr


@pytest.mark.parametrize("name,content,needle", [
    ("bad.html", '<a href="irealb://Tune=Me==Swing=C==broken=0">x</a>', "iReal link does not decode"),
    ("none.lab", "0.0 4.0 N\n", "none.lab: no chords"),
    ("typo.txt", "Title: T\n| Cmaj7 | G7 |\n| Fnope | C |\n", "unknown chord spelling 'Fnope' in"),
])
def test_bad_chord_files_are_one_line(tmp_path, name, content, needle):
    (tmp_path / name).write_text(content)
    r = run("train", "--style", "jazz", "--corpus", tmp_path / name, "-o", tmp_path / "run", "--size", "tiny")
    lines = r.stderr.strip().splitlines()
    assert r.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    if name == "typo.txt":
        assert "typo.txt line 3" in lines[0]


def test_shipped_model_generates(tmp_path):
    from composer.pipeline import pretrained_dir
    from composer.styles import get_style

    if not (pretrained_dir(get_style("jazz")) / "config.json").exists():
        pytest.skip("no shipped jazz checkpoint in this checkout")
    r = run("generate", "--style", "jazz", "-o", tmp_path / "c.txt")
    assert r.exit_code == 0, r.output
    assert len([x for x in Path(tmp_path / "c.txt").read_text().splitlines() if "|" in x]) == 8


def test_transformer_alternative(tmp_path, corpus):
    """The same tokenizer, grammar and loop drive the token transformer (`--model transformer`)."""
    from composer.pipeline import generate, train_style

    (tmp_path / "pl.html").write_text(f'<a href="{ireal_link(corpus[:16])}">x</a>')
    train_style("jazz", tmp_path / "t", corpus=tmp_path / "pl.html", size="tiny", model="transformer", epochs=1,
                batch_size=8, progress=False)
    s = generate("jazz", tmp_path / "t", bars=12, form="A", seed=1)
    assert check_form(score_to_chart(s), parse_form("A", 12))["all"]
