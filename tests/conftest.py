import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def mirror_quarter(q):
    """Full cell from its top-left quarter, mirrored about both mid-axes."""
    top = np.concatenate([q, q[..., :, ::-1]], axis=-1)
    return np.concatenate([top, top[..., ::-1, :]], axis=-2)


def pytest_collection_modifyitems(config, items):
    """The slow end-to-end files first: with two workers taking whole files (pyproject's addopts),
    the tiny run and the SLURM run then start at once and the unit tests fill the gaps, instead of a
    slow file starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
