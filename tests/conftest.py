"""Test-session settings: one torch thread (the suite's models are tiny: threads only add
hand-off cost, and on a loaded 2-core machine they stall every step), no progress bars."""

import os

os.environ.setdefault("TQDM_DISABLE", "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)
