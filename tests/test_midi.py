"""MIDI I/O: exact round trips, determinism, a cross-check against pretty_midi, bad files."""

from __future__ import annotations

import io
import os
import random

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer import io as cio
from composer.errors import InputError, MidiError
from composer.io.atomic import atomic_write
from composer.io.midi import midi_bytes, read_midi, write_midi
from composer.score import ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track
from composer.theory import CHORD_QUALITIES


def rich_score() -> Score:
    """Everything a round trip must keep, on a 16th-note grid at tpq 480."""
    piano = [
        (0, 480, 60, 80),
        (0, 480, 64, 81),
        (0, 480, 67, 82),  # a chord
        (480, 240, 62, 70),
        (720, 240, 62, 71),  # repeats, back to back
        (960, 240, 62, 72),
        (1200, 960, 65, 90),
        (1440, 480, 69, 91),  # overlapping, different pitches
    ]
    bass = [(i * 480, 480, 36 + (i % 3), 100) for i in range(8)]
    drums = [(i * 240, 120, 36 if i % 2 == 0 else 42, 110) for i in range(16)] + [(0, 120, 49, 127)]
    return Score(
        tpq=480,
        tempos=[Tempo(0, 120.0), Tempo(1920, 93.7), Tempo(3840, 140.0)],
        time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1920, 3, 4), TimeSignature(3360, 6, 8)],
        key_signatures=[KeySignature(0, 10, "major"), KeySignature(1920, 9, "minor"), KeySignature(3840, 6, "major")],
        tracks=[
            Track("Piano", 0, False, piano),
            Track("Bass", 33, False, bass),
            Track("Drums", 0, True, drums),
            Track("Flûte ♪", 73, False, [(3840, 480, 84, 64)]),
        ],
        chords=[
            ChordSymbol(0, 960, 10, "maj7"),
            ChordSymbol(960, 960, 3, "7", 7),  # slash chord
            ChordSymbol(2400, 480, 9, "m7b5"),  # after a gap: needs an end marker
            ChordSymbol(2880, 960, 2, "dim7", 11),
        ],
    )


def test_round_trip_exact(tmp_path):
    s = rich_score()
    path = tmp_path / "rich.mid"
    write_midi(s, path)
    assert read_midi(path) == s
    assert read_midi(path.read_bytes()) == s


def test_dispatch_by_extension(tmp_path):
    s = rich_score()
    cio.write(s, tmp_path / "x.MIDI")
    assert cio.read(str(tmp_path / "x.MIDI")) == s
    with pytest.raises(InputError, match=r"\.mid.*\.midi|\.midi.*\.mid"):
        cio.write(s, tmp_path / "x.xyz")
    with pytest.raises(InputError, match="without an extension"):
        cio.read(tmp_path / "noext")


def test_output_is_deterministic(tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    write_midi(rich_score(), a)
    write_midi(rich_score(), b)
    assert a.read_bytes() == b.read_bytes() == midi_bytes(rich_score())


def test_defaults_and_overwrite(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"old")
    write_midi(Score(), path)  # replaces an existing file
    back = read_midi(path)
    assert back.tempos == [Tempo(0, 120.0)] and back.time_signatures == [TimeSignature(0, 4, 4)]
    assert back.tracks == [] and back.chords == []
    assert os.listdir(tmp_path) == ["empty.mid"]


def test_drums_on_channel_9_and_melodic_channels_skip_it():
    melodic = [Track(f"t{i}", i, False, [(0, 10, 60, 90)]) for i in range(17)]
    s = Score(tracks=melodic[:5] + [Track("kit", 0, True, [(0, 10, 36, 90)])] + melodic[5:])
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(s)))
    channels = [{m.channel for m in tr if m.type.startswith("note")} for tr in mf.tracks[1:]]
    assert channels[5] == {9}
    melodic_ch = [c.pop() for i, c in enumerate(channels) if i != 5]
    assert melodic_ch == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 0, 1]  # wraps past 15
    assert read_midi(midi_bytes(s)).tracks == s.tracks


