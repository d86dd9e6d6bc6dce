"""Generation speed of the token transformer with its KV cache vs without, and the LSTM beside it.

Without a cache each new token re-runs the whole prefix, so token n costs O(n) and a piece of N
tokens O(N^2); with the cache token n costs one token's projections plus one attention read over
the cache, so the per-token time stays nearly flat and the piece costs O(N) model work.

Generating 4k tokens without the cache would take many minutes on a small CPU, so at each context
length L the bench primes the model with L - W tokens and times a window of W new tokens (greedy,
batch 1), with and without the cache. Default run: a few minutes at most on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

from composer.models import build_model


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@torch.inference_mode()
def cached_ms(model, prefix: torch.Tensor, window: int) -> tuple[float, float]:
    """(prefill seconds for ``prefix``, ms per token over ``window`` streamed steps)."""
    t0 = time.perf_counter()
    logits, state = model(prefix)
    prefill = time.perf_counter() - t0
    nxt = logits[:, -1:].argmax(-1)  # (B, 1)
    t0 = time.perf_counter()
    for _ in range(window):
        logits, state = model(nxt, state)
        nxt = logits[:, -1:].argmax(-1)
    return prefill, 1e3 * (time.perf_counter() - t0) / window


@torch.inference_mode()
def uncached_ms(model, prefix: torch.Tensor, window: int) -> float:
    """ms per token when every step re-runs the whole prefix (train mode + dropout 0: no cache built)."""
    model.train()
    ids = prefix
    t0 = time.perf_counter()
    for _ in range(window):
        logits, _ = model(ids)
        ids = torch.cat([ids, logits[:, -1:].argmax(-1)], 1)
    model.eval()
    return 1e3 * (time.perf_counter() - t0) / window


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 4096], help="total context lengths")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--window", type=int, default=64, help="new tokens timed with the cache")
    ap.add_argument("--uncached-window", type=int, default=3, help="new tokens timed without the cache")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    block = max(args.contexts)
    tf = build_model("token_transformer", {"vocab_size": args.vocab, "n_layer": args.layers, "n_head": args.heads,
                                            "n_embd": args.dim, "block_size": block, "dropout": 0.0}).eval()
    n_tf = _params(tf)
    # An LSTM of about the same size: 2 layers of hidden h hold 16 h^2 + 2 V h parameters (+ biases).
    h = 32 * round((-2 * args.vocab + (4 * args.vocab**2 + 64 * n_tf) ** 0.5) / 32 / 32)
    lstm = build_model("token_lstm", {"vocab_size": args.vocab, "input_size": h, "hidden": h, "layers": 2,
                                 "dropout": 0.0}).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, greedy")
    print(f"transformer: {args.layers} layers x {args.dim} dim, {args.heads} heads, block {block}, "
          f"{n_tf / 1e6:.1f}M parameters")
    print(f"LSTM:        2 layers x {h} hidden, {_params(lstm) / 1e6:.1f}M parameters")
    print(f"each row: prime context - W tokens, then time W new tokens "
          f"(W = {args.window} with the cache / LSTM, {args.uncached_window} without the cache)\n")
    print(f"{'context':>8} {'prefill s':>10} {'cached ms/tok':>14} {'tok/s':>7} {'no cache ms/tok':>16} {'tok/s':>7} "
          f"{'speed-up':>9} {'LSTM ms/tok':>12}")
    rows = []
    for L in args.contexts:
        prefix = torch.randint(0, args.vocab, (1, L - args.window))
        prefill, with_cache = cached_ms(tf, prefix, args.window)
        no_cache = uncached_ms(tf, prefix[:, : L - args.uncached_window], args.uncached_window)
        _, lstm_ms = cached_ms(lstm, prefix, args.window)
        rows.append((L, with_cache, no_cache))
        print(f"{L:>8} {prefill:>10.2f} {with_cache:>14.2f} {1e3 / with_cache:>7.1f} {no_cache:>16.1f} "
              f"{1e3 / no_cache:>7.2f} {no_cache / with_cache:>8.0f}x {lstm_ms:>12.2f}")
    if len(rows) > 1:
        (l0, c0, u0), (l1, c1, u1) = rows[0], rows[-1]
        print(f"\ncontext x{l1 / l0:.0f}: per-token time x{c1 / c0:.2f} with the cache (attention over a longer "
              f"cache; the MLP and projections stay flat), x{u1 / u0:.1f} without it (the whole prefix again).")
    print("Without the cache a piece of N tokens costs sum(n) ~ N^2/2 token-forwards; with it, N token-forwards\n"
          "plus attention reads over the cache, i.e. O(N) model work. The LSTM's step is flat in the context.")


if __name__ == "__main__":
    main()
