"""Ragged test data and independent float64 NumPy references for the metrics tests.

The references loop over neurons, positions and trials on purpose: they are written
from the definitions, not from the vectorised code.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

B, N, R, T = 5, 6, 5, 40


def make_data(seed: int = 0, *, b: int = B, n: int = N, r: int = R, t: int = T) -> SimpleNamespace:
    """Poisson trials with every kind of missing data, a prediction and a mask (NumPy, float64).

    - trial counts per (stimulus, neuron) pair between 1 and ``r`` (neuron ``n - 1`` has a
      single trial everywhere, neuron ``n - 2`` an odd count of 3 everywhere);
    - stimuli of different lengths (NaN time tails), one missing pair, one missing bin
      inside a trial;
    - a prediction with finite garbage where the target is missing, and a random mask.
    """
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.5, 4.0, size=(b, 1, 1, 1))
    rate = level * rng.gamma(2.0, 0.5, size=(b, n, 1, t))
    x = rng.poisson(np.broadcast_to(rate, (b, n, r, t))).astype(np.float64)
    n_trials = rng.integers(1, r + 1, size=(b, n))
    n_trials[0] = r
    n_trials[:, n - 1] = 1
    n_trials[:, n - 2] = 3
    lengths = rng.integers(t // 2, t + 1, size=b)
    lengths[0] = t
    for i in range(b):
        for j in range(n):
            x[i, j, n_trials[i, j] :] = np.nan
        x[i, :, :, lengths[i] :] = np.nan
    x[2, 3] = np.nan  # a missing (stimulus, neuron) pair
    x[1, 1, 0, 5] = np.nan  # a missing bin inside a trial
    pred = rate * rng.uniform(0.5, 1.5, size=rate.shape) + rng.normal(0.0, 0.3, size=rate.shape)
    mask = rng.random((b, n, 1, t)) > 0.1
    return SimpleNamespace(x=x, pred=pred, mask=mask, rate=rate)


def torch64(*arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def _valid(x: np.ndarray, mask: np.ndarray | None, min_trials: int) -> np.ndarray:
    """(B, N, T) positions with at least ``min_trials`` trials, selected by the mask."""
    ok = (~np.isnan(x)).sum(axis=2) >= min_trials
    if mask is not None:
        ok &= np.broadcast_to(mask, (x.shape[0], x.shape[1], 1, x.shape[3]))[:, :, 0]
    return ok


def _corr(a: list[float], b: list[float]) -> float:
    a_, b_ = np.asarray(a), np.asarray(b)
    if len(a_) < 2 or a_.var() == 0 or b_.var() == 0:
        return np.nan
    return float(np.corrcoef(a_, b_)[0, 1])


def ref_raw(pred: np.ndarray, x: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-neuron Pearson r and FVE against the PSTH, over positions with >= 1 trial."""
    ok = _valid(x, mask, 1)
    out = {"cc": [], "fve": []}
    for j in range(x.shape[1]):
        y, yhat = [], []
        for i in range(x.shape[0]):
            for t in range(x.shape[3]):
                if ok[i, j, t]:
                    y.append(np.nanmean(x[i, j, :, t]))
                    yhat.append(pred[i, j, 0, t])
        y_, yhat_ = np.asarray(y), np.asarray(yhat)
        sst = ((y_ - y_.mean()) ** 2).sum() if len(y_) else 0.0
        out["cc"].append(_corr(y, yhat))
        out["fve"].append(1 - ((y_ - yhat_) ** 2).sum() / sst if sst > 0 else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def ref_noise(x: np.ndarray, mask: np.ndarray | None = None, pred: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Sahani–Linden powers and the scores built on them, per neuron, from the definitions."""
    ok = _valid(x, mask, 2)
    keys = ("sp", "np", "snr", "ev", "schoppe", "ccmax", "feve")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for j in range(x.shape[1]):
        psth, v, r, yhat = [], [], [], []
        for i in range(x.shape[0]):
            for t in range(x.shape[3]):
                if ok[i, j, t]:
                    trials = x[i, j, :, t][~np.isnan(x[i, j, :, t])]
                    psth.append(trials.mean())
                    v.append(trials.var(ddof=1))
                    r.append(len(trials))
                    if pred is not None:
                        yhat.append(pred[i, j, 0, t])
        n = len(psth)
        if n < 2:
            for k in keys:
                out[k].append(np.nan)
            continue
        psth_, v_, r_ = np.asarray(psth), np.asarray(v), np.asarray(r)
        var_psth = psth_.var(ddof=1)
        noise_psth = np.mean(v_ / r_)
        sp, npow = var_psth - noise_psth, v_.mean()
        out["sp"].append(sp)
        out["np"].append(npow)
        out["snr"].append(sp / npow if npow != 0 else np.nan)
        out["ev"].append(sp / (sp + npow))
        out["ccmax"].append(np.sqrt(sp / var_psth) if sp > 0 else np.nan)
        if pred is None:
            out["schoppe"].append(np.nan)
            out["feve"].append(np.nan)
            continue
        yhat_ = np.asarray(yhat)
        cov = np.cov(yhat_, psth_, ddof=1)[0, 1]
        out["schoppe"].append(cov / np.sqrt(yhat_.var(ddof=1) * sp) if sp > 0 else np.nan)
        sse = ((psth_ - yhat_) ** 2).sum()
        sst = ((psth_ - psth_.mean()) ** 2).sum()
        out["feve"].append(1 - (sse - n * noise_psth) / (sst - (n - 1) * noise_psth) if sp > 0 else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def ref_hsu(
    x: np.ndarray, n_splits: int, seed: int, mask: np.ndarray | None = None, pred: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Split-half ``CCmax`` (and Hsu CCnorm) with the same seeded split keys, from the definitions.

    The ceiling solves ``ρ² (1 + a u)(1 + a w) = 1`` for the noise-to-signal ratio ``a``
    with ``np.roots`` and returns ``(1 + a z)^(-1/2)``.
    """
    b, n, r, t = x.shape
    keys = torch.rand(n_splits, r, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    posmask = np.ones((b, n, t), bool) if mask is None else np.broadcast_to(mask, (b, n, 1, t))[:, :, 0]
    out: dict[str, list[float]] = {"rho": [], "ccmax": [], "hsu": []}
    for j in range(n):
        cells = []  # (stimulus, time, recorded slots)
        for i in range(b):
            recorded = [k for k in range(r) if not np.all(np.isnan(x[i, j, k]))]
            for tt in range(t):
                present = [k for k in recorded if not np.isnan(x[i, j, k, tt])]
                if len(recorded) >= 2 and len(present) == len(recorded) and posmask[i, j, tt]:
                    cells.append((i, tt, recorded))
        corrs = []
        for s in range(n_splits):
            h1, h2 = [], []
            for i, tt, recorded in cells:
                order = sorted(recorded, key=lambda k: keys[s, k])
                half = len(recorded) // 2
                h1.append(x[i, j, order[:half], tt].mean())
                h2.append(x[i, j, order[half:], tt].mean())
            corrs.append(_corr(h1, h2))
        rho = np.nanmean(corrs) if not np.all(np.isnan(corrs)) else np.nan
        counts = np.array([len(rec) for _, _, rec in cells], dtype=float)
        if not rho > 0:
            ccmax = np.nan
        else:
            u = np.mean(1 / np.floor(counts / 2))
            w = np.mean(1 / (counts - np.floor(counts / 2)))
            z = np.mean(1 / counts)
            roots = np.roots([rho**2 * u * w, rho**2 * (u + w), rho**2 - 1])
            a = max(root.real for root in roots if abs(root.imag) < 1e-12)
            ccmax = 1 / np.sqrt(1 + a * z)
        out["rho"].append(rho)
        out["ccmax"].append(ccmax)
        if pred is not None:
            psth = [x[i, j, rec, tt].mean() for i, tt, rec in cells]
            yhat = [pred[i, j, 0, tt] for i, tt, _ in cells]
            out["hsu"].append(_corr(psth, yhat) / ccmax)
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture
def data() -> SimpleNamespace:
    return make_data()


@pytest.fixture
def ref() -> SimpleNamespace:
    return SimpleNamespace(
        make_data=make_data, torch64=torch64, raw=ref_raw, noise=ref_noise, hsu=ref_hsu, valid=_valid, corr=_corr
    )
