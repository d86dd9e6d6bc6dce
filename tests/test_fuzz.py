"""Fuzzing: every reader ends each input in a Score or a ComposerError, never another exception.

Property tests (hypothesis) throw generated text and bytes at the readers; a short run of
bench/fuzz.py's mutation fuzzer replays mutated real files through each of them (the full run,
100,000 inputs, is ``python bench/fuzz.py``)."""

import importlib.util
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import ComposerError

_spec = importlib.util.spec_from_file_location(
    "bench_fuzz", os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench", "fuzz.py"))
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["bench_fuzz"] = fuzz
_spec.loader.exec_module(fuzz)

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _score_or_clean_error(fn, *args):
    try:
        return fn(*args)
    except ComposerError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))
        return None


# ---------------------------------------------------------------------------------- properties

_CHORDISH = st.text(alphabet="ABCDEFGb#+-^ohmajinsuddltx()/,:*0123456789 Δø°", max_size=24)


@SETTINGS
@given(st.one_of(_CHORDISH, st.text(max_size=80)))
def test_chord_parser_never_crashes(text):
    from composer.harmony import format_chord, parse_chord

    chord = _score_or_clean_error(parse_chord, text)
    if chord is not None:  # what it accepts, it can print, and the print reads back the same
        for style in ("leadsheet", "harte"):
            assert parse_chord(format_chord(chord, style)) == chord


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.insert(0, 0x80 | (n & 0x7F))
    return bytes(out)


_MIDI_EVENT = st.one_of(
    st.binary(min_size=1, max_size=6),
    # a well-formed channel event at any delta time, up to MIDI's largest (2^28 - 1 ticks)
    st.tuples(st.integers(0, 2**28 - 1), st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127)).map(
        lambda t: _varlen(t[0]) + bytes(t[1:])),
    st.sampled_from([b"\x00\xff\x51\x03\x00\x00\x01", b"\x00\xff\x2f\x00", b"\xff\xff\xff\x7f\x90\x3c\x40",
                     b"\x00\x90\x3c\x40", b"\x00\x3c\x00", b"\x00\xf0\x05\x01\x02", b"\x00\xff\x58\x04\x00\x00\x00\x00"]),
)


def _smf(division: int, tracks: list[bytes], ntracks: int | None = None) -> bytes:
    head = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (ntracks or len(tracks)).to_bytes(2, "big")
    head += (division & 0xFFFF).to_bytes(2, "big")
    return head + b"".join(b"MTrk" + len(t).to_bytes(4, "big") + t for t in tracks)


@SETTINGS
@given(st.integers(-(2**15), 2**15 - 1), st.lists(st.lists(_MIDI_EVENT, max_size=30).map(b"".join), max_size=4),
       st.one_of(st.none(), st.integers(0, 65535)))
def test_midi_reader_on_generated_files(division, tracks, ntracks):
    from composer.io.midi import read_midi

    score = _score_or_clean_error(read_midi, _smf(division, tracks, ntracks))
    if score is not None:
        assert score.tpq > 0 and all(t.notes["duration"].min() > 0 for t in score.tracks if len(t.notes))


