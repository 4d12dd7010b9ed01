"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """torch on one thread for the test, the caller's count restored after.

    Each loop of a call runs on the thread count that times faster
    (``sk_dae._threads``), and a BLAS may round otherwise on another count: two
    fits with the same ``random_state`` are equal within float32 rounding. On
    one thread there is no choice, and they are equal bit for bit, which the
    tests of exact reproducibility check.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
