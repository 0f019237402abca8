import os

os.environ.setdefault("XTRACE_NUM_CPU_DEVICES", "4")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xtrace  # noqa: E402


@pytest.fixture
def x64():
    """Run a test with 64-bit types enabled."""
    with xtrace.enable_x64(True):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
