r"""TTRC: the prediction's single-trial correlation corrected by the trial-to-trial correlation.

The noise-corrected correlation used by the David lab (Pennington & David, 2023, PLoS
Comput Biol) compares the prediction with each single trial instead of the PSTH, and
divides by the square root of the mean correlation between pairs of trials:

.. math::
    \mathrm{TTRC} = \frac{\langle r(\hat y, x_i) \rangle_i}{\sqrt{\langle r(x_i, x_j) \rangle_{i<j}}}

For trials ``x_i = s + ε_i`` with independent noise of equal variance, :math:`r(\hat y,
x_i) = r(\hat y, s)\, \sqrt{\rho}` and :math:`r(x_i, x_j) = \rho`, with ρ the fraction of
a trial's variance that is signal, so the TTRC estimates :math:`r(\hat y, s)`: the
correlation with the noiseless response, 1 for a perfect model.

Each correlation pools, per neuron, all (stimulus, time) positions where both of its
signals are present (and ``mask`` is True), like every metric here: trial ``i`` of the
neuron is the concatenation of its ``i``-th trial over stimuli. The trial pairs are
computed together from Gram matrices over positions, with no loop over trials.
"""

from __future__ import annotations

import torch

from deepSTRF.metrics._masked import (
    check_pred,
    check_reduction,
    check_target,
    correlation,
    pooled_moments,
    reduce_neurons,
    resolve_mask,
    safe_divide,
)

__all__ = ["ttrc"]


def _trial_pair_correlation(trials: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean Pearson correlation over trial pairs ``i < j`` per neuron, ``(N,)``.

    Args:
        trials: ``(B, N, R, T)`` with anything at excluded positions.
        weight: ``(B, N, R, T)`` bool, True where a trial value counts.
    """
    scale = weight.to(trials.dtype)
    # shift by each neuron's mean so the one-pass sums below do not cancel
    filled = torch.where(weight, trials, torch.zeros((), dtype=trials.dtype, device=trials.device))
    centre = safe_divide(filled.sum((0, 2, 3)), scale.sum((0, 2, 3)), scale.sum((0, 2, 3)) > 0).nan_to_num(0.0)
    x = (filled - centre.view(1, -1, 1, 1)) * scale
    # (N, R, P) with P = B * T positions
    x, w = x.permute(1, 2, 0, 3).flatten(2), scale.permute(1, 2, 0, 3).flatten(2)
    n = w @ w.transpose(1, 2)  # positions shared by trials i and j
    s1 = x @ w.transpose(1, 2)  # sum of x_i over the shared positions
    s2 = x.square() @ w.transpose(1, 2)
    sxy = x @ x.transpose(1, 2)
    has_two = n > 1
    mean_i = safe_divide(s1, n, n > 0)
    cov = sxy - s1 * mean_i.transpose(1, 2)
    var_i = s2 - s1 * mean_i  # variance of x_i on the positions it shares with x_j (times n - 1)
    var_j = var_i.transpose(1, 2)
    ok = has_two & (var_i > 0) & (var_j > 0)
    r = safe_divide(cov, torch.sqrt(var_i.clamp_min(0) * var_j.clamp_min(0)), ok).clamp(-1.0, 1.0)
    upper = torch.ones_like(ok[0]).triu(diagonal=1)
    r = torch.where(upper, r, torch.full((), float("nan"), dtype=r.dtype, device=r.device))
    return r.flatten(1).nanmean(dim=1)


def ttrc(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "none",
) -> torch.Tensor:
    r"""Trial-to-trial noise-corrected correlation (TTRC) per neuron.

    See the module notes for the formula. It needs trials (R >= 2). A neuron whose mean
    trial-pair correlation is not positive (no reliable signal) gives NaN, as does one with
    fewer than two trials or a constant prediction. Where it is a poor estimate: few
    trials with a weak signal make the denominator noisy, and values above 1 happen.

    Args:
        pred: Predictions.
        target: Trials (NaN where a trial, bin or pair is missing).
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` values for ``'none'``, else a scalar. Differentiable in ``pred``.

    Raises:
        TypeError: If an input is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If shapes disagree or ``reduction`` is unknown.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> signal = torch.randn(2, 3, 1, 500, generator=gen)
        >>> trials = signal + torch.randn(2, 3, 8, 500, generator=gen)  # half the variance is noise
        >>> bool(((ttrc(signal, trials) - 1).abs() < 0.1).all())  # the true signal scores about 1
        True
    """
    pred = check_pred(pred)
    target = check_target(target, pred)
    reduction = check_reduction(reduction)
    mask_p = resolve_mask(mask, pred)
    batch, neurons, n_trials, length = target.shape
    present = ~torch.isnan(target)
    weight = present if mask_p is None else present & mask_p
    data = target.detach()
    # prediction against each single trial: the trials become (neuron, trial) rows
    rows = (batch, neurons * n_trials, 1, length)
    single = pooled_moments(
        data.reshape(rows), pred.expand(batch, neurons, n_trials, length).reshape(rows), weight.reshape(rows)
    )
    r_single = correlation(single).view(neurons, n_trials).nanmean(dim=1)
    r_trials = _trial_pair_correlation(data, weight)
    value = safe_divide(r_single, torch.sqrt(r_trials.clamp_min(0)), r_trials > 0)
    return reduce_neurons(value, reduction)
