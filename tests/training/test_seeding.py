import random

import numpy as np
import pytest
import torch

from deepSTRF.training.seeding import get_rng_state, seed_everything, seed_worker, set_rng_state


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(()))  # noqa: NPY002 - the global generator


def test_seed_everything_makes_every_generator_repeat():
    seed_everything(7)
    first = _draw()
    seed_everything(7)
    assert _draw() == first
    seed_everything(8)
    assert _draw() != first


def test_seed_everything_returns_a_seeded_generator():
    g = seed_everything(5)
    assert torch.equal(torch.randperm(10, generator=g), torch.randperm(10, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize(("seed", "error", "match"), [(-1, ValueError, ">= 0"), (1.5, TypeError, "int")])
def test_seed_everything_rejects_bad_seeds(seed, error, match):
    with pytest.raises(error, match=match):
        seed_everything(seed)


def test_rng_state_roundtrips_through_a_weights_only_file(tmp_path):
    seed_everything(3)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's generator
    np.random.standard_normal()  # noqa: NPY002
    state = get_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (*_draw(), random.gauss(0, 1))
    _draw()  # move every stream on
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (*_draw(), random.gauss(0, 1)) == expected


def test_set_rng_state_names_missing_entries():
    state = get_rng_state()
    del state["numpy_keys"]
    with pytest.raises(ValueError, match="numpy_keys"):
        set_rng_state(state)


def test_seed_worker_derives_from_torch_seed():
    torch.manual_seed(11)
    seed_worker(0)
    a = np.random.rand()  # noqa: NPY002
    torch.manual_seed(11)
    seed_worker(3)
    assert np.random.rand() == a  # noqa: NPY002


def test_deterministic_flag_turns_on_deterministic_algorithms():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
