"""The piano-roll benchmarks: loader, exact normalised likelihoods, exact sampling, the poly style."""

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from composer.cli import cli
from composer.corpora.polyphonic import KNOWN_SETS, read_polyphonic, rolls_from_midi, to_roll, write_polyphonic
from composer.data import FrameData
from composer.errors import CorpusError
from composer.models.frame import FrameConfig, FrameLSTM
from composer.score import Score, Tempo, TimeSignature, Track, notes_array
from composer.tokenizers.polyroll import PolyRollTokenizer

DATA = Path(os.environ.get("COMPOSER_POLY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "polyphonic"))
TINY = {"conv_channels": 6, "conv_layers": 2, "conv_below": 2, "conv_window": 2, "conv_key_features": 2}
KINDS = ["bernoulli", "nade", "pitchconv"]


def _model(kind: str, size: int = 6, hidden: int = 8, seed: int = 0, history: int = 2) -> FrameLSTM:
    torch.manual_seed(seed)
    return FrameLSTM(FrameConfig(groups=[{"name": "keys", "kind": kind, "size": size}], hidden=hidden, layers=1,
                                 dropout=0.0, nade_hidden=5, **{**TINY, "conv_history": history})).eval()


def _all_frames(size: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)))  # (2^size, size)


def _context(m: FrameLSTM, n: int, seed: int = 0) -> torch.Tensor:
    """One LSTM state (with the previous frame the pitch CNN reads) repeated n times."""
    g = torch.Generator().manual_seed(seed)
    prev = (torch.rand(1, 3, m.cfg.frame_size, generator=g) < 0.5).float()
    with torch.no_grad():
        h, _ = m(prev, torch.zeros(1, 3, 0))
    return h[0, -1:].expand(n, -1)


@pytest.mark.parametrize("kind", KINDS)
def test_likelihood_sums_to_one_over_every_frame(kind):
    m = _model(kind)
    frames = _all_frames(6)  # all 64 frames of a 6-key instrument
    with torch.no_grad():
        total = m.log_prob(_context(m, len(frames)), frames).exp().sum().item()
    assert abs(total - 1.0) < 1e-5


@pytest.mark.parametrize("kind", ["nade", "pitchconv"])
def test_sampling_follows_the_model_distribution(kind):
    m = _model(kind, size=4, seed=3)
    # Sharpen the distribution a little so the test has structure to check.
    frames = _all_frames(4)
    with torch.no_grad():
        p = m.log_prob(_context(m, len(frames), 1), frames).exp()
        n = 20000
        draws = m.draw(_context(m, n, 1), torch.zeros(n, 4), 1.0, torch.Generator().manual_seed(0))
    marg = (p[:, None] * frames).sum(0)
    assert torch.allclose(draws.mean(0), marg, atol=0.015)
    # The whole joint, not only marginals: total variation between empirical and exact frame probabilities.
    index = (draws * torch.tensor([8.0, 4.0, 2.0, 1.0])).sum(1).long()
    empirical = torch.bincount(index, minlength=16).float() / n
    assert 0.5 * (empirical - p).abs().sum() < 0.02


@pytest.mark.parametrize("kind", KINDS)
def test_bit_bias_sets_the_initial_probability_of_every_key(kind):
    torch.manual_seed(0)
    m = FrameLSTM(FrameConfig(groups=[{"name": "keys", "kind": kind, "size": 88}], hidden=8, layers=1,
                              dropout=0.0, nade_hidden=5, bit_bias=-3.0, **TINY)).eval()
    with torch.no_grad():
        nll = -m.log_prob(_context(m, 1), torch.zeros(1, 88)).item()
    assert nll < 88 * 0.2  # all keys off is likely (p(on) near sigmoid(-3) = 0.047), not 2^-88


@pytest.mark.parametrize("history", [1, 3])
def test_pitch_cnn_streaming_equals_a_full_pass(history):
    torch.manual_seed(0)
    m = FrameLSTM(FrameConfig(groups=[{"name": "keys", "kind": "pitchconv", "size": 10}], hidden=8, layers=1,
                              dropout=0.0, **{**TINY, "conv_history": history})).eval()
    x = (torch.rand(2, 7, 10) < 0.3).float()
    with torch.no_grad():
        full, _ = m(x, torch.zeros(2, 7, 0))
        state, steps = None, []
        for t in range(7):
            h, state = m(x[:, t : t + 1], torch.zeros(2, 1, 0), state)
            steps.append(h)
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-5)


