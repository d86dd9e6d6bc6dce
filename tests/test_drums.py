"""The drums style: GM map, words, the quantiser, round trips, grammar, corpus, CLI, train -> generate."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.corpora.drums import drum_stats, generate_drums, groove_names, groove_score
from composer.drumkit import (
    ACCENT,
    CLASS_PITCH,
    GHOST,
    GM_TO_CLASS,
    NORMAL,
    parse_word,
    velocity_levels,
    word_code,
    word_name,
)
from composer.drums_io import bar_kinds, extract_bars, is_fill
from composer.errors import CheckpointError, InputError, TokenizerError
from composer.io.midi import midi_bytes, read_midi, write_midi
from composer.models import build_model
from composer.sample import sample_tokens
from composer.score import Score, Tempo, TimeSignature, Track, humanize
from composer.tokenizers import build_tokenizer
from composer.tokenizers.drums import DrumsTokenizer

KICK, SNARE, HAT, OPEN, LTOM, MTOM, HTOM, CRASH, RIDE = range(9)


@pytest.fixture(scope="module")
def songs():
    return generate_drums(24, seed=0)  # two songs of every groove


@pytest.fixture(scope="module")
def tok(songs):
    return DrumsTokenizer().fit(songs)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# ------------------------------------------------------------------------ kit and words

def test_every_gm_drum_note_maps_somewhere_sensible():
    assert set(range(35, 82)) <= set(GM_TO_CLASS)
    expect = {36: KICK, 35: KICK, 38: SNARE, 40: SNARE, 37: SNARE, 39: SNARE, 42: HAT, 44: HAT, 46: OPEN,
              41: LTOM, 43: LTOM, 45: MTOM, 47: MTOM, 48: HTOM, 50: HTOM, 49: CRASH, 57: CRASH, 52: CRASH,
              55: CRASH, 51: RIDE, 59: RIDE, 53: RIDE, 56: RIDE, 54: HAT, 70: HAT, 22: HAT, 26: OPEN, 58: LTOM}
    assert {p: GM_TO_CLASS[p] for p in expect} == expect
    assert [GM_TO_CLASS[p] for p in CLASS_PITCH] == list(range(9))  # decoding writes each class as itself
    assert 33 not in GM_TO_CLASS and 34 not in GM_TO_CLASS  # metronome clicks are not music


def test_word_names_read_like_lstmetallica():
    assert word_name(word_code([NORMAL, 0, NORMAL, 0, 0, 0, 0, 0, 0])) == "W_0b000000101"
    levels = [ACCENT, GHOST, 0, 0, 0, 0, 0, NORMAL, NORMAL]
    assert word_name(word_code(levels)) == "W_0b1100000ga"
    for code in (0, 1, 2, 3, word_code(levels), 4**9 - 1):
        assert parse_word(word_name(code)) == code
    with pytest.raises(ValueError):
        parse_word("W_0b0000000x1")


def test_velocity_levels_and_flat_tracks():
    assert velocity_levels(np.array([30, 55, 56, 90, 107, 108, 127])).tolist() == [1, 1, 2, 2, 2, 3, 3]
    assert velocity_levels(np.array([127, 127, 127])).tolist() == [2, 2, 2]  # notation software: flat


# ------------------------------------------------------------------------ encoding

def _rock_bar_score() -> Score:
    notes = [(i * 240, 60, 42, 80) for i in range(8)] + [(0, 60, 36, 100), (960, 60, 36, 100)]
    notes += [(480, 60, 38, 120), (1440, 60, 38, 120), (1680, 60, 37, 40)]  # side-stick ghost
    return Score(tracks=[Track("Drums", 0, True, notes)], time_signatures=[TimeSignature(0, 4, 4)])


def test_golden_encoding_of_a_rock_bar():
    tok = DrumsTokenizer().fit([_rock_bar_score()])
    names = [tok.vocab[i] for i in tok.encode(_rock_bar_score())]
    hat_kick, rest, hat, hat_snare = "W_0b000000101", "W_0b000000000", "W_0b000000100", "W_0b0000001a0"
    assert names == ["START", "BAR", hat_kick, rest, hat, rest, hat_snare, rest, hat, rest,
                     hat_kick, rest, hat, rest, hat_snare, rest, "W_0b0000001g0", rest, "END"]


def test_round_trip_words_score_midi(songs, tok):
    for s in songs[:12]:
        ids = tok.encode(s)
        back = tok.decode(ids)
        assert back.tracks[0].is_drum and back.tracks[0].name == "Drums"
        assert tok.encode(read_midi(midi_bytes(back))) == ids
        assert read_midi(midi_bytes(tok.decode(tok.encode(back)))) == read_midi(midi_bytes(back))


@pytest.mark.parametrize("groove,config,steps", [("shuffle", {"velocity": False}, 12), ("rock", {"subdivision": 8}, 32),
                                                  ("shuffle", {"triplets": False}, 16)])
def test_grid_and_velocity_options(songs, groove, config, steps):
    song = next(s for s in songs if s.meta["groove"] == groove)
    tok = DrumsTokenizer(**config).fit([song])
    ids = tok.encode(song)
    assert {b.kind.steps for b in tok.ids_to_bars(ids)} == {steps}
    assert tok.encode(read_midi(midi_bytes(tok.decode(ids)))) == ids
    if not config.get("velocity", True):
        assert not any(set(tok.vocab[i][4:]) & {"g", "a"} for i in ids if tok.vocab[i].startswith("W_"))


def test_grids_and_meters_follow_the_song(songs, tok):
    markers = {s.meta["groove"]: {tok.vocab[i] for i in tok.encode(s) if tok.vocab[i].startswith("BAR")}
               for s in songs}
    assert markers["rock"] <= {"BAR", "BAR_FILL"}
    assert markers["shuffle"] <= {"BAR_T", "BAR_T_FILL"} and markers["swing"] <= {"BAR_T", "BAR_T_FILL"}
    assert markers["waltz"] == {"BAR_3/4", "BAR_3/4_FILL"}


def test_quantiser_recovers_the_grid_under_jitter(songs, tok):
    hits = found = 0
    for s in songs[:12]:
        truth, _ = tok.bars(s)
        played = read_midi(midi_bytes(humanize(s, 1.0, seed=7)))  # onsets move up to a 32nd
        got, rep = tok.bars(played)
        assert [b.kind for b in got] == [b.kind for b in truth]
        assert 0.02 < rep.mean_error < 0.25 and rep.max_error <= 0.5
        for a, b in zip(truth, got):
            hits += int((a.levels > 0).sum())
            found += int(((a.levels > 0) & (b.levels > 0)).sum())
    assert found / hits >= 0.99


def test_meter_changes_tempo_changes_and_skipped_sections():
    bar = [(i * 120, 60, 42, 80) for i in range(0, 16, 2)] + [(0, 60, 36, 100), (480, 60, 38, 100)]
    notes, t = [], 0
    meters = [(4, 4)] * 2 + [(3, 4)] * 2 + [(5, 4)] + [(4, 4)] * 2
    sigs = []
    for num, den in meters:
        if not sigs or (sigs[-1].numerator, sigs[-1].denominator) != (num, den):
            sigs.append(TimeSignature(t, num, den))
        notes += [(t + s, d, p, v) for s, d, p, v in bar if s < num * 480]
        t += num * 480
    s = Score(tempos=[Tempo(0, 120.0), Tempo(1920, 96.5), Tempo(5000, 140.0)], time_signatures=sigs,
              tracks=[Track("Drums", 0, True, notes)])
    bars, rep = extract_bars(read_midi(midi_bytes(s)), bar_kinds())
    assert [b.kind.marker for b in bars] == ["BAR", "BAR", "BAR_3/4", "BAR_3/4", "BAR", "BAR"]
    assert rep.skipped == {"5/4": 1} and "skipped 1 bars in 5/4" in rep.line()


def test_drums_named_on_another_channel_and_refusals():
    notes = _rock_bar_score().tracks[0].notes
    named = Score(tracks=[Track("Piano", 0, False, [(0, 480, 60, 80)]), Track("Drum Kit", 0, False, notes)])
    assert DrumsTokenizer().encode(named) == DrumsTokenizer().encode(_rock_bar_score())
    with pytest.raises(TokenizerError, match="no drum track"):
        DrumsTokenizer().encode(Score(tracks=[Track("Piano", 0, False, [(0, 480, 60, 80)])]))
    with pytest.raises(TokenizerError, match="GM drum map"):
        DrumsTokenizer().encode(Score(tracks=[Track("Drums", 0, True, [(0, 60, 33, 80)])]))


def test_unknown_words_fall_back_to_the_nearest(tok):
    known = {int(c) for c in tok.word_codes}
    odd = word_code([ACCENT, ACCENT, 0, 0, GHOST, GHOST, GHOST, 0, NORMAL])  # nobody plays this here
    assert odd not in known
    near = tok.word_codes[tok.word_id(odd) - tok.first_word]
    assert near in known and (np.array(parse_levels(near)) > 0).sum() >= 2


def parse_levels(code):
    return [(int(code) >> (2 * c)) & 3 for c in range(9)]


def test_saved_vocabulary_is_checked(tok):
    again = build_tokenizer(tok.to_dict())
    assert again.vocab == tok.vocab and again.model_inputs() == {"vocab_size": len(tok.vocab)}
    spec = tok.to_dict()
    spec["vocab"] = spec["vocab"][:5] + ["W_0bzzz"] + spec["vocab"][6:]
    with pytest.raises(CheckpointError):
        build_tokenizer(spec)


# ------------------------------------------------------------------------ corpus

def test_corpus_is_deterministic_and_labels_its_fills(songs):
    assert [midi_bytes(s) for s in generate_drums(3, seed=0)] == [midi_bytes(s) for s in songs[:3]]
    assert {s.meta["groove"] for s in songs} == set(groove_names())
    stats = drum_stats(songs)
    assert stats["fill_agreement"] == 1.0 and stats["fills_written"] > 24
    for name in groove_names():
        bars, _ = DrumsTokenizer().bars(groove_score(name))
        assert len(bars) == 2 and not any(b.fill for b in bars)
        assert bars[0].levels[0, CRASH] == ACCENT


def test_fill_detector():
    groove = np.zeros((16, 9), np.uint8)
    groove[::2, HAT], groove[[4, 12], SNARE], groove[[0, 8], KICK] = NORMAL, NORMAL, NORMAL
    assert not is_fill(groove)
    fill = groove.copy()
    fill[12:] = 0
    fill[12:, SNARE] = NORMAL
    assert is_fill(fill)
    ghosts = fill.copy()
    ghosts[12:, SNARE] = GHOST
    assert not is_fill(ghosts)


# ------------------------------------------------------------------------ grammar

def test_grammar_bars_words_and_fills(tok):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = build_model("token_lstm", {"vocab_size": len(tok.vocab), "input_size": 8, "hidden": 16, "layers": 1})
    for groove, marker in (("metal", "BAR"), ("shuffle", "BAR_T"), ("waltz", "BAR_3/4"), (None, None)):
        prompt, grammar = tok.prompt(6, groove=groove, fill_every=2), tok.grammar(6, groove=groove, fill_every=2)
        out = sample_tokens(model, prompt, 500, grammar=grammar, seed=1, batch=3, temperature=1.5)
        for ids in out:
            names = [tok.vocab[i] for i in ids]
            assert names[0] == "START" and names[-1] == "END" and names.count("END") == 1
            bars = [i for i, n in enumerate(names) if n.startswith("BAR")]
            assert len(bars) == 6
            kinds = {names[i].removesuffix("_FILL") for i in bars}
            assert len(kinds) == 1 and (marker is None or kinds == {marker})
            assert [names[i].endswith("_FILL") for i in bars] == [False, True] * 3
            steps = tok.ids_to_bars(ids)[0].kind.steps
            ends = bars[1:] + [len(names) - 1]
            assert all(e - b - 1 == steps for b, e in zip(bars, ends))
            assert all(n.startswith("W_") for i, n in enumerate(names[1:-1], 1) if i not in bars)
    free = sample_tokens(model, tok.prompt(12), 500, grammar=tok.grammar(12), seed=2, batch=4, temperature=2.0)
    for ids in free:  # without --fill-every: a fill ends each 8 bars, maybe one at 4, none elsewhere
        fills = [i for i, b in enumerate(tok.ids_to_bars(ids)) if b.fill]
        assert {7} <= set(fills) <= {3, 7, 11}
    assert tok.prompt(1, groove="metal")[:2] == [tok.start_id, tok.vocab.index("BAR")]
    assert len(tok.prompt(1, groove="metal")) == 1 + 17  # the prime is cut to the bars asked for


def test_groove_names_and_files_as_primes(tmp_path, tok):
    with pytest.raises(InputError, match="unknown groove 'polka'.*metal"):
        tok.prompt(4, groove="polka")
    write_midi(groove_score("funk"), tmp_path / "mine.mid")
    assert tok.prompt(4, groove=str(tmp_path / "mine.mid")) == tok.prompt(4, groove="funk")
    with pytest.raises(InputError, match="fill_every"):
        tok.grammar(4, fill_every=0)


# ------------------------------------------------------------------------ CLI

def test_generate_metal_opens_on_the_drum_channel(tmp_path):
    out = tmp_path / "drums.mid"
    r = run("generate", "--style", "drums", "--groove", "metal", "--bars", 16, "--tempo", 180, "-o", out)
    assert r.exit_code == 0, r.output
    mid = mido.MidiFile(out)
    notes = [m for t in mid.tracks for m in t if m.type == "note_on"]
    assert len(notes) > 100 and {m.channel for m in notes} == {9}
    assert any(m.type == "track_name" and m.name == "Drums" for t in mid.tracks for m in t)
    s = read_midi(out)
    assert abs(s.tempos[0].qpm - 180) < 1e-6 and s.tracks[0].is_drum
    assert 14 * 1920 < s.end <= 16 * 1920


def test_generate_fills_and_humanize(tmp_path):
    out = tmp_path / "f.mid"
    r = run("generate", "--style", "drums", "--groove", "rock", "--bars", 8, "--fill-every", 4, "--humanize", 0.5,
            "--seed", 3, "-o", out)
    assert r.exit_code == 0, r.output
    s = read_midi(out)
    assert (s.tracks[0].notes["start"] % 120 != 0).any()  # humanised timing


@pytest.mark.parametrize("groove,needle", [
    ("polka", "unknown groove 'polka'"),
    ("{tmp}/piano.mid", "no drum track"),
    ("{tmp}/corrupt.mid", "corrupt.mid"),
    ("{tmp}/missing.mid", "missing.mid"),
])
def test_bad_grooves_are_one_line_and_nonzero(tmp_path, groove, needle):
    write_midi(Score(tracks=[Track("Piano", 0, False, [(0, 480, 60, 80)])]), tmp_path / "piano.mid")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x00\x90")
    r = run("generate", "--style", "drums", "--groove", groove.replace("{tmp}", str(tmp_path)), "-o", tmp_path / "x.mid")
    assert r.exit_code != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert not (tmp_path / "x.mid").exists()


# ------------------------------------------------------------------------ train -> generate

def _gmd_file(path, score, channel=9, roland=True, name=None):
    """A type-0 file laid out like the Groove MIDI Dataset: one track, drums on ``channel``,
    Roland TD-11 notes (hi-hat edge 22, snare 40, floor-tom rim 58), humanised timing."""
    swap = {42: 22, 38: 40, 43: 58} if roland else {}
    mid = mido.MidiFile(type=0, ticks_per_beat=score.tpq)
    events = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.tempos[0].qpm)))]
    events += [(ts.time, mido.MetaMessage("time_signature", numerator=ts.numerator, denominator=ts.denominator))
               for ts in score.time_signatures]
    if name:
        events.append((0, mido.MetaMessage("track_name", name=name)))
    for i, (s, d, p, v) in enumerate(score.tracks[0].notes.tolist()):
        p = swap.get(p, p) if i % 2 else p
        events += [(s, mido.Message("note_on", channel=channel, note=p, velocity=v)),
                   (s + d, mido.Message("note_off", channel=channel, note=p, velocity=0))]
    events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
    track, last = mido.MidiTrack(), 0
    for t, m in events:
        track.append(m.copy(time=t - last))
        last = t
    mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)


def test_train_on_drum_midi_then_generate(tmp_path, songs):
    corpus = tmp_path / "groove"
    played = [humanize(s, 0.6, seed=i) for i, s in enumerate(songs[:6])]
    for i, s in enumerate(played[:4]):
        _gmd_file(corpus / "drummer1" / "session1" / f"{i + 1}_{s.meta['groove']}_{int(s.tempos[0].qpm)}_beat_4-4.mid", s)
    _gmd_file(corpus / "drummer2" / "eval_session" / "1_rock_100_beat_4-4.mid", played[4], channel=3, name="Drums")
    waltz = next(s for s in songs if s.meta["groove"] == "waltz")
    _gmd_file(corpus / "drummer2" / "eval_session" / "2_waltz_120_beat_3-4.mid", waltz)
    write_midi(Score(tracks=[Track("Piano", 0, False, [(0, 480, 60, 80)])]), corpus / "piano.mid")
    (corpus / "broken.mid").write_bytes(b"MThd\x00\x00")
    run_dir = tmp_path / "run"
    r = run("train", "--style", "drums", "--corpus", corpus, "-o", run_dir, "--size", "tiny", "--epochs", 1,
            "--batch-size", 4, "--max-steps", 3)
    assert r.exit_code == 0, r.output
    assert "piano.mid: no drum track" in r.stderr and "broken.mid" in r.stderr
    assert "quantisation error" in r.stderr and "BAR_3/4" in r.stderr
    out = tmp_path / "mine.mid"
    prime = corpus / "drummer1" / "session1" / "1_rock_" f"{int(played[0].tempos[0].qpm)}_beat_4-4.mid"
    r = run("generate", "--checkpoint", run_dir, "--groove", prime, "--bars", 4, "--fill-every", 2, "-o", out)
    assert r.exit_code == 0, r.output
    s = read_midi(out)
    assert s.tracks[0].is_drum and s.end <= 4 * 1920
