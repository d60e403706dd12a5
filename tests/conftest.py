"""Shared test configuration: fixed seeds and a bounded thread count."""

import os

import numpy as np
import pytest
import torch

# Two cores on CI; keep each test process from oversubscribing them.
torch.set_num_threads(int(os.environ.get("DEEPSTRF_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 - doctests draw from the global NumPy generator
    yield
