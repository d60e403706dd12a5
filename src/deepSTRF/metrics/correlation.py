"""Raw prediction scores: Pearson correlation and fraction of variance explained.

Both compare a prediction with the trial mean (PSTH) of the target and pool, for
each neuron, all valid (stimulus, time) positions together: a position is valid
where the target has at least one trial and ``mask`` (if given) is True. A NaN in
``pred`` at a valid position makes that neuron's score NaN (it is not skipped).
"""

from __future__ import annotations

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF.metrics._masked import (
    check_pred,
    check_reduction,
    check_target,
    correlation,
    pooled_moments,
    reduce_neurons,
    resolve_mask,
    restrict,
    safe_divide,
    squared_error,
    trial_stats,
)

__all__ = ["corrcoef", "fve"]


def _psth_and_weight(
    pred: object, target: object, mask: object, reduction: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    pred = check_pred(pred)
    target = check_target(target, pred)
    reduction = check_reduction(reduction)
    stats = trial_stats(target, noise=False)
    weight = restrict(stats.trials > 0, resolve_mask(mask, pred))
    return pred, stats.psth, weight, reduction


@accepts_old_names(gt="target")
def corrcoef(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Pearson correlation between the prediction and the PSTH, per neuron.

    .. math::
        r = \frac{\operatorname{Cov}(\hat y, \bar x)}
                 {\sqrt{\operatorname{Var}(\hat y)\,\operatorname{Var}(\bar x)}}

    where :math:`\bar x` is the trial mean of ``target`` and the (co)variances run over
    all valid (stimulus, time) positions of the neuron. A prediction or PSTH with zero
    variance gives NaN.

    Args:
        pred: Predictions.
        target: Trials (NaN where missing), or a PSTH (R = 1).
            ``gt``, its deepSTRF 0.1.0 name, is still accepted and warns.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` correlations for ``'none'``, else a scalar.

    Raises:
        TypeError: If an input is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If shapes disagree or ``reduction`` is unknown.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> pred = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
        >>> corrcoef(pred, 2 * pred + 1, reduction="none")
        tensor([1.])
    """
    pred, psth, weight, reduction = _psth_and_weight(pred, target, mask, reduction)
    return reduce_neurons(correlation(pooled_moments(psth, pred, weight)), reduction)


@accepts_old_names(gt="target")
def fve(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Fraction of the PSTH's variance explained by the prediction, per neuron.

    .. math::
        \mathrm{FVE} = 1 - \frac{\mathrm{SSE}}{\mathrm{SST}}, \quad
        \mathrm{SSE} = \sum_p (\bar x_p - \hat y_p)^2, \quad
        \mathrm{SST} = \sum_p (\bar x_p - \langle \bar x \rangle)^2

    over the valid positions ``p`` of the neuron. It is 1 for a perfect prediction, 0
    for predicting the mean and negative for worse; a PSTH with zero variance gives NaN.
    It is not corrected for trial-to-trial noise (see :func:`~deepSTRF.metrics.feve`).

    Args:
        pred: Predictions.
        target: Trials (NaN where missing), or a PSTH (R = 1).
            ``gt``, its deepSTRF 0.1.0 name, is still accepted and warns.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``.
        reduction: ``'none'``, ``'mean'``, ``'median'`` or ``'sum'``.

    Returns:
        ``(N,)`` values for ``'none'``, else a scalar.

    Raises:
        TypeError: If an input is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If shapes disagree or ``reduction`` is unknown.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> target = torch.tensor([0.0, 2.0, 0.0, 2.0]).view(1, 1, 1, 4)
        >>> fve(torch.full_like(target, 1.0), target, reduction="none")
        tensor([0.])
    """
    pred, psth, weight, reduction = _psth_and_weight(pred, target, mask, reduction)
    moments = pooled_moments(psth, pred, weight)
    sse, sst = squared_error(moments), (moments.n - 1) * moments.var_x
    return reduce_neurons(1 - safe_divide(sse, sst, sst > 0), reduction)
