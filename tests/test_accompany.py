"""compose accompany: the given tracks stay as they are; the new one is bar-aligned and follows them."""

from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from composer.accompany import accompany, bar_grid
from composer.cli import cli
from composer.corpora.blues import generate_blues
from composer.errors import InputError
from composer.harmony import quality_pcs
from composer.io import read, write


@pytest.fixture(scope="module")
def piece():
    return generate_blues(1, choruses=1, seed=123)[0]


def _kept(before, after):
    assert after.tracks[: len(before.tracks)] == before.tracks
    for a, b in zip(before.tracks, after.tracks):
        assert a.notes is b.notes  # the very same arrays: untouched


def test_add_drums_follows_the_onsets(piece):
    melody = replace(piece, tracks=[piece.track("Melody")], chords=[])
    out = accompany(melody, "drums", seed=0)
    _kept(melody, out)
    drums = out.tracks[-1]
    assert drums.is_drum and len(drums.notes)
    beats, bars = bar_grid(melody)
    assert drums.notes["start"].max() < bars * beats * melody.tpq
    # kick and snare land on the melody's onsets more often than its onsets cover the 16th grid
    step = melody.tpq // 4
    on = set((melody.tracks[0].notes["start"] // step).tolist())
    ks = drums.notes[np.isin(drums.notes["pitch"], [35, 36, 38, 40])]
    share = np.mean([(s // step) in on for s in ks["start"]])
    assert share > len(on) / (bars * beats * 4)
    assert accompany(melody, "drums", seed=0).tracks[-1] == drums  # seeded


def test_add_chords_fit_the_melody(piece):
    melody = replace(piece, tracks=[piece.track("Melody")], chords=[])
    out = accompany(melody, "chords", seed=1)
    _kept(melody, out)
    assert out.tracks[-1].name == "Chords" and out.chords
    starts = np.array([c.start for c in out.chords])
    n = melody.tracks[0].notes
    fits = []
    for s, p in zip(n["start"], n["pitch"]):
        c = out.chords[int(np.searchsorted(starts, s, side="right")) - 1]
        fits.append(int(p) % 12 in quality_pcs(c.root, c.quality))
    assert np.mean(fits) > 0.5


def test_add_bass_from_given_chords(piece):
    chords_only = replace(piece, tracks=[piece.track("Chords")])
    out = accompany(chords_only, "bass")
    _kept(chords_only, out)
    bass = out.tracks[-1]
    starts = np.array([c.start for c in piece.chords])
    bar = 4 * piece.tpq
    downbeats = bass.notes[bass.notes["start"] % bar == 0]
    roots = [piece.chords[int(np.searchsorted(starts, s, side="right")) - 1] for s in downbeats["start"]]
    assert np.mean([int(p) % 12 in quality_pcs(c.root, c.quality) for p, c in zip(downbeats["pitch"], roots)]) > 0.9


def test_add_melody_over_chords(piece):
    chords_only = replace(piece, tracks=[piece.track("Chords")])
    out = accompany(chords_only, "melody", seed=2)
    _kept(chords_only, out)
    mel = out.tracks[-1]
    assert mel.name == "Melody" and len(mel.notes) > 10
    assert mel.notes["start"].max() < chords_only.end + 4 * piece.tpq


def test_bad_input(piece, tmp_path):
    drums_only = replace(piece, tracks=[replace(piece.track("Melody"), is_drum=True)], chords=[])
    with pytest.raises(InputError, match="no melody"):
        accompany(drums_only, "bass")
    with pytest.raises(InputError, match="no chords to play a melody over"):
        accompany(replace(piece, tracks=[piece.track("Melody")], chords=[]), "melody")
    with pytest.raises(InputError, match="choose one of"):
        accompany(piece, "kazoo")
    path = tmp_path / "drums.mid"
    write(drums_only, path)
    r = CliRunner().invoke(cli, ["accompany", str(path), "--add", "drums", "-o", str(tmp_path / "o.mid")])
    assert r.exit_code == 1 and r.output.startswith("error:") and r.output.count("\n") == 1


def test_cli_round_trip(piece, tmp_path):
    src = tmp_path / "melody.mid"
    write(replace(piece, tracks=[piece.track("Melody")], chords=[]), src)
    out = tmp_path / "song.mid"
    r = CliRunner().invoke(cli, ["accompany", str(src), "--add", "bass", "-o", str(out), "--explain"])
    assert r.exit_code == 0, r.output
    assert "fit the melody" in r.output
    song, given = read(out), read(src)
    assert len(song.tracks) == len(given.tracks) + 1
    assert np.array_equal(song.tracks[0].notes, given.tracks[0].notes)