@SETTINGS
@given(st.binary(max_size=400))
def test_midi_reader_on_binary_junk(data):
    from composer.io.midi import read_midi

    _score_or_clean_error(read_midi, data)
    _score_or_clean_error(read_midi, b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk" + data)


_ABC_BODY = st.text(alphabet="ABCDEFGabcdefgzZxX^_=,'/123456789|:[]()<>-{}!\"~.+&% \nKLMQVw", max_size=200)


@SETTINGS
@given(st.text(alphabet="XTKLMQV:0123456789/ Cmajordb#=%\n", max_size=60), _ABC_BODY)
def test_abc_reader_never_crashes(header, body):
    from composer.io.abc import read_abc

    tunes = _score_or_clean_error(read_abc, "X:1\n" + header + "\nK:C\n" + body + "\n")
    for s in tunes or []:
        assert all(0 <= t.notes["pitch"].max() <= 127 for t in s.tracks)


def test_abc_cases_the_100k_fuzz_run_found():
    """A zero divisor in a note length, and a tune ending in a long blank tail (rescanned from
    every position before: quadratic, a 20 kB file took minutes)."""
    from composer.io.abc import parse_tune

    with pytest.raises(ComposerError, match="note length '/0' divides by zero"):
        parse_tune("X:1\nM:3/4\nL:1/8\nK:G\nA2 B/0 c |\n")
    tune = parse_tune("X:1\nM:3/4\nL:1/8\nK:G\nA2 B2 c2 |" + "\n" * 200_000)
    assert tune.n_notes == 3


@SETTINGS
@given(st.lists(st.one_of(st.text(alphabet="|%.CDEFGAB7m#b:N ", max_size=30),
                          st.sampled_from(["Title: x", "Key: C minor", "Meter: 3/4", "Meter: 0/0", "Tempo: nan"])),
                max_size=8).map("\n".join))
def test_chord_text_never_crashes(text):
    from composer.chart import chart_to_score
    from composer.io.chordtext import parse_chord_text

    charts = _score_or_clean_error(parse_chord_text, text)
    for c in charts or []:
        _score_or_clean_error(chart_to_score, c)


@SETTINGS
@given(st.lists(st.tuples(st.one_of(st.floats(allow_nan=True), st.text(max_size=4)),
                          st.one_of(st.floats(allow_nan=True), st.text(max_size=4)),
                          st.sampled_from(["C:maj", "G:7", "N", "D:hdim7/b3", "x", "A:min(9)"])), max_size=12))
def test_lab_reader_never_crashes(rows):
    from composer.chart import chart_to_score
    from composer.io.lab import parse_lab

    chart = _score_or_clean_error(parse_lab, "\n".join(f"{a} {b} {c}" for a, b, c in rows))
    if chart is not None:
        _score_or_clean_error(chart_to_score, chart)


@SETTINGS
@given(st.text(alphabet="TZ|[]{}*ABN123456789xrnpWs,lYQ<>()^-o7h^+ ", max_size=120))
def test_ireal_reader_never_crashes(chart):
    from composer.io.ireal import parse_ireal

    link = "irealbook://Song=Composer=Style=C=n=" + chart
    _score_or_clean_error(parse_ireal, link)
    _score_or_clean_error(parse_ireal, "irealb://" + "=".join(["T", "C", "", "S", "C", "", "1r34LbKcu7" + chart, "", "120", "3"]))


# ---------------------------------------------------------------------------------- mutation fuzzing


@pytest.mark.parametrize("reader", [r for r in fuzz.READERS if r not in fuzz.SLOW_READERS])
def test_mutated_real_files(reader):
    counts = fuzz.fuzz_in_process(reader, 60, base_seed=7)
    failures = [k for k in counts if "#" in k]
    assert failures == [], failures
    assert counts["accepted"] + counts["rejected"] == 60


def test_mutated_musicxml():
    for reader in sorted(fuzz.SLOW_READERS):  # music21 underneath: a few each here, 1,000 in the bench
        counts = fuzz.fuzz_in_process(reader, 3, base_seed=7)
        assert [k for k in counts if "#" in k] == []


def test_mutations_reach_deep_paths():
    """The fuzzer is only worth its figures if mutants still parse often enough to test the
    readers beyond the header check: at least a few percent are accepted for each reader."""
    for reader in ("midi", "abc", "chordtext", "lab"):
        counts = fuzz.fuzz_in_process(reader, 60, base_seed=3)
        assert counts["accepted"] >= 3, (reader, counts)


def test_fuzz_bench_runs(capsys):
    """The bench script's own loop (child process, timeouts, the table) on a few inputs."""
    assert fuzz.main(["--n", "5", "--readers", "midi,chord", "--timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert "midi" in out and "total" in out and " 10 " in out.splitlines()[-1]

