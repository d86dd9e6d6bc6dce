"""Frame models: exact normalised likelihood, streaming = full pass, constrained sampling."""

import itertools
from dataclasses import asdict

import numpy as np
import pytest
import torch

from composer.models import build_model
from composer.models.frame import FrameConfig, FrameLSTM
from composer.sample import sample_frames
from composer.tokenizers.pianoroll import PianoRollTokenizer

TINY_GROUPS = [
    {"name": "on", "kind": "bernoulli", "size": 1},
    {"name": "bits", "kind": "nade", "size": 4, "onset": "on"},
    {"name": "mon", "kind": "bernoulli", "size": 1},
    {"name": "line", "kind": "categorical", "size": 3, "onset": "mon"},
]


def _all_frames():
    rows = []
    for bits in itertools.product([0, 1], repeat=6):
        for k in range(3):
            rows.append(list(bits) + [float(i == k) for i in range(3)])
    return torch.tensor(rows)


def test_likelihood_is_normalised_over_every_frame():
    torch.manual_seed(0)
    m = FrameLSTM(FrameConfig(groups=TINY_GROUPS, cond_size=2, hidden=8, nade_hidden=5))
    frames = _all_frames()  # all 2^6 * 3 frames
    h = torch.randn(1, 8).expand(len(frames), 8)
    assert abs(m.log_prob(h, frames).exp().sum().item() - 1.0) < 1e-5


def test_sampling_matches_the_model_marginals():
    torch.manual_seed(1)
    m = FrameLSTM(FrameConfig(groups=TINY_GROUPS, cond_size=0, hidden=8, nade_hidden=5)).eval()
    h = torch.randn(1, 8)
    frames = _all_frames()
    p = m.log_prob(h.expand(len(frames), 8), frames).exp()
    marg = (p[:, None] * frames).sum(0)  # exact marginal of each bit
    gen = torch.Generator().manual_seed(0)
    n = 20000
    prev = torch.zeros(n, frames.shape[1])
    prev[:, 6] = 1  # previous line = index 0 (silence)
    draws = m.draw(h.expand(n, 8), prev, 1.0, gen)
    # The first group has no hold rule before it: it follows the model exactly.
    assert abs(draws[:, 0].mean() - marg[0]) < 0.015
    # Where the onset bit is 1, the NADE bits follow p(bits | on=1).
    on = frames[:, 0] == 1
    cond_marg = (p[on, None] * frames[on]).sum(0) / p[on].sum()
    sel = draws[:, 0] == 1
    assert torch.allclose(draws[sel, 1:5].mean(0), cond_marg[1:5], atol=0.02)


def test_held_groups_repeat_the_previous_frame():
    m = FrameLSTM(FrameConfig(groups=TINY_GROUPS, cond_size=0, hidden=8)).eval()
    with torch.no_grad():
        for head in (m.heads[0], m.heads[2]):
            head.proj.bias.fill_(-50.0)  # onsets never fire
    prev = torch.tensor([[0, 1, 0, 1, 1, 0, 0, 0, 1.0]])
    out = m.draw(torch.randn(1, 8), prev, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, prev)


@pytest.mark.parametrize("lookback", [0, 1, 4])
def test_streaming_equals_full_pass(lookback):
    tok = PianoRollTokenizer()
    cfg = {"groups": [asdict(g) for g in tok.groups], "cond_size": tok.cond_size, "hidden": 16, "layers": 2,
           "lookback": lookback, "lookback_groups": ["chord_onset", "chord"]}
    m = build_model("frame_lstm", cfg).eval()
    x = torch.rand(1, 10, tok.frame_size).round()
    c = torch.as_tensor(tok.conditioning(10))[None]
    full, _ = m(x, c)
    state, steps = None, []
    for t in range(10):
        h, state = m(x[:, t : t + 1], c[:, t : t + 1], state)
        steps.append(h)
    assert torch.allclose(full, torch.cat(steps, 1), atol=1e-6)


def test_lookback_reads_the_frame_one_period_back():
    tok = PianoRollTokenizer()
    cfg = {"groups": [asdict(g) for g in tok.groups], "cond_size": 0, "hidden": 8, "layers": 1,
           "lookback": 3, "lookback_groups": ["chord"]}
    m = build_model("frame_lstm", cfg).eval()
    seen = []
    m.trunk.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    x = torch.zeros(1, 6, tok.frame_size)
    x[0, 1, tok.slices["chord"].start + 4] = 1  # input 1 holds frame 0
    m(x, torch.zeros(1, 6, 0))
    look = seen[0][0, :, tok.frame_size:]  # the lookback bits the LSTM read at each position
    assert look[3, 4] == 1 and look[:3].sum() == 0 and look[4:].sum() == 0  # predicting frame 3 reads frame 0


def test_sampled_frames_are_valid_and_seeded():
    tok = PianoRollTokenizer()
    cfg = {"groups": [asdict(g) for g in tok.groups], "cond_size": tok.cond_size, "hidden": 16, "layers": 1}
    m = build_model("frame_lstm", cfg)
    cond = tok.conditioning(64)
    a = sample_frames(m, cond, batch=3, seed=7)
    b = sample_frames(m, cond, batch=3, seed=7)
    assert a.shape == (3, 64, tok.frame_size) and np.array_equal(a, b)
    assert (a[..., tok.slices["melody"]].sum(-1) == 1).all()
    mel = a[..., tok.slices["melody"]].argmax(-1)
    onset = a[..., tok.slices["melody_onset"].start]
    assert (mel[onset == 1] > 0).all()  # an onset is never a rest
    held = onset[:, 1:] == 0
    assert (mel[:, 1:][held] == mel[:, :-1][held]).all()  # no onset: the note (or rest) goes on
    score = tok.decode(a[0])
    assert score.track("Melody") is not None


def test_pattern_head_is_normalised_and_draws_only_its_patterns():
    groups = [{"name": "on", "kind": "bernoulli", "size": 1},
              {"name": "chord", "kind": "pattern", "size": 4, "onset": "on", "patterns": [[], [0, 2], [1, 2, 3], [3]]}]
    torch.manual_seed(0)
    m = FrameLSTM(FrameConfig(groups=groups, cond_size=0, hidden=8)).eval()
    frames = torch.tensor([[o, *bits] for o in (0, 1) for bits in itertools.product([0, 1], repeat=4)], dtype=torch.float)
    h = torch.randn(1, 8).expand(len(frames), 8)
    p = m.log_prob(h, frames).exp()
    assert abs(p.sum().item() - 1) < 1e-4  # all mass on the 2 x 4 frames whose chord is a pattern
    prev = torch.zeros(500, 5)
    draws = m.draw(torch.randn(1, 8).expand(500, 8), prev, 1.0, torch.Generator().manual_seed(1))
    chords = {tuple(np.flatnonzero(r[1:].numpy()).tolist()) for r in draws if r[0] == 1}
    assert chords <= {(0, 2), (1, 2, 3), (3,)}  # an onset never draws the empty pattern
