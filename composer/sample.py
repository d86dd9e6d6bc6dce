"""The one sampler: streams a model one step at a time, carrying its state (O(1) per step).

Frame models draw a whole frame per step through ``model.draw`` (which enforces held notes);
the clock for each step comes from the tokenizer. Same seed, same model, same thread count:
the same output, bit for bit.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import numpy as np
import torch

from .errors import ComposerError, InputError


class Grammar(Protocol):
    """A state machine over token ids that a tokenizer offers so invalid output is impossible.

    ``start`` gives the state before the first token, ``allowed`` the boolean mask (V,) of
    tokens that keep the piece valid, ``advance`` the state after one token, ``done`` whether
    the piece is complete (the sampler stops there).
    """

    def start(self) -> Any: ...
    def allowed(self, state: Any) -> np.ndarray: ...
    def advance(self, state: Any, token: int) -> Any: ...
    def done(self, state: Any) -> bool: ...

__all__ = ["sample_frames", "sample_tokens", "filter_logits", "Grammar"]


@contextlib.contextmanager
def _one_thread():
    """Streaming runs thousands of tiny steps: thread hand-offs cost more than they save, and
    under load they stall each step by milliseconds. One thread is several times faster here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise InputError(f"temperature must be > 0, got {temperature}")


@torch.no_grad()
@_one_thread()
def sample_frames(model, cond: np.ndarray, *, batch: int = 1, temperature: float = 1.0,
                  seed: int = 0, prime: np.ndarray | None = None, device: str = "cpu") -> np.ndarray:
    """Draw ``batch`` frame sequences of ``len(cond)`` steps; returns (batch, T, D) uint8.

    ``prime`` (P, D) frames are fed as given and returned unchanged as the first P steps.
    """
    _check_temperature(temperature)
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    cond_t = torch.as_tensor(cond, dtype=torch.float32, device=device)
    T, D = len(cond_t), model.cfg.frame_size
    out = torch.zeros(batch, T, D, device=device)
    prev = torch.zeros(batch, D, device=device)  # the all-zero start frame
    n_prime = 0 if prime is None else len(prime)
    if n_prime:
        out[:, :n_prime] = torch.as_tensor(prime[:T], dtype=torch.float32, device=device)
    state = None
    for t in range(T):
        h, state = model(prev[:, None], cond_t[t].expand(batch, 1, -1), state)  # (B, 1, H)
        prev = out[:, t] if t < n_prime else model.draw(h[:, 0], prev, temperature, gen)
        out[:, t] = prev
    return out.to(torch.uint8).cpu().numpy()


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Temperature, then keep the ``top_k`` best and the smallest set with mass >= ``top_p``."""
    logits = logits / temperature
    neg = torch.finfo(logits.dtype).min
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, neg)
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, -1).cumsum(-1)
        drop = cum - torch.softmax(sorted_logits, -1) >= top_p  # keep the token that crosses top_p
        logits = logits.masked_fill(drop.scatter(-1, idx, drop), neg)
    return logits


@torch.no_grad()
@_one_thread()
def sample_tokens(model, prime: list[int], max_new: int, *, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, seed: int = 0, grammar: Grammar | None = None, stop: int | None = None,
                  batch: int = 1, device: str = "cpu") -> list[list[int]]:
    """Continue ``prime`` by up to ``max_new`` tokens per sequence, streaming the model's state.

    With a grammar, tokens it forbids get zero probability and a sequence ends when the grammar
    says it is complete; without one, at ``stop`` (kept in the output) or after ``max_new``.
    """
    _check_temperature(temperature)
    if not prime:
        raise InputError("sampling needs at least one prime token (a start token)")
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    states = None
    if grammar is not None:
        states = [grammar.start() for _ in range(batch)]
        for tok in prime:
            allowed = grammar.allowed(states[0])
            if not allowed[tok]:
                raise InputError(f"the prime is not valid here: token {tok} is not allowed by the grammar")
            states = [grammar.advance(st, tok) for st in states]
    ids = torch.tensor([prime] * batch, device=device)
    logits, state = model(ids, None)  # (B, P, V)
    logits = logits[:, -1]
    out = [list(prime) for _ in range(batch)]
    alive = [True] * batch
    for _ in range(max_new):
        if grammar is not None:
            masks = np.stack([grammar.allowed(st) if a else np.ones(logits.shape[-1], bool) for st, a in zip(states, alive)])
            if not masks.any(1).all():
                raise ComposerError("the grammar left no allowed token (a dead end in its state machine)")
            logits = logits.masked_fill(~torch.as_tensor(masks, device=device), torch.finfo(logits.dtype).min)
        probs = torch.softmax(filter_logits(logits.float(), temperature, top_k, top_p), -1)
        nxt = torch.multinomial(probs, 1, generator=gen)  # (B, 1)
        for b, t in enumerate(nxt[:, 0].tolist()):
            if not alive[b]:
                continue
            out[b].append(t)
            if grammar is not None:
                states[b] = grammar.advance(states[b], t)
                alive[b] = not grammar.done(states[b])
            elif stop is not None and t == stop:
                alive[b] = False
        if not any(alive):
            break
        logits, state = model(nxt, state)
        logits = logits[:, -1]
    return out
