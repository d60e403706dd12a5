"""Masked, NaN-aware statistics shared by every metric and loss.

Every metric in :mod:`deepSTRF.metrics` reduces its inputs with the helpers below, so
missing data is handled in one place:

- :func:`trial_stats` turns trials ``(B, N, R, T)`` (NaN = missing trial, bin or pair)
  into per-position summaries ``(B, N, 1, T)``: the trial count, the trial mean (PSTH)
  and the unbiased within-position variance across trials.
- :func:`pooled_moments` gives, per neuron, the number of valid positions, the means,
  variances and covariance over all valid (stimulus, time) positions together.
- :func:`reduce_neurons` applies ``reduction`` over the neuron axis.

Nothing here calls ``.item()``, uses boolean indexing or ``torch.nonzero``: invalid
positions are zeroed with :func:`torch.where` and counted with sums, so the metrics
never wait on the device and keep fixed output shapes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from deepSTRF._validation import check_choice, check_tensor

REDUCTIONS = ("none", "mean", "median", "sum")
_CACHE_BLOCK = 2**20  # elements of trials processed at once by trial_stats on a CPU
_DIMS = (0, 2, 3)  # pooled axes of a (B, N, 1, T) tensor: stimuli, (trials,) time


def check_pred(pred: object, name: str = "pred") -> torch.Tensor:
    """Check a prediction tensor of shape ``(B, N, 1, T)``."""
    pred = check_tensor(name, pred, ndim=4, floating=True)
    if pred.shape[2] != 1:
        raise ValueError(f"`{name}` must have shape (B, N, 1, T), got {tuple(pred.shape)}")
    return pred


def check_target(target: object, pred: torch.Tensor | None = None, name: str = "target") -> torch.Tensor:
    """Check trials ``(B, N, R, T)`` (or a PSTH, R = 1) against the prediction's B, N and T."""
    target = check_tensor(name, target, ndim=4, floating=True)
    if pred is not None and (pred.shape[:2] != target.shape[:2] or pred.shape[3] != target.shape[3]):
        raise ValueError(
            f"`{name}` must have shape (B, N, R, T) with the B, N and T of `pred` {tuple(pred.shape)}, "
            f"got {tuple(target.shape)}"
        )
    return target


def check_reduction(reduction: object) -> str:
    """Check ``reduction`` against :data:`REDUCTIONS`."""
    return str(check_choice("reduction", reduction, REDUCTIONS))


def resolve_mask(mask: object, like: torch.Tensor) -> torch.Tensor | None:
    """Expand an optional bool ``mask`` to the position shape ``(B, N, 1, T)`` of ``like``."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"`mask` must be a bool torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"`mask` must be a bool tensor, got dtype {mask.dtype}")
    shape = (like.shape[0], like.shape[1], 1, like.shape[3])
    try:
        ok = torch.broadcast_shapes(mask.shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"`mask` must be broadcastable to (B, N, 1, T) = {shape}, got shape {tuple(mask.shape)}")
    return mask.to(like.device).expand(shape)


def restrict(valid: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Positions that are valid and selected by ``mask`` (None selects all)."""
    return valid if mask is None else valid & mask


class TrialStats(NamedTuple):
    """Per-position summaries of trials, each ``(B, N, 1, T)``.

    Attributes:
        trials: Number of non-missing trials ``r`` (in the responses' dtype).
        psth: Trial mean; NaN where ``r = 0``.
        noise_var: Unbiased variance across trials, ``Σ_k (x_k − psth)² / (r − 1)``;
            NaN where ``r < 2``.
    """

    trials: torch.Tensor
    psth: torch.Tensor
    noise_var: torch.Tensor


