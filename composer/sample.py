"""The one sampler: streams a model one step at a time, carrying its state (O(1) per step).

Frame models draw a whole frame per step through ``model.draw`` (which enforces held notes);
the clock for each step comes from the tokenizer. Same seed, same model, same thread count:
the same output, bit for bit. Constraints (composer.constraints) mask or bias the logits of
each step on top of a grammar; token sampling backtracks out of the dead ends they make.
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

__all__ = ["Grammar", "filter_logits", "new_explain", "sample_frames", "sample_tokens", "token_log_likelihood"]

MAX_BACKTRACKS = 2000  # resamples after dead ends before the sampler names the conflict
MAX_DEPTH = 256  # tokens a dead end may undo


def new_explain(rules) -> dict:
    """The record ``--explain`` prints: per constraint, steps where it changed the distribution
    and the expected number of changed choices (the sum over steps of the total-variation
    distance between the distributions with and without it: the chance a coupled draw differs)."""
    return {"steps": 0, "backtracks": 0,
            "constraints": [{"name": r.name, "hard": bool(r.hard), "applied": 0, "changed": 0.0} for r in rules]}


def _tv(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return 0.5 * (p - q).abs().sum(-1)


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
                  seed: int = 0, prime: np.ndarray | None = None, device: str = "cpu",
                  constraints=(), explain: dict | None = None) -> np.ndarray:
    """Draw ``batch`` frame sequences of ``len(cond)`` steps; returns (batch, T, D) uint8.

    ``constraints`` are bound frame rules (composer.constraints) that mask or bias a group's
    logits each step; ``explain`` (from ``new_explain``) collects how much each one changed.

    ``cond`` is (T, C), shared by the batch, or (batch, T, C), one conditioning per sequence.

    ``prime`` (P, D) frames are fed as given and returned unchanged as the first P steps.
    """
    _check_temperature(temperature)
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    cond_t = torch.as_tensor(cond, dtype=torch.float32, device=device)
    if cond_t.dim() == 2:
        cond_t = cond_t.expand(batch, -1, -1)
    T, D = cond_t.shape[1], model.cfg.frame_size
    out = torch.zeros(batch, T, D, device=device)
    prev = torch.zeros(batch, D, device=device)  # the all-zero start frame
    n_prime = 0 if prime is None else len(prime)
    if n_prime:
        out[:, :n_prime] = torch.as_tensor(prime[:T], dtype=torch.float32, device=device)
    state = None
    rules = list(constraints)
    rstates = [r.start(batch) for r in rules]
    adjust = _frame_adjust(model, rules, rstates, explain) if rules else None
    for t in range(T):
        h, state = model(prev[:, None], cond_t[:, t : t + 1], state)  # (B, 1, H)
        if t < n_prime:
            prev = out[:, t]
        else:
            prev = model.draw(h[:, 0], prev, temperature, gen, **({"adjust": adjust} if rules else {}))
            if explain is not None:
                explain["steps"] += batch
        out[:, t] = prev
        if rules:
            frame = prev.cpu().numpy()
            rstates[:] = [r.advance(st, frame) for r, st in zip(rules, rstates)]
    return out.to(torch.uint8).cpu().numpy()


def _frame_adjust(model, rules, rstates, explain):
    """The hook ``model.draw`` calls per group: add every rule's mask/bias, and keep the record."""
    kinds = {g.name: g.kind for g in model.cfg.groups}

    def probs(logits: torch.Tensor, kind: str) -> torch.Tensor:
        if kind == "bernoulli":
            p = torch.sigmoid(logits)
            return torch.cat([p, 1 - p], -1) if p.shape[-1] == 1 else p
        return torch.softmax(logits, -1)

    def adjust(name: str, logits: torch.Tensor, rows) -> torch.Tensor:
        parts = []
        for i, (r, st) in enumerate(zip(rules, rstates)):
            a = r.adjust(st, name, tuple(logits.shape))
            if a is not None:
                parts.append((i, torch.tensor(np.array(a), dtype=logits.dtype, device=logits.device)))
        if not parts:
            return logits
        total = logits + sum(a for _, a in parts)
        if explain is not None:
            active = torch.ones(len(logits), dtype=torch.bool) if rows is None else rows.cpu()
            p_all = probs(total, kinds[name])
            for i, a in parts:
                without = logits + sum((b for j, b in parts if j != i), torch.zeros_like(logits))
                tv = _tv(p_all, probs(without, kinds[name])).cpu()
                rec = explain["constraints"][i]
                rec["changed"] += float(tv[active].sum())
                rec["applied"] += int(((a != 0).any(-1).cpu() & active).sum())
        return total

    return adjust


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
                  batch: int = 1, device: str = "cpu", constraints=(), explain: dict | None = None) -> list[list[int]]:
    """Continue ``prime`` by up to ``max_new`` tokens per sequence, streaming the model's state.

    With a grammar, tokens it forbids get zero probability and a sequence ends when the grammar
    says it is complete; without one, at ``stop`` (kept in the output) or after ``max_new``.
    ``constraints`` (bound token rules, composer.constraints) mask or bias the logits on top of
    the grammar; when their masks leave no token the sampler backtracks, and names them if that
    fails. With constraints the sequences are drawn one by one (row b with seed ``seed + b``).
    """
    _check_temperature(temperature)
    if not prime:
        raise InputError("sampling needs at least one prime token (a start token)")
    if constraints or explain is not None:
        return [_sample_constrained(model, prime, max_new, temperature, top_k, top_p, seed + b, grammar, stop,
                                    device, list(constraints), explain) for b in range(batch)]
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


