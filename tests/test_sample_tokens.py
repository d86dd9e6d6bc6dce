"""The token sampler: filters, grammar masks, streaming state, determinism."""

import numpy as np
import pytest
import torch

from composer.errors import InputError
from composer.models import build_model
from composer.sample import filter_logits, sample_tokens


class EvenThenStop:
    """A toy grammar: 0 starts, then tokens 2..9 alternate even/odd, 1 ends the piece after 6 of them."""

    def start(self):
        return (-1, None)

    def allowed(self, state):
        n, last = state
        mask = np.zeros(10, bool)
        if n < 0:
            mask[0] = True
            return mask
        if n >= 6:
            mask[1] = True
            return mask
        want = 0 if last is None or last % 2 else 1
        mask[[t for t in range(2, 10) if (t % 2 == 0) == (want == 0)]] = True
        return mask

    def advance(self, state, tok):
        return (state[0] + 1, tok if state[0] >= 0 else None)

    def done(self, state):
        return state[1] == 1


def _model():
    torch.manual_seed(0)
    return build_model("token_lstm", {"vocab_size": 10, "input_size": 8, "hidden": 16, "layers": 1})


def test_filters():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert (filter_logits(logits, top_k=2) > -1e30).tolist() == [[False, True, True, False]]
    p = torch.softmax(logits, -1)[0]
    kept = filter_logits(logits, top_p=float(p[1]) + 1e-3) > -1e30
    assert kept.tolist() == [[False, True, True, False]]
    assert (filter_logits(logits, top_p=0.01) > -1e30).sum() == 1


def test_grammar_makes_invalid_output_impossible():
    out = sample_tokens(_model(), [0], 50, grammar=EvenThenStop(), batch=8, seed=3, temperature=2.0)
    for seq in out:
        body = seq[1:-1]
        assert seq[-1] == 1 and len(body) == 6
        assert all((a % 2) != (b % 2) for a, b in zip(body, body[1:]))


def test_seeded_and_streaming():
    m = _model()
    a = sample_tokens(m, [0, 4], 20, seed=1, batch=2)
    assert a == sample_tokens(m, [0, 4], 20, seed=1, batch=2)
    assert all(len(s) == 22 and s[:2] == [0, 4] for s in a)
    assert sample_tokens(m, [0], 30, seed=1, stop=3)[0].count(3) <= 1


def test_bad_prime_and_temperature():
    with pytest.raises(InputError, match="not allowed"):
        sample_tokens(_model(), [0, 1], 5, grammar=EvenThenStop())
    with pytest.raises(InputError, match="temperature"):
        sample_tokens(_model(), [0], 5, temperature=0)
