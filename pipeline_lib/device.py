"""Where tensors live: CUDA when torch sees a device, else CPU; METAGEN_DEVICE overrides."""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch


def default_device() -> torch.device:
    name = os.environ.get("METAGEN_DEVICE", "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def torch_threads(n: int):
    """Run a block with n intra-op torch threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
