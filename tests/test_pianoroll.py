"""The pianoroll encoding: round trips, key normalisation, the clock, refusals."""

import numpy as np
import pytest

from composer.errors import TokenizerError
from composer.score import KeySignature, Score, TimeSignature, Track, transpose
from composer.theory import key_offset
from composer.tokenizers import build_tokenizer
from composer.tokenizers.pianoroll import PianoRollTokenizer, estimate_tonic

E = 240  # an eighth note at tpq 480


def _score() -> Score:
    chords = [(0, 8 * E, p, 72) for p in (55, 58, 60, 64)]  # C7, bar 1
    chords += [(8 * E, 4 * E, p, 72) for p in (57, 60, 63, 65)]  # F7, half of bar 2
    chords += [(12 * E, 4 * E, p, 72) for p in (57, 60, 63, 65)]  # F7 re-struck mid-bar
    melody = [(0, E, 72, 90), (E, E, 72, 90), (2 * E, 3 * E, 75, 90), (8 * E, 2 * E, 67, 90), (12 * E, E, 70, 90)]
    return Score(
        tracks=[Track("Chords", 0, False, chords), Track("Melody", 66, False, melody)],
        time_signatures=[TimeSignature(0, 4, 4)],
        key_signatures=[KeySignature(0, 0, "major")],
    )


def _notes(track):
    return sorted(map(tuple, np.stack([track.notes["start"], track.notes["duration"], track.notes["pitch"]], 1).tolist()))


def test_round_trip_is_identity_up_to_velocity():
    tok = PianoRollTokenizer()
    s = _score()
    frames = tok.encode(s)
    assert frames.shape == (16, tok.frame_size)
    back = tok.decode(frames)
    for name in ("Chords", "Melody"):
        assert _notes(back.track(name)) == _notes(s.track(name))
    assert [(c.root, c.quality) for c in back.chords] == [(0, "7"), (5, "7")]
    assert np.array_equal(tok.encode(back), frames)


def test_repeated_note_differs_from_held_note():
    tok = PianoRollTokenizer()
    frames = tok.encode(_score())
    mo = tok.slices["melody_onset"].start
    assert frames[0, mo] == 1 and frames[1, mo] == 1  # two eighths of the same C
    assert frames[2, mo] == 1 and frames[3, mo] == 0 and frames[4, mo] == 0  # a held Eb


def test_groups_are_valid_in_every_frame():
    tok = PianoRollTokenizer()
    frames = tok.encode(_score())
    assert (frames[:, tok.slices["melody"]].sum(1) == 1).all()  # exactly one of rest / pitch


@pytest.mark.parametrize("tonic", range(12))
def test_every_key_normalises_to_c(tonic):
    tok = PianoRollTokenizer()
    s = _score()
    moved = transpose(s, key_offset(tonic))
    assert moved.key_signatures[0].tonic == tonic
    assert np.array_equal(tok.encode(moved), tok.encode(s))


def test_estimate_tonic_without_key_signature():
    s = _score()
    s.key_signatures = []
    assert estimate_tonic(s) in (0, 5)  # C7 / F7 material: C (or its subdominant)
    assert estimate_tonic(transpose(_score(), 2)) in (2, 7)


def test_clock_is_one_hot():
    tok = PianoRollTokenizer()
    cond = tok.conditioning(200)
    assert cond.shape == (200, 8 + 12)
    assert (cond.sum(1) == 2).all()
    assert cond[97, 1] == 1 and cond[97, 8 + 0] == 1  # step 97: 2nd eighth of bar 13 = bar 1 of chorus 2


def test_wrong_meter_is_refused():
    s = _score()
    s.time_signatures = [TimeSignature(0, 3, 4)]
    with pytest.raises(TokenizerError, match="3/4"):
        PianoRollTokenizer().encode(s)


def test_polyphonic_melody_keeps_the_top_line():
    tok = PianoRollTokenizer()
    s = _score()
    s.tracks[1] = Track("Melody", 66, False, [(0, 4 * E, 64, 80), (0, 2 * E, 72, 80)])
    back = tok.decode(tok.encode(s))
    assert _notes(back.track("Melody")) == [(0, 2 * E, 72), (2 * E, 2 * E, 64)]


def test_rebuilt_from_its_dict():
    tok = PianoRollTokenizer()
    again = build_tokenizer(tok.to_dict())
    assert again.vocab == tok.vocab and again.config == tok.config


def test_fitted_voicings_and_snapping():
    tok = PianoRollTokenizer().fit([_score()])
    assert tok.groups[1].kind == "pattern" and tok.config.chord_patterns[0] == []
    assert len(tok.config.chord_patterns) == 3  # empty, C7, F7
    s = _score()
    s.tracks[0] = Track("Chords", 0, False, [(0, 8 * E, p, 72) for p in (55, 58, 60, 64, 67)])  # C7 + a G on top
    frames = tok.encode(s)
    c7 = [p - 48 for p in (55, 58, 60, 64)]
    assert np.flatnonzero(frames[0, tok.slices["chord"]]).tolist() == c7  # snapped to the nearest voicing
    assert build_tokenizer(tok.to_dict()).config.chord_patterns == tok.config.chord_patterns