def test_loss_ignores_padding_and_matches_piece_by_piece():
    m = _model("pitchconv", size=88)
    rng = np.random.default_rng(0)
    pieces = [(rng.random((n, 88)) < 0.05).astype(np.uint8) for n in (5, 9, 3)]
    data = FrameData(pieces, [np.zeros((len(p), 0), np.float32) for p in pieces], 16)
    with torch.no_grad():
        total, n = m.loss(next(data.batches(3)))
        singles = [m.loss(next(FrameData([p], [np.zeros((len(p), 0), np.float32)], len(p)).batches(1)))[0]
                   for p in pieces]
    assert n.item() == 17
    assert abs(total.item() - sum(s.item() for s in singles)) < 1e-3


def _need(name):
    if not (DATA / name).exists():
        pytest.skip(f"benchmark data not found in {DATA} (set COMPOSER_POLY_DATA)")
    return DATA / name


@pytest.mark.parametrize("name,train,valid", [
    ("jsb_chorales.json", (229, 13807), (76, 4602)),
    ("nottingham.json", (694, 176561), (173, 45513)),
    ("musedata.json", (524, 245202), (135, 82755)),
    ("piano_midi.json", (87, 75911), (12, 8540)),
])
def test_loader_counts_match_the_readme(name, train, valid):
    c = read_polyphonic(_need(name))
    assert c.counts["train"] == train and c.counts["valid"] == valid
    assert c.known is not None and c.known.steps_per_beat == (1 if name.startswith("jsb") else 2)
    roll = np.concatenate(c.split("train"))
    assert roll.shape[1] == 88 and roll.dtype == np.uint8
    if name.startswith("jsb"):  # README: JSB train pitch range 43-96, mean polyphony 3.898, 18 empty frames
        keys = np.flatnonzero(roll.any(0)) + 21
        assert (keys.min(), keys.max()) == (43, 96)
        assert round(float(roll.sum(1).mean()), 3) == 3.898 and int((roll.sum(1) == 0).sum()) == 18


