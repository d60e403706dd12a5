"""Closed-form ridge STRFs with a per-neuron penalty chosen by cross-validation over stimuli.

:func:`fit_ridge` fits, for every neuron, the causal linear STRF

    r_n(t) = b_n + sum_{f, k} w_n[f, k] · stim[f, t - (L - 1) + k]

(the layout of a :class:`~deepSTRF.models.audio.strf_models.Linear` kernel, whose
last column ``k = L - 1`` is the present bin) by ridge regression on the trial
mean of the responses. The lagged design is built stimulus by stimulus with zeros
before each stimulus's start, so no stimulus leaks into another; only the sums
``X^T X`` and ``X^T y`` are accumulated, in chunks, on any device.

The penalty is relative: ``alpha`` multiplies the mean eigenvalue of the centred
``X^T X`` (the intercept is not penalised), so one grid suits any stimulus scale.
For each held-out fold of stimuli the training ``X^T X`` is diagonalised once and
every penalty of the grid is solved from that decomposition; the held-out squared
error follows from the fold's own sums, without a second pass over the data. Each
neuron takes the penalty with the lowest error pooled over folds. Bins where a
neuron's response is missing (NaN, e.g. a missing stimulus-neuron pair) are left
out of that neuron's sums.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> stims = [torch.randn(3, 200, generator=g, dtype=torch.float64) for _ in range(4)]
    >>> kernel = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    >>> def conv(x):
    ...     return torch.nn.functional.conv1d(torch.nn.functional.pad(x, (4, 0))[None], kernel)[0]
    >>> responses = [conv(x) + 0.1 * torch.randn(2, 200, generator=g, dtype=torch.float64) for x in stims]
    >>> result = fit_ridge(stims, responses, n_lags=5, n_folds=4)
    >>> bool(torch.corrcoef(torch.stack([result.weight.flatten(), kernel.flatten()]))[0, 1] > 0.99)
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from deepSTRF._validation import check_device, check_int, check_positive_float
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training.lagged import LaggedStream, RidgeStatistics

__all__ = ["DEFAULT_ALPHAS", "RidgeResult", "fit_ridge", "ridge_to_linear"]

#: Default grid of relative penalties.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 3, 13))


@dataclass
class RidgeResult:
    """A fitted ridge STRF for ``N`` neurons.

    Attributes:
        weight: ``(N, F, L)`` STRF kernels (``[..., L - 1]`` is the present bin).
        bias: ``(N,)`` intercepts.
        alpha: ``(N,)`` chosen relative penalty of each neuron.
        penalty: ``(N,)`` the absolute penalty this means in the final fit on all stimuli.
        alphas: ``(A,)`` the grid of relative penalties that was searched.
        cv_mse: ``(A, N)`` held-out mean squared error per penalty and neuron (NaN when
            no cross-validation ran).

    Example:
        >>> result = RidgeResult(torch.ones(1, 2, 3), torch.zeros(1), torch.ones(1), torch.ones(1), torch.ones(1),
        ...                      torch.zeros(1, 1))
        >>> result.n_lags, result.predict(torch.ones(1, 1, 2, 4))[0, 0, 0].tolist()  # 2 bands x lags seen so far
        (3, [2.0, 4.0, 6.0, 6.0])
    """

    weight: torch.Tensor
    bias: torch.Tensor
    alpha: torch.Tensor
    penalty: torch.Tensor
    alphas: torch.Tensor
    cv_mse: torch.Tensor

    @property
    def n_lags(self) -> int:
        """Temporal extent ``L`` of the STRFs."""
        return int(self.weight.shape[-1])

    def predict(self, stims: torch.Tensor) -> torch.Tensor:
        """Predict responses to a batch of spectrograms.

        Args:
            stims: ``(B, 1, F, T)`` spectrograms, or ``(B, F, T)``, or one ``(F, T)``.

        Returns:
            ``(B, N, 1, T)`` predictions (``(N, 1, T)`` for one ``(F, T)`` spectrogram), causal in time.

        Raises:
            ValueError: If ``stims`` has the wrong shape.

        Example:
            >>> gen = torch.Generator().manual_seed(0)
            >>> ones = torch.ones(2, dtype=torch.float64)
            >>> result = RidgeResult(torch.randn(2, 3, 4, generator=gen, dtype=torch.float64), 0 * ones, ones,
            ...                      ones, ones, torch.zeros(1, 2, dtype=torch.float64))
            >>> stims = torch.randn(5, 1, 3, 30, generator=gen, dtype=torch.float64)
            >>> pred = result.predict(stims)
            >>> pred.shape, torch.allclose(pred, result.to_linear().eval()(stims))  # same as the Linear model
            (torch.Size([5, 2, 1, 30]), True)
            >>> torch.equal(result.predict(stims[:, 0]), pred), result.predict(stims[0, 0]).shape
            (True, torch.Size([2, 1, 30]))
        """
        n_bands = self.weight.shape[1]
        if isinstance(stims, torch.Tensor) and stims.dim() == 2 and stims.shape[0] == n_bands:
            return self.predict(stims[None, None])[0]
        if isinstance(stims, torch.Tensor) and stims.dim() == 3 and stims.shape[1] == n_bands:
            stims = stims[:, None]
        if not isinstance(stims, torch.Tensor) or stims.dim() != 4 or stims.shape[1:3] != (1, n_bands):
            got = tuple(stims.shape) if isinstance(stims, torch.Tensor) else type(stims).__name__
            raise ValueError(
                f"`stims` must have shape (B, 1, {n_bands}, T), (B, {n_bands}, T) or ({n_bands}, T), got {got}"
            )
        x = nnf.pad(stims[:, 0].to(self.weight), (self.n_lags - 1, 0))
        return nnf.conv1d(x, self.weight, self.bias).unsqueeze(2)

    def score(self, data: Any, responses: Sequence[Any] | None = None) -> torch.Tensor:
        """Pearson r of each neuron between predictions and (trial-mean) responses, all stimuli pooled.

        Args:
            data: As for :func:`fit_ridge`: a dataset, or spectrograms with ``responses``.
            responses: As for :func:`fit_ridge`; NaN bins are left out neuron by neuron.

        Returns:
            ``(N,)`` correlations (NaN for a neuron without two valid bins or with a constant response).

        Raises:
            TypeError, ValueError: As for :func:`fit_ridge`.

        Example:
            >>> result = RidgeResult(torch.ones(1, 1, 2), torch.zeros(1), torch.ones(1), torch.ones(1),
            ...                      torch.ones(1), torch.zeros(1, 1))
            >>> stim = torch.arange(10.0)[None] % 3
            >>> resp = 2 * result.predict(stim)[:, 0] - 1          # a linear function of the prediction
            >>> round(float(result.score([stim], [resp])), 6)
            1.0
        """
        stims, resps = _collect(data, responses, self.weight.dtype, self.weight.device)
        pred = torch.cat([self.predict(stim)[:, 0] for stim in stims], dim=1)
        target = torch.cat(resps, dim=1)
        valid = torch.isfinite(target)
        n = valid.sum(1)
        p = torch.where(valid, pred, 0.0)
        t = torch.where(valid, target, 0.0)
        p = torch.where(valid, p - p.sum(1, keepdim=True) / n[:, None], 0.0)
        t = torch.where(valid, t - t.sum(1, keepdim=True) / n[:, None], 0.0)
        return (p * t).sum(1) / (p.square().sum(1) * t.square().sum(1)).sqrt()

    def to_linear(self, dtype: torch.dtype | None = None) -> Linear:
        """The equivalent :class:`~deepSTRF.models.audio.strf_models.Linear` model; see :func:`ridge_to_linear`."""
        return ridge_to_linear(self, dtype=dtype)


def _as_tensor(value: Any, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    try:
        return torch.as_tensor(value, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"`{name}` must be a tensor or array, got {type(value).__name__}") from err


def _collect(
    data: Any, responses: Sequence[Any] | None, dtype: torch.dtype, device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Spectrograms ``(F, T_s)`` and trial-mean responses ``(N, T_s)`` from a dataset or two sequences."""
    if responses is None:
        if not isinstance(data, torch.utils.data.Dataset):
            raise TypeError(f"without `responses`, `data` must be a dataset, got {type(data).__name__}")
        items = [data[s] for s in range(len(data))]  # type: ignore[arg-type]
        stims = [_as_tensor(item["stims"], f"data[{s}]['stims']", dtype, device) for s, item in enumerate(items)]
        resps = [
            _as_tensor(item["responses"], f"data[{s}]['responses']", dtype, device) for s, item in enumerate(items)
        ]
    else:
        if len(data) != len(responses):
            raise ValueError(f"`data` and `responses` must have the same length, got {len(data)} and {len(responses)}")
        stims = [_as_tensor(x, f"data[{s}]", dtype, device) for s, x in enumerate(data)]
        resps = [_as_tensor(r, f"responses[{s}]", dtype, device) for s, r in enumerate(responses)]
    for s, stim in enumerate(stims):
        if stim.dim() == 3 and stim.shape[0] == 1:
            stims[s] = stim = stim[0]
        if stim.dim() != 2:
            raise ValueError(f"stimulus {s} must be a spectrogram (F, T) or (1, F, T), got shape {tuple(stim.shape)}")
    neurons = set()
    for s, (stim, resp) in enumerate(zip(stims, resps)):
        if resp.dim() == 3:
            resps[s] = resp = resp.nanmean(1)  # trial mean; NaN where every trial is missing
        if resp.dim() != 2 or resp.shape[1] != stim.shape[1]:
            raise ValueError(
                f"responses of stimulus {s} must be (N, T) or (N, R, T) with T = {stim.shape[1]}, "
                f"got shape {tuple(resp.shape)}"
            )
        neurons.add(int(resp.shape[0]))
    if len(neurons) > 1:
        raise ValueError(f"every stimulus must have responses of the same neurons, got N = {sorted(neurons)}")
    return stims, resps


