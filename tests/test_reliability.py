"""Nothing lost, nothing run, nothing unbounded: atomic writes under kill and full disk,
crafted checkpoints, the folder lock, and the per-file limits on hostile files."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from composer import limits
from composer.errors import CheckpointError, ComposerError, InputError
from composer.io import WRITERS, read, write
from composer.io.atomic import atomic_write
from composer.io.lock import exclusive
from composer.io.midi import read_midi
from composer.score import NOTE_DTYPE, ChordSymbol, Score, Tempo, TimeSignature, Track, notes_array

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _score() -> Score:
    notes = notes_array([(i * 480, 480, 60 + i % 12, 80) for i in range(16)])
    chords = [ChordSymbol(b * 1920, 1920, (b * 5) % 12, "7") for b in range(4)]
    return Score(tempos=[Tempo(0, 120.0)], time_signatures=[TimeSignature(0, 4, 4)],
                 tracks=[Track("lead", 0, False, notes)], chords=chords, meta={"title": "t"})


# ---------------------------------------------------------------------------------- atomic writes

_KILLED_WRITER = """
import os, sys, time
import composer.io.atomic as atomic
path, size = sys.argv[1], int(sys.argv[2])
real_fsync = atomic.os.fsync
def slow_fsync(fd):  # the data is in the temp file; hold here so the kill lands before the rename
    real_fsync(fd)
    print("written", flush=True)
    time.sleep(60)
atomic.os.fsync = slow_fsync
atomic.atomic_write(path, b"\\x02" * size)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_mid_write_leaves_the_previous_file_whole(tmp_path, sig):
    target = tmp_path / "song.mid"
    old = b"\x01" * 100_000
    atomic_write(target, old)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target), "3000000"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"  # a real signal, mid-write (temp full, not renamed)
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(temps) == 1 and temps[0].stat().st_size == 3_000_000
        proc.send_signal(sig)
        proc.wait(30)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert target.read_bytes() == old  # the previous file, whole
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != target.name]
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: only a hidden temp file remains
        assert all(n.startswith(".song.mid.") and n.endswith(".tmp") for n in leftovers)
    elif sig == signal.SIGINT:  # KeyboardInterrupt runs atomic_write's cleanup
        assert leftovers == []


def _full_disk(monkeypatch):
    from composer.io import atomic

    real = atomic.os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])  # half of it lands, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Full(real(fd, mode)))