def count_present(missing: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Number of present trials per position, ``(B, N, 1, T)``, from the ``(B, N, R, T)`` NaN mask."""
    r = missing.shape[2]
    if r < 256:  # byte-wise sums are exact below 256 and much faster than bool or int64 reductions
        n_missing = missing.view(torch.uint8).sum(dim=2, keepdim=True, dtype=torch.uint8)
    else:
        n_missing = missing.sum(dim=2, keepdim=True)
    return r - n_missing.to(dtype)


def trial_stats(responses: torch.Tensor, noise: bool = True, missing: torch.Tensor | None = None) -> TrialStats:
    """Count, mean and (if ``noise``) within-position variance of the trials at every position.

    Without ``noise``, ``noise_var`` is all NaN. ``missing`` may pass in
    ``torch.isnan(responses)`` if the caller already has it. The trials are treated as
    data: no gradient flows through ``noise_var``.
    """
    batch, neurons, n_trials, length = responses.shape
    if noise and responses.device.type == "cpu" and responses.numel() > 2 * _CACHE_BLOCK and batch * neurons > 1:
        # The variance needs full-size temporaries. On a CPU, computing them for a block of
        # (stimulus, neuron) rows at a time keeps them in cache and reuses their memory,
        # which makes recording-sized inputs 1.5-2x faster; the result is the same.
        rows = responses.flatten(0, 1)
        gone = None if missing is None else missing.flatten(0, 1)
        step = max(1, _CACHE_BLOCK // (n_trials * length))
        parts = [
            trial_stats(rows[None, i : i + step], True, None if gone is None else gone[None, i : i + step])
            for i in range(0, rows.shape[0], step)
        ]
        return TrialStats(
            *(torch.cat(field, dim=1).view(batch, neurons, 1, length) for field in zip(*parts, strict=True))
        )
    nan = torch.full((), float("nan"), dtype=responses.dtype, device=responses.device)
    if missing is None:
        missing = torch.isnan(responses)
    count = count_present(missing, responses.dtype)
    if responses.shape[2] == 1:
        return TrialStats(count, responses, nan.expand_as(responses))
    psth = responses.nansum(dim=2, keepdim=True) / count  # 0/0 = NaN where no trial
    if not noise:
        return TrialStats(count, psth, nan.expand_as(psth))
    deviations = responses.detach() - psth.detach()  # NaN where missing
    sq = deviations.square_().nansum(dim=2, keepdim=True)
    noise_var = sq / (count - 1) + psth.detach() * 0  # 0/0 = NaN for one trial; NaN psth for none
    return TrialStats(count, psth, noise_var)


def pooled_sum(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per-neuron sum ``(N,)`` of ``values`` weighted by the 0/1 float ``scale``.

    ``values`` may be NaN only where ``scale`` is 0 (as the per-position trial
    statistics are); NaN there is ignored.
    """
    return (values.nan_to_num(0.0) * scale).sum(_DIMS)


def safe_divide(num: torch.Tensor, den: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``ok``, NaN elsewhere (never divides by zero)."""
    nan = torch.full((), float("nan"), dtype=num.dtype, device=num.device)
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), nan)


class Moments(NamedTuple):
    """Per-neuron moments over valid positions, each ``(N,)``.

    Variances and the covariance are unbiased (divided by ``n − 1``); they are NaN when
    ``n < 2`` and means are NaN when ``n = 0``.
    """

    n: torch.Tensor
    mean_x: torch.Tensor
    var_x: torch.Tensor
    mean_y: torch.Tensor
    var_y: torch.Tensor
    cov: torch.Tensor


def _centred(
    x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, n: torch.Tensor, clean: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-neuron mean and deviations from it (zero outside ``weight``; ``scale`` is its 0/1 float copy).

    ``clean`` values are NaN only outside ``weight`` (cheap to zero); other values may
    hold anything there. The data are first shifted by a per-neuron reference: the
    largest value, or the smallest if the largest is 0 (with excluded positions read as
    0). For a signal that is constant on the valid positions the reference is that
    constant, so its deviations are exactly zero, its variance exactly 0 and
    correlations with it NaN instead of rounding noise. The shift changes no moment.
    """
    if clean:
        filled = x.nan_to_num(0.0) * scale
    else:
        filled = torch.where(weight, x, torch.zeros((), dtype=x.dtype, device=x.device))
    high, low = filled.detach().amax(dim=_DIMS, keepdim=True), filled.detach().amin(dim=_DIMS, keepdim=True)
    ref = torch.where(high != 0, high, low)
    shifted = (filled - ref) * scale
    mean_shifted = safe_divide(shifted.sum(_DIMS), n, n > 0)
    return mean_shifted + ref.view(-1), (shifted - mean_shifted.view(1, -1, 1, 1)) * scale


def pooled_moments(x: torch.Tensor, y: torch.Tensor | None, weight: torch.Tensor) -> Moments:
    """Means, variances and covariance per neuron over the positions where ``weight`` is True.

    Args:
        x: ``(B, N, 1, T)`` values computed from the data (a PSTH), NaN only outside ``weight``.
        y: ``(B, N, 1, T)`` values that may hold anything outside ``weight`` (a prediction),
            or None (then the ``y`` fields repeat ``x``). NaN at a valid position propagates.
        weight: ``(B, N, 1, T)`` bool, True on the positions to pool.

    Returns:
        :class:`Moments`, from shifted two-pass sums (stable for large offsets).
    """
    scale = weight.to(x.dtype)
    n = scale.sum(_DIMS)
    mean_x, dev_x = _centred(x, weight, scale, n, clean=True)
    has_two = n > 1
    var_x = safe_divide(dev_x.square().sum(_DIMS), n - 1, has_two)
    if y is None:
        return Moments(n, mean_x, var_x, mean_x, var_x, var_x)
    mean_y, dev_y = _centred(y, weight, scale.to(y.dtype), n.to(y.dtype), clean=False)
    var_y = safe_divide(dev_y.square().sum(_DIMS), n - 1, has_two)
    cov = safe_divide((dev_x * dev_y).sum(_DIMS), n - 1, has_two)
    return Moments(n, mean_x, var_x, mean_y, var_y, cov)


def squared_error(m: Moments) -> torch.Tensor:
    """``Σ_p (x_p − y_p)²`` over the pooled positions, from :class:`Moments` (NaN if ``n < 2``)."""
    return (m.n - 1) * (m.var_x + m.var_y - 2 * m.cov) + m.n * (m.mean_x - m.mean_y).square()


def correlation(m: Moments) -> torch.Tensor:
    """Pearson correlation from :class:`Moments`; NaN where either variance is zero."""
    ok = (m.var_x > 0) & (m.var_y > 0)
    return safe_divide(m.cov, torch.sqrt(m.var_x * m.var_y), ok).clamp(-1.0, 1.0)


def _nanmedian(values: torch.Tensor) -> torch.Tensor:
    """Median over dim 0 ignoring NaN, averaging the two middle values (as NumPy does)."""
    ordered = values.sort(dim=0).values  # NaN sorts last
    count = (~torch.isnan(values)).sum(dim=0, keepdim=True)
    last = max(values.shape[0] - 1, 0)
    lo = ((count - 1).clamp_min(0) // 2).clamp_max(last)
    hi = (count // 2).clamp_max(last)
    mid = (ordered.gather(0, lo) + ordered.gather(0, hi)) / 2
    nan = torch.full((), float("nan"), dtype=values.dtype, device=values.device)
    return torch.where(count > 0, mid, nan).squeeze(0)


def reduce_neurons(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-neuron ``values`` (neurons on dim 0) with a NaN-aware mean, median or sum."""
    if reduction == "none":
        return values
    if reduction == "mean":
        return values.nanmean(dim=0)
    if reduction == "sum":
        return values.nansum(dim=0)
    return _nanmedian(values)
