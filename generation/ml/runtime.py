"""Process-wide torch settings, applied where torch runs (worker processes)."""

from __future__ import annotations

import torch


def torch_threads_set(threads: int) -> None:
    """Give this process ``threads`` intra-op threads (several worker processes share the cores)."""
    torch.set_num_threads(threads)
