"""The token transformer: causality, KV-cache streaming == full pass, sliding window, loss, tying, training."""

from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from composer.checkpoint import load_checkpoint, save_checkpoint
from composer.errors import ComposerError
from composer.models import build_model, config_dict, model_kind
from composer.models.transformer import KVCache, TokenTransformer, TransformerConfig
from composer.sample import sample_tokens

V = 13


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models gain nothing from threads, and on a busy CPU the thread pool costs 10x."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(block_size: int = 32, dropout: float = 0.0, **kw) -> TokenTransformer:
    torch.manual_seed(0)
    cfg = dict(vocab_size=V, n_layer=2, n_head=2, n_embd=16, block_size=block_size, dropout=dropout, **kw)
    return build_model("token_transformer", cfg).eval()


def _ids(B: int = 2, T: int = 20, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def _stream(m, ids, first: int = 1):
    """Logits from feeding ``first`` tokens at once, then one token per call through the cache."""
    logits, state = m(ids[:, :first])
    out = [logits]
    for t in range(first, ids.shape[1]):
        logits, state = m(ids[:, t:t + 1], state)
        out.append(logits)
    return torch.cat(out, 1), state


@torch.no_grad()
def test_causal():
    m, ids = _model(), _ids()
    a, _ = m(ids)
    changed = ids.clone()
    changed[:, 12] = (changed[:, 12] + 1) % V
    b, _ = m(changed)
    assert torch.allclose(a[:, :12], b[:, :12], atol=1e-6)
    assert not torch.allclose(a[:, 12:], b[:, 12:], atol=1e-3)


@pytest.mark.parametrize("bias", [False, True])
@torch.no_grad()
def test_streaming_with_cache_equals_full_pass(bias):
    m, ids = _model(bias=bias), _ids(T=30)
    full, state = m(ids)
    assert isinstance(state, KVCache) and state.length == 30
    for first in (1, 7):  # one token at a time, and a prime of several tokens then one at a time
        stream, state = _stream(m, ids, first)
        assert state.length == 30
        torch.testing.assert_close(stream, full, atol=1e-5, rtol=0)
    part, state = m(ids[:, :9])  # multi-token cached steps need the offset causal mask
    rest, _ = m(ids[:, 9:], state)
    torch.testing.assert_close(torch.cat([part, rest], 1), full, atol=1e-5, rtol=0)


@torch.no_grad()
def test_past_block_size_the_window_slides():
    m, ids = _model(block_size=8), _ids(T=30)
    full, _ = m(ids)  # eval mode: longer than the block is allowed, with the same sliding rule
    stream, state = _stream(m, ids, 3)
    torch.testing.assert_close(stream, full, atol=1e-5, rtol=0)
    assert state.length <= 8 and state.k.shape[3] == 8  # buffers never grow past the block
    torch.testing.assert_close(full[:, :8], m(ids[:, :8])[0], atol=1e-5, rtol=0)
    changed = ids.clone()
    changed[:, 0] = (changed[:, 0] + 1) % V  # far outside every window the last tokens see
    torch.testing.assert_close(m(changed)[0][:, 20:], full[:, 20:], atol=1e-5, rtol=0)
    m.train()
    with pytest.raises(ComposerError, match="block_size=8"):
        m(ids)


def test_loss_is_summed_cross_entropy_over_the_mask():
    m = _model()
    ids = _ids(T=11)
    mask = torch.ones(2, 10)
    mask[1, 6:] = 0
    batch = {"inputs": ids[:, :-1], "targets": ids[:, 1:], "mask": mask}
    with torch.no_grad():
        total, n = m.loss(batch)
        logits, _ = m(ids[:, :-1])
    logp = F.log_softmax(logits, -1)
    hand = -sum(float(logp[b, t, ids[b, t + 1]]) for b in range(2) for t in range(10) if mask[b, t])
    assert n == 16 and total.item() == pytest.approx(hand, rel=1e-5)


def test_input_and_output_embeddings_are_tied():
    m = _model()
    assert [k for k, v in m.state_dict().items() if v.shape[0] == V] == ["embed.weight"]
    ids = torch.tensor([[0, 1, 2, 1]])  # token 9 is never an input, so only the output head reaches it
    m(ids)[0][0, -1, 9].backward()
    assert m.embed.weight.grad[9].abs().sum() > 0
    with torch.no_grad():
        before = m(ids)[0][0, -1, 9].item()
        m.embed.weight[9] += 1.0
        assert m(ids)[0][0, -1, 9].item() != before


def test_tiny_model_overfits_a_repeating_sequence():
    torch.manual_seed(0)
    cfg = {"vocab_size": V, "n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 64, "dropout": 0.0}
    m = build_model("token_transformer", cfg).train()
    seq = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8] * 4])
    batch = {"inputs": seq[:, :-1], "targets": seq[:, 1:], "mask": torch.ones(1, seq.shape[1] - 1)}
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    for _ in range(120):
        total, n = m.loss(batch)
        opt.zero_grad()
        (total / n).backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        total, n = m.loss(batch)
    assert total / n < 0.05  # from ln(13) = 2.56 at the start: the sequence is learned by heart


def test_sampler_streams_it_deterministically():
    m = _model(block_size=16)
    a = sample_tokens(m, [0, 4, 2], 40, seed=1, batch=3)  # 43 tokens: the window slides twice
    assert a == sample_tokens(m, [0, 4, 2], 40, seed=1, batch=3)
    assert all(len(s) == 43 and s[:3] == [0, 4, 2] for s in a)
    assert a != sample_tokens(m, [0, 4, 2], 40, seed=2, batch=3)


def test_checkpoint_round_trip(tmp_path):
    from composer.tokenizers.pianoroll import PianoRollTokenizer  # any registered tokenizer will do

    m = _model(bias=True)
    assert model_kind(m) == "token_transformer"
    assert config_dict(m) == {"vocab_size": V, "n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 32,
                              "dropout": 0.0, "bias": True, "rope_base": 10000.0}
    save_checkpoint(tmp_path / "ck", m, PianoRollTokenizer(), style="test")
    ck = load_checkpoint(tmp_path / "ck")
    assert isinstance(ck.model, TokenTransformer) and ck.model.cfg == m.cfg
    ids = _ids()
    with torch.no_grad():
        torch.testing.assert_close(ck.model(ids)[0], m(ids)[0], atol=0, rtol=0)


@pytest.mark.parametrize("bad", [{"n_embd": 10, "n_head": 4}, {"n_embd": 12, "n_head": 4}, {"vocab_size": 0}])
def test_bad_config_is_one_clear_error(bad):
    cfg = {**asdict(TransformerConfig(vocab_size=V)), **bad}
    with pytest.raises(ComposerError):
        build_model("token_transformer", cfg)