def test_reader_conventions():
    """FIFO pairing, velocity-0 offs, notes left open, zero-length notes, program before first note."""
    mf = mido.MidiFile(ticks_per_beat=100)
    tr = mf.add_track("lead")
    tr += [
        mido.Message("program_change", channel=2, program=7),
        mido.Message("note_on", channel=2, note=60, velocity=50),
        mido.Message("note_on", channel=2, note=60, velocity=51, time=10),  # same pitch again
        mido.Message("note_off", channel=2, note=60, time=10),  # closes the first (FIFO)
        mido.Message("note_on", channel=2, note=60, velocity=0, time=10),  # vel-0 off closes the second
        mido.Message("note_on", channel=2, note=61, velocity=60),
        mido.Message("note_off", channel=2, note=61),  # zero length: dropped
        mido.Message("program_change", channel=2, program=99),  # after the first note: ignored
        mido.Message("note_on", channel=2, note=62, velocity=70, time=5),  # never closed
        mido.MetaMessage("end_of_track", time=45),
    ]
    (t,) = read_midi(_bytes(mf)).tracks
    assert (t.name, t.program, t.is_drum) == ("lead", 7, False)
    assert t.notes.tolist() == [(0, 20, 60, 50), (10, 20, 60, 51), (35, 45, 62, 70)]


def test_qpm_keeps_the_shortest_decimal():
    for qpm in (120.0, 93.7, 61.25, 177.777, 33.0):
        s = Score(tempos=[Tempo(0, qpm)])
        assert read_midi(midi_bytes(s)).tempos == [Tempo(0, qpm)]


def test_chord_markers_are_readable_text():
    s = Score(chords=[ChordSymbol(0, 480, 10, "7", 2)])
    mf = mido.MidiFile(file=io.BytesIO(midi_bytes(s)))
    marks = [(m.type, m.text) for m in mf.tracks[0] if m.type == "marker"]
    assert marks == [("marker", "chord:Bb:7/D"), ("marker", "chord:end")]


# ------------------------------------------------------------------ cross-check vs pretty_midi


def _bytes(mf: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def cross_check(path) -> Score:
    """Our reader and pretty_midi must agree on notes (1 ms), programs, drums, tempos, meters."""
    ours, pm = read_midi(path), pretty_midi.PrettyMIDI(str(path))

    def our_notes(t):
        n = t.notes
        starts, ends = ours.seconds(n["start"]), ours.seconds(n["start"] + n["duration"])
        return sorted(zip(n["pitch"].tolist(), starts.tolist(), ends.tolist()))

    mine = sorted((t.program, t.is_drum, our_notes(t)) for t in ours.tracks)
    theirs = sorted(
        (i.program, i.is_drum, sorted((n.pitch, n.start, n.end) for n in i.notes)) for i in pm.instruments if i.notes
    )
    assert [(p, d, len(n)) for p, d, n in mine] == [(p, d, len(n)) for p, d, n in theirs]
    for (_, _, a), (_, _, b) in zip(mine, theirs):
        assert [x[0] for x in a] == [x[0] for x in b]
        np.testing.assert_allclose([x[1:] for x in a], [x[1:] for x in b], atol=1e-3)
    times, qpms = pm.get_tempo_changes()
    # rtol: our qpm is the shortest decimal for the file's integer microseconds (<= 2.5e-6 off)
    np.testing.assert_allclose(ours.seconds([t.time for t in ours.tempos]), times, rtol=3e-6, atol=1e-9)
    np.testing.assert_allclose([t.qpm for t in ours.tempos], qpms, rtol=1e-5)
    assert [(t.numerator, t.denominator) for t in ours.time_signatures] == [
        (t.numerator, t.denominator) for t in pm.time_signature_changes
    ]
    np.testing.assert_allclose(
        ours.seconds([t.time for t in ours.time_signatures]),
        [t.time for t in pm.time_signature_changes],
        rtol=3e-6,
        atol=1e-9,
    )
    return ours


def test_cross_check_our_file(tmp_path):
    path = tmp_path / "ours.mid"
    write_midi(rich_score(), path)
    cross_check(path)


def test_cross_check_pretty_midi_file(tmp_path):
    pm = pretty_midi.PrettyMIDI(resolution=384, initial_tempo=100.0)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(3, 4, 0.0))
    rng = random.Random(1)
    for program, is_drum in ((0, False), (33, False), (0, True)):
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=f"p{program}{is_drum}")
        t = 0.0
        for _ in range(40):
            dur = rng.choice([0.15, 0.3, 0.45])
            inst.notes.append(pretty_midi.Note(rng.randint(40, 90), rng.randint(36, 80), t, t + dur))
            t += rng.choice([0.15, 0.3])
        pm.instruments.append(inst)
    path = tmp_path / "pm.mid"
    pm.write(str(path))
    ours = cross_check(path)
    assert [t.name for t in ours.tracks] == ["p0False", "p33False", "p0True"]


