"""Masked, NaN-aware statistics shared by every metric and loss.

Every metric in :mod:`deepSTRF.metrics` reduces its inputs with the helpers below, so
missing data is handled in one place:

- :func:`trial_stats` turns trials ``(B, N, R, T)`` (NaN = missing trial, bin or pair)
  into per-position summaries ``(B, N, 1, T)``: the trial count, the trial mean (PSTH)
  and the unbiased within-position variance across trials.
- :func:`pooled_moments` gives, per neuron, the number of valid positions, the means,
  variances and covariance over all valid (stimulus, time) positions together.
- :func:`reduce_neurons` applies ``reduction`` over the neuron axis.

Results that are NaN by definition warn once per process (a :class:`MetricWarning`):
trials with a single repeat (``R = 1``) given to a noise-based metric (known from the
shape), and neurons left with no valid position (checked on CPU tensors only, where
reading a value costs no device synchronisation).

Nothing here calls ``.item()``, uses boolean indexing or ``torch.nonzero``: invalid
positions are zeroed with :func:`torch.where` and counted with sums, so the metrics
never wait on the device and keep fixed output shapes.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from deepSTRF._validation import check_choice, check_tensor
from deepSTRF.functional import moments as _moments
from deepSTRF.functional.moments import Moments, correlation, safe_divide, squared_error

__all__ = [
    "REDUCTIONS",
    "MetricWarning",
    "Moments",
    "TrialStats",
    "check_pred",
    "check_reduction",
    "check_target",
    "correlation",
    "count_present",
    "pooled_moments",
    "pooled_sum",
    "reduce_neurons",
    "resolve_mask",
    "restrict",
    "safe_divide",
    "squared_error",
    "trial_stats",
    "warn_no_valid",
    "warn_one_trial",
]

REDUCTIONS = ("none", "mean", "median", "sum")
_CACHE_BLOCK = 2**20  # elements of trials processed at once by trial_stats on a CPU
_DIMS = (0, 2, 3)  # pooled axes of a (B, N, 1, T) tensor: stimuli, (trials,) time


class MetricWarning(UserWarning):
    """A metric returns NaN by definition for these inputs (e.g. one trial, or no valid position)."""


def warn_one_trial(responses: torch.Tensor) -> None:
    """Warn (once per process) when trials given to a noise-based metric have a single repeat."""
    if responses.shape[2] < 2:
        warnings.warn(
            "a noise-based metric (signal/noise power, SNR, explainable variance, CCmax, CCnorm, FEVE) got "
            "responses with one trial (R = 1): it needs at least 2 repeats of a stimulus, so it returns NaN; "
            "pass the single trials (B, N, R, T), not their mean",
            MetricWarning,
            stacklevel=1,  # one location: shown once per process under the default filter
        )


def warn_no_valid(count: torch.Tensor) -> None:
    """Warn (once per process) when some neuron has no valid position; reads values on CPU only (no sync)."""
    if count.device.type == "cpu" and count.numel() and bool((count == 0).any()):
        warnings.warn(
            "some neurons have no valid position (every target value is missing (NaN) or masked out), so their "
            "score is NaN; check the mask and the responses of those neurons",
            MetricWarning,
            stacklevel=1,  # one location: shown once per process under the default filter
        )


def check_pred(pred: object, name: str = "pred") -> torch.Tensor:
    """Check a prediction tensor of shape ``(B, N, 1, T)``."""
    pred = check_tensor(name, pred, ndim=4, floating=True)
    if pred.shape[2] != 1:
        raise ValueError(f"`{name}` must have shape (B, N, 1, T), got {tuple(pred.shape)}")
    _check_nonempty(name, pred)
    return pred


def _check_nonempty(name: str, x: torch.Tensor) -> None:
    if 0 in x.shape:
        raise ValueError(
            f"`{name}` must have at least one stimulus, neuron, trial and time bin (B, N, R, T >= 1), "
            f"got shape {tuple(x.shape)}"
        )


def check_target(target: object, pred: torch.Tensor | None = None, name: str = "target") -> torch.Tensor:
    """Check trials ``(B, N, R, T)`` (or a PSTH, R = 1) against the prediction's B, N and T."""
    target = check_tensor(name, target, ndim=4, floating=True)
    if pred is not None and (pred.shape[:2] != target.shape[:2] or pred.shape[3] != target.shape[3]):
        raise ValueError(
            f"`{name}` must have shape (B, N, R, T) with the B, N and T of `pred` {tuple(pred.shape)}, "
            f"got {tuple(target.shape)}"
        )
    _check_nonempty(name, target)
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
    if noise:
        warn_one_trial(responses)
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


def pooled_moments(x: torch.Tensor, y: torch.Tensor | None, weight: torch.Tensor) -> Moments:
    """Per-neuron :class:`~deepSTRF.functional.moments.Moments` of ``(B, N, 1, T)`` tensors, each ``(N,)``.

    The positions pooled are all valid (stimulus, time) positions together; see
    :func:`deepSTRF.functional.moments.pooled_moments`.
    """
    moments = _moments.pooled_moments(x, y, weight, _DIMS)
    warn_no_valid(moments.n)
    return moments


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
