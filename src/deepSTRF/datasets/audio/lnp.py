"""The linear-nonlinear-Poisson neurons of the simulated dataset.

**STRF convention** (the same as the models' causal, left-padded cross-correlation
``CausalSTRFConv``): the last STRF column is lag 0, and the noiseless rate is::

    rate[n, t] = g( sum_{f, k} strf[n, f, k] * stim[f, t - (T_strf - 1) + k] + bias[n] )

with ``stim[f, t] = 0`` before onset and ``g`` the output nonlinearity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
import torch
import torch.nn.functional as F

from deepSTRF._validation import check_choice, check_tensor

__all__ = ["NONLINEARITIES", "adapt", "linear_drive", "lnp_rate", "make_strfs"]

#: Output nonlinearities of the simulated neurons.
NONLINEARITIES = ("softplus", "exp", "relu")


def _nonlinearity(x: torch.Tensor, name: str) -> torch.Tensor:
    if name == "softplus":
        return F.softplus(x)
    return torch.exp(x) if name == "exp" else torch.relu(x)


@overload
def lnp_rate(stim: torch.Tensor, strfs: torch.Tensor, bias: torch.Tensor, nonlinearity: str = ...) -> torch.Tensor: ...


@overload
def lnp_rate(
    stim: Sequence[torch.Tensor], strfs: torch.Tensor, bias: torch.Tensor, nonlinearity: str = ...
) -> list[torch.Tensor]: ...


def lnp_rate(
    stim: torch.Tensor | Sequence[torch.Tensor],
    strfs: torch.Tensor,
    bias: torch.Tensor,
    nonlinearity: str = "softplus",
) -> torch.Tensor | list[torch.Tensor]:
    """The noiseless rate of linear-nonlinear units (see the module documentation).

    Args:
        stim: Spectrogram ``(F, T)`` (or ``(1, F, T)``), or a list of them (computed together).
        strfs: ``(N, F, T_strf)``, last column = lag 0.
        bias: ``(N,)``.
        nonlinearity: One of ``'softplus'``, ``'exp'``, ``'relu'``.

    Returns:
        ``(N, T)`` rates, or a list of them for a list of stimuli.

    Raises:
        TypeError, ValueError: If an input is not a floating tensor, the shapes disagree or the
            nonlinearity is unknown.

    Example:
        >>> strf = torch.zeros(1, 1, 3); strf[0, 0, -1] = 1.0  # lag 0 only
        >>> lnp_rate(torch.tensor([[0.0, 2.0, -1.0]]), strf, torch.zeros(1), "relu")
        tensor([[0., 2., 0.]])
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    check_tensor("strfs", strfs, ndim=3, floating=True)
    check_tensor("bias", bias, ndim=1, floating=True)
    single = isinstance(stim, torch.Tensor)
    stims = [stim] if isinstance(stim, torch.Tensor) else list(stim)
    for i, x in enumerate(stims):
        check_tensor(f"stim[{i}]", x, ndim=(2, 3), floating=True)
        if x.shape[-2] != strfs.shape[1] or bias.shape != (strfs.shape[0],) or (x.dim() == 3 and x.shape[0] != 1):
            raise ValueError(
                f"expected stim (F, T), strfs (N, F, T_strf) and bias (N,), got {tuple(x.shape)}, "
                f"{tuple(strfs.shape)} and {tuple(bias.shape)}"
            )
    k = strfs.shape[-1]
    # one product for all stimuli: each is preceded by T_strf - 1 zero frames, as a causal convolution pads
    blocks = [F.pad(x.reshape(x.shape[-2], x.shape[-1]).to(strfs.dtype), (k - 1, 0)) for x in stims]
    drive = _nonlinearity(linear_drive(torch.cat(blocks, dim=1), strfs) + bias[:, None], nonlinearity)
    ends = torch.cumsum(torch.tensor([b.shape[1] for b in blocks]), 0).tolist()
    rates = [drive[:, end - x.shape[-1] : end] for x, end in zip(stims, ends)]
    return rates[0] if single else rates


def linear_drive(stim: torch.Tensor, strfs: torch.Tensor) -> torch.Tensor:
    """The ``(N, T)`` linear drive: causal cross-correlation of a ``(F, T)`` stimulus with ``(N, F, K)`` STRFs.

    Example:
        >>> linear_drive(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[[2.0, 1.0]]]))  # lag 1 weight 2
        tensor([[1., 2., 0.]])
    """
    k, t = strfs.shape[-1], stim.shape[-1]
    padded = F.pad(stim, (k - 1, 0))
    out = strfs.new_zeros(strfs.shape[0], t)
    for j in range(k):  # one matrix product per lag: column j of the STRF meets frame t - (k - 1) + j
        out += strfs[:, :, j] @ padded[:, j : j + t]
    return out


