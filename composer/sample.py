"""The one sampler: streams a model one step at a time, carrying its state (O(1) per step).

Frame models draw a whole frame per step through ``model.draw`` (which enforces held notes);
the clock for each step comes from the tokenizer. Same seed, same model, same thread count:
the same output, bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["sample_frames"]


@torch.no_grad()
def sample_frames(model, cond: np.ndarray, *, batch: int = 1, temperature: float = 1.0,
                  seed: int = 0, prime: np.ndarray | None = None, device: str = "cpu") -> np.ndarray:
    """Draw ``batch`` frame sequences of ``len(cond)`` steps; returns (batch, T, D) uint8.

    ``prime`` (P, D) frames are fed as given and returned unchanged as the first P steps.
    """
    if temperature <= 0:
        from .errors import InputError

        raise InputError(f"temperature must be > 0, got {temperature}")
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