@pytest.mark.parametrize("ext", sorted(set(WRITERS) - {".midi", ".xml", ".mxl", ".flac", ".ogg"}))
def test_full_disk_keeps_the_previous_file_for_every_writer(tmp_path, monkeypatch, ext):
    target = tmp_path / f"piece{ext}"
    write(_score(), target)
    before = target.read_bytes()
    _full_disk(monkeypatch)
    with pytest.raises((OSError, ComposerError), match="No space left"):
        write(_score(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp file left behind


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from test_checkpoint import _model

    from composer.checkpoint import load_checkpoint, save_checkpoint

    m, tok = _model()
    save_checkpoint(tmp_path, m, tok, style="blues", step=1)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    _full_disk(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path, m, tok, style="blues", step=2)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    monkeypatch.undo()
    assert load_checkpoint(tmp_path).config["step"] == 1


# ---------------------------------------------------------------------------------- checkpoints


def test_crafted_checkpoint_cannot_execute_code(tmp_path):
    """Every place a checkpoint could smuggle code: a pickle under any name, pickle bytes as the
    weights, a config naming a Python callable. None runs; each is one clear refusal."""
    import pickle

    from test_checkpoint import _model

    from composer.checkpoint import load_checkpoint, save_checkpoint

    marker = tmp_path / "pwned"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('x')"

    class Evil:
        def __reduce__(self):
            return (exec, (payload,))

    blob = pickle.dumps(Evil())
    for name in ("model.pt", "model.pth", "model.ckpt", "model.bin", "model.pkl"):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(tmp_path / name)
    m, tok = _model()
    ck = save_checkpoint(tmp_path / "ck", m, tok, style="blues")
    good = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(blob)  # pickle posing as safetensors
    with pytest.raises(CheckpointError):
        load_checkpoint(ck)
    (ck / "model.safetensors").write_bytes(good)
    cfg = json.loads((ck / "config.json").read_text())
    for field, evil in (("model", {"kind": "os.system", "config": {"command": payload}}),
                        ("tokenizer", {"kind": "builtins.exec", "source": payload})):
        bad = dict(cfg, **{field: evil})
        (ck / "config.json").write_text(json.dumps(bad))
        with pytest.raises(CheckpointError, match="unknown"):
            load_checkpoint(ck)
    assert not marker.exists()
    # the loader never calls torch.load (the one pickle door in torch)
    import torch

    called = []
    orig = torch.load
    torch.load = lambda *a, **k: called.append(a)
    try:
        (ck / "config.json").write_text(json.dumps(cfg))
        load_checkpoint(ck)
    finally:
        torch.load = orig
    assert called == []


def test_checkpoint_header_and_config_are_checked_before_any_tensor(tmp_path, monkeypatch):
    from test_checkpoint import _model

    from composer import checkpoint as cp
    from composer.checkpoint import load_checkpoint, save_checkpoint

    m, tok = _model()
    ck = save_checkpoint(tmp_path, m, tok, style="blues")
    cfg = json.loads((ck / "config.json").read_text())
    reads = []
    monkeypatch.setattr(cp, "load_tensors", lambda *a, **k: reads.append(a))
    # a config that asks for a huge model: refused from the header's shapes, nothing allocated
    big = json.loads(json.dumps(cfg))
    big["model"]["config"]["hidden"] = 1_000_000
    (ck / "config.json").write_text(json.dumps(big))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(ck)
    for bad in ({**cfg, "version": 2}, {**cfg, "weights_sha256": "abc"}, {**cfg, "step": "x"},
                {**cfg, "tokenizer": {}}, "[" * 100_000):
        (ck / "config.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
        with pytest.raises(CheckpointError):
            load_checkpoint(ck)
    assert reads == []
    # a safetensors header that lies about sizes is refused from the header alone
    (ck / "config.json").write_text(json.dumps(cfg))
    data = bytearray((ck / "model.safetensors").read_bytes())
    for mutation in (lambda d: d[:-10], lambda d: d + b"\0" * 8, lambda d: (2**40).to_bytes(8, "little") + d[8:]):
        (ck / "model.safetensors").write_bytes(bytes(mutation(bytearray(data))))
        with pytest.raises(CheckpointError, match="safetensors|bytes"):
            load_checkpoint(ck)
    assert reads == []


# ---------------------------------------------------------------------------------- the folder lock


def test_lock_refuses_a_second_holder_with_its_pid(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from composer.io.lock import exclusive
        with exclusive({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(60)
    """)], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match=f"in use by another compose process \\(pid {holder.pid}\\)"), \
                exclusive(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(tmp_path) as folder:  # the kernel dropped the lock with the killed holder
        assert folder == tmp_path


def _midi_folder(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        s = _score()
        s.tracks[0].notes["pitch"] += i % 5
        write(s, folder / f"{i}.mid")


def test_two_concurrent_tokenize_runs_do_not_corrupt_the_folder(tmp_path):
    src, out = tmp_path / "midi", tmp_path / "shards"
    _midi_folder(src, 12)
    cmd = [sys.executable, "-m", "composer.cli", "tokenize", str(src), "-o", str(out), "--workers", "1"]
    runs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(120), p.stderr.read()) for p in runs]
    for rc, err in results:
        assert rc == 0 or (rc == 1 and "in use by another compose process" in err), err
    from composer.corpora.shards import load_manifest

    m = load_manifest(out)
    assert m["counts"]["files"] == 12 and m["counts"]["tokenized"] + m["counts"]["duplicates"] == 12
    # and a run while the folder is held is refused with one line, touching nothing
    before = sorted(p.name for p in out.iterdir())
    with exclusive(out):
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "in use by another compose process" in p.stderr
    assert sorted(p.name for p in out.iterdir()) == before


# ---------------------------------------------------------------------------------- limits on hostile files


def _midi_bytes(*track_events, tpq=480) -> bytes:
    import io

    mf = mido.MidiFile(type=1, ticks_per_beat=tpq)
    for events in track_events:
        mf.tracks.append(mido.MidiTrack(events))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def test_hostile_midi_files_end_in_a_clear_error(tmp_path):
    on = lambda t=0, n=60: mido.Message("note_on", note=n, velocity=64, time=t)
    off = lambda t=0, n=60: mido.Message("note_off", note=n, velocity=0, time=t)
    good = _midi_bytes([on(), off(480)])
    cases = {
        "huge delta times": (_midi_bytes([on(), off(2**28 - 1), on(2**28 - 1), off(2**28 - 1)]), "quarter notes"),
        "absurd tempo": (_midi_bytes([mido.MetaMessage("set_tempo", tempo=1), on(), off(480)]), "tempo"),
        "zero tpq": (good[:12] + b"\x00\x00" + good[14:], "zero ticks per quarter"),
        "negative (SMPTE) tpq": (good[:12] + b"\xe7\x28" + good[14:], "SMPTE"),
        "truncated": (good[:-3], "truncated"),
        "wrong chunk length": (good[:18] + b"\xff\xff\xff\xff" + good[22:], ""),
        "running status garbage": (good[:22] + b"\x00\x3c\x40\x00\x3d" + good[22:], ""),
        "binary junk": (bytes(range(256)) * 4, "not a MIDI file|MThd"),
        "empty": (b"", "empty"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(ComposerError, match=message or None):
            read_midi(data)
        p = tmp_path / f"{name}.mid"
        p.write_bytes(data)
        with pytest.raises(ComposerError):
            read(p)


def test_a_million_notes_is_bounded_by_the_limits(tmp_path):
    n = 12_000
    notes = np.zeros(n, dtype=NOTE_DTYPE)
    notes["start"], notes["duration"], notes["pitch"], notes["velocity"] = np.arange(n) * 10, 10, 60, 64
    from composer.io.midi import midi_bytes

    big = midi_bytes(Score(tpq=96, tracks=[Track("x", 0, False, notes)]))
    with limits.override(max_bytes=len(big) // 2), pytest.raises(limits.LimitError, match="COMPOSER_MAX_BYTES"):
        read_midi(big)  # refused from its size, unparsed
    with limits.override(max_notes=10_000), pytest.raises(limits.LimitError, match="notes"):
        read_midi(big)  # refused while reading, at the 10,001st note
    p = tmp_path / "million.abc"
    p.write_text("X:1\nL:1/16\nK:C\n" + "C" * 1_000_000 + "\n")
    t0 = time.perf_counter()
    with limits.override(max_notes=100_000), pytest.raises(ComposerError, match="100,000 notes"):
        read(p)
    assert time.perf_counter() - t0 < 10


@pytest.mark.slow
def test_a_million_notes_read_under_raised_limits(tmp_path):
    p = tmp_path / "million.abc"
    p.write_text("X:1\nL:1/16\nK:C\n" + "C" * 1_000_000 + "\n")
    with limits.override(max_notes=2_000_000, max_quarters=300_000):
        assert read(p).n_notes == 1_000_000


@pytest.mark.parametrize("body, message", [
    ("Z99999999999999999999", "quarter notes"),
    ("[CE99999999999999999999]", "quarter notes"),
    ("(" * 100_000 + "C", None),  # 100,000 nested slurs: read in linear time
    ("[K:" * 20_000, None),
    ("!" + "a" * 50_000, None),
    ("[Q:" + "1/1111" * 40 + "]C", None),  # backtracking bait for the tempo regex
    ("[M:" + "9" * 5000 + "/4]C", "field"),
    ("%%MIDI transpose 99999999999999\nC", None),
    ("K:C octave=99999\nC", "MIDI range"),
], ids=["Z-huge", "chord-huge", "nested-slurs", "open-inline-fields", "open-decoration", "tempo-backtracking",
        "meter-field-too-long", "transpose-huge", "octave-huge"])
def test_hostile_abc_ends_fast(body, message):
    from composer.io.abc import parse_tune

    t0 = time.perf_counter()
    try:
        parse_tune("X:1\nK:C\n" + body)
    except ComposerError as e:
        assert message is None or message in str(e)
    else:
        assert message is None
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("ext, text", [
    (".lab", "0 1e308 C:maj\n"),
    (".lab", "nan inf G:7\n"),
    (".lab", "".join(f"{i} {i + 1} C:maj\n" for i in range(0, 3000, 2))),  # over max_events=1000 below
    (".txt", "Meter: 4/0\n| C |\n"),
    (".txt", "Tempo: 1e308\n| C |\n"),
    (".txt", "| " + "C | " * 30_000 + "\n"),
    (".txt", "| C" + "maj7" * 1000 + " |\n"),
    (".html", "irealb://" + "=" * 50),
    (".txt", "Title: x\n| C |\n".encode("utf-16").decode("latin-1")),
], ids=["lab-1e308", "lab-nan", "lab-many-rows", "meter-4/0", "tempo-1e308", "30k-bars", "long-chord",
        "ireal-empty", "utf16-as-latin1"])
def test_hostile_chord_files_end_in_a_score_or_a_clear_error(tmp_path, ext, text):
    p = tmp_path / f"f{ext}"
    p.write_text(text, encoding="latin-1")
    t0 = time.perf_counter()
    try:
        with limits.override(max_events=1000):
            read(p)
    except ComposerError as e:
        assert "\n" not in str(e)
    assert time.perf_counter() - t0 < 10


def test_text_in_other_encodings_reads_the_same(tmp_path):
    text = "Title: Café\nKey: F major\n| F  | Bb7  | F  | C7 |\n"
    ref = read_text_as(tmp_path, text.encode("utf-8"))
    for enc in ("utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"):
        s = read_text_as(tmp_path, text.encode(enc))
        assert s.chords == ref.chords and s.meta["title"] == "Café", enc
    with pytest.raises(InputError, match="binary"):
        read_text_as(tmp_path, b"\x00\x01\x02" * 100)


def read_text_as(folder: Path, data: bytes) -> Score:
    p = folder / "sheet.txt"
    p.write_bytes(data)
    return read(p)


def test_limits_are_configurable_from_the_environment(monkeypatch):
    assert limits.current() == limits.DEFAULTS
    try:
        monkeypatch.setenv("COMPOSER_MAX_NOTES", "7")
        assert limits.reload().max_notes == 7
        with limits.override(max_notes=9):
            assert limits.current().max_notes == 9
        assert limits.current().max_notes == 7
        monkeypatch.setenv("COMPOSER_MAX_NOTES", "lots")
        with pytest.raises(InputError, match="COMPOSER_MAX_NOTES"):
            limits.reload()
    finally:
        monkeypatch.undo()
        limits.reload()
    env = {**ENV, "COMPOSER_MAX_BYTES": "10"}
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, "-m", "composer.cli", "convert",
                            str(ROOT / "corpora" / "jazz" / "standards.txt"), "-o", f"{d}/x.mid"],
                           env=env, capture_output=True, text=True, check=False)
    assert p.returncode == 1 and "COMPOSER_MAX_BYTES" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_zip_bomb_mxl_is_refused_unread(tmp_path):
    import zipfile

    p = tmp_path / "bomb.mxl"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("score.musicxml", b"<" + b" " * (limits.DEFAULTS.max_bytes + 10))
    assert p.stat().st_size < 100_000
    with pytest.raises(limits.LimitError, match="uncompressed size"):
        read(p)