def _describe(vocab, seq: list[int]) -> str:
    tail = seq[-4:]
    return " ".join(vocab[t] for t in tail) if vocab else " ".join(map(str, tail))


def _sample_constrained(model, prime, max_new, temperature, top_k, top_p, seed, grammar, stop, device, rules,
                        explain) -> list[int]:
    """One sequence under grammar + rules, with backtracking out of dead ends (see sample_tokens)."""
    from .constraints import NEG, ConstraintError

    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    vocab = getattr(grammar, "vocab", None)
    g = grammar.start() if grammar is not None else None
    cs = [r.start() for r in rules]
    for tok in prime:
        if grammar is not None:
            if not grammar.allowed(g)[tok]:
                raise InputError(f"the prime is not valid here: token {tok} is not allowed by the grammar")
            g = grammar.advance(g, tok)
        cs = [r.advance(c, tok, g) for r, c in zip(rules, cs)]
    logits, state = model(torch.tensor([prime], device=device), None)
    logits = logits[0, -1].float()
    V = logits.shape[-1]
    seq, hist, refeed, backtracks, blame = list(prime), [], False, 0, None
    banned = np.zeros(V, bool)
    while len(seq) - len(prime) < max_new:
        gmask = grammar.allowed(g) if grammar is not None else np.ones(V, bool)
        hard = [(i, r.mask(c, g)) for i, (r, c) in enumerate(zip(rules, cs))]
        hard = [(i, m) for i, m in hard if m is not None]
        mask = gmask & ~banned
        for _, m in hard:
            mask = mask & m
        if not mask.any():
            base = gmask & ~banned
            if blame is None and base.any():
                who = [rules[i].name for i, _ in hard
                       if np.logical_and.reduce([base] + [m for j, m in hard if j != i]).any()]
                blame = (who or [rules[i].name for i, m in hard if not (base & m).all()], len(seq) - len(prime),
                         _describe(vocab, seq))
            if not base.any() and grammar is not None and not gmask.any():
                raise ComposerError("the grammar left no allowed token (a dead end in its state machine)")
            if not hist or backtracks >= MAX_BACKTRACKS:
                names, at, where = blame or ([r.name for r in rules], len(seq) - len(prime), _describe(vocab, seq))
                what = " and ".join(names) if len(names) > 1 else f"{names[0]} and the style's grammar"
                raise ConstraintError(f"conflicting constraints: {what} leave no token to write at token {at} "
                                      f"(after {where!r}), even after {backtracks} backtracks")
            backtracks += 1
            undone = seq.pop()
            g, cs, logits, banned = hist.pop()
            banned = banned.copy()
            banned[undone] = True
            refeed = True
            continue
        lg = logits.masked_fill(~torch.as_tensor(mask, device=logits.device), NEG)
        biases = [(i, r.bias(c, g)) for i, (r, c) in enumerate(zip(rules, cs))]
        biases = [(i, torch.as_tensor(np.asarray(b), dtype=lg.dtype, device=lg.device)) for i, b in biases if b is not None]
        for _, b in biases:
            lg = lg + b
        probs = torch.softmax(filter_logits(lg, temperature, top_k, top_p), -1)
        tok = int(torch.multinomial(probs, 1, generator=gen))
        if explain is not None:
            explain["steps"] += 1
            _explain_step(explain, logits, gmask & ~banned, hard, biases, probs, temperature, top_k, top_p, NEG)
        hist.append((g, cs, logits, banned))
        if len(hist) > MAX_DEPTH:
            hist.pop(0)
        banned = np.zeros(V, bool)
        seq.append(tok)
        if grammar is not None:
            g = grammar.advance(g, tok)
        cs = [r.advance(c, tok, g) for r, c in zip(rules, cs)]
        if (grammar is not None and grammar.done(g)) or (grammar is None and stop is not None and tok == stop):
            break
        if refeed:  # after a backtrack the streamed state is stale: rebuild it from the whole prefix
            logits, state = model(torch.tensor([seq], device=device), None)
            refeed = False
        else:
            logits, state = model(torch.tensor([[tok]], device=device), state)
        logits = logits[0, -1].float()
    if explain is not None:
        explain["backtracks"] += backtracks
    return seq


