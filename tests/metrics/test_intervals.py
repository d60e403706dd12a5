import functools
import statistics

import numpy as np
import pytest
import torch

from deepSTRF.metrics import (
    ConfidenceInterval,
    bootstrap_ci,
    corrcoef,
    jackknife_ci,
    mse_loss,
    normalized_corrcoef,
    signal_power,
)


def _drop_trial(x: torch.Tensor, j: int) -> torch.Tensor:
    out = x.clone()
    out[:, :, j] = float("nan")
    return out


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_jackknife_matches_reference(data, reduction):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    metric = functools.partial(normalized_corrcoef, method="hsu", n_splits=5)
    ci = jackknife_ci(metric, x, pred=pred, reduction=reduction, level=0.9)
    assert isinstance(ci, ConfidenceInterval)

    def summary(values: np.ndarray) -> np.ndarray:
        return values if reduction == "none" else np.nanmean(values)

    full = summary(metric(pred, x, reduction="none").numpy())
    reps = np.stack([summary(metric(pred, _drop_trial(x, j), reduction="none").numpy()) for j in range(x.shape[2])])
    n = len(reps)
    se = np.sqrt((n - 1) / n * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    z = statistics.NormalDist().inv_cdf(0.95)
    np.testing.assert_allclose(ci.estimate.numpy(), full, rtol=1e-12)
    np.testing.assert_allclose(ci.lower.numpy(), full - z * se, rtol=1e-9)
    np.testing.assert_allclose(ci.upper.numpy(), full + z * se, rtol=1e-9)


def test_jackknife_ignores_empty_trial_slots(data):
    x = torch.from_numpy(data.x)
    padded = torch.cat([x, torch.full_like(x[:, :, :2], float("nan"))], dim=2)
    a, b = jackknife_ci(signal_power, x), jackknife_ci(signal_power, padded)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, equal_nan=True)


def test_bootstrap_matches_reference(data):
    pred, x, mask = torch.from_numpy(data.pred), torch.from_numpy(data.x), torch.from_numpy(data.mask)
    ci = bootstrap_ci(corrcoef, x, pred=pred, mask=mask, n_boot=40, seed=7, level=0.8)
    draws = torch.randint(x.shape[0], (40, x.shape[0]), generator=torch.Generator().manual_seed(7))
    reps = np.stack([corrcoef(pred[i], x[i], mask=mask[i], reduction="none").numpy() for i in draws])
    np.testing.assert_allclose(ci.estimate.numpy(), corrcoef(pred, x, mask=mask, reduction="none").numpy())
    np.testing.assert_allclose(ci.lower.numpy(), np.nanquantile(reps, 0.1, axis=0), rtol=1e-10)
    np.testing.assert_allclose(ci.upper.numpy(), np.nanquantile(reps, 0.9, axis=0), rtol=1e-10)


def test_batching_does_not_change_results(data):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    loss = functools.partial(mse_loss, reduction="none")
    for fn in (functools.partial(bootstrap_ci, n_boot=30, seed=2), jackknife_ci):
        big = fn(loss, x, pred=pred)
        small = fn(loss, x, pred=pred, max_batch_elements=1)
        for u, v in zip(big, small):
            torch.testing.assert_close(u, v, equal_nan=True)


def test_bootstrap_is_seeded_and_summaries(data):
    x = torch.from_numpy(data.x)
    a = bootstrap_ci(signal_power, x, n_boot=25, seed=3, reduction="median")
    b = bootstrap_ci(signal_power, x, n_boot=25, seed=3, reduction="median")
    c = bootstrap_ci(signal_power, x, n_boot=25, seed=4, reduction="median")
    assert a == b and a.lower.shape == ()
    assert a.lower != c.lower or a.upper != c.upper
    assert a.lower <= a.estimate <= a.upper


def test_errors(data):
    x = torch.from_numpy(data.x)
    with pytest.raises(TypeError, match="`metric` must be callable, got str"):
        jackknife_ci("snr", x)
    with pytest.raises(ValueError, match=r"`level` must be a number in \(0, 1\), got 1.5"):
        bootstrap_ci(signal_power, x, level=1.5)
    with pytest.raises(ValueError, match=r"`metric` must return one value per neuron, shape \(6,\), got \(\)"):
        jackknife_ci(functools.partial(signal_power, reduction="mean"), x)
    with pytest.raises(ValueError, match="`n_boot` must be an int >= 1, got 0"):
        bootstrap_ci(signal_power, x, n_boot=0)
    with pytest.raises(ValueError, match="`max_batch_elements` must be an int >= 1"):
        jackknife_ci(signal_power, x, max_batch_elements=0)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        jackknife_ci(signal_power, x, reduction="max")
    with pytest.raises(ValueError, match=r"`responses` must have shape \(B, N, R, T\)"):
        bootstrap_ci(corrcoef, x, pred=torch.zeros(5, 6, 1, 3, dtype=torch.float64))


def test_more_errors(data):
    x = torch.from_numpy(data.x)
    with pytest.raises(ValueError, match="`seed` must be an int >= 0, got -3"):
        bootstrap_ci(signal_power, x, seed=-3)
    with pytest.raises(ValueError, match=r"`metric` must return one value per neuron, shape \(6,\), got list"):
        jackknife_ci(lambda r, mask=None: [0.0] * r.shape[1], x)
