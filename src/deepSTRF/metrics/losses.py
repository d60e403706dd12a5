r"""Training losses that ignore missing targets and keep gradients finite.

A target with ``R > 1`` trials is compared through its trial mean (PSTH). A position
counts when the target has at least one trial there and ``mask`` (if given) is True.
Before any arithmetic, missing targets and the predictions at excluded positions are
replaced by harmless constants with :func:`torch.where`, so NaN never enters the
graph: excluded positions contribute exactly nothing to the loss and get exactly zero
gradient, whatever the prediction holds there.

Reductions: ``'mean'`` averages over all valid positions (NaN if there are none),
``'sum'`` adds them up, ``'none'`` gives each neuron's mean over its valid positions
``(N,)`` (NaN for a neuron without any) and ``'median'`` the NaN-aware median of those.
"""

from __future__ import annotations

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_positive_float
from deepSTRF.metrics._masked import (
    check_pred,
    check_reduction,
    check_target,
    reduce_neurons,
    resolve_mask,
    restrict,
    safe_divide,
    trial_stats,
    warn_no_valid,
)

__all__ = ["mse_loss", "poisson_loss"]


def _prepare(
    pred: object, target: object, mask: object, reduction: object, pred_fill: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """Validated ``(pred, target, valid, reduction)`` with safe values outside ``valid``."""
    pred = check_pred(pred)
    target = check_target(target, pred)
    reduction = check_reduction(reduction)
    stats = trial_stats(target, noise=False)
    valid = restrict(stats.trials > 0, resolve_mask(mask, pred))
    zero = torch.zeros((), dtype=stats.psth.dtype, device=stats.psth.device)
    fill = torch.full((), pred_fill, dtype=pred.dtype, device=pred.device)
    return torch.where(valid, pred, fill), torch.where(valid, stats.psth, zero), valid, reduction


def _reduce(elementwise: torch.Tensor, valid: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce an elementwise loss over the valid positions (see the module notes)."""
    loss = torch.where(valid, elementwise, torch.zeros((), dtype=elementwise.dtype, device=elementwise.device))
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        count = valid.sum().to(loss.dtype)
        return safe_divide(loss.sum(), count, count > 0)
    count = valid.to(loss.dtype).sum(dim=(0, 2, 3))
    warn_no_valid(count)
    return reduce_neurons(safe_divide(loss.sum(dim=(0, 2, 3)), count, count > 0), reduction)


@accepts_old_names(gt="target")
def mse_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Mean squared error :math:`(\hat y - \bar x)^2` over the valid positions.

    Args:
        pred: Predictions.
        target: Trials or PSTH, NaN where missing.
            ``gt``, its deepSTRF 0.1.0 name, is still accepted and warns.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'mean'`` (over valid positions), ``'sum'``, ``'none'`` (per-neuron
            mean) or ``'median'`` (of the per-neuron means).

    Returns:
        A scalar, or ``(N,)`` for ``'none'``.

    Raises:
        TypeError: If a tensor is not floating point or ``mask`` is not bool.
        ValueError: If shapes disagree or ``reduction`` is unknown.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``()`` or ``(N,)``

    Example:
        >>> pred = torch.zeros(1, 1, 1, 3, requires_grad=True)
        >>> target = torch.tensor([1.0, float("nan"), 3.0]).view(1, 1, 1, 3)
        >>> loss = mse_loss(pred, target)
        >>> loss.backward()
        >>> float(loss.detach()), pred.grad.view(-1).tolist()
        (5.0, [-1.0, 0.0, -3.0])
    """
    pred, target, valid, reduction = _prepare(pred, target, mask, reduction, pred_fill=0.0)
    return _reduce((pred - target).square(), valid, reduction)


@accepts_old_names(gt="target")
def poisson_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    log_input: bool = False,
    eps: float = 1e-8,
) -> torch.Tensor:
    r"""Poisson negative log-likelihood (without the constant :math:`\log \bar x!`).

    .. math::
        \ell = \hat y - \bar x \log(\hat y + \epsilon) \quad\text{(rate input)}, \qquad
        \ell = e^{\hat y} - \bar x\,\hat y \quad\text{(log-rate input)}

    as :func:`torch.nn.functional.poisson_nll_loss` with ``full=False``, over the valid
    positions only.

    Args:
        pred: Predicted rates (non-negative), or log-rates with ``log_input=True``.
        target: Trials or PSTH (counts per bin), NaN where missing.
            ``gt``, its deepSTRF 0.1.0 name, is still accepted and warns.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``.
        reduction: ``'mean'`` (over valid positions), ``'sum'``, ``'none'`` (per-neuron
            mean) or ``'median'``.
        log_input: Whether ``pred`` is a log-rate.
        eps: Added to the rate inside the log (rate input only); must be ``>= 0``.

    Returns:
        A scalar, or ``(N,)`` for ``'none'``.

    Raises:
        TypeError: If a tensor is not floating point, ``mask`` is not bool or ``eps`` is
            not a number.
        ValueError: If shapes disagree, ``reduction`` is unknown or ``eps < 0``.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``()`` or ``(N,)``

    Example:
        >>> pred = torch.ones(1, 1, 1, 2)
        >>> target = torch.tensor([2.0, float("nan")]).view(1, 1, 1, 2)
        >>> round(float(poisson_loss(pred, target)), 4), float(poisson_loss(pred.log(), target, log_input=True))
        (1.0, 1.0)
    """
    eps = check_positive_float("eps", eps, allow_zero=True)
    if not isinstance(log_input, bool):
        raise TypeError(f"`log_input` must be a bool, got {type(log_input).__name__}")
    pred, target, valid, reduction = _prepare(pred, target, mask, reduction, pred_fill=0.0 if log_input else 1.0)
    if log_input:
        elementwise = torch.exp(pred) - target * pred
    else:
        elementwise = pred - target * torch.log(pred + eps)
    return _reduce(elementwise, valid, reduction)
