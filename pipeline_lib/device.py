"""Where tensors live: CUDA when torch sees a device, else CPU; METAGEN_DEVICE overrides."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a device is asked for: `metagen inspect` needs none
    import torch


class DeviceError(RuntimeError):
    """A device was asked for (METAGEN_DEVICE) that torch cannot use here."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def default_device() -> "torch.device":
    """CUDA when torch sees a device, else CPU; METAGEN_DEVICE names one, and a CUDA device asked
    for but absent stops here, saying so (not deep inside a model)."""
    import torch

    name = os.environ.get("METAGEN_DEVICE", "").strip()
    if name:
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            why = "built without CUDA" if torch.version.cuda is None else "sees no CUDA device (driver, CUDA_VISIBLE_DEVICES?)"
            raise DeviceError(f"METAGEN_DEVICE={name} asks for a GPU, but torch {torch.__version__} {why}",
                              "unset METAGEN_DEVICE to run on the CPU, or run where `python -c 'import torch; "
                              "print(torch.cuda.is_available())'` prints True")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"METAGEN_DEVICE={name}, but torch sees {torch.cuda.device_count()} CUDA device(s)",
                              f"set METAGEN_DEVICE=cuda:0 .. cuda:{torch.cuda.device_count() - 1}, or unset it")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def torch_threads(n: int):
    """Run a block with n intra-op torch threads, then restore the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
