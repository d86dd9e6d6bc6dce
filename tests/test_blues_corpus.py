"""The built-in blues corpus (composer.corpora.blues) and the accompaniment it uses (composer.arrange).

Golden file: tests/golden/blues_seed0.json pins 2 songs x 2 choruses of seed 0. After an
intended change to the generator, regenerate it with

    UPDATE_GOLDEN=1 python -m pytest -q tests/test_blues_corpus.py -k golden

and review the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.arrange import block_chords, chord_voicing, walking_bass
from composer.corpora.blues import (
    STEP,
    STEPS_PER_CHORUS,
    blues_stats,
    generate_blues,
    generate_song,
    load_progressions,
)
from composer.errors import CorpusError
from composer.score import ChordSymbol, KeySignature, TimeSignature, transpose
from composer.theory import CHORD_QUALITIES, chord_pcs, key_offset

GOLDEN = Path(__file__).parent / "golden" / "blues_seed0.json"
BLUES = {0, 3, 5, 6, 7, 10}
CHORUSES = 4


@pytest.fixture(scope="module")
def corpus():
    return generate_blues(24, choruses=CHORUSES, seed=7)


def sounding(notes: np.ndarray, tick: int) -> np.ndarray:
    return notes[(notes["start"] <= tick) & (notes["start"] + notes["duration"] > tick)]


# --- data -------------------------------------------------------------------------------


def test_progressions_are_24_valid_half_bar_slots():
    progs = load_progressions()
    assert {"basic", "quick_change", "jazz", "minor"} <= set(progs)
    for name, slots in progs.items():
        assert len(slots) == 24, name
        assert all(0 <= d < 12 and q in CHORD_QUALITIES for d, q in slots), name
    basic, quick = progs["basic"], progs["quick_change"]
    assert basic[:8] == [(0, "7")] * 8 and basic[8:12] == [(5, "7")] * 4 and basic[-1] == (7, "7")
    assert [i for i in range(24) if basic[i] != quick[i]] == [2, 3]  # IV7 in bar 2 only


def test_unknown_progression_is_a_corpus_error():
    with pytest.raises(CorpusError, match="bossa"):
        generate_song(np.random.default_rng(0), 0, "bossa", 1)


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_scores_other_seed_differs():
    a, b = generate_blues(3, choruses=2, seed=0), generate_blues(3, choruses=2, seed=0)
    assert a == b
    c = generate_blues(3, choruses=2, seed=1)
    assert all(x.track("Melody") != y.track("Melody") for x, y in zip(a, c))


def test_songs_do_not_depend_on_corpus_size():
    assert generate_blues(2, choruses=2, seed=3) == generate_blues(4, choruses=2, seed=3)[:2]


# --- structure over a corpus ------------------------------------------------------------


def test_score_conventions(corpus):
    assert sorted({s.meta["key"] for s in corpus}) == list(range(12))
    for s in corpus:
        key = s.meta["key"]
        assert s.tpq == 480 and s.time_signatures == [TimeSignature(0, 4, 4)]
        assert len(s.tempos) == 1 and 100 <= s.tempos[0].qpm <= 170
        assert s.key_signatures == [KeySignature(0, tonic=key, mode="major")]
        assert s.meta == {"style": "blues", "progression": s.meta["progression"], "key": key}
        assert [(t.name, t.program, t.is_drum) for t in s.tracks] == [
            ("Chords", 0, False),
            ("Melody", 66, False),
            ("Bass", 32, False),
        ]
        assert s.end == CHORUSES * STEPS_PER_CHORUS * STEP
        for t in s.tracks:
            assert np.all(t.notes["start"] % STEP == 0) and np.all(t.notes["duration"] % STEP == 0), t.name
            assert np.all(t.notes["duration"] > 0), t.name


def test_melody_monophonic_in_scale_and_in_range(corpus):
    for s in corpus:
        key, o = s.meta["key"], key_offset(s.meta["key"])
        mel = s.track("Melody").notes
        assert np.all(mel["start"][1:] >= mel["start"][:-1] + mel["duration"][:-1])
        assert np.mean([(p - key) % 12 in BLUES for p in mel["pitch"].tolist()]) >= 0.98
        c_pitch = mel["pitch"].astype(int) - o
        assert c_pitch.min() >= 62 and c_pitch.max() <= 82
        assert mel["duration"].max() <= 4 * STEP  # eighth to half note
        assert mel["velocity"].min() >= 60 and mel["velocity"].max() <= 110


def test_chords_follow_the_progression_every_half_bar(corpus):
    progs = load_progressions()
    for s in corpus:
        key, o = s.meta["key"], key_offset(s.meta["key"])
        slots = progs[s.meta["progression"]]
        notes = s.track("Chords").notes
        c_pitch = notes["pitch"].astype(int) - o
        assert c_pitch.min() >= 50 and c_pitch.max() <= 70
        starts = set(notes["start"].tolist())
        for h in range(24 * CHORUSES):
            tick = h * 4 * STEP
            deg, q = slots[h % 24]
            want = chord_pcs((deg + key) % 12, q)
            assert {p % 12 for p in sounding(notes, tick)["pitch"].tolist()} == want, (s.meta, h)
            sym = [c for c in s.chords if c.start <= tick < c.start + c.duration]
            assert len(sym) == 1 and (sym[0].root, sym[0].quality) == ((deg + key) % 12, q)
            changed = h > 0 and slots[h % 24] != slots[(h - 1) % 24]
            assert (tick in starts) == (h % 2 == 0 or changed)  # struck at bars and changes
        assert all((a.root, a.quality) != (b.root, b.quality) for a, b in zip(s.chords, s.chords[1:]))


def test_musical_shape(corpus):
    stats = blues_stats(corpus)
    assert 0.2 <= stats["rest_share"] <= 0.35
    assert stats["in_scale"] >= 0.99
    assert stats["strong_beat_chord_tones"] >= 0.85
    repeats = []
    for s in corpus:
        key = s.meta["key"]
        mel = s.track("Melody").notes
        step = (mel["start"] // STEP).astype(int)
        counts = np.bincount(step // STEPS_PER_CHORUS, minlength=CHORUSES)
        assert len(set(counts.tolist())) > 1  # some choruses busier than others
        for c in range(CHORUSES):
            base = c * STEPS_PER_CHORUS
            # Phrase ending: the last note before the bar-12 pickup is the tonic or the fifth.
            last = mel[(step >= base) & (step < base + 90)][-1]
            assert (int(last["pitch"]) - key) % 12 in (0, 7)
            # AAB: bars 5-8 restate the rhythm of bars 1-4.
            a1 = {t - base for t in step.tolist() if base <= t < base + 32}
            a2 = {t - base - 32 for t in step.tolist() if base + 32 <= t < base + 64}
            repeats.append(len(a1 & a2) / max(1, len(a1)))
    assert np.mean(repeats) >= 0.6


# --- accompaniment ----------------------------------------------------------------------


def check_bass(chords: list[ChordSymbol], bass: np.ndarray, end: int, low: int = 28, high: int = 52) -> None:
    n = -(-end // 480)
    assert bass["start"].tolist() == [b * 480 for b in range(n)]  # one note per beat
    assert bass["pitch"].min() >= low and bass["pitch"].max() <= high
    starts = [c.start for c in chords]
    owner = [max(0, int(np.searchsorted(starts, b * 480, side="right")) - 1) for b in range(n)]
    for b in range(n):
        if b == 0 or owner[b] != owner[b - 1]:
            c = chords[owner[b]]
            assert bass["pitch"][b] % 12 == c.root  # root on the chord's first beat
            prev_is_anchor = b >= 2 and (owner[b - 1] != owner[b - 2] or (b - 1) % 4 == 0)
            if b >= 2 and not prev_is_anchor:
                assert 1 <= abs(int(bass["pitch"][b]) - int(bass["pitch"][b - 1])) <= 2  # approach note


def test_corpus_bass_walks(corpus):
    for s in corpus:
        check_bass(s.chords, s.track("Bass").notes, s.end)
        assert np.all(s.track("Bass").notes["duration"] == 480)


chord_lists = st.lists(
    st.tuples(st.integers(1, 8), st.integers(0, 11), st.sampled_from(sorted(CHORD_QUALITIES))), min_size=1, max_size=12
)


@settings(max_examples=40, deadline=None)
@given(chord_lists, st.integers(0, 3))
def test_walking_bass_any_chords(spec, tail):
    chords, t = [], 0
    for length, root, q in spec:  # lengths in eighths: chords start mid-bar and off the beat
        chords.append(ChordSymbol(t, length * 240, root, q))
        t += length * 240
    end = t + tail * 240
    bass = walking_bass(chords, 480, end).notes
    check_bass(chords, bass, end)
    assert np.array_equal(bass, walking_bass(chords, 480, end).notes)


def test_walking_bass_on_beat_chords_approach_and_transposition():
    slots = load_progressions()["jazz"]
    chords = [ChordSymbol(i * 960, 960, d, q) for i, (d, q) in enumerate(slots)]
    bass = walking_bass(chords, 480, 24 * 960)
    check_bass(chords, bass.notes, 24 * 960)
    moved = [ChordSymbol(c.start, c.duration, (c.root + 3) % 12, c.quality) for c in chords]
    assert np.array_equal(walking_bass(moved, 480, 24 * 960, 31, 55).notes["pitch"], bass.notes["pitch"] + 3)


def test_chord_voicings():
    for q in CHORD_QUALITIES:
        for root in range(12):
            v = chord_voicing(root, q)
            assert 50 <= v[0] and v[-1] <= 70 and list(v) == sorted(v) and v[-1] - v[0] < 12
            assert {p % 12 for p in v} <= chord_pcs(root, q) and 3 <= len(v) <= 4
    assert chord_voicing(0, "7") == (55, 58, 60, 64)  # G Bb C E: lowest note nearest G3


def test_block_chords_restrike_at_barlines():
    track = block_chords([ChordSymbol(960, 2880, 0, "7")], 480)
    assert sorted(set(track.notes["start"].tolist())) == [960, 1920]
    assert set(track.notes["duration"].tolist()) == {960, 1920}


# --- golden file ------------------------------------------------------------------------


def serialise(scores) -> dict:
    songs = []
    for s in scores:
        songs.append(
            {
                "meta": s.meta,
                "qpm": s.tempos[0].qpm,
                "tracks": {t.name: [list(n) for n in t.notes.tolist()] for t in s.tracks},
                "chords": [[c.start, c.duration, c.root, c.quality] for c in s.chords],
            }
        )
    return {"generator": "generate_blues(2, choruses=2, seed=0)", "songs": songs}


def dump(obj: dict) -> str:
    """JSON with one note (innermost list) per line: small, and diffs read note by note."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text) + "\n"


def test_golden_seed0():
    got = serialise(generate_blues(2, choruses=2, seed=0))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(dump(got))
    want = json.loads(GOLDEN.read_text())
    assert got == want, "blues corpus changed; if intended: UPDATE_GOLDEN=1 pytest tests/test_blues_corpus.py -k golden"


def test_transpose_round_trip_recovers_c_version(corpus):
    s = corpus[5]
    back = transpose(s, -key_offset(s.meta["key"]))
    assert back.key_signatures[0].tonic == 0
    assert back.chords[0].root == load_progressions()[s.meta["progression"]][0][0]
