"""The abc (folk-rnn) tokens and the folk grammar."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.errors import InputError, TokenizerError
from composer.io.abc import parse_tune, read_abc, score_to_abc
from composer.tokenizers import build_tokenizer
from composer.tokenizers.abc_tokens import AbcTokenizer, pitch_token, token_pitch

TUNES = """X:1
T:Jig
M:6/8
L:1/8
K:Dmix
|:A2B c2d|e3 (3fga g|1 f2e d3:|2 fed d3||

X:2
T:Reel with a pickup
M:4/4
L:1/8
K:Ador
E|A2 AB c2 BA|G2 Bd e4-|e2 ge dB GB|[1 a2 ge dB GB:|[2 a2 ge d4|]

X:3
T:Air
M:3/4
L:1/4
K:Bb
F|B2 c|d>c B|[Bd]2 z|B3|]
"""


@pytest.fixture(scope="module")
def tok():
    return AbcTokenizer().fit(read_abc(TUNES))


def _pitches_durs(score):
    n = score.tracks[0].notes
    return list(zip((n["pitch"]).tolist(), (n["duration"] * 480 // score.tpq).tolist()))


@pytest.mark.parametrize("i", range(3))
def test_round_trip_plays_the_same_notes(tok, i):
    s = read_abc(TUNES)[i]
    ids = tok.encode(s)
    back = tok.decode(ids)
    shift = int(back.tracks[0].notes["pitch"][0]) - int(s.tracks[0].notes["pitch"][0])
    assert -6 <= shift <= 6  # moved to a C tonic
    got = _pitches_durs(back)
    expect = _pitches_durs(s)
    if i == 2:  # the chord [Bd] keeps its top note
        expect = [x for j, x in enumerate(expect) if j != 6]
    assert got == [(p + shift, d) for p, d in expect]
    assert tok.encode(back) == ids


def test_tokens_read_like_folk_rnn(tok):
    toks = tok.tokens(read_abc(TUNES)[0])
    assert toks[:4] == ["<s>", "M:6/8", "K:Cmix", "|:"]
    assert "(3" in toks and "[1" in toks and "[2" in toks and toks[-1] == "</s>"


def test_tied_note_across_a_bar_line(tok):
    toks = tok.tokens(read_abc(TUNES)[1])
    i = toks.index("-")
    assert toks[i - 2:i + 4] == ["g", "4", "-", "|", "g", "2"]  # A dorian moved to C dorian


def test_decoded_tune_is_valid_abc_for_us_and_music21(tok):
    from music21 import converter

    for s in read_abc(TUNES):
        text = score_to_abc(tok.decode(tok.encode(s)))
        again = parse_tune(text)
        assert len(again.tracks[0].notes) > 5
        m21 = converter.parse(text, format="abc")
        assert len(m21.stripTies().flatten().notes) == len(again.tracks[0].notes)


@pytest.mark.parametrize("mode", ["major", "minor", "dorian", "mixolydian"])
def test_pitch_spelling_inverts(mode):
    for p in range(48, 96):
        assert token_pitch(pitch_token(p, mode), mode) == p


def test_grammar_accepts_every_encoded_tune(tok):
    g = tok.grammar()
    for s in read_abc(TUNES):
        st_ = g.start()
        for i in tok.encode(s):
            assert g.allowed(st_)[i], tok.vocab[i]
            st_ = g.advance(st_, i)
        assert g.done(st_)


def test_grammar_refuses_overfull_bars_and_unbalanced_repeats(tok):
    g = tok.grammar()
    ids = lambda words: [tok.index[w] for w in words]
    st_ = g.start()
    for i in ids(["<s>", "M:6/8", "K:Cmix", "|:", "G", "3"]):
        st_ = g.advance(st_, i)
    for i in ids(["c", "3", "|"]):
        st_ = g.advance(st_, i)
    assert not g.allowed(st_)[tok.index["</s>"]]  # the repeat is still open
    assert not g.allowed(st_)[tok.index["|:"]] and not g.allowed(st_)[tok.index["||"]]


def test_vocabulary_travels_with_the_model(tok):
    again = build_tokenizer(tok.to_dict())
    assert again.vocab == tok.vocab


def test_unrepresentable_tunes_are_refused(tok):
    with pytest.raises(TokenizerError, match="mode"):
        tok.tokens(parse_tune("X:1\nM:4/4\nL:1/8\nK:Clyd\nCDEF GABc|\n"))
    with pytest.raises(TokenizerError, match="meter"):
        tok.tokens(parse_tune("X:1\nM:9/16\nL:1/16\nK:C\nCDEFGABcd|\n"))


def test_prompt_options(tok):
    assert [tok.vocab[i] for i in tok.prompt(meter="6/8", mode="dorian")] == ["<s>", "M:6/8", "K:Cdor"]
    with pytest.raises(InputError, match="unknown mode"):
        tok.prompt(mode="phrygianish")
    with pytest.raises(InputError, match="vocabulary"):
        tok.prompt(meter="13/8")
    with pytest.raises(InputError, match="notation"):
        tok.prompt(prime="M:6/8 K:Cmaj |: G ???")
    assert [tok.vocab[i] for i in tok.prompt(prime="M:6/8 K:Cmix |: G")] == ["<s>", "M:6/8", "K:Cmix", "|:", "G"]


NOTE = st.sampled_from(["C", "D", "E", "F", "G", "A", "B", "c", "d", "e", "^F", "_B", "z"])
LEN = st.sampled_from(["", "2", "/2", "3"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(NOTE, LEN), min_size=1, max_size=6), min_size=1, max_size=6),
       st.sampled_from(["maj", "min", "dor", "mix"]))
def test_generated_tunes_round_trip(bars, mode):
    body = " | ".join(" ".join(n + d for n, d in bar) for bar in bars) + " |]"
    s = parse_tune(f"X:1\nM:none\nL:1/8\nK:C{mode}\n{body}\n")
    lengths = [sum({"": 2, "2": 4, "/2": 1, "3": 6}[d] for _, d in bar) for bar in bars]
    num = max(lengths)
    s.time_signatures = [type(s.time_signatures[0])(0, num, 16)] if s.time_signatures else []
    from composer.score import TimeSignature

    s.time_signatures = [TimeSignature(0, 4, 4)]
    tok = AbcTokenizer().fit([s])
    try:
        ids = tok.encode(s)
    except TokenizerError:
        return
    back = tok.decode(ids)
    a, b = s.tracks[0].notes if s.tracks else np.zeros(0), back.tracks[0].notes
    assert [int(x) for x in a["pitch"]] == [int(x) for x in b["pitch"]]
    assert [int(x) * 480 // s.tpq for x in a["duration"]] == [int(x) for x in b["duration"]]


def test_random_walks_through_the_grammar_are_valid_tunes(tok):
    """Any path the grammar allows, even uniformly random, is a tune both parsers read with right bars."""
    from composer.metrics import check_abc_tune
    from composer.tokenizers.abc_tokens import abc_text

    rng = np.random.default_rng(0)
    for _ in range(25):
        g = tok.grammar()
        state, words = g.start(), []
        while not g.done(state):
            mask = g.allowed(state)
            assert mask.any(), f"dead end after {words[-8:]}"
            i = int(rng.choice(np.flatnonzero(mask)))
            state = g.advance(state, i)
            words.append(tok.vocab[i])
        assert check_abc_tune(abc_text(words)) == (True, True, True), abc_text(words)


def test_grammar_holds_a_requested_bar_count(tok):
    from composer.io.abc import parse_tune
    from composer.tokenizers.abc_tokens import abc_text

    rng = np.random.default_rng(1)
    for bars in (4, 8):
        g = tok.grammar(bars=bars)
        state, words = g.start(), []
        while not g.done(state):
            i = int(rng.choice(np.flatnonzero(g.allowed(state))))
            state, words = g.advance(state, i), words + [tok.vocab[i]]
        assert state.bars == bars
        assert parse_tune(abc_text(words)).tracks
