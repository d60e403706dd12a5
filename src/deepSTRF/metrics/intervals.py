"""Confidence intervals for any per-neuron metric: jackknife over trials, bootstrap over stimuli.

``metric`` is any callable that returns one value per neuron, ``(N,)``: called as
``metric(pred, responses, mask=mask)`` when ``pred`` is given, else
``metric(responses, mask=mask)``, with ``reduction='none'`` added when the callable takes
a ``reduction`` argument: every metric of :mod:`deepSTRF.metrics` fits as it is (their
default reduction is the mean over neurons); bind other arguments with
:func:`functools.partial` (e.g. ``partial(normalized_corrcoef, method='hsu')``).

Replicates are evaluated in batches: the replicated data of several replicates are
stacked along the neuron axis and scored in one call, as many per call as fit in
``max_batch_elements`` (at least one). A metric that scores neurons independently
(all of this package's do) then gives each replicate exactly its own value.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import statistics
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch

from deepSTRF._validation import check_int
from deepSTRF.metrics._masked import (
    MetricWarning,
    check_pred,
    check_reduction,
    check_target,
    reduce_neurons,
    resolve_mask,
    safe_divide,
)

__all__ = ["ConfidenceInterval", "bootstrap_ci", "jackknife_ci"]

Metric = Callable[..., torch.Tensor]
# Build the (pred, responses, mask) of replicates [start, stop), stacked along neurons.
_Batch = Callable[[int, int], tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]]


class ConfidenceInterval(NamedTuple):
    """A point estimate and its confidence bounds (same shapes).

    Returned by :func:`jackknife_ci` and :func:`bootstrap_ci`; a named tuple, so it also
    unpacks as ``estimate, lower, upper``.

    Example:
        >>> ci = ConfidenceInterval(torch.tensor([0.6]), torch.tensor([0.5]), torch.tensor([0.7]))
        >>> estimate, lower, upper = ci
        >>> float(ci.upper - ci.lower) == float(upper - lower)
        True
    """

    estimate: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor


def _check_common(
    metric: object, responses: object, pred: object, mask: object, level: object, max_batch_elements: object
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None, float]:
    if not callable(metric):
        raise TypeError(f"`metric` must be callable, got {type(metric).__name__}")
    pred_t = None if pred is None else check_pred(pred)
    responses = check_target(responses, pred_t, name="responses")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < float(level) < 1:
        raise ValueError(f"`level` must be a number in (0, 1), got {level!r}")
    check_int("max_batch_elements", max_batch_elements)
    return pred_t, responses, resolve_mask(mask, responses), float(level)


def _takes_reduction(metric: Metric) -> bool:
    """Whether ``reduction='none'`` should be passed: the metric takes it and no ``partial`` binds it."""
    if isinstance(metric, functools.partial) and "reduction" in metric.keywords:
        return False
    try:
        return "reduction" in inspect.signature(metric).parameters
    except (TypeError, ValueError):  # a callable without an inspectable signature
        return False


def _call(
    metric: Metric, pred: torch.Tensor | None, responses: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    kwargs: dict[str, object] = {"mask": mask}
    if _takes_reduction(metric):
        kwargs["reduction"] = "none"
    values = metric(responses, **kwargs) if pred is None else metric(pred, responses, **kwargs)
    if not isinstance(values, torch.Tensor) or values.shape != (responses.shape[1],):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"`metric` must return one value per neuron, shape ({responses.shape[1]},), got {shape}")
    return values


def _stack(x: torch.Tensor) -> torch.Tensor:
    """``(k, B, N, R, T)`` replicates -> ``(B, k * N, R, T)``."""
    k, b, n, r, t = x.shape
    return x.transpose(0, 1).reshape(b, k * n, r, t)


def _replicates(metric: Metric, batch: _Batch, n_rep: int, per_call: int, n_neurons: int) -> torch.Tensor:
    """Metric values of all replicates, ``(n_rep, N)``."""
    values = []
    with warnings.catch_warnings():  # a replicate without data is expected here; the caller's inputs were checked
        warnings.simplefilter("ignore", MetricWarning)
        for start in range(0, n_rep, per_call):
            stop = min(start + per_call, n_rep)
            pred, responses, mask = batch(start, stop)
            values.append(_call(metric, pred, responses, mask).view(stop - start, n_neurons))
    return torch.cat(values)


def jackknife_ci(
    metric: Metric,
    responses: torch.Tensor,
    *,
    pred: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    level: float = 0.95,
    reduction: str = "none",
    max_batch_elements: int = 2**25,
) -> ConfidenceInterval:
    r"""Delete-one-trial jackknife interval of a metric.

    Replicate ``j`` drops trial ``j`` of every stimulus. Over the ``J`` trial slots that
    hold any data, with :math:`\bar\theta` the mean of the replicates :math:`\theta_j`,

    .. math::
        \mathrm{SE} = \sqrt{\tfrac{J-1}{J} \sum_j (\theta_j - \bar\theta)^2},
        \qquad \hat\theta \pm z_{(1+\text{level})/2}\,\mathrm{SE}

    (a normal interval around the full-data estimate :math:`\hat\theta`).

    Args:
        metric: Per-neuron metric (see the module notes).
        responses: Trials, NaN where missing.
        pred: Predictions, passed to ``metric`` first if given.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``, passed to ``metric``.
        level: Confidence level in (0, 1).
        reduction: Applied to the metric over neurons before the interval: ``'none'``
            gives per-neuron intervals, ``'mean'``/``'median'``/``'sum'`` an interval of
            the summary.
        max_batch_elements: Most response elements scored in one call of ``metric``.

    Returns:
        :class:`ConfidenceInterval` of ``(N,)`` tensors (scalars with a reduction).

    Raises:
        TypeError: If ``metric`` is not callable or a tensor argument is invalid.
        ValueError: If shapes disagree, ``level`` is outside (0, 1), ``reduction`` is
            unknown, or ``metric`` does not return ``(N,)``.

    Example:
        >>> from deepSTRF.metrics import snr
        >>> trials = torch.randn(4, 2, 6, 50, generator=torch.Generator().manual_seed(0))
        >>> ci = jackknife_ci(snr, trials)
        >>> ci.estimate.shape, bool((ci.lower <= ci.estimate).all() and (ci.estimate <= ci.upper).all())
        (torch.Size([2]), True)
    """
    pred, responses, mask, level = _check_common(metric, responses, pred, mask, level, max_batch_elements)
    reduction = check_reduction(reduction)
    b, n, r, t = responses.shape
    nan = torch.full((), float("nan"), dtype=responses.dtype, device=responses.device)

    def batch(start: int, stop: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        k = stop - start
        dropped = torch.arange(start, stop, device=responses.device).view(k, 1) == torch.arange(
            r, device=responses.device
        )
        reps = torch.where(dropped.view(k, 1, 1, r, 1), nan, responses.unsqueeze(0))
        expand = (k, b, n, 1, t)
        return (
            None if pred is None else _stack(pred.expand(expand)),
            _stack(reps),
            None if mask is None else _stack(mask.expand(expand)),
        )

    full = reduce_neurons(_call(metric, pred, responses, mask), reduction)
    per_call = max(1, max_batch_elements // max(responses.numel(), 1))
    reps = reduce_neurons(_replicates(metric, batch, r, per_call, n).T, reduction)  # (..., R)
    present = (~torch.isnan(responses)).any(dim=3).any(dim=1).any(dim=0)  # (R,) trial slot holds data
    count = present.sum().to(responses.dtype)
    zero = torch.zeros((), dtype=responses.dtype, device=responses.device)
    mean = safe_divide(torch.where(present, reps, zero).sum(-1), count, count > 0)
    spread = torch.where(present, reps - mean.unsqueeze(-1), zero).square().sum(-1)
    se = torch.sqrt(safe_divide(spread * (count - 1), count, count > 1))
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    return ConfidenceInterval(full, full - z * se, full + z * se)


def bootstrap_ci(
    metric: Metric,
    responses: torch.Tensor,
    *,
    pred: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    level: float = 0.95,
    reduction: str = "none",
    n_boot: int = 1000,
    seed: int = 0,
    max_batch_elements: int = 2**25,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of a metric, resampling stimuli with replacement.

    Each of ``n_boot`` replicates draws ``B`` stimuli with replacement (a seeded
    generator: the same on every device) and scores them; the bounds are the
    NaN-ignoring ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of the replicates,
    around the full-data estimate.

    Args:
        metric: Per-neuron metric (see the module notes).
        responses: Trials, NaN where missing.
        pred: Predictions, passed to ``metric`` first if given.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``, passed to ``metric``.
        level: Confidence level in (0, 1).
        reduction: ``'none'`` for per-neuron intervals, or ``'mean'``/``'median'``/``'sum'``
            for an interval of that summary over neurons.
        n_boot: Number of bootstrap replicates.
        seed: Seed of the resampling.
        max_batch_elements: Most response elements scored in one call of ``metric``.

    Returns:
        :class:`ConfidenceInterval` of ``(N,)`` tensors (scalars with a reduction).

    Raises:
        TypeError: If ``metric`` is not callable or an argument has the wrong type.
        ValueError: If shapes disagree, ``level``, ``n_boot``, ``seed`` or ``reduction``
            is invalid, or ``metric`` does not return ``(N,)``.

    Example:
        >>> from deepSTRF.metrics import corrcoef
        >>> gen = torch.Generator().manual_seed(0)
        >>> pred = torch.randn(8, 3, 1, 40, generator=gen)
        >>> trials = pred + torch.randn(8, 3, 5, 40, generator=gen)
        >>> ci = bootstrap_ci(corrcoef, trials, pred=pred, n_boot=200, reduction="mean")
        >>> bool(ci.lower < ci.estimate < ci.upper)
        True
    """
    pred, responses, mask, level = _check_common(metric, responses, pred, mask, level, max_batch_elements)
    reduction = check_reduction(reduction)
    n_boot = check_int("n_boot", n_boot)
    seed = check_int("seed", seed, minimum=0)
    b, n = responses.shape[:2]
    draws = torch.randint(b, (n_boot, b), generator=torch.Generator().manual_seed(seed))
    draws = draws.to(responses.device, non_blocking=True)  # drawn on the CPU: the same on every device
    position_mask = None if mask is None else mask.expand(b, n, 1, responses.shape[3])

    def batch(start: int, stop: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        idx = draws[start:stop]
        return (
            None if pred is None else _stack(pred[idx]),
            _stack(responses[idx]),
            None if position_mask is None else _stack(position_mask[idx]),
        )

    full = reduce_neurons(_call(metric, pred, responses, mask), reduction)
    per_call = max(1, max_batch_elements // max(responses.numel(), 1))
    reps = reduce_neurons(_replicates(metric, batch, n_boot, per_call, n).T, reduction)  # (..., n_boot)
    lower = torch.nanquantile(reps, (1 - level) / 2, dim=-1)
    upper = torch.nanquantile(reps, (1 + level) / 2, dim=-1)
    return ConfidenceInterval(full, lower, upper)
