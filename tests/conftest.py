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