def test_loader_names_the_culprit(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": [[[60, 64], [60, 109]]]}))
    with pytest.raises(CorpusError, match=r"split 'train', piece 0, frame 1: note 109"):
        read_polyphonic(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(CorpusError, match="object of splits"):
        read_polyphonic(bad)
    bad.write_text(json.dumps({"valid": [[[60]]]}))
    with pytest.raises(CorpusError, match="no split 'test'; splits: valid"):
        read_polyphonic(bad).split("test")


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    splits = {"train": [(rng.random((7, 88)) < 0.1).astype(np.uint8)], "mine": [np.zeros((3, 88), np.uint8)]}
    write_polyphonic(tmp_path / "r.json", splits)
    back = read_polyphonic(tmp_path / "r.json")
    assert back.known is None and list(back.splits) == ["train", "mine"]
    assert all(np.array_equal(a, b) for k in splits for a, b in zip(splits[k], back.splits[k]))


def test_midi_folder_gives_the_same_rolls_at_a_chosen_grid(tmp_path):
    from composer.io.midi import write_midi

    # C major triad for a half note, then D for a quarter, in C (no transposition needed).
    notes = notes_array([(0, 960, 60, 80), (0, 960, 64, 80), (0, 960, 67, 80), (960, 480, 62, 80)])
    score = Score(480, [Tempo(0, 100.0)], [TimeSignature(0, 4, 4)], [], [Track("p", 0, False, notes)])
    for i in range(3):
        write_midi(score, tmp_path / f"{i}.mid")
    splits, skipped = rolls_from_midi(tmp_path, steps_per_beat=2)
    assert not skipped and len(splits["train"]) + len(splits["valid"]) == 3
    roll = splits["valid"][0]
    expect = to_roll([[60, 64, 67]] * 4 + [[62]] * 2)
    assert np.array_equal(roll, expect)
    # and back: runs of a key become one note, at the grid
    back = PolyRollTokenizer(steps_per_beat=2).decode(roll)
    assert sorted(map(tuple, back.tracks[0].notes.tolist())) == sorted(map(tuple, notes.tolist()))


def _slice(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    pieces = lambda k: [[sorted({int(x) for x in rng.integers(55, 75, 3)}) for _ in range(int(rng.integers(8, 20)))]
                        for _ in range(k)]
    path = tmp_path / "slice.json"
    path.write_text(json.dumps({"train": pieces(6), "valid": pieces(3), "test": pieces(2)}))
    return path


@pytest.mark.parametrize("model", ["lstm", "nade", "pitchconv"])
def test_train_eval_generate_through_the_cli(tmp_path, model):
    data, run = _slice(tmp_path), tmp_path / "run"
    r = CliRunner().invoke(cli, ["train", "--style", "poly", "--corpus", str(data), "--model", model, "--size", "tiny",
                                 "--epochs", "2", "-o", str(run)])
    assert r.exit_code == 0, r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["config"]["groups"][0]["kind"] == {"lstm": "bernoulli"}.get(model, model)
    samples = "1" if model == "lstm" else "0"  # the musical metrics of a sample work on poly too
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(run), "--data", str(data), "--split", "test",
                                 "--samples", samples])
    assert r.exit_code == 0, r.output
    nll = float(r.output.split("NLL ")[1].split()[0])
    assert 0 < nll < 100  # summed over 88 keys, per frame
    # eval on the valid split repeats the figure training kept with the best checkpoint
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(run), "--data", str(data), "--split", "valid",
                                 "--samples", "0"])
    assert abs(float(r.output.split("NLL ")[1].split()[0]) - cfg["metrics"]["valid_nll"]) < 1e-3
    out = tmp_path / "chorale.mid"
    r = CliRunner().invoke(cli, ["generate", "--checkpoint", str(run), "--bars", "2", "-o", str(out)])
    assert r.exit_code == 0, r.output
    from composer.io.midi import read_midi

    score = read_midi(out)  # two bars at the slice's eighth-note grid, moved to --key C
    assert len(score.tracks) <= 1 and score.end <= 2 * 4 * 480


def test_training_window_cuts_pieces_but_validation_reads_them_whole(tmp_path):
    data, run = _slice(tmp_path), tmp_path / "run"
    r = CliRunner().invoke(cli, ["train", "--style", "poly", "--corpus", str(data), "--size", "tiny", "--epochs", "1",
                                 "--window", "4", "--batch-size", "2", "-o", str(run)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    train = json.loads(data.read_text())["train"]
    windows = sum(-(-len(p) // 4) for p in train)  # each 8-20 frame piece in 4-frame windows
    assert f"({-(-windows // 2)} steps)" in r.output
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(run), "--data", str(data), "--split", "valid",
                                 "--samples", "0"])
    cfg = json.loads((run / "config.json").read_text())
    assert abs(float(r.output.split("NLL ")[1].split()[0]) - cfg["metrics"]["valid_nll"]) < 1e-3
    r = CliRunner().invoke(cli, ["train", "--style", "poly", "--corpus", str(data), "--window", "-1",
                                 "-o", str(tmp_path / "bad")])
    assert r.exit_code == 1 and "window must not be negative" in r.output


def test_eval_split_errors_and_missing_corpus(tmp_path):
    data, run = _slice(tmp_path), tmp_path / "run"
    CliRunner().invoke(cli, ["train", "--style", "poly", "--corpus", str(data), "--size", "tiny", "--max-steps", "1",
                             "-o", str(run)])
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(run), "--data", str(data), "--split", "nope",
                                 "--samples", "0"])
    assert r.exit_code == 1 and "no split 'nope'; splits: train, valid, test" in r.output
    r = CliRunner().invoke(cli, ["train", "--style", "poly", "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "no built-in corpus" in r.output


def test_known_sets_carry_the_published_figures():
    names = {k.name: k for k in KNOWN_SETS.values()}
    assert names["JSB Chorales"].published["RNN-NADE (HF)"] == 5.56
    assert names["Nottingham"].published["RNN-NADE (HF)"] == 2.31
    assert names["MuseData"].published["RNN-NADE (HF)"] == 5.60
    assert names["Piano-midi.de"].published["RNN-NADE (HF)"] == 7.05
