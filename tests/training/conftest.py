import pytest

from deepSTRF.datasets import SimulatedDataset


@pytest.fixture(scope="session")
def small_data():
    """Three neurons, twelve short stimuli: fast to fit."""
    return SimulatedDataset(
        n_neurons=3,
        n_stimuli=12,
        n_test_stimuli=2,
        n_frequency_bands=8,
        duration_ms=400.0,
        temporal_window_size=5,
        seed=0,
    )


@pytest.fixture(scope="session")
def parts(small_data):
    """Train, validation and test subsets of ``small_data``."""
    return (
        small_data.subset(stimuli=list(range(8))),
        small_data.subset(stimuli=[8, 9]),
        small_data.subset(stimuli=[10, 11]),
    )