def test_cross_check_raw_mido_type0(tmp_path):
    """One track, three channels, running-status note_on vel-0 offs, tempo and meter changes."""
    mf = mido.MidiFile(type=0, ticks_per_beat=96)
    tr = mf.add_track("band")
    tr += [
        mido.MetaMessage("set_tempo", tempo=500000),
        mido.MetaMessage("time_signature", numerator=6, denominator=8),
        mido.MetaMessage("key_signature", key="F#m"),
        mido.Message("program_change", channel=0, program=5),
        mido.Message("program_change", channel=1, program=40),
    ]
    events = []  # (tick, order, message): offs sort before ons at equal ticks
    for i in range(24):
        events.append((i * 48, 1, mido.Message("note_on", channel=0, note=60 + i % 5, velocity=90)))
        events.append((i * 48 + 48, 0, mido.Message("note_on", channel=0, note=60 + i % 5, velocity=0)))
        events.append((i * 96, 1, mido.Message("note_on", channel=1, note=72, velocity=70)))  # repeated pitch
        events.append((i * 96 + 96, 0, mido.Message("note_on", channel=1, note=72, velocity=0)))
        events.append((i * 24, 1, mido.Message("note_on", channel=9, note=42, velocity=100)))
        events.append((i * 24 + 12, 0, mido.Message("note_on", channel=9, note=42, velocity=0)))
    events.append((960, 2, mido.MetaMessage("set_tempo", tempo=400000)))
    events.append((1152, 2, mido.MetaMessage("time_signature", numerator=2, denominator=4)))
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        tr.append(msg.copy(time=tick - last))
        last = tick
    path = tmp_path / "type0.mid"
    mf.save(str(path))
    ours = cross_check(path)
    assert [(t.name, t.program, t.is_drum) for t in ours.tracks] == [
        ("band ch1", 5, False),
        ("band ch2", 40, False),
        ("band ch10", 0, True),
    ]
    assert ours.key_signatures == [KeySignature(0, 6, "minor")]
    assert ours.tempos == [Tempo(0, 120.0), Tempo(960, 150.0)]


# ------------------------------------------------------------------------ property test