def _fold_groups(
    n_stimuli: int, folds: Sequence[Sequence[int]] | None, n_folds: int, seed: int
) -> tuple[torch.Tensor, int]:
    """Group of each stimulus: its held-out fold, or ``n_folds`` for stimuli never held out."""
    if folds is None:
        if not 2 <= n_folds <= n_stimuli:
            raise ValueError(f"`n_folds` must lie in [2, {n_stimuli}] (the number of stimuli), got {n_folds}")
        order = torch.randperm(n_stimuli, generator=torch.Generator().manual_seed(seed))
        folds = [part.tolist() for part in torch.tensor_split(order, n_folds)]
    if len(folds) < 2:
        raise ValueError(f"`folds` must hold at least 2 folds, got {len(folds)}")
    group = torch.full((n_stimuli,), len(folds), dtype=torch.long)
    for k, fold in enumerate(folds):
        for s in fold:
            if not isinstance(s, (int, np.integer)) or not 0 <= s < n_stimuli:
                raise ValueError(f"`folds[{k}]` holds {s!r}, which is not a stimulus index in [0, {n_stimuli})")
            if group[s] != len(folds):
                raise ValueError(f"stimulus {s} appears in more than one fold of `folds`")
            group[s] = k
    return group, len(folds)


def _solve(gram: torch.Tensor, cross: torch.Tensor, alphas: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Ridge solutions for penalties ``alphas`` (A, n) from ``gram`` (D, D) and ``cross`` (D, n).

    Returns weights ``(A, D - 1, n)``, intercepts ``(A, n)`` and the penalty scale.
    """
    count = gram[-1, -1]
    mean = gram[:-1, -1] / count
    cov = gram[:-1, :-1] - count * torch.outer(mean, mean)
    total = cross[-1]
    centred = cross[:-1] - mean[:, None] * total[None]
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(0)
    scale = evals.mean().clamp_min(torch.finfo(evals.dtype).tiny)
    shrunk = (evecs.T @ centred)[None] / (evals[None, :, None] + alphas[:, None, :] * scale)
    weight = evecs @ shrunk
    bias = total / count - torch.einsum("d,adn->an", mean, weight)
    return weight, bias, scale


def fit_ridge(
    data: Any,
    responses: Sequence[Any] | None = None,
    *,
    n_lags: int,
    alphas: Sequence[float] | torch.Tensor | None = None,
    n_folds: int = 5,
    folds: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    chunk_size: int = 8192,
) -> RidgeResult:
    """Fit ridge STRFs, choosing each neuron's penalty by cross-validation over stimuli.

    Args:
        data: A dataset whose items are dicts with ``'stims'`` ``(1, F, T_s)`` and
            ``'responses'`` ``(N, R, T_s)`` (a
            :class:`~deepSTRF.datasets.NeuralDataset` or a subset of one), or, with
            ``responses``, a sequence of ``S`` spectrograms ``(F, T_s)`` or ``(1, F, T_s)``.
        responses: With a sequence of spectrograms: ``S`` responses ``(N, T_s)`` or
            ``(N, R, T_s)`` (the trial mean is fitted), NaN where missing.
        n_lags: Temporal extent ``L`` of the STRF, in bins.
        alphas: Relative penalties to search (positive); :data:`DEFAULT_ALPHAS` by default.
            With a single value no cross-validation runs.
        n_folds: Number of random folds of stimuli (ignored when ``folds`` is given).
        folds: Explicit held-out folds (lists of stimulus indices); stimuli in no fold are
            always used for training.
        seed: Seed of the random folds.
        device: Device of the computation (default: CPU).
        dtype: Floating dtype of the computation.
        chunk_size: Rows of the lagged design held in memory at once.

    Returns:
        A :class:`RidgeResult` on ``device``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If shapes disagree, a penalty is not positive, the folds are invalid,
            or a neuron has no valid response at all.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> stims = [torch.randn(4, 100, generator=g) for _ in range(6)]
        >>> responses = [torch.randn(3, 2, 100, generator=g) for _ in range(6)]  # (N, R, T): trials are averaged
        >>> result = fit_ridge(stims, responses, n_lags=5, alphas=[0.1, 1.0, 10.0], n_folds=3)
        >>> result.weight.shape, result.cv_mse.shape
        (torch.Size([3, 4, 5]), torch.Size([3, 3]))
    """
    n_lags = check_int("n_lags", n_lags)
    chunk_size = check_int("chunk_size", chunk_size)
    device = check_device("device", "cpu" if device is None else device)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"`dtype` must be a floating torch.dtype, got {dtype!r}")
    grid = torch.as_tensor(DEFAULT_ALPHAS if alphas is None else alphas, dtype=dtype).flatten()
    if grid.numel() == 0:
        raise ValueError("`alphas` must hold at least one penalty, got none")
    for a in grid.tolist():
        check_positive_float("alphas", a)
    grid = grid.sort().values.to(device)
    stims, resps = _collect(data, responses, dtype, device)
    if not stims:
        raise ValueError("`data` holds no stimulus: ridge needs at least one stimulus with responses")
    if grid.numel() > 1:
        group, n_held = _fold_groups(len(stims), folds, check_int("n_folds", n_folds), seed)
    else:
        group, n_held = torch.zeros(len(stims), dtype=torch.long), 0
    order = torch.argsort(group, stable=True).tolist()
    stream = LaggedStream([stims[s] for s in order], n_lags)
    targets = torch.cat([resps[s] for s in order], dim=1)
    stats = RidgeStatistics(stream, targets, group[order], n_held + 1, chunk_size)
    gram_all, cross_all = stats.gram.sum(0), stats.cross.sum(0)

    n_neurons = targets.shape[0]
    counts = gram_all[stats.pattern, -1, -1]
    if bool((counts == 0).any()):
        raise ValueError(f"neurons {torch.nonzero(counts == 0).flatten().tolist()} have no valid (finite) response")
    sse = torch.zeros(grid.numel(), n_neurons, dtype=dtype, device=device)
    held_count = torch.zeros(n_neurons, dtype=dtype, device=device)
    patterns = range(stats.gram.shape[1])
    for k in range(n_held):
        for p in patterns:
            idx = torch.nonzero(stats.pattern == p).flatten()
            gram_k, cross_k = stats.gram[k, p], stats.cross[k][:, idx]
            if gram_k[-1, -1] == 0 or gram_all[p, -1, -1] == gram_k[-1, -1]:
                continue  # nothing held out, or nothing left to train on, for these neurons
            alphas_k = grid[:, None].expand(-1, idx.numel())
            weight, bias, _ = _solve(gram_all[p] - gram_k, cross_all[:, idx] - cross_k, alphas_k)
            full = torch.cat([weight, bias[:, None]], dim=1)  # (A, D, n)
            err = stats.sq[k, idx] - 2 * (full * cross_k).sum(1) + torch.einsum("adn,de,aen->an", full, gram_k, full)
            sse[:, idx] += err
            held_count[idx] += gram_k[-1, -1]
    cv_mse = sse / held_count
    best = torch.nan_to_num(cv_mse, nan=torch.inf).argmin(0)
    if n_held and bool((held_count == 0).any()):
        lonely = torch.nonzero(held_count == 0).flatten().tolist()
        warnings.warn(f"neurons {lonely} could not be cross-validated; they take the largest penalty", stacklevel=2)
        best[held_count == 0] = grid.numel() - 1
    chosen = grid[best]

    weight = torch.empty(stream.n_features, n_neurons, dtype=dtype, device=device)
    bias = torch.empty(n_neurons, dtype=dtype, device=device)
    penalty = torch.empty(n_neurons, dtype=dtype, device=device)
    for p in patterns:
        idx = torch.nonzero(stats.pattern == p).flatten()
        w, b, scale = _solve(gram_all[p], cross_all[:, idx], chosen[idx][None])
        weight[:, idx], bias[idx], penalty[idx] = w[0], b[0], chosen[idx] * scale
    return RidgeResult(
        weight=weight.T.reshape(n_neurons, stream.n_bands, n_lags),
        bias=bias,
        alpha=chosen,
        penalty=penalty,
        alphas=grid,
        cv_mse=cv_mse if n_held else torch.full_like(cv_mse, float("nan")),
    )


def ridge_to_linear(result: RidgeResult, dtype: torch.dtype | None = None) -> Linear:
    """Build the :class:`~deepSTRF.models.audio.strf_models.Linear` model that computes a ridge fit exactly.

    The readout's STRF kernel and bias take the ridge weights and intercepts; its
    BatchNorm becomes the identity in eval mode (running mean 0, running variance
    ``1 - eps``, weight 1, bias 0). The model is returned in eval mode, where its
    output equals :meth:`RidgeResult.predict`; training it further starts from the fit
    (in train mode the BatchNorm normalises with batch statistics again).

    Args:
        result: The ridge fit.
        dtype: Dtype of the model; the result's dtype by default.

    Returns:
        A ``Linear`` model with ``F``, ``L`` and ``N`` taken from the result, on the result's device.

    Raises:
        TypeError: If ``result`` is not a :class:`RidgeResult`.

    Example:
        >>> import torch
        >>> result = RidgeResult(torch.randn(2, 3, 4), torch.zeros(2), torch.ones(2), torch.ones(2),
        ...                      torch.ones(1), torch.full((1, 2), float("nan")))
        >>> model = ridge_to_linear(result)
        >>> x = torch.randn(1, 1, 3, 10)
        >>> torch.allclose(model(x), result.predict(x), atol=1e-6)
        True
    """
    if not isinstance(result, RidgeResult):
        raise TypeError(f"`result` must be a RidgeResult, got {type(result).__name__}")
    n_neurons, n_bands, n_lags = result.weight.shape
    dtype = result.weight.dtype if dtype is None else dtype
    model = Linear(n_frequency_bands=n_bands, temporal_window_size=n_lags, out_neurons=n_neurons)
    model = model.to(device=result.weight.device, dtype=dtype)
    conv = cast(nn.Conv2d, model.readout.conv.kernel)  # the default kernel: a plain Conv2d (N, 1, F, L)
    norm = cast(nn.BatchNorm1d, model.readout.bn)
    with torch.no_grad():
        conv.weight.copy_(result.weight[:, None])
        cast(torch.Tensor, conv.bias).copy_(result.bias)
        cast(torch.Tensor, norm.running_mean).zero_()
        cast(torch.Tensor, norm.running_var).fill_(1.0 - norm.eps)
        norm.weight.fill_(1.0)
        norm.bias.zero_()
    return model.eval()
