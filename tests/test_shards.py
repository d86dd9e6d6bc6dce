"""`compose tokenize` shards (bad files, duplicates, splits, resuming, the folder lock), the streaming
dataset, and a tiny midi transformer trained and continuing a MIDI file end to end."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.corpora import shards
from composer.corpora.shards import load_manifest, load_tokens, midi_problem, read_midi_fast, tokenize_corpus
from composer.errors import CorpusError, InputError
from composer.io.midi import read_midi, write_midi
from composer.score import Score, Tempo, TimeSignature, Track, notes_array
from composer.shard_data import ShardData
from composer.tokenizers.remi import RemiTokenizer

TOK = RemiTokenizer()


def song(seed: int, bars: int = 4) -> Score:
    """A small two-track piece (piano chords + drums) that differs by seed."""
    rng = np.random.default_rng(seed)
    piano = [(b * 1920 + k * 480, 480, 48 + int(rng.integers(0, 24)), 80) for b in range(bars) for k in range(4)]
    drums = [(b * 1920 + k * 240, 120, 36 if k % 4 == 0 else 42, 100) for b in range(bars) for k in range(8)]
    return Score(480, [Tempo(0, 110.0)], [TimeSignature(0, 4, 4)], [],
                 [Track("Piano", 0, False, notes_array(piano)), Track("Drums", 0, True, notes_array(drums))])


def huge_midi(n_notes: int) -> bytes:
    """A type 0 file of ``n_notes`` short notes, written as raw bytes (fast, even for 100k notes)."""
    ev = bytearray()
    for i in range(n_notes):
        ev += bytes([0, 0x90, 60 + i % 12, 64, 10, 0x80, 60 + i % 12, 0])
    ev += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(ev)) + bytes(ev)


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "midi"
    (src / "deep" / "er").mkdir(parents=True)
    for i in range(8):
        write_midi(song(i), src / ("deep/er" if i % 3 == 0 else ".") / f"song{i}.mid")
    (src / "copy.MIDI").write_bytes((src / "song1.mid").read_bytes())  # a duplicate, other name and case
    good = (src / "song1.mid").read_bytes()
    (src / "empty.mid").write_bytes(b"")
    (src / "truncated.mid").write_bytes(good[: len(good) // 2])
    (src / "text.mid").write_bytes(b"not music at all")
    (src / "zero_tpq.mid").write_bytes(good[:12] + b"\x00\x00" + good[14:])
    write_midi(Score(480, [], [], [], [Track("silent", 0, False, notes_array([]))]), src / "no_notes.mid")
    fast = song(99)
    write_midi(Score(480, [Tempo(0, 2000.0)], fast.time_signatures, [], fast.tracks), src / "absurd_tempo.mid")
    odd = bytearray((src / "song2.mid").read_bytes())
    i = odd.index(b"\xff\x58\x04")
    odd[i + 3] = 0  # numerator 0: an absurd meter
    (src / "absurd_meter.mid").write_bytes(bytes(odd))
    (src / "huge.mid").write_bytes(huge_midi(100_001))
    (src / "notes.txt").write_text("ignored: not a MIDI suffix")
    return src


REASONS = {
    "empty.mid": "empty file",
    "truncated.mid": "truncated MIDI file",
    "text.mid": "not a MIDI file",
    "zero_tpq.mid": "zero ticks per quarter note",
    "no_notes.mid": "no notes",
    "absurd_tempo.mid": "absurd tempo 2000 qpm",
    "absurd_meter.mid": "absurd time signature 0/4",
    "huge.mid": "too long: more than 100,000 notes",
}


def test_tokenize_skips_bad_files_with_reasons_and_dedupes(corpus, tmp_path):
    m = tokenize_corpus(corpus, tmp_path / "out", workers=1, progress=False)
    files = m["files"]
    for name, reason in REASONS.items():
        assert files[name]["status"] == "skipped" and reason in files[name]["reason"], (name, files[name])
    # files go in sorted path order, so copy.MIDI is kept and song1.mid is its duplicate
    assert files["song1.mid"] == {"sha1": files["copy.MIDI"]["sha1"], "status": "duplicate", "of": "copy.MIDI"}
    assert "deep/er/song0.mid" in files and "notes.txt" not in files
    assert m["counts"] == {"files": 17, "tokenized": 8, "duplicates": 1, "skipped": 8}
    assert m["complete"] and m["tokenizer"] == json.loads(json.dumps(TOK.to_dict())) and m["dtype"] == "uint16"
    # every kept file's tokens are in its split's shards, exactly as the tokenizer encodes it
    ok = {rel: r for rel, r in files.items() if r["status"] == "ok"}
    got = sorted(tuple(t.tolist()) for split in ("train", "valid", "test") for t in load_tokens(tmp_path / "out", split))
    want = sorted(tuple(TOK.encode(read_midi(corpus / rel))) for rel in ok)
    assert got == want
    assert sum(m["splits"][s]["files"] for s in ("train", "valid", "test")) == 8


def test_shards_are_the_same_with_more_workers_and_split_by_content(corpus, tmp_path):
    a = tokenize_corpus(corpus, tmp_path / "a", workers=1, shard_tokens=500, progress=False)
    b = tokenize_corpus(corpus, tmp_path / "b", workers=2, shard_tokens=500, progress=False)
    assert a["splits"] == b["splits"] and len(a["splits"]["train"]["shards"]) > 1
    assert a["files"] == b["files"]  # every skip reason and duplicate too, through chunks of files
    for s in a["splits"]["train"]["shards"]:
        assert all(s["tokens"] <= 500 or s["files"] == 1 for s in a["splits"]["train"]["shards"])
        for part in ("tokens", "index"):
            assert (tmp_path / "a" / f"{s['name']}.{part}.npy").read_bytes() == \
                (tmp_path / "b" / f"{s['name']}.{part}.npy").read_bytes()
    # the split is a function of the content hash (and seed) alone: adding files never moves a file
    from composer.corpora.build import _split_of

    assert all(r["split"] == _split_of(r["sha1"], 0) for r in a["files"].values() if r["status"] == "ok")


def test_resume_skips_files_already_done(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    tokenize_corpus(corpus, out, workers=1, progress=False)
    before = {p.name: p.read_bytes() for p in out.glob("*.npy")}
    write_midi(song(50), corpus / "new.mid")
    seen = []
    work = shards._work
    monkeypatch.setattr(shards, "_work", lambda path: seen.append(path) or work(path))
    m = tokenize_corpus(corpus, out, workers=1, progress=False)
    assert [p.rsplit("/", 1)[-1] for p in seen] == ["new.mid"]
    assert m["files"]["new.mid"]["status"] == "ok" and m["counts"]["tokenized"] == 9
    assert all((out / name).read_bytes() == data for name, data in before.items())  # old shards untouched
    with pytest.raises(CorpusError, match="another tokenizer config or seed"):
        tokenize_corpus(corpus, out, workers=1, seed=1, progress=False)


def test_interrupted_run_resumes_from_its_last_written_shard(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []
    work = shards._work

    def dying(path):
        calls.append(path)
        if len(calls) == 14:
            raise KeyboardInterrupt
        return work(path)

    monkeypatch.setattr(shards, "_work", dying)
    with pytest.raises(KeyboardInterrupt):
        tokenize_corpus(corpus, out, workers=1, shard_tokens=500, progress=False)
    partial = load_manifest(out, complete=False)
    assert not partial["complete"] and 0 < len(partial["files"]) < 17
    with pytest.raises(CorpusError, match="did not finish"):
        load_manifest(out)
    monkeypatch.setattr(shards, "_work", work)
    resumed = tokenize_corpus(corpus, out, workers=1, shard_tokens=500, progress=False)
    fresh = tokenize_corpus(corpus, tmp_path / "fresh", workers=1, shard_tokens=500, progress=False)
    assert resumed["counts"] == fresh["counts"] and resumed["complete"]
    assert sorted(tuple(t.tolist()) for t in load_tokens(out, "train")) == \
        sorted(tuple(t.tolist()) for t in load_tokens(tmp_path / "fresh", "train"))


def test_a_chunk_of_files_gives_what_each_file_gives(corpus):
    """Workers take chunks of files and return one flat token array: nothing shifts between files."""
    shards._init_worker(json.loads(json.dumps(TOK.to_dict())))
    paths = sorted(str(p) for p in corpus.rglob("*.*"))
    digests, lengths, flat, reasons = shards._work_chunk(paths)
    at = 0
    for i, path in enumerate(paths):
        _, digest, ids, reason = shards._work(path)
        assert digests[i] == digest and reasons.get(i) == reason
        if ids is None:
            assert lengths[i] == -1
        else:
            assert lengths[i] == len(ids) and np.array_equal(flat[at:at + len(ids)], ids)
            at += len(ids)
    assert at == len(flat) and flat.dtype == TOK.dtype and -1 in lengths


def test_a_crashed_worker_is_one_clear_error_and_the_run_resumes(corpus, tmp_path, monkeypatch):
    import multiprocessing
    import os

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the crash is planted by monkeypatching, which only forked workers inherit")
    work = shards._work
    monkeypatch.setattr(shards, "_work", lambda path: os._exit(3) if path.endswith("song5.mid") else work(path))
    with pytest.raises(CorpusError, match="a parsing process died"):
        tokenize_corpus(corpus, tmp_path / "out", workers=2, shard_tokens=500, progress=False)
    monkeypatch.setattr(shards, "_work", work)
    resumed = tokenize_corpus(corpus, tmp_path / "out", workers=2, shard_tokens=500, progress=False)
    fresh = tokenize_corpus(corpus, tmp_path / "fresh", workers=1, shard_tokens=500, progress=False)
    assert resumed["counts"] == fresh["counts"] and resumed["files"].keys() == fresh["files"].keys()


def test_two_runs_into_one_folder_cannot_interleave(corpus, tmp_path):
    from composer.io.lock import exclusive

    with exclusive(tmp_path / "out"), pytest.raises(InputError, match="in use by another compose process"):
        tokenize_corpus(corpus, tmp_path / "out", workers=1, progress=False)


def test_midi_problems_are_named():
    good = huge_midi(3)
    assert midi_problem(good) is None
    assert midi_problem(good[:20]).startswith("truncated")
    assert "SMPTE" in midi_problem(good[:12] + b"\xe7\x28" + good[14:])
    assert len(read_midi_fast(good).tracks[0].notes) == 3


# ---------------------------------------------------------------------------- streaming dataset


def test_shard_data_windows(corpus, tmp_path):
    out = tmp_path / "out"
    tokenize_corpus(corpus, out, workers=1, shard_tokens=500, progress=False)
    data = ShardData.open(out, "train", seq_len=64)
    assert len(data.shard_names) > 1 and len(data) == sum(-(-(n - 1) // 64) for n in data.sizes)
    stream = np.concatenate([np.asarray(t) for t in load_tokens(out, "train")])
    assert data.n_tokens == len(stream) and len(data.sequences) == len(load_tokens(out, "train"))
    # validation order tiles every shard: each target token is predicted exactly once
    targets = [b["targets"][b["mask"] > 0] for b in data.batches(5)]
    assert sum(len(t) for t in targets) == data.n_tokens - len(data.sizes)
    # training windows: random, the same for a seed, inputs/targets shifted by one, inside one shard
    a, b, c = (list(data.batches(4, seed=s)) for s in (3, 3, 4))
    assert all(np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, b))
    assert not all(np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, c))
    assert sum(len(x["inputs"]) for x in a) == len(data)
    x = a[0]
    assert x["inputs"].shape == (4, 64) and x["inputs"].dtype.is_floating_point is False
    assert np.array_equal(x["inputs"][:, 1:][x["mask"][:, 1:] > 0], x["targets"][:, :-1][x["mask"][:, 1:] > 0])
    assert data.subset([0]).n_tokens == data.sizes[0]
    short = data.windowed(16)  # compose train --window: the same shards in shorter windows
    assert short.n_tokens == data.n_tokens and len(short) == sum(-(-(n - 1) // 16) for n in data.sizes)
    assert next(iter(short.batches(4, seed=3)))["inputs"].shape == (4, 16)


# ---------------------------------------------------------------------------- end to end


def test_cli_tokenize_train_and_continue_a_midi_file(corpus, tmp_path):
    runner = CliRunner()
    out, run = tmp_path / "shards", tmp_path / "run"
    r = runner.invoke(cli, ["tokenize", str(corpus), "-o", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "8 tokenized, 1 duplicates, 8 skipped" in r.output and "skipped 1: empty file" in r.output
    r = runner.invoke(cli, ["train", "--style", "midi", "--corpus", str(out), "--size", "tiny", "--epochs", "2",
                            "--max-steps", "6", "--batch-size", "4", "-o", str(run)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["kind"] == "token_transformer" and cfg["tokenizer"]["kind"] == "remi"
    prime = corpus / "song2.mid"
    cont = tmp_path / "cont.mid"
    r = runner.invoke(cli, ["generate", "--checkpoint", str(run), "--prime", str(prime), "--bars", "2",
                            "-o", str(cont)])
    assert r.exit_code == 0, r.output
    p_ids, c_ids = TOK.encode(read_midi(prime)), TOK.encode(read_midi(cont))
    assert TOK.bars_of(c_ids) >= TOK.bars_of(p_ids)  # trailing empty bars leave no trace in MIDI
    # the prime, then the continuation (which may add notes at the prime's last onset)
    last_position = max(i for i, t in enumerate(p_ids) if TOK.types[t] == 2)
    assert c_ids[:last_position + 1] == p_ids[:last_position + 1]
    prime_notes = TOK.decode(p_ids).tracks
    cont_tracks = {(t.program, t.is_drum): set(map(tuple, t.notes.tolist())) for t in TOK.decode(c_ids).tracks}
    assert all(set(map(tuple, t.notes.tolist())) <= cont_tracks[(t.program, t.is_drum)] for t in prime_notes)
    assert read_midi(cont).tempos[0].qpm == pytest.approx(TOK.decode(p_ids).tempos[0].qpm)
    r = runner.invoke(cli, ["generate", "--checkpoint", str(run), "--prime", str(corpus / "empty.mid"), "-o",
                            str(tmp_path / "x.mid")])
    assert r.exit_code == 1 and r.output.startswith("error:")
    r = runner.invoke(cli, ["tokenize", str(tmp_path / "nowhere"), "-o", str(out)])
    assert r.exit_code == 1 and "no such folder" in r.output


@pytest.mark.slow
def test_ddp_on_shards_matches_one_process(tmp_path):
    """torchrun, 2 CPU processes (gloo), streaming shards: the same losses as one process on the same
    global batches (each rank takes rows rank::2 of every batch ShardData yields)."""
    import os
    import subprocess
    import sys

    src = tmp_path / "midi"
    src.mkdir()
    for i in range(30):
        write_midi(song(i, 8), src / f"s{i}.mid")
    tokenize_corpus(src, tmp_path / "shards", workers=1, progress=False)
    args = ["train", "--style", "midi", "--corpus", str(tmp_path / "shards"), "--size", "tiny", "--max-steps", "3",
            "--batch-size", "4", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    runs = {"one": [sys.executable, "-m", "composer.cli"],
            "ddp": [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "composer.cli"]}
    logs = {}
    for name, cmd in runs.items():
        subprocess.run([*cmd, *args, "-o", str(tmp_path / name)], check=True, env=env, capture_output=True, timeout=300)
        logs[name] = json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[0])
    assert logs["ddp"]["train_loss"] == pytest.approx(logs["one"]["train_loss"], abs=1e-5)
    assert logs["ddp"]["valid_loss"] == pytest.approx(logs["one"]["valid_loss"], abs=1e-5)
