"""The chord-symbol model: every spelling in, every spelling out, and music21 as a cross-check."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.chart import estimate_key
from composer.errors import InputError
from composer.harmony import (
    DEGREE_SEMITONES,
    IREAL_QUALITIES,
    QUALITIES,
    Chord,
    canonical_quality,
    format_chord,
    parse_chord,
    quality_pcs,
    simplify,
)
from composer.score import ChordSymbol
from composer.theory import CHORD_QUALITIES
from composer.tokenizers.chord_grammar import is_dominant

STYLES = ("leadsheet", "word", "harte")


@pytest.mark.parametrize("text,root,quality,bass", [
    ("Cm7b5", 0, "m7b5", None), ("F7#9", 5, "7#9", None), ("Bbmaj7/D", 10, "maj7", 2), ("C-7", 0, "m7", None),
    ("Cø", 0, "m7b5", None), ("C6/9", 0, "69", None), ("E7alt", 4, "7alt", None), ("Gsus4", 7, "sus4", None),
    ("C:min7", 0, "m7", None), ("G:7(b9)", 7, "7b9", None), ("D:hdim7/b3", 2, "m7b5", 5), ("C^7", 0, "maj7", None),
    ("Ch7", 0, "m7b5", None), ("Co7", 0, "dim7", None), ("C-^7", 0, "mmaj7", None), ("Cm(maj7)", 0, "mmaj7", None),
    ("C7b9sus", 0, "7b9sus4", None), ("CΔ7", 0, "maj7", None), ("C°7", 0, "dim7", None), ("Cmi7", 0, "m7", None),
    ("CM7", 0, "maj7", None), ("C7(b9,#11)", 0, "7b9#11", None), ("C13(b9)", 0, "13b9", None), ("C7+", 0, "7#5", None),
    ("C+7", 0, "7#5", None), ("C7-9", 0, "7b9", None), ("C:maj(*3)", 0, "5", None), ("C:sus4(b7)", 0, "7sus4", None),
    ("C:(1,3,5)", 0, "maj", None), ("C:maj7/3", 0, "maj7", 4), ("D:m7", 2, "m7", None), ("F#:m7b5/C", 6, "m7b5", 0),
    ("C6add9", 0, "69", None), ("C13sus", 0, "13sus4", None), ("C7(13)", 0, "7(13)", None), ("Db", 1, "maj", None),
    ("C:13", 0, "13", None), ("C11", 0, "11", None), ("C-b6", 0, "mb6", None), ("Calt", 0, "7alt", None),
])
def test_spellings(text, root, quality, bass):
    assert parse_chord(text) == Chord(root, quality, bass)


@pytest.mark.parametrize("quality", list(QUALITIES))
def test_every_quality_round_trips_in_every_spelling(quality):
    for root in range(12):
        for bass in (None, (root + 4) % 12, (root + 10) % 12):
            c = Chord(root, quality, bass)
            for style in STYLES:
                assert parse_chord(format_chord(c, style)) == c, (c, style, format_chord(c, style))


def test_ireal_spellings():
    for spelling, quality in IREAL_QUALITIES.items():
        assert parse_chord("Eb" + spelling) == Chord(3, quality)
        assert parse_chord(format_chord(Chord(3, quality), "ireal")) == Chord(3, quality)
    assert format_chord(Chord(0, "7(13)"), "ireal") == "C7"  # outside iReal's list: the nearest entry


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(sorted(DEGREE_SEMITONES))), st.integers(0, 11), st.one_of(st.none(), st.integers(0, 11)))
def test_any_degree_set_has_one_canonical_spelling(degrees, root, bass):
    c = Chord(root, canonical_quality(degrees), None if bass == root else bass)
    for style in STYLES:
        assert parse_chord(format_chord(c, style)) == c


def test_theory_names_are_canonical_names():
    for q in CHORD_QUALITIES:
        assert canonical_quality(QUALITIES[q]) == q
        assert quality_pcs(2, q) == frozenset((2 + i) % 12 for i in CHORD_QUALITIES[q])
        assert simplify(q) == q or (q, simplify(q)) == ("9", "7")
    assert all(simplify(q) in CHORD_QUALITIES for q in QUALITIES)  # what arrange.walking_bass takes


@pytest.mark.parametrize("bad", ["Cfoo7", "H7", "C7b", "Cmaj7//", "C:nope", "7", ""])
def test_unknown_spelling_names_token_and_source(bad):
    with pytest.raises(InputError) as e:
        parse_chord(bad, "tune.txt line 3")
    assert repr(bad.strip()) in str(e.value) and "tune.txt line 3" in str(e.value)


def test_functions():
    assert all(is_dominant(q) for q in ("7", "13", "7alt", "7sus4", "11", "7#5", "13b9"))
    assert not any(is_dominant(q) for q in ("m7", "maj7", "m7b5", "dim7", "6"))
    assert simplify("7alt") == "7" and simplify("mmaj9") == "m6" and simplify("maj9#11") == "maj7"


def test_estimate_key():
    ii_v_i = [ChordSymbol(0, 960, 2, "m7"), ChordSymbol(960, 960, 7, "7"), ChordSymbol(1920, 1920, 0, "maj7")]
    assert estimate_key(ii_v_i) == (0, "major")
    minor = [ChordSymbol(0, 960, 2, "m7b5"), ChordSymbol(960, 960, 7, "7b9"), ChordSymbol(1920, 1920, 0, "m6")]
    assert estimate_key(minor) == (0, "minor")


def test_music21_crosscheck():
    """Pitch classes agree with music21 on every quality both spell, except these, each for a reason:
    11: jazz's C11 has no 3rd (it is a 9sus4 with the 11 named), music21 keeps the 3rd;
    13, maj13: a jazz 13th leaves out the 11 (it clashes with the 3rd), music21 stacks it;
    13#11, 13b9, 13#9: music21 drops the alteration on a 13th chord (and adds the 11).
    music21 has no 7alt."""
    from composer.io.leadsheet import music21_crosscheck

    differ, unsupported = music21_crosscheck()
    assert set(differ) == {"11", "13", "maj13", "13#11", "13b9", "13#9"}
    assert unsupported == ["7alt"]
    assert differ["13"] == ([0, 2, 4, 7, 9, 10], [0, 2, 4, 5, 7, 9, 10])
