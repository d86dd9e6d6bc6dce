"""Constraints in the one sampler: scale lock, range, lengths, density, form, conflicts, --explain."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from composer.cli import cli
from composer.constraints import (
    ConstraintError,
    Control,
    PitchRange,
    ScaleLock,
    TokenRule,
    parse_pitch,
    resolve_scale,
)
from composer.errors import InputError
from composer.form import parse_plan
from composer.models import build_model
from composer.pipeline import generate
from composer.sample import new_explain, sample_tokens
from composer.theory import SCALES


def _pcs_ok(pitches, tonic, scale):
    pcs = {(tonic + i) % 12 for i in SCALES[scale]}
    return all(int(p) % 12 in pcs for p in pitches)


# --- scale lock: 100% of pitched notes in the scale -------------------------------------
@pytest.mark.parametrize("key,scale,seed", [("D", "dorian", 0), ("Bb", "blues", 1), ("F#", "minor_pentatonic", 2),
                                            ("E", "harmonic_minor", 3)])
def test_folk_scale_lock_every_note_in_scale(key, scale, seed):
    from composer.theory import name_to_pc

    s = generate("folk", key=key, seed=seed, control=Control(scale=scale))
    notes = s.tracks[0].notes["pitch"]
    assert len(notes) > 10 and _pcs_ok(notes, name_to_pc(key), scale)


def test_blues_melody_and_jazz_chords_locked():
    s = generate("blues", key="A", bars=12, seed=4, control=Control(scale="blues"))
    assert _pcs_ok(s.track("Melody").notes["pitch"], 9, "blues")
    j = generate("jazz", key="F", seed=1, control=Control(scale="major"))
    from composer.harmony import quality_pcs

    assert j.chords and all(pc in {(5 + i) % 12 for i in SCALES["major"]}
                            for c in j.chords for pc in quality_pcs(c.root, c.quality))


def test_soft_lock_is_between_none_and_hard():
    def outside(strength):
        ctl = Control(scale="major_pentatonic", scale_strength=strength) if strength else None
        n = bad = 0
        for seed in range(2):
            p = generate("folk", key="C", bars=12, seed=seed, control=ctl).tracks[0].notes["pitch"]
            n += len(p)
            bad += sum(int(x) % 12 not in {0, 2, 4, 7, 9} for x in p)
        return bad / n

    free, soft, hard = outside(None), outside(0.9), outside(1.0)
    assert hard == 0 and soft < free


# --- combined constraints -------------------------------------------------------------
def test_combined_constraints_all_hold():
    ctl = Control(scale="major", low="D4", high="B5", min_note=0.5, max_note=1.0, density=0.8, explain=True)
    s = generate("folk", key="G", seed=5, control=ctl)
    n = s.tracks[0].notes
    tpq = s.tpq
    assert _pcs_ok(n["pitch"], 7, "major")
    assert n["pitch"].min() >= 62 and n["pitch"].max() <= 83
    assert (n["duration"] >= tpq // 2).all() and (n["duration"] <= tpq).all()
    names = [c["name"] for c in s.meta["constraints"]["constraints"]]
    assert names == ["scale lock (G major)", "pitch range (D4..B5)", "note length (0.5..1 beats)", "density (0.8)"]


def test_blues_range_and_max_length():
    s = generate("blues", key="C", bars=12, seed=2, control=Control(low="E4", high="G5", max_note=1.0))
    m = s.track("Melody").notes
    assert m["pitch"].min() >= 64 and m["pitch"].max() <= 79
    assert (m["duration"] <= s.tpq).all()


def test_density_moves_the_music():
    def hits(level):
        s = generate("drums", bars=8, seed=3, control=Control(density=level))
        return len(s.tracks[0].notes)

    assert hits(0.1) < hits(0.9)


# --- conflicts and dead ends --------------------------------------------------------------
def test_static_conflict_names_both():
    with pytest.raises(ConstraintError, match=r"scale lock \(C major\) and pitch range \(Db4..Db4\)"):
        generate("folk", control=Control(scale="major", low="C#4", high="C#4"))
    with pytest.raises(ConstraintError, match="leave none of the pitches"):
        generate("blues", bars=4, control=Control(low="C1", high="B1"))


class _Toy:
    """0 starts; then 3 tokens from 2..9; 1 ends."""

    def start(self):
        return 0

    def allowed(self, n):
        m = np.zeros(10, bool)
        m[[0] if n == 0 else [1] if n == 4 else range(2, 10)] = True
        return m

    def advance(self, n, tok):
        return n + 1 if n < 4 else 5

    def done(self, n):
        return n == 5


class _Evens(TokenRule):
    name = "evens only"

    def mask(self, st, g):
        m = np.ones(10, bool)
        m[[3, 5, 7, 9]] = False
        return m


class _NotEvenThird(TokenRule):
    name = "no even third token"

    def start(self):
        return 0

    def advance(self, st, tok, g):
        return st + 1

    def mask(self, st, g):
        m = np.ones(10, bool)
        if st == 3:
            m[[2, 4, 6, 8]] = False
        return m


def _model():
    torch.manual_seed(0)
    return build_model("token_lstm", {"vocab_size": 10, "input_size": 8, "hidden": 16, "layers": 1})


def test_backtracking_and_named_conflict():
    # Dead end that backtracking cannot fix: the third token must be odd and even at once.
    with pytest.raises(ConstraintError, match="evens only and no even third token"):
        sample_tokens(_model(), [0], 10, grammar=_Toy(), constraints=[_Evens(), _NotEvenThird()])

    class LastIsSix(TokenRule):
        """The third body token must be 6 if the first was 2: a dead end the sampler backtracks out of."""

        name = "six after two"

        def start(self):
            return ()

        def advance(self, st, tok, g):
            return st + (tok,)

        def mask(self, st, g):
            m = np.ones(10, bool)
            if len(st) == 3 and st[1] == 2:
                m[:] = False  # nothing allowed: only another first token avoids this
            return m

    rec = new_explain([LastIsSix()])
    for seed in range(6):
        out = sample_tokens(_model(), [0], 10, grammar=_Toy(), constraints=[LastIsSix()], seed=seed,
                            temperature=3.0, explain=rec)[0]
        assert out[0] == 0 and out[1] != 2 and out[-1] == 1 and len(out) == 5
    assert rec["steps"] > 0


def test_form_folk_sections_repeat_and_cadence():
    from composer.constraints import Control
    from composer.tokenizers.abc_tokens import token_pitch

    s = generate("folk", key="C", seed=7, form="AABB", control=Control(vary=0.0))
    bars = s.meta["bars"]
    kinds = [k for _, k in bars]
    assert kinds.count("||") == 3 and kinds[-1] == "|]" and len(kinds) == 32
    ticks = [0] + [t for t, _ in bars]
    n = s.tracks[0].notes

    def bar_notes(i):
        a, b = ticks[i], ticks[i + 1]
        sel = n[(n["start"] >= a) & (n["start"] < b)]
        return [(int(x["start"] - a), int(x["duration"]), int(x["pitch"])) for x in sel]

    assert all(bar_notes(i) == bar_notes(i + 8) for i in range(8))  # A A verbatim
    assert all(bar_notes(16 + i) == bar_notes(24 + i) for i in range(8))  # B B verbatim
    for end, ok in ((7, {0, 7}), (15, {0, 7}), (23, {0}), (31, {0})):
        assert bar_notes(end)[-1][2] % 12 in ok
    assert token_pitch("C", "major") == 60


def test_form_vary_changes_some_bars_only():
    s = generate("folk", key="C", seed=7, form="AABB", control=Control(vary=0.5))
    ticks = [0] + [t for t, _ in s.meta["bars"]]
    n = s.tracks[0].notes

    def bar(i):
        sel = n[(n["start"] >= ticks[i]) & (n["start"] < ticks[i + 1])]
        return [(int(x["start"] - ticks[i]), int(x["pitch"])) for x in sel]

    same = sum(bar(i) == bar(i + 8) for i in range(8))
    assert len(ticks) == 33 and 2 <= same <= 6


def test_plans():
    assert parse_plan("AABB", None) == [("A", 8), ("A", 8), ("B", 8), ("B", 8)]
    assert parse_plan("A4B4", None) == [("A", 4), ("B", 4)]
    assert parse_plan("intro verse chorus verse", 16) == [("intro", 4), ("verse", 4), ("chorus", 4), ("verse", 4)]
    s = generate("folk", seed=1, form="intro verse chorus verse", bars=16)
    assert [k for _, k in s.meta["bars"]].count("||") == 3


# --- bad input ------------------------------------------------------------------------------
def test_bad_input_messages():
    with pytest.raises(InputError, match="valid scales: major, minor, dorian"):
        resolve_scale("hypolydian")
    with pytest.raises(ConstraintError, match="drums style cannot take a form"):
        generate("drums", form="AABA")
    with pytest.raises(ConstraintError, match="does not apply to the drums style"):
        generate("drums", control=Control(scale="major"))
    with pytest.raises(InputError, match="give a --form too"):
        generate("folk", control=Control(vary=0.3))
    with pytest.raises(InputError, match="strength"):
        ScaleLock(0, "major", 1.5)
    with pytest.raises(InputError, match="low <= high"):
        PitchRange(70, 60)
    with pytest.raises(InputError, match="unknown pitch"):
        parse_pitch("H4")
    assert parse_pitch("C4") == 60 and parse_pitch("Bb2") == 46 and parse_pitch("F#5") == 78


def test_cli_explain_and_errors(tmp_path):
    r = CliRunner().invoke(cli, ["generate", "--style", "folk", "--key", "D", "--scale", "dorian", "--explain",
                                 "-o", str(tmp_path / "t.abc")])
    assert r.exit_code == 0, r.output
    assert "scale lock (D dorian)" in r.output and "changed the choice" in r.output
    r = CliRunner().invoke(cli, ["generate", "--style", "folk", "--scale", "nope", "-o", str(tmp_path / "u.abc")])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "valid scales" in r.output
    r = CliRunner().invoke(cli, ["generate", "--style", "folk", "--scale", "major", "--low", "C#4", "--high", "C#4",
                                 "-o", str(tmp_path / "v.abc")])
    assert r.exit_code == 1 and "conflicting constraints" in r.output


def test_jazz_form_vary():
    from composer.chart import score_to_chart
    from composer.tokenizers.chord_grammar import check_form, parse_form

    plan = parse_form("AABA", 32)

    def differing(vary):
        s = generate("jazz", key="C", seed=4, form="AABA", control=Control(vary=vary))
        chart = score_to_chart(s)
        r = check_form(chart, plan)
        assert r["bars"] and r["sections"] and r["cadences"]
        assert r["repeats"] or vary > 0
        return sum(chart.bars[i] != chart.bars[8 + i] for i in range(6))  # the copied bars of A'

    assert differing(0.0) == 0 and differing(0.5) >= 1
    with pytest.raises(InputError, match="vary must be between 0"):
        generate("jazz", form="AABA", control=Control(vary=2.0))
