import atexit
import os
import shutil
import tempfile

os.environ.setdefault("XTRACE_NUM_CPU_DEVICES", "4")
# The persistent compilation cache stays on (so the whole suite exercises it) but writes to a
# folder of this test process, never to the user's ~/.cache; tests of the cache use their own.
_CACHE_DIR = tempfile.mkdtemp(prefix="xtrace-test-cache-")
os.environ["XTRACE_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)

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
