"""Simulated Poisson trials from a known rate: the noise-corrected metrics recover the truth."""

import numpy as np
import pytest
import torch

from deepSTRF.metrics import bootstrap_ci, cc_max, feve, noise_power, normalized_corrcoef, signal_power

B, N, R, T = 10, 12, 10, 400


def simulate(seed: int, ragged: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Rates whose stimulus means differ 25-fold, Poisson trials; optionally ragged trials and lengths."""
    gen = torch.Generator().manual_seed(seed)
    level = torch.linspace(0.2, 5.0, B, dtype=torch.float64).view(B, 1, 1, 1)
    period = 8 + 20 * torch.rand(B, N, 1, 1, generator=gen, dtype=torch.float64)
    phase = 6.3 * torch.rand(B, N, 1, 1, generator=gen, dtype=torch.float64)
    rate = level * (1 + 0.6 * torch.sin(torch.arange(T, dtype=torch.float64) / period + phase))
    trials = torch.poisson(rate.expand(B, N, R, T).contiguous(), generator=gen)
    if ragged:
        trials[::2, :, R // 2 + 1 :] = float("nan")  # 6 trials (even) on half of the stimuli
        trials[1::4, :, 7:] = float("nan")  # 7 trials (odd) on some others
        trials[1, :, :, T // 2 :] = float("nan")  # a shorter stimulus
        trials[3, 4] = float("nan")  # a missing pair
    return rate, trials


def _per_neuron(values: torch.Tensor, valid: torch.Tensor, stat: str) -> torch.Tensor:
    return torch.stack([getattr(values[:, j][valid[:, j]], stat)() for j in range(values.shape[1])])


@pytest.mark.parametrize("ragged", [False, True])
def test_true_rate_scores_one(ragged):
    rate, trials = simulate(0, ragged)
    for method in ("schoppe", "hsu"):
        score = normalized_corrcoef(rate, trials, method, reduction="none")
        assert (score - 1).abs().max() < 0.03, (method, score)
    assert (feve(rate, trials, reduction="none") - 1).abs().max() < 0.03
    # predicting each neuron's overall mean explains nothing
    assert feve(rate.mean(dim=(0, 3), keepdim=True).expand_as(rate), trials, reduction="none").abs().max() < 0.03


def test_schoppe_is_not_inflated_by_different_stimulus_means():
    rate, trials = simulate(1, ragged=False)
    ours = normalized_corrcoef(rate, trials, reduction="none").numpy()
    # Dividing the pooled covariance by a within-stimulus signal power (averaged over stimuli)
    # instead mixes two bases, and a perfect prediction then scores far above 1.
    x, p = trials.numpy(), rate.numpy()
    for j in range(N):
        psth, pred = x[:, j].mean(axis=1).ravel(), p[:, j, 0].ravel()
        within = []
        for i in range(B):
            m = x[i, j].mean(axis=0)
            within.append((R * m.var(ddof=1) - np.mean([x[i, j, k].var(ddof=1) for k in range(R)])) / (R - 1))
        mixed = np.cov(pred, psth)[0, 1] / np.sqrt(pred.var(ddof=1) * np.mean(within))
        assert mixed > 1.2
        assert abs(ours[j] - 1) < 0.03


@pytest.mark.parametrize("ragged", [False, True])
def test_signal_and_noise_power_recover_the_truth(ragged):
    rate, trials = simulate(2, ragged)
    valid = ~torch.isnan(trials).all(dim=2, keepdim=True)
    rates = rate.expand_as(valid)
    true_sp = _per_neuron(rates, valid, "var")  # variance of the true rate over the positions used
    true_np = _per_neuron(rates, valid, "mean")  # Poisson: trial variance = rate
    sp, npow = signal_power(trials, reduction="none"), noise_power(trials, reduction="none")
    assert ((sp - true_sp) / true_sp).abs().max() < 0.06
    assert ((npow - true_np) / true_np).abs().max() < 0.06
    if ragged:  # the bootstrap interval over stimuli covers the truth for nearly every neuron
        ci = bootstrap_ci(signal_power, trials, n_boot=100, seed=1)
        covered = (ci.lower <= true_sp) & (true_sp <= ci.upper)
        assert covered.sum() >= N - 2


def test_ceilings_agree_and_fall_with_fewer_trials():
    rate, trials = simulate(3, ragged=False)
    schoppe, hsu = cc_max(trials, reduction="none"), cc_max(trials, "hsu", reduction="none")
    assert (schoppe - hsu).abs().max() < 0.01
    fewer = cc_max(trials[:, :, :2], reduction="none")
    assert (fewer < schoppe).all()
    # expected ceiling: corr(rate, PSTH) for SP / (SP + NP / R)
    valid = torch.ones_like(rate, dtype=torch.bool)
    sp, npow = _per_neuron(rate, valid, "var"), _per_neuron(rate, valid, "mean")
    assert (schoppe - torch.sqrt(sp / (sp + npow / R))).abs().max() < 0.01
