"""Every metric runs on the meta device: no value-dependent shapes, no `.item()`, no host synchronisation."""

import functools

import pytest
import torch

from deepSTRF import metrics

P = (3, 4, 1, 50)
X = (3, 4, 5, 50)

CASES = {
    "corrcoef": lambda p, x, m: metrics.corrcoef(p, x, m, "median"),
    "fve": lambda p, x, m: metrics.fve(p, x, m, reduction="none"),
    "signal_power": lambda p, x, m: metrics.signal_power(x, m, reduction="none"),
    "noise_power": lambda p, x, m: metrics.noise_power(x, m, reduction="none"),
    "snr": lambda p, x, m: metrics.snr(x, m, "median"),
    "explainable_variance": lambda p, x, m: metrics.explainable_variance(x, m, reduction="none"),
    "schoppe": lambda p, x, m: metrics.normalized_corrcoef(p, x, "schoppe", m, reduction="none"),
    "hsu": lambda p, x, m: metrics.normalized_corrcoef(p, x, "hsu", m, n_splits=8, reduction="none"),
    "cc_max": lambda p, x, m: metrics.cc_max(x, "hsu", m, reduction="none"),
    "feve": lambda p, x, m: metrics.feve(p, x, m, "mean"),
    "coherence": lambda p, x, m: metrics.coherence(p, x, m, nperseg=16, reduction="none")[1],
    "ttrc": lambda p, x, m: metrics.ttrc(p, x, m, "median"),
    "mse_loss": lambda p, x, m: metrics.mse_loss(p, x, m),
    "poisson_loss": lambda p, x, m: metrics.poisson_loss(p, x, mask=m, reduction="none"),
    "jackknife_ci": lambda p, x, m: metrics.jackknife_ci(metrics.snr, x, mask=m).upper,
    "bootstrap_ci": lambda p, x, m: (
        metrics.bootstrap_ci(functools.partial(metrics.normalized_corrcoef, method="hsu"), x, pred=p, n_boot=4).lower
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_runs_on_meta_tensors(name):
    pred, trials = torch.empty(P, device="meta"), torch.empty(X, device="meta")
    mask = torch.empty(P, device="meta", dtype=torch.bool)
    out = CASES[name](pred, trials, mask)
    assert out.device.type == "meta"


def test_every_public_function_is_covered():
    functions = {name for name in metrics.__all__ if name[0].islower()}
    covered = set(CASES) | {"normalized_corrcoef"}
    assert functions <= covered
