"""The LSTM trunk shared by the frame models (blues) and the token models (folk, jazz, drums)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = ["LSTMConfig", "LSTMTrunk", "TokenLSTM"]

State = tuple[torch.Tensor, torch.Tensor]


@dataclass
class LSTMConfig:
    input_size: int = 64
    hidden: int = 256
    layers: int = 2  # Eck & Schmidhuber used one small layer; two keep 12-bar form over long runs
    dropout: float = 0.1
    vocab_size: int = 0  # token models only


class LSTMTrunk(nn.Module):
    """Stacked LSTM over (B, T, input_size); the state makes one-step streaming O(1)."""

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            cfg.input_size, cfg.hidden, cfg.layers, batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        y, state = self.lstm(x, state)  # (B, T, H)
        return self.drop(y), state


class TokenLSTM(nn.Module):
    """folk-rnn style word LSTM: embedding -> LSTM -> logits over the vocabulary."""

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.input_size)
        self.trunk = LSTMTrunk(cfg)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        h, state = self.trunk(self.embed(ids), state)  # (B, T, H)
        return self.head(h), state  # (B, T, V)

    def loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL in nats, number of predicted tokens)."""
        logits, _ = self(batch["inputs"])
        mask = batch["mask"]
        nll = nn.functional.cross_entropy(logits.transpose(1, 2), batch["targets"], reduction="none")
        return (nll * mask).sum(), mask.sum()
