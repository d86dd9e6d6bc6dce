"""The table of CLI error cases: every command, given each kind of bad argument, exits non-zero
with one line on stderr (``error: ...``) naming the problem; ``--verbose`` adds the traceback."""

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.io import write
from composer.score import ChordSymbol, Score, Tempo, TimeSignature, Track, notes_array

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-errors")
    song = Score(tempos=[Tempo(0, 100.0)], time_signatures=[TimeSignature(0, 4, 4)],
                 tracks=[Track("lead", 0, False, notes_array([(i * 480, 480, 60 + i, 80) for i in range(8)]))],
                 chords=[ChordSymbol(0, 1920 * 2, 0, "7")])
    write(song, d / "song.mid")
    (d / "junk.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00garbage")
    (d / "junk.abc").write_bytes(b"X:1\nK:C\n[K:" + b"\xff" * 10 + b"\x00\x00")
    (d / "exists.mid").write_bytes(b"precious")
    (d / "many-2.mid").write_bytes(b"precious")  # what --count 3 -o many.mid would write second
    (d / "exists.wav").write_bytes(b"precious")
    (d / "exists.png").write_bytes(b"precious")
    (d / "evil.pt").write_bytes(pickle.dumps({"x": 1}))
    (d / "notckpt").mkdir()
    (d / "empty").mkdir()
    (d / "bad.toml").write_text("this is = = not toml")
    return d


# (id, argv with {d} for the fixture folder, what the one-line message must contain)
CASES = [
    ("unknown command", ["nosuch"], "No such command"),
    ("unknown global option", ["--nope", "info"], "No such option"),
    ("generate: no -o", ["generate"], "Missing option"),
    ("generate: unknown option", ["generate", "--nope", "-o", "{d}/o.mid"], "No such option"),
    ("generate: not a number", ["generate", "--bars", "many", "-o", "{d}/o.mid"], "not a valid integer"),
    ("generate: folder missing", ["generate", "-o", "{d}/nofolder/o.mid"], "does not exist"),
    ("generate: unknown format", ["generate", "-o", "{d}/o.xyz"], "supported outputs"),
    ("generate: output exists", ["generate", "-o", "{d}/exists.mid"], "already exists; add --force"),
    ("generate: numbered output exists", ["generate", "--count", "3", "-o", "{d}/many.mid"], "many-2.mid"),
    ("generate: unknown style", ["generate", "--style", "polka9", "-o", "{d}/o.mid"], "polka9"),
    ("generate: count 0", ["generate", "--count", "0", "-o", "{d}/o.mid"], "count must be"),
    ("generate: bars and choruses", ["generate", "--bars", "2", "--choruses", "1", "-o", "{d}/o.mid"], "not both"),
    ("generate: pickle checkpoint", ["generate", "--checkpoint", "{d}/evil.pt", "-o", "{d}/o.mid"], "pickle"),
    ("generate: not a checkpoint", ["generate", "--checkpoint", "{d}/notckpt", "-o", "{d}/o.mid"], "not a checkpoint"),
    ("generate: missing checkpoint", ["generate", "--checkpoint", "{d}/nothere", "-o", "{d}/o.mid"], "no such"),
    ("generate: bad key", ["generate", "--bars", "1", "--key", "H#", "-o", "{d}/o.mid"], "H#"),
    ("generate: humanize 5", ["generate", "--bars", "1", "--humanize", "5", "-o", "{d}/o.mid"], "humanize"),
    ("accompany: no --add", ["accompany", "{d}/song.mid", "-o", "{d}/o.mid"], "Missing option"),
    ("accompany: bad part", ["accompany", "{d}/song.mid", "--add", "kazoo", "-o", "{d}/o.mid"], "kazoo"),
    ("accompany: missing source", ["accompany", "{d}/none.mid", "--add", "bass", "-o", "{d}/o.mid"], "none.mid"),
    ("accompany: junk source", ["accompany", "{d}/junk.mid", "--add", "bass", "-o", "{d}/o.mid"], "junk.mid"),
    ("accompany: output exists", ["accompany", "{d}/song.mid", "--add", "bass", "-o", "{d}/exists.mid"], "--force"),
    ("train: unknown style", ["train", "--style", "polka9", "-o", "{d}/run1", "--max-steps", "1"], "polka9"),
    ("train: not a number", ["train", "--epochs", "lots", "-o", "{d}/run2"], "not a valid integer"),
    ("train: missing config", ["train", "--config", "{d}/none.toml"], "none.toml"),
    ("train: broken config", ["train", "--config", "{d}/bad.toml"], "bad.toml"),
    ("train: missing corpus", ["train", "--corpus", "{d}/nocorpus", "-o", "{d}/run3", "--max-steps", "1"], "nocorpus"),
    ("eval: no checkpoint", ["eval"], "Missing option"),
    ("eval: not a checkpoint", ["eval", "--checkpoint", "{d}/notckpt"], "not a checkpoint"),
    ("eval: pickle", ["eval", "--checkpoint", "{d}/evil.pt"], "pickle"),
    ("convert: missing source", ["convert", "{d}/none.mid", "-o", "{d}/o.abc"], "none.mid"),
    ("convert: junk MIDI", ["convert", "{d}/junk.mid", "-o", "{d}/o.abc"], "junk.mid"),
    ("convert: junk ABC", ["convert", "{d}/junk.abc", "-o", "{d}/o.mid"], "junk.abc"),
    ("convert: output exists", ["convert", "{d}/song.mid", "-o", "{d}/exists.mid"], "already exists; add --force"),
    ("convert: unknown format", ["convert", "{d}/song.mid", "-o", "{d}/o.docx"], "supported outputs"),
    ("convert: unknown input format", ["convert", "{d}/bad.toml", "-o", "{d}/o.mid"], "cannot read"),
    ("convert: to stdout", ["convert", "{d}/song.mid", "-o", "-"], "not -"),
    ("convert: bad grid", ["convert", "{d}/song.mid", "-o", "{d}/o.abc", "--grid", "x"], "not a valid integer"),
    ("corpus build: unknown style", ["corpus", "build", "polka9", "-o", "{d}/c1"], "polka9"),
    ("corpus build: missing source", ["corpus", "build", "folk", "-o", "{d}/c2", "--source", "{d}/nowhere"], "nowhere"),
    ("corpus audio: missing source", ["corpus", "audio", "{d}/nowhere", "-o", "{d}/c3"], "nowhere"),
    ("train-wavenet: missing corpus", ["train-wavenet", "--corpus", "{d}/nowhere", "-o", "{d}/w"], "nowhere"),
    ("tokenize: missing folder", ["tokenize", "{d}/nowhere", "-o", "{d}/t1"], "nowhere"),
    ("tokenize: negative workers", ["tokenize", "{d}/empty", "-o", "{d}/t2", "--workers", "-1"], "workers"),
    ("tokenize: zero shard", ["tokenize", "{d}/empty", "-o", "{d}/t3", "--shard-tokens", "0"], "shard"),
    ("info: not a checkpoint", ["info", "{d}/notckpt"], "not a checkpoint"),
    ("info: pickle", ["info", "{d}/evil.pt"], "pickle"),
    ("render: missing source", ["render", "{d}/none.mid", "-o", "{d}/o.wav"], "none.mid"),
    ("render: junk source", ["render", "{d}/junk.mid", "-o", "{d}/o.wav"], "junk.mid"),
    ("render: output exists", ["render", "{d}/song.mid", "-o", "{d}/exists.wav"], "already exists; add --force"),
    ("render: not audio", ["render", "{d}/song.mid", "-o", "{d}/o.mid"], "wav"),
    ("render: bad rate", ["render", "{d}/song.mid", "-o", "{d}/o.wav", "--sample-rate", "fast"], "not a valid integer"),
    ("plot: junk source", ["plot", "{d}/junk.mid", "-o", "{d}/o.png"], "junk.mid"),
    ("plot: not a run", ["plot", "{d}/empty", "-o", "{d}/o.png"], "not a training run"),
    ("plot: output exists", ["plot", "{d}/song.mid", "-o", "{d}/exists.png"], "already exists; add --force"),
    ("sing: not audio", ["sing", "{d}/song.mid", "-o", "{d}/o.mid"], "audio"),
    ("sing: missing song", ["sing", "{d}/none.musicxml", "-o", "{d}/o.wav"], "none.musicxml"),
    ("sing: output exists", ["sing", "{d}/song.mid", "-o", "{d}/exists.wav"], "already exists; add --force"),
    ("serve: bad port", ["serve", "--port", "0"], "port"),
    ("serve: runs is a file", ["serve", "--runs", "{d}/song.mid"], "is a file"),
    ("serve: port not a number", ["serve", "--port", "http"], "not a valid integer"),
    ("sing-corpus: not a number", ["sing-corpus", "-o", "{d}/s", "--songs", "x"], "not a valid integer"),
    ("train-singer: missing corpus", ["train-singer", "{d}/nowhere", "-o", "{d}/ts"], "nowhere"),
]


