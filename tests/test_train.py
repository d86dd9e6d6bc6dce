"""End to end on a tiny config: train -> generate -> read back, resume, early stopping, bad corpora."""

import json

import pytest
import torch
from click.testing import CliRunner

from composer.checkpoint import load_tensors
from composer.cli import cli
from composer.corpora.blues import generate_blues
from composer.io.midi import read_midi, write_midi
from composer.pipeline import train_style

TINY = dict(size="tiny", batch_size=2, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for i, s in enumerate(generate_blues(n_songs=6, choruses=2, seed=3)):
        write_midi(s, d / f"song{i}.mid")
    (d / "sub").mkdir()
    (d / "sub" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")  # truncated header
    (d / "notes.doc").write_text("not a music file, not even looked at")
    return d


def test_train_generate_read_back(tmp_path, corpus):
    run = tmp_path / "runs" / "blues1"
    r = CliRunner().invoke(cli, ["train", "--style", "blues", "--corpus", str(corpus), "-o", str(run),
                                 "--size", "tiny", "--epochs", "2", "--batch-size", "2"])
    assert r.exit_code == 0, r.output
    assert "skipped" in r.stderr and "broken.mid" in r.stderr and "truncated" in r.stderr
    for name in ("config.json", "model.safetensors", "loss.png", "log.jsonl", "last/optimizer.safetensors"):
        assert (run / name).exists(), name
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["style"] == "blues" and cfg["pieces"] == 6 and cfg["skipped"] == 1
    out = tmp_path / "mine.mid"
    r = CliRunner().invoke(cli, ["generate", "--checkpoint", str(run), "--bars", "12", "--key", "G", "-o", str(out)])
    assert r.exit_code == 0, r.output
    s = read_midi(out)
    assert {t.name for t in s.tracks} >= {"Chords", "Melody"} and s.key_signatures[0].tonic == 7

    r = CliRunner().invoke(cli, ["train", "--style", "blues", "--corpus", str(corpus), "-o", str(run), "--size", "tiny"])
    assert r.exit_code == 1 and "--resume" in r.stderr  # an existing run is never overwritten by accident
    r = CliRunner().invoke(cli, ["train", "--style", "blues", "--corpus", str(corpus), "-o", str(run),
                                 "--size", "tiny", "--epochs", "3", "--batch-size", "2", "--resume"])
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["epoch"] for x in (run / "log.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_resumed_run_equals_uninterrupted_run(tmp_path, corpus):
    train_style("blues", tmp_path / "a", corpus=corpus, epochs=2, **TINY)
    train_style("blues", tmp_path / "b", corpus=corpus, epochs=1, **TINY)
    train_style("blues", tmp_path / "b", corpus=corpus, epochs=2, resume=True, **TINY)
    a = load_tensors(tmp_path / "a" / "last" / "model.safetensors")
    b = load_tensors(tmp_path / "b" / "last" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    oa = load_tensors(tmp_path / "a" / "last" / "optimizer.safetensors")
    ob = load_tensors(tmp_path / "b" / "last" / "optimizer.safetensors")
    assert all(torch.allclose(oa[k], ob[k], atol=1e-6) for k in oa)


def test_early_stopping(tmp_path, corpus):
    result = train_style("blues", tmp_path / "r", corpus=corpus, epochs=10, lr=0.0, patience=2, **TINY)
    assert result.stopped_early and result.epochs_run == 3


def test_resume_with_another_model_is_refused(tmp_path, corpus):
    from composer.errors import CheckpointError

    train_style("blues", tmp_path / "r", corpus=corpus, epochs=1, **TINY)
    with pytest.raises(CheckpointError, match="another model"):
        train_style("blues", tmp_path / "r", corpus=corpus, epochs=2, resume=True, size="default", progress=False)


def test_corpus_of_only_broken_files(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"garbage")
    r = CliRunner().invoke(cli, ["train", "--corpus", str(tmp_path), "-o", str(tmp_path / "run"), "--size", "tiny"])
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "no usable piece" in r.stderr
    assert not (tmp_path / "run" / "config.json").exists()