def test_form_metrics_are_perfect_on_the_corpus_itself():
    from composer.corpora.blues import generate_blues, load_progressions
    from composer.metrics import blues_form_report

    tok = PianoRollTokenizer()
    songs = generate_blues(8, 4, seed=2)
    r = blues_form_report(np.stack([tok.encode(s) for s in songs]), tok, load_progressions())
    assert r.bar_match == 1.0 and r.step_match == 1.0 and r.self_match == 1.0 and r.drifted_runs == 0
    assert sorted(r.committed) == sorted({s.meta["progression"] for s in songs})
    assert r.in_scale >= 0.98


def test_named_forms_are_recognised_and_conditioned_on():
    from composer.corpora.blues import generate_blues, load_progressions
    from composer.metrics import blues_form_report

    tok = PianoRollTokenizer(forms=load_progressions())
    assert tok.options == ("form",) and tok.cond_size == PianoRollTokenizer().cond_size + len(tok.form_names)
    songs = generate_blues(8, 2, seed=3)
    for s in songs:  # every corpus song is recognised as the progression it was written in
        frames = tok.encode(s)
        assert tok.form_names[tok.form_index(frames)] == s.meta["progression"]
        cond = tok.piece_conditioning(frames)
        assert cond[:, -len(tok.form_names):].argmax(1).tolist() == [tok.form_index(frames)] * len(frames)
        assert (cond.sum(1) == 3).all()  # step in bar, bar in form, the form
    assert tok.form_index(np.zeros((96, tok.frame_size), np.uint8)) is None  # no chords: no form
    # The report can hold each run to the form it was asked for; the wrong one fails it.
    batch = np.stack([tok.encode(s) for s in songs])
    names = [s.meta["progression"] for s in songs]
    assert blues_form_report(batch, tok, load_progressions(), names).bar_match == 1.0
    wrong = ["minor" if n != "minor" else "basic" for n in names]
    assert blues_form_report(batch, tok, load_progressions(), wrong).bar_match < 0.8
    import json  # a checkpoint's JSON sorts the forms: the same piece must get the same conditioning

    again = build_tokenizer(json.loads(json.dumps(tok.to_dict(), sort_keys=True)))
    assert again.form_names == tok.form_names
    assert all(np.array_equal(again.piece_conditioning(f), tok.piece_conditioning(f)) for f in batch)
    shuffled = PianoRollTokenizer(forms=dict(reversed(list(load_progressions().items()))))
    assert all(np.array_equal(shuffled.piece_conditioning(f), tok.piece_conditioning(f)) for f in batch)


def test_generation_inputs_by_name_or_seed():
    from composer.corpora.blues import generate_blues, load_progressions

    tok = PianoRollTokenizer(forms=load_progressions()).fit(generate_blues(8, 1, seed=0))
    jazz, rules = tok.generation_inputs(96, form="jazz")
    assert jazz[:, -4:].argmax(1).tolist() == [tok.form_names.index("jazz")] * 96 and len(rules) == 1
    drawn = {int(tok.generation_inputs(8, seed=s)[0][0, -4:].argmax()) for s in range(40)}
    assert drawn == set(range(4))  # the seed picks among all forms
    with pytest.raises(TokenizerError, match="unknown form 'bossa'.*basic"):
        tok.generation_inputs(8, form="bossa")
    with pytest.raises(TokenizerError, match="without named forms"):
        PianoRollTokenizer().generation_inputs(8, form="jazz")
    cond, rules = PianoRollTokenizer().generation_inputs(8)
    assert cond.shape == (8, PianoRollTokenizer().cond_size) and rules == []


def test_form_lock_keeps_even_an_untrained_model_in_form():
    """The lock makes the form a property of the sampler: a random model's chords follow it."""
    import torch

    from composer.corpora.blues import generate_blues, load_progressions
    from composer.metrics import blues_form_report
    from composer.models.frame import FrameConfig, FrameLSTM
    from composer.sample import sample_frames

    tok = PianoRollTokenizer(forms=load_progressions()).fit(generate_blues(16, 1, seed=0))
    torch.manual_seed(0)
    model = FrameLSTM(FrameConfig(**tok.model_inputs(), hidden=8, layers=1))
    forms = [0, 1, 2, 3]
    cond = np.stack([tok.conditioning(2 * 96, form=f) for f in forms])
    free = sample_frames(model, cond, batch=4, seed=1)
    locked = sample_frames(model, cond, batch=4, seed=1, constraints=[tok.form_lock(forms)])
    names = [tok.form_names[f] for f in forms]
    assert blues_form_report(free, tok, load_progressions(), names).bar_match < 0.5
    report = blues_form_report(locked, tok, load_progressions(), names)
    assert report.bar_match == 1.0 and report.drifted_runs == 0


def test_sampler_takes_one_conditioning_per_sequence():
    import torch

    from composer.corpora.blues import load_progressions
    from composer.models.frame import FrameConfig, FrameLSTM
    from composer.sample import sample_frames

    tok = PianoRollTokenizer(forms=load_progressions())
    torch.manual_seed(0)
    model = FrameLSTM(FrameConfig(**tok.model_inputs(), hidden=8, layers=1))
    shared = tok.conditioning(16, form=1)
    a = sample_frames(model, shared, batch=2, seed=5)
    b = sample_frames(model, np.stack([shared, shared]), seed=5, batch=2)
    assert np.array_equal(a, b)
    assert sample_frames(model, np.stack([shared, tok.conditioning(16, form=2)]), seed=5, batch=2).shape == a.shape