def _bump(x: np.ndarray, centre: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Gaussian tuning curves ``(N, len(x))``."""
    return np.exp(-0.5 * ((x[None, :] - centre[:, None]) / width[:, None]) ** 2)


def _onset(lags: np.ndarray, latency: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Gamma-shaped temporal profiles ``(N, len(lags))``: 0 at lag 0, peak 1 at ``latency``."""
    shape = np.maximum(2.0, (latency / width) ** 2)[:, None]
    u = lags[None, :] / latency[:, None]
    return u**shape * np.exp(shape * (1 - u))


def make_strfs(
    rngs: list[np.random.Generator], octaves: np.ndarray, dt_ms: float, n_lags: int
) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Random STRFs: an excitatory sub-field with sideband or delayed inhibition.

    Args:
        rngs: One random generator per neuron (a neuron's STRF depends only on its own).
        octaves: ``(F,)`` band positions in octaves above the lowest band.
        dt_ms: Bin width in ms.
        n_lags: STRF length ``T_strf`` in bins.

    Returns:
        Unscaled STRFs ``(N, F, T_strf)`` (last column = lag 0, excitatory peak about 1), a
        dict of parameters per neuron, and the best frequencies in octaves ``(N,)``.

    Example:
        >>> rngs = [np.random.default_rng(i) for i in range(2)]
        >>> strfs, params, bf = make_strfs(rngs, np.linspace(0, 5, 16), 5.0, 15)
        >>> strfs.shape, params[0]["inhibition"] in ("sideband", "delayed")
        ((2, 16, 15), True)
    """
    window = n_lags * dt_ms
    # per neuron: best frequency, bandwidth, latency, duration, kind, inhibition ratio, offset, delay
    draws = np.array(
        [
            [
                r.uniform(0.1, 0.9),
                r.uniform(0.15, 0.4),
                r.uniform(0.12, 0.35),
                r.uniform(0.05, 0.1),
                r.random(),
                r.uniform(0.4, 0.8),
                r.uniform(2.0, 3.0),
                r.uniform(),
            ]
            for r in rngs
        ]
    ).reshape(-1, 8)
    bf, bw, lat, dur = draws[:, 0] * octaves[-1], draws[:, 1], draws[:, 2] * window, draws[:, 3] * window
    sideband, ratio = draws[:, 4] < 0.5, draws[:, 5]
    offset = np.where(sideband, draws[:, 6] * bw, 0.0)
    lat_i = lat + np.where(sideband, 0.05 * draws[:, 7], 0.15 + 0.1 * draws[:, 7]) * window
    bw_i = np.where(sideband, bw, 1.5 * bw)
    lags = np.arange(n_lags)[::-1] * dt_ms  # column k holds lag (n_lags - 1 - k)
    exc = _bump(octaves, bf, bw)[:, :, None] * _onset(lags, lat, dur)[:, None, :]
    flank = _bump(octaves, bf - offset, bw_i) + np.where(sideband[:, None], _bump(octaves, bf + offset, bw_i), 0.0)
    inh = flank[:, :, None] * _onset(lags, lat_i, 1.5 * dur)[:, None, :]
    strfs = exc - ratio[:, None, None] * inh / np.maximum(inh.max(axis=(1, 2), keepdims=True), 1e-12)
    params = [
        {
            "latency_ms": float(lat[i]),
            "bandwidth_oct": float(bw[i]),
            "inhibition": "sideband" if sideband[i] else "delayed",
            "inhibition_ratio": float(ratio[i]),
        }
        for i in range(len(rngs))
    ]
    return strfs, params, bf


def adapt(rate: torch.Tensor, tau_bins: float, strength: float, mean_rate: torch.Tensor) -> torch.Tensor:
    """Divide the rate by ``1 + strength * (exponential average of the past rate) / mean rate``.

    The average uses bins ``t - 1, t - 2, ...`` with weights ``exp(-lag / tau_bins)``.

    Example:
        >>> adapt(torch.ones(1, 3), 1.0, 1.0, torch.ones(1))  # silence before onset, then adaptation builds up
        tensor([[1.0000, 0.6111, 0.5346]])
    """
    n_taps = max(1, math.ceil(5 * tau_bins))
    w = torch.exp(-torch.arange(1, n_taps + 1, dtype=rate.dtype) / tau_bins)
    w = (w / w.sum()).flip(0).reshape(1, 1, -1)
    past = F.conv1d(F.pad(rate[:, None], (n_taps, 0))[..., :-1], w)[:, 0]
    return rate / (1 + strength * past / mean_rate.clamp_min(1e-12)[:, None])