@pytest.mark.parametrize("argv, expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_arguments_give_one_line(files, argv, expect):
    args = [a.replace("{d}", str(files)) for a in argv]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "internal error" not in lines[0] and "Traceback" not in r.stderr
    assert expect.lower() in lines[0].lower(), lines[0]
    assert (files / "exists.mid").read_bytes() == b"precious"  # nothing was overwritten on the way


def test_every_command_is_in_the_table():
    """A new command must add its bad-argument cases here."""
    names = set()
    for name, cmd in cli.commands.items():
        names |= {f"{name} {sub}" for sub in getattr(cmd, "commands", {})} or {name}
    covered = {c[0].split(":")[0] for c in CASES}
    assert names - covered == set(), f"commands without error cases: {sorted(names - covered)}"


def test_every_file_writing_command_takes_force(files, tmp_path):
    """-o never silently overwrites: the commands that write a file take --force, and with it they do."""
    for name, cmd in cli.commands.items():
        params = {p.name for p in getattr(cmd, "params", [])}
        out = next((p for p in getattr(cmd, "params", []) if p.name == "output"), None)
        if out is not None and "folder" not in (out.help or "").lower():
            assert "force" in params, f"{name} writes a file with -o but has no --force"
    target = tmp_path / "song.abc"
    target.write_text("old")
    r = CliRunner().invoke(cli, ["convert", str(files / "song.mid"), "-o", str(target), "--force"])
    assert r.exit_code == 0, r.output
    assert target.read_text().startswith("X:")


def test_verbose_shows_the_traceback(files):
    base = [sys.executable, "-m", "composer.cli"]
    args = ["convert", str(files / "junk.mid"), "-o", str(files / "o.abc")]
    quiet = subprocess.run(base + args, capture_output=True, text=True, cwd=ROOT, check=False)
    loud = subprocess.run(base + ["--verbose"] + args, capture_output=True, text=True, cwd=ROOT, check=False)
    assert quiet.returncode == 1 and quiet.stderr.count("\n") == 1 and "Traceback" not in quiet.stderr
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "MidiError" in loud.stderr