def _explain_step(explain, logits, base, hard, biases, probs, temperature, top_k, top_p, neg) -> None:
    """Add one step to the record: for each rule, the distribution without it against the one used."""
    for k, rec in enumerate(explain["constraints"]):
        mask = base.copy()
        for i, m in hard:
            if i != k:
                mask &= m
        own_mask = next((m for i, m in hard if i == k), None)
        own_bias = next((b for i, b in biases if i == k), None)
        if own_mask is None and own_bias is None:
            continue
        if not mask.any():
            continue
        lg = logits.masked_fill(~torch.as_tensor(mask, device=logits.device), neg)
        for i, b in biases:
            if i != k:
                lg = lg + b
        without = torch.softmax(filter_logits(lg, temperature, top_k, top_p), -1)
        acts = (own_mask is not None and not (mask <= own_mask).all()) or (own_bias is not None and bool(own_bias.any()))
        rec["applied"] += int(acts)
        rec["changed"] += float(_tv(probs, without))


@torch.no_grad()
def token_log_likelihood(model, ids: list[int], grammar: Grammar | None = None, n_given: int = 1) -> np.ndarray:
    """log p of each token after the first ``n_given`` under the model (renormalised over what the
    grammar allows, as the sampler draws at temperature 1): what a constraint costs the model."""
    model.eval()
    logits, _ = model(torch.tensor([ids]), None)
    logits = logits[0, :-1].float()  # logits[i] predicts ids[i + 1]
    if grammar is not None:
        g = grammar.start()
        masks = []
        for t in ids[:-1]:
            g = grammar.advance(g, t)
            masks.append(grammar.allowed(g))
        logits = logits.masked_fill(~torch.as_tensor(np.stack(masks)), float("-inf"))
    lp = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    return lp[n_given - 1:].numpy()
