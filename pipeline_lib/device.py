"""Where tensors live: CUDA when torch sees a device, else CPU; METAGEN_DEVICE overrides."""
from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    name = os.environ.get("METAGEN_DEVICE", "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