@st.composite
def quantised_scores(draw) -> Score:
    tpq = draw(st.sampled_from([96, 480, 960]))
    step = tpq // 4
    grid = st.integers(0, 64).map(lambda k: k * step)
    tracks = []
    for i in range(draw(st.integers(1, 4))):
        raw = draw(
            st.lists(
                st.tuples(grid, st.integers(1, 8).map(lambda k: k * step), st.integers(0, 127), st.integers(1, 127)),
                min_size=1,
                max_size=25,
            )
        )
        notes, busy_until = [], {}  # no two notes of one pitch overlap within a track
        for start, dur, pitch, vel in sorted(raw):
            if start >= busy_until.get(pitch, 0):
                notes.append((start, dur, pitch, vel))
                busy_until[pitch] = start + dur
        name = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8))
        tracks.append(Track(name, draw(st.integers(0, 127)), draw(st.booleans()), notes))

    def timeline(make):
        times = sorted(draw(st.sets(grid, max_size=3)) | {0})
        return [make(t) for t in times]

    tempos = timeline(lambda t: Tempo(t, draw(st.integers(300, 3000)) / 10))
    meters = timeline(lambda t: TimeSignature(t, draw(st.integers(1, 12)), draw(st.sampled_from([2, 4, 8, 16]))))
    keys = timeline(lambda t: KeySignature(t, draw(st.integers(0, 11)), draw(st.sampled_from(["major", "minor"]))))
    chords, t = [], 0
    for _ in range(draw(st.integers(0, 5))):
        t += draw(st.integers(0, 4)) * step  # gaps allowed
        dur = draw(st.integers(1, 8)) * step
        bass = draw(st.one_of(st.none(), st.integers(0, 11)))
        chords.append(ChordSymbol(t, dur, draw(st.integers(0, 11)), draw(st.sampled_from(list(CHORD_QUALITIES))), bass))
        t += dur
    return Score(tpq, tempos, meters, keys, tracks, chords)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantised_scores())
def test_property_round_trip(score):
    assert read_midi(midi_bytes(score)) == score


# ---------------------------------------------------------------------------- bad input


def _assert_names(err: pytest.ExceptionInfo, path) -> None:
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: midi_bytes(rich_score())[:200], id="truncated"),
        pytest.param(lambda: random.Random(0).randbytes(500), id="random"),
        pytest.param(lambda: b"MThd" + random.Random(1).randbytes(300), id="random-after-header"),
        pytest.param(lambda: b"", id="empty"),
        pytest.param(lambda: b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28", id="smpte"),
    ],
)
def test_bad_files_raise_midi_error(tmp_path, content):
    path = tmp_path / "bad.mid"
    path.write_bytes(content())
    with pytest.raises(MidiError) as err:
        read_midi(path)
    _assert_names(err, path)
    assert ("empty file" in str(err.value)) == (content() == b"")


def test_missing_file(tmp_path):
    path = tmp_path / "nothing.mid"
    with pytest.raises(MidiError) as err:
        read_midi(path)
    _assert_names(err, path)
    with pytest.raises(MidiError):
        cio.read(path)


def test_failed_writes_leave_nothing(tmp_path):
    missing = tmp_path / "no" / "such" / "out.mid"
    with pytest.raises(MidiError, match="does not exist") as err:
        write_midi(rich_score(), missing)
    _assert_names(err, missing)
    assert not (tmp_path / "no").exists()

    bad = Score(tracks=[Track("x", 0, False, [(0, 10, 200, 90)])])  # pitch outside MIDI
    with pytest.raises(MidiError, match="pitch 200") as err:
        write_midi(bad, tmp_path / "bad.mid")
    _assert_names(err, tmp_path / "bad.mid")

    (tmp_path / "dir.mid").mkdir()  # os.replace onto a folder fails after the temp file exists
    with pytest.raises(MidiError) as err:
        write_midi(rich_score(), tmp_path / "dir.mid")
    _assert_names(err, tmp_path / "dir.mid")
    assert os.listdir(tmp_path) == ["dir.mid"]


def test_atomic_write(tmp_path):
    target = tmp_path / "ckpt.bin"
    atomic_write(target, b"one")
    atomic_write(str(target), b"two")
    assert target.read_bytes() == b"two" and os.listdir(tmp_path) == ["ckpt.bin"]
    with pytest.raises(InputError, match="does not exist"):
        atomic_write(tmp_path / "missing" / "x", b"")
