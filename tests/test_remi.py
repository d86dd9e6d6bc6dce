"""The remi tokenizer: golden tokens, exact round trips (hypothesis), quantisation, bad input, grammar,
and a cross-check against MidiTok's REMI on symusic with a matching config."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import InputError, TokenizerError
from composer.io.midi import read_midi, write_midi
from composer.score import Score, Tempo, TimeSignature, Track, notes_array
from composer.tokenizers import build_tokenizer
from composer.tokenizers.remi import RemiGrammar, RemiTokenizer, _program_name

TOK = RemiTokenizer()
G = 480 // TOK.res  # ticks per grid step at tpq 480


def names(ids) -> list[str]:
    return [TOK.vocab[i] for i in ids]


def test_golden_tokens():
    s = Score(480, [Tempo(0, 121.29)], [TimeSignature(0, 4, 4)], [], [
        Track("", 0, False, notes_array([(0, 480, 60, 79), (960, 240, 64, 79)])),
        Track("", 0, True, notes_array([(0, 60, 36, 99)])),
    ])
    assert names(TOK.encode(s)) == [
        "BOS_None", "Bar_None", "TimeSig_4/4", "Position_0", "Tempo_121.29",
        "Program_-1", "PitchDrum_36", "Velocity_99", "Duration_0.1.8",
        "Program_0", "Pitch_60", "Velocity_79", "Duration_1.0.8",
        "Position_16", "Program_0", "Pitch_64", "Velocity_79", "Duration_0.4.8", "EOS_None"]


def test_bars_meters_and_tempo_changes():
    notes = notes_array([(0, 480, 60, 79), (1920 + 1440, 480, 62, 79)])  # bar 1 (3/4) beat 4 = bar 2
    s = Score(480, [Tempo(0, 121.29), Tempo(1920, 60.32)], [TimeSignature(0, 4, 4), TimeSignature(1920, 3, 4)], [],
              [Track("", 0, False, notes)])
    toks = names(TOK.encode(s))
    assert toks.count("Bar_None") == 3
    assert toks[toks.index("Tempo_60.32") - 1] == "Position_0"  # the change opens bar 1
    assert toks[-8:] == ["Bar_None", "TimeSig_3/4", "Position_0", "Program_0", "Pitch_62", "Velocity_79",
                         "Duration_1.0.8", "EOS_None"]
    assert [t for t in toks if t.startswith("TimeSig")] == ["TimeSig_4/4", "TimeSig_3/4", "TimeSig_3/4"]


def test_quantisation_is_what_decode_returns():
    s = Score(960, [Tempo(0, 118.0)], [], [], [Track("x", 40, False, notes_array([(121, 2000, 70, 100)]))])
    d = TOK.decode(TOK.encode(s))
    assert d.tpq == 480 and d.tempos == [Tempo(0, 121.29)] and d.time_signatures == [TimeSignature(0, 4, 4)]
    (n,) = d.tracks[0].note_list()
    # 121 ticks at 960 -> 1 grid step (60 ticks at 480); 2000 ticks = 16.67 steps -> 17; velocity 100 -> 99
    assert (n.start, n.duration, n.pitch, n.velocity) == (60, 17 * G, 70, 99)
    assert d.tracks[0].name == _program_name(40) == "Violin" and d.tracks[0].program == 40


def test_meter_change_off_the_bar_line_waits_for_the_next_one():
    s = Score(480, [], [TimeSignature(0, 4, 4), TimeSignature(480, 3, 4)], [],
              [Track("", 0, False, notes_array([(0, 480, 60, 79), (4 * 1920, 480, 60, 79)]))])
    assert TOK.decode(TOK.encode(s)).time_signatures == [TimeSignature(0, 4, 4), TimeSignature(1920, 3, 4)]


@pytest.mark.parametrize("score, reason", [
    (Score(0, [], [], [], [Track("", 0, False, notes_array([(0, 1, 60, 80)]))]), "ticks per quarter"),
    (Score(480, [Tempo(0, 2000.0)], [], [], [Track("", 0, False, notes_array([(0, 480, 60, 80)]))]), "absurd tempo"),
    (Score(480, [], [TimeSignature(0, 0, 4)], [], [Track("", 0, False, notes_array([(0, 480, 60, 80)]))]),
     "absurd time signature 0/4"),
    (Score(480, [], [TimeSignature(0, 65, 4)], [], [Track("", 0, False, notes_array([(0, 480, 60, 80)]))]),
     "absurd time signature"),
    (Score(480, [], [], [], [Track("empty", 0, False, notes_array([]))]), "no notes"),
])
def test_bad_input_is_a_reason(score, reason):
    with pytest.raises(TokenizerError, match=reason):
        TOK.encode(score)


def test_too_many_notes():
    tok = RemiTokenizer(max_notes=10)
    s = Score(480, [], [], [], [Track("", 0, False, notes_array([(i * 60, 60, 60, 80) for i in range(11)]))])
    with pytest.raises(TokenizerError, match="too long"):
        tok.encode(s)


def test_config_round_trips_through_json():
    import json

    spec = json.loads(json.dumps(TOK.to_dict()))
    again = build_tokenizer(spec)
    assert again.vocab == TOK.vocab and again.config == TOK.config
    small = RemiTokenizer(beat_res=((0, 2, 4), (2, 8, 2)), num_velocities=8, meters=("4/4", "3/4"))
    assert build_tokenizer(json.loads(json.dumps(small.to_dict()))).vocab == small.vocab
    assert len(TOK.vocab) < 65536 and TOK.dtype == np.uint16


# ---------------------------------------------------------------------------- exact round trip

METERS = [(4, 4), (3, 4), (6, 8), (5, 4), (7, 8), (2, 2)]


@st.composite
def quantised_scores(draw):
    """Scores in the form decode returns: on the grid, binned values, one track per program."""
    segs = draw(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(METERS)), min_size=1, max_size=3))
    meters, t, bars = [], 0, []
    for n_bars, (n, d) in segs:
        if not meters or (meters[-1].numerator, meters[-1].denominator) != (n, d):
            meters.append(TimeSignature(t * G, n, d))
        length = n * 4 * TOK.res // d
        bars += [(t + k * length, length) for k in range(n_bars)]
        t += n_bars * length
    onset = st.tuples(st.sampled_from(bars), st.integers(0, 10**6)).map(lambda b: b[0][0] + b[1] % b[0][1])
    note = st.tuples(onset, st.sampled_from(TOK.dur_units.tolist()), st.integers(0, 127),
                     st.sampled_from(TOK.velocities.tolist()))
    programs = draw(st.lists(st.sampled_from([-1, 0, 25, 33, 40, 73]), min_size=1, max_size=4, unique=True))
    tracks = []
    for p in sorted(programs):
        notes = draw(st.lists(note, min_size=1, max_size=25))
        tracks.append(Track(_program_name(p), max(p, 0), p == -1,
                            notes_array(sorted((s * G, d * G, pitch, v) for s, d, pitch, v in notes))))
    last = max(int(tr.notes["start"].max()) for tr in tracks) // G
    tempo_at = sorted(draw(st.sets(st.integers(1, max(last, 1)), max_size=3)))
    qpms = draw(st.lists(st.sampled_from(TOK.tempos.tolist()), min_size=len(tempo_at) + 1, max_size=len(tempo_at) + 1))
    tempos = [Tempo(0, qpms[0])]
    for at, q in zip(tempo_at, qpms[1:]):
        if q != tempos[-1].qpm:
            tempos.append(Tempo(at * G, q))
    # meters after the last event would add bars of nothing: keep those the notes and tempos reach
    reach = max(last, tempos[-1].time // G)
    meters = [m for m in meters if m.time // G <= reach]
    return Score(480, tempos, meters, [], tracks)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantised_scores())
def test_round_trip_is_exact_on_quantised_scores(score):
    ids = TOK.encode(score)
    assert TOK.decode(ids) == score
    assert TOK.encode(TOK.decode(ids)) == ids
    g = RemiGrammar(TOK, TOK.bars_of(ids))  # the grammar accepts every encoded piece, to the end
    state = g.start()
    for t in ids:
        assert g.allowed(state)[t], TOK.vocab[t]
        state = g.advance(state, t)
    assert g.done(state)


def _no_overlaps(score: Score) -> Score:
    """MIDI cannot hold two sounding notes of one pitch on one channel: keep the first of each clash."""
    tracks = []
    for t in score.tracks:
        keep, busy = [], {}
        for n in t.note_list():
            if all(n.end <= a or n.start >= b for a, b in busy.get(n.pitch, [])):
                busy.setdefault(n.pitch, []).append((n.start, n.end))
                keep.append(n)
        tracks.append(replace(t, notes=notes_array(keep)))
    return replace(score, tracks=tracks)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantised_scores())
def test_round_trip_through_midi_files_and_both_readers(tmp_path_factory, score):
    from composer.corpora.shards import read_midi_fast

    pytest.importorskip("symusic")
    score = _no_overlaps(score)
    path = tmp_path_factory.mktemp("midi") / "s.mid"
    write_midi(score, path)
    ids = TOK.encode(score)
    assert TOK.encode(read_midi(path)) == ids  # mido reader
    assert TOK.encode(read_midi_fast(path.read_bytes())) == ids  # symusic fast path


# ---------------------------------------------------------------------------- generation


def test_grammar_makes_sampled_output_valid():
    import torch

    from composer.models import build_model
    from composer.sample import sample_tokens

    torch.manual_seed(0)
    model = build_model("token_transformer", {"vocab_size": len(TOK.vocab), "n_layer": 1, "n_head": 2, "n_embd": 16,
                                              "block_size": 128, "dropout": 0.0})
    g = TOK.grammar(bars=3)
    ids = sample_tokens(model, TOK.prompt(bars=3), 3000, grammar=g, seed=1)[0]
    assert ids[0] == TOK.bos_id and ids[-1] == TOK.end_id and TOK.bars_of(ids) == 3
    score = TOK.decode(ids)
    assert TOK.encode(score)[:1] == [TOK.bos_id]
    assert score.time_signatures and score.time_signatures[0].time == 0


def test_prime_must_be_a_midi_file(tmp_path):
    with pytest.raises(InputError, match=".mid file"):
        TOK.prompt(bars=4, prime="C D E F")
    empty = tmp_path / "e.mid"
    write_midi(Score(480, [], [], [], []), empty)
    with pytest.raises(InputError, match="no notes"):
        TOK.prompt(bars=4, prime=str(empty))


# ---------------------------------------------------------------------------- MidiTok cross-check


def miditok_remi():
    """MidiTok's REMI configured as ours (full pitch range, our meters, programs in one stream)."""
    pytest.importorskip("miditok")
    from composer.tokenizers.remi import miditok_remi as reference

    return reference(TOK)


