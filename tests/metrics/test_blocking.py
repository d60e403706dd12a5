import pytest
import torch

from deepSTRF import metrics
from deepSTRF.metrics import _masked


def _recording(seed=0):
    gen = torch.Generator().manual_seed(seed)
    trials = torch.poisson(torch.rand(5, 7, 6, 50, generator=gen) * 3, generator=gen)
    trials[::2, :, 4:] = float("nan")  # ragged trial counts
    trials[1, 3] = float("nan")  # a missing pair
    trials[3, :, :, 40:] = float("nan")  # a shorter stimulus
    trials[4, 2, 1:] = float("nan")  # a single trial left
    return trials


@pytest.mark.parametrize("block", [1, 64, 300, 6 * 50 * 7 + 1])
def test_cache_blocked_trial_statistics_equal_the_direct_ones(monkeypatch, block):
    trials = _recording()
    pred = torch.rand(5, 7, 1, 50)
    direct = _masked.trial_stats(trials)
    direct_missing = _masked.trial_stats(trials, missing=torch.isnan(trials))
    scores = (
        metrics.normalized_corrcoef(pred, trials, reduction="none"),
        metrics.signal_power(trials, reduction="none"),
        metrics.noise_power(trials, reduction="none"),
    )
    monkeypatch.setattr(_masked, "_CACHE_BLOCK", block)  # blocks of rows smaller and larger than a neuron
    for got in (_masked.trial_stats(trials), _masked.trial_stats(trials, missing=torch.isnan(trials))):
        for a, b in zip(got, direct, strict=True):
            assert a.shape == b.shape == (5, 7, 1, 50)
            assert torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
    assert all(torch.equal(a.nan_to_num(), b.nan_to_num()) for a, b in zip(direct, direct_missing, strict=True))
    blocked = (
        metrics.normalized_corrcoef(pred, trials, reduction="none"),
        metrics.signal_power(trials, reduction="none"),
        metrics.noise_power(trials, reduction="none"),
    )
    for a, b in zip(blocked, scores, strict=True):
        torch.testing.assert_close(a, b, equal_nan=True, rtol=0, atol=0)
