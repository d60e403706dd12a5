"""Fitting Linear and LinearNonlinear models to simulated LN neurons recovers their STRFs."""

import numpy as np
import pytest
import torch

from deepSTRF.models.audio.strf_models import Linear, LinearNonlinear

F, T_STRF, N = 12, 6, 3


def gabor_strfs(n, rng):
    """Gabor-like STRFs ``(N, F, T)``; index ``T - 1`` is the current frame (lag 0)."""
    f = np.arange(F)[:, None]
    lag = (T_STRF - 1 - np.arange(T_STRF))[None, :]
    strfs = []
    for _ in range(n):
        f0, lag0 = rng.uniform(3, F - 4), rng.uniform(1, 3)
        envelope = np.exp(-((f - f0) ** 2) / (2 * 1.5**2) - (lag - lag0) ** 2 / (2 * 1.0**2))
        carrier = np.cos(2 * np.pi * (0.15 * (f - f0) + 0.2 * (lag - lag0)) + rng.uniform(-0.5, 0.5))
        strf = envelope * carrier
        strfs.append(strf / np.abs(strf).max())
    return np.stack(strfs)


def simulate_ln(strfs, n_stimuli, length, rng):
    """Random-chord stimuli ``(S, 1, F, L)``, true rates and Poisson counts ``(S, N, 1, L)`` of LN neurons."""
    stimuli = (rng.random((n_stimuli, 1, F, length)) < 0.3).astype(float) * rng.uniform(
        0.5, 1.0, (n_stimuli, 1, F, length)
    )
    padded = np.concatenate([np.zeros((n_stimuli, F, T_STRF - 1)), stimuli[:, 0]], axis=-1)
    drive = np.zeros((n_stimuli, len(strfs), length))
    for k in range(T_STRF):  # tap k multiplies the frame T - 1 - k steps back
        drive += np.einsum("nf,sft->snt", strfs[:, :, k], padded[:, :, k : k + length])
    rates = np.log1p(np.exp(2.0 * drive - 0.5))
    counts = rng.poisson(rates)
    return stimuli, rates[:, :, None], counts[:, :, None]


def fit(model, stimuli, counts, loss, steps=120, lr=0.03):
    x = torch.as_tensor(stimuli, dtype=torch.float32)
    y = torch.as_tensor(counts, dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss(model(x), y).backward()
        optimiser.step()
    return model.eval()


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize(
    ("cls", "loss"),
    [
        (Linear, torch.nn.functional.mse_loss),
        (LinearNonlinear, lambda pred, y: torch.nn.functional.poisson_nll_loss(pred, y, log_input=False)),
    ],
)
def test_fit_recovers_the_true_strfs(cls, loss):
    rng = np.random.default_rng(0)
    strfs = gabor_strfs(N, rng)
    stimuli, _, counts = simulate_ln(strfs, n_stimuli=16, length=250, rng=rng)
    test_stimuli, test_rates, _ = simulate_ln(strfs, n_stimuli=4, length=250, rng=rng)
    torch.manual_seed(0)
    model = fit(cls(F, T_STRF, out_neurons=N), stimuli, counts, loss)

    learned = model.STRF_weight("ON").numpy()
    for n in range(N):
        assert correlation(learned[n], strfs[n]) >= 0.9, n
    with torch.no_grad():
        prediction = model(torch.as_tensor(test_stimuli, dtype=torch.float32)).numpy()
    for n in range(N):
        assert correlation(prediction[:, n], test_rates[:, n]) > 0.8, n
