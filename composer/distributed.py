"""Data-parallel training through ``torchrun`` (one process per GPU, any number of nodes).

The contract is data-agnostic: every rank draws the same seeded global batches from
``data.batches(batch_size, seed)`` and keeps rows ``rank::world_size``; the trainer sums losses
and predicted units over ranks, so the gradient equals a single process's on the global batch.

    torchrun --nproc_per_node 4 -m composer.cli train --style folk -o runs/folk
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 --nproc_per_node 8 \\
        -m composer.cli train --config run.toml
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["Dist", "init_distributed", "shard_batch", "all_reduce_sum", "finish_distributed"]


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False  # this module started the process group, so it ends it

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """The rank that writes files, logs and draws the progress bar."""
        return self.rank == 0


def init_distributed(device_type: str) -> Dist:
    """Join the process group ``torchrun`` describes in the environment (WORLD_SIZE, RANK, ...).

    NCCL on CUDA, gloo on CPU. A single process (no WORLD_SIZE, or 1) gets a plain ``Dist()``.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owned=True)


def finish_distributed(d: Dist) -> None:
    import torch.distributed as dist

    if d.owned and dist.is_initialized():
        dist.destroy_process_group()


def shard_batch(batch: dict, d: Dist) -> tuple[dict, float]:
    """This rank's rows of a global batch, and its weight (0 when the batch has fewer rows than
    ranks: the rank then runs row 0 so it still joins the gradient all-reduce, but adds nothing)."""
    if not d.enabled:
        return batch, 1.0
    rows = next(iter(batch.values())).shape[0]
    if d.rank < rows:
        return {k: v[d.rank :: d.world] for k, v in batch.items()}, 1.0
    return {k: v[:1] for k, v in batch.items()}, 0.0


def all_reduce_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum ``t`` over ranks in place (a no-op for one process)."""
    if d.enabled:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t