def _crosscheck_scores() -> list[Score]:
    rng = np.random.default_rng(7)
    out = []
    for k in range(6):
        tracks = []
        for p in ([-1, 0, 33] if k % 2 else [0, 40, 41]):
            raw = [(int(rng.integers(0, 96)) * 60 + (k >= 4) * int(rng.integers(0, 40)), int(rng.integers(1, 60)) * 60,
                    int(rng.integers(30 if p != -1 else 35, 90 if p != -1 else 60)), int(rng.integers(1, 128)))
                   for _ in range(40)]
            tracks.append(Track("", max(p, 0), p == -1, notes_array(raw)))
        tempos = [Tempo(0, 100.0 + 10 * k), Tempo(1920 * 2, 80.0)]
        meters = [TimeSignature(0, 4, 4)] + ([TimeSignature(1920 * 3, 3, 4)] if k % 3 == 1 else [])
        out.append(_no_overlaps(Score(480, tempos, meters, [], tracks)))
    return out


@pytest.mark.parametrize("k", range(6))
def test_tokens_and_notes_agree_with_miditok(tmp_path, k):
    """Same files, same config: the token streams are identical, and so are the decoded notes.
    Scores 4 and 5 are off the grid (so both sides quantise); 1 and 4 change meter mid-piece."""
    symusic = pytest.importorskip("symusic")
    mt = miditok_remi()
    score = _crosscheck_scores()[k]
    path = tmp_path / "x.mid"
    write_midi(score, path)
    ours = TOK.encode(read_midi(path))
    seq = mt.encode(symusic.Score(str(path)))
    theirs = (seq[0] if isinstance(seq, list) else seq).tokens
    assert names(ours)[1:-1] == theirs
    decoded = mt.decode(seq)
    mine = TOK.decode(ours)
    for tr in decoded.tracks:
        prog = -1 if tr.is_drum else tr.program
        (our_track,) = [t for t in mine.tracks if (-1 if t.is_drum else t.program) == prog]
        a = tr.notes.numpy()
        scale = 480 // decoded.ticks_per_quarter
        theirs_notes = sorted(zip((a["time"] * scale).tolist(), (a["duration"] * scale).tolist(),
                                  a["pitch"].tolist(), a["velocity"].tolist()))
        assert sorted(our_track.notes.tolist()) == theirs_notes
