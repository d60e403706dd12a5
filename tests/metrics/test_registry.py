"""The metric and loss registry: every entry's direction and trial needs match what its function computes."""

from __future__ import annotations

import pytest
import torch

from deepSTRF import metrics
from deepSTRF.metrics.registry import LOSSES, METRICS, get_loss, get_metric

ALL = [*METRICS.values(), *LOSSES.values()]


def _trials(n_trials: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A positive true rate ``(B, N, 1, T)`` and Poisson trials drawn from it."""
    gen = torch.Generator().manual_seed(seed)
    rate = 0.5 + 4.0 * torch.rand(3, 4, 1, 200, generator=gen, dtype=torch.float64)
    return rate, torch.poisson(rate.expand(3, 4, n_trials, 200).contiguous(), generator=gen)


@pytest.mark.parametrize("info", ALL, ids=lambda info: info.name)
def test_perfect_prediction_scores_best(info):
    """The trial mean as prediction beats a noisy and a shrunk version, in the registered direction."""
    _, trials = _trials(10)
    psth = trials.mean(dim=2, keepdim=True)
    perfect = psth.log() if info.name == "poisson_log" else psth
    gen = torch.Generator().manual_seed(1)
    noisy = perfect + 0.8 * torch.randn(perfect.shape, generator=gen, dtype=perfect.dtype).abs()
    worse = [noisy, perfect.flip(-1)]  # correlations ignore scale and offset: corrupt the time course
    best = info.function(perfect, trials, reduction="mean")
    for other in worse:
        score = info.function(other, trials, reduction="mean")
        assert torch.isfinite(best) and torch.isfinite(score)
        assert (best > score) if info.higher_is_better else (best < score), (info.name, float(best), float(score))


@pytest.mark.parametrize("info", ALL, ids=lambda info: info.name)
def test_needs_trials_means_nan_without_repeats(info):
    rate, trials = _trials(1)
    pred = rate.log() if info.name == "poisson_log" else rate
    values = info.function(pred, trials, reduction="none")
    assert values.shape == (4,)
    assert bool(values.isnan().all()) is info.needs_trials, info.name
    _, repeated = _trials(6)
    assert bool(torch.isfinite(info.function(pred, repeated, reduction="none")).all())


def test_modes_and_lookup():
    assert {info.mode for info in METRICS.values()} == {"max"}
    assert {info.mode for info in LOSSES.values()} == {"min"}
    assert get_metric("cc").function is metrics.corrcoef
    assert get_loss("poisson").function is metrics.poisson_loss
    assert all(info.description and name == info.name for name, info in [*METRICS.items(), *LOSSES.items()])
    names = r"\['cc', 'ccnorm', 'feve', 'fve', 'ttrc'\]"
    with pytest.raises(ValueError, match=rf"`metric` must be one of {names}, got 'r2'"):
        get_metric("r2")
    with pytest.raises(ValueError, match=r"`loss` must be one of .*got 'l1'"):
        get_loss("l1")
    with pytest.raises(TypeError):
        METRICS["new"] = METRICS["cc"]  # type: ignore[index]
