r"""Signal and noise power of repeated trials (Sahani & Linden, 2003).

With :math:`R` trials of a stimulus-locked signal plus independent noise, Sahani and
Linden estimate the signal power as

.. math::
    \mathrm{SP} = \frac{R \cdot \operatorname{Var}(\bar x) - \mathrm{TP}}{R - 1},
    \qquad \mathrm{NP} = \mathrm{TP} - \mathrm{SP}, \qquad
    \mathrm{SNR} = \mathrm{SP} / \mathrm{NP},

where :math:`\bar x` is the trial mean (PSTH) and TP the total power of a single trial.
For one neuron, every variance here runs over all its valid (stimulus, time) positions
together.

**Ragged trials.** Trials are counted per position: at position ``p`` (a stimulus and a
time bin) with :math:`r_p` non-missing trials, let :math:`v_p = \sum_k (x_{kp} - \bar
x_p)^2 / (r_p - 1)` be the unbiased variance across trials. Only positions with
:math:`r_p \ge 2` (and ``mask`` True) enter; with :math:`n` such positions,

.. math::
    \mathrm{NP} = \frac{1}{n}\sum_p v_p, \qquad
    \mathrm{SP} = \operatorname{Var}_p(\bar x_p) - \frac{1}{n}\sum_p \frac{v_p}{r_p},
    \qquad \mathrm{TP} = \mathrm{SP} + \mathrm{NP},

with :math:`\operatorname{Var}_p` the unbiased variance over positions. The term
:math:`\frac1n\sum_p v_p/r_p` is the noise left in the PSTH, so SP is unbiased for the
variance of the true rate whatever the trial counts. With :math:`R` trials everywhere
it is exactly the formula above with :math:`\mathrm{TP} = \operatorname{Var}(\bar x) +
\frac{R-1}{R}\mathrm{NP}`. (Sahani and Linden take TP as the mean over trials of each
trial's variance about its own mean; the expectation is the same, and measuring the
noise within positions makes the result independent of how trials of different stimuli
happen to be numbered.) One trial gives no noise estimate: SP and NP are NaN for a
neuron without any position holding two trials.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from deepSTRF.metrics._masked import (
    Moments,
    check_reduction,
    check_target,
    pooled_moments,
    pooled_sum,
    reduce_neurons,
    resolve_mask,
    restrict,
    safe_divide,
    trial_stats,
)

__all__ = ["explainable_variance", "noise_power", "signal_power", "snr"]


class NoiseDecomposition(NamedTuple):
    """Signal/noise split of one set of trials on the positions with ``r_p >= 2`` (and ``mask``), per neuron.

    Attributes:
        moments: Moments of the PSTH (``x``) and of the prediction (``y``, if given).
        signal: The signal power SP.
        noise: The noise power NP.
        psth_noise: The noise power left in the PSTH, ``mean_p v_p / r_p``.
    """

    moments: Moments
    signal: torch.Tensor
    noise: torch.Tensor
    psth_noise: torch.Tensor


def decompose(responses: torch.Tensor, mask: object, pred: torch.Tensor | None = None) -> NoiseDecomposition:
    """Estimate SP and NP of ``responses`` (and moments with ``pred``) on one set of positions."""
    stats = trial_stats(responses)
    weight = restrict(stats.trials >= 2, resolve_mask(mask, responses))
    moments = pooled_moments(stats.psth, pred, weight)
    n, scale = moments.n, weight.to(responses.dtype)
    noise = safe_divide(pooled_sum(stats.noise_var, scale), n, n > 0)
    psth_noise = safe_divide(pooled_sum(stats.noise_var / stats.trials, scale), n, n > 0)
    return NoiseDecomposition(moments, moments.var_x - psth_noise, noise, psth_noise)


def _powers(responses: object, mask: object, reduction: object) -> tuple[NoiseDecomposition, str]:
    responses = check_target(responses, name="responses")
    return decompose(responses, mask), check_reduction(reduction)


def signal_power(responses: torch.Tensor, mask: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Sahani–Linden signal power: the variance of the stimulus-locked response.

    ``SP = Var_p(psth) − mean_p(v_p / r_p)`` (see the module notes); can be negative
    by chance when there is little signal.

    Args:
        responses: Trials ``(B, N, R, T)``, NaN where a trial, bin or pair is missing.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` for ``'none'``, else a scalar; NaN for a neuron without two trials anywhere.

    Raises:
        TypeError: If ``responses`` is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If ``responses`` is not 4-D, ``mask`` does not broadcast, or
            ``reduction`` is unknown.

    Shape:
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 0.0, 2.0]]).view(1, 1, 2, 4)
        >>> signal_power(trials, reduction="none")
        tensor([1.3333])
    """
    dec, reduction = _powers(responses, mask, reduction)
    return reduce_neurons(dec.signal, reduction)


def noise_power(responses: torch.Tensor, mask: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Sahani–Linden noise power: the trial-to-trial variance of a single trial.

    ``NP = mean_p v_p``, the mean over positions of the unbiased variance across trials.

    Args:
        responses: Trials ``(B, N, R, T)``, NaN where a trial, bin or pair is missing.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` for ``'none'``, else a scalar; NaN for a neuron without two trials anywhere.

    Raises:
        TypeError: If ``responses`` is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If ``responses`` is not 4-D, ``mask`` does not broadcast, or
            ``reduction`` is unknown.

    Shape:
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]).view(1, 1, 2, 3)
        >>> noise_power(trials, reduction="none")
        tensor([1.3333])
    """
    dec, reduction = _powers(responses, mask, reduction)
    return reduce_neurons(dec.noise, reduction)


def snr(responses: torch.Tensor, mask: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Signal-to-noise ratio ``SP / NP`` (NaN where the noise power is zero).

    Args:
        responses: Trials ``(B, N, R, T)``, NaN where a trial, bin or pair is missing.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` for ``'none'``, else a scalar; NaN for a neuron without two trials anywhere.

    Raises:
        TypeError: If ``responses`` is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If ``responses`` is not 4-D, ``mask`` does not broadcast, or
            ``reduction`` is unknown.

    Shape:
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[1.0, 3.0, 1.0, 3.0], [1.0, 1.0, 3.0, 3.0]]).view(1, 1, 2, 4)
        >>> snr(trials, reduction="none")
        tensor([0.1667])
    """
    dec, reduction = _powers(responses, mask, reduction)
    return reduce_neurons(safe_divide(dec.signal, dec.noise, dec.noise != 0), reduction)


def explainable_variance(
    responses: torch.Tensor, mask: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    """Fraction of a single trial's variance that is stimulus-locked, ``SP / TP``.

    With ``TP = SP + NP`` the total single-trial power, this is the share of the
    variance any model of the stimulus could explain in one trial (the "explainable
    variance" of Cadena et al., 2019). NaN where ``TP`` is zero.

    Args:
        responses: Trials ``(B, N, R, T)``, NaN where a trial, bin or pair is missing.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.

    Returns:
        ``(N,)`` for ``'none'``, else a scalar; NaN for a neuron without two trials anywhere.

    Raises:
        TypeError: If ``responses`` is not a floating-point tensor, or ``mask`` is not bool.
        ValueError: If ``responses`` is not 4-D, ``mask`` does not broadcast, or
            ``reduction`` is unknown.

    Shape:
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 0.0, 2.0]]).view(1, 1, 2, 4)
        >>> explainable_variance(trials, reduction="none")
        tensor([1.])
    """
    dec, reduction = _powers(responses, mask, reduction)
    total = dec.signal + dec.noise
    return reduce_neurons(safe_divide(dec.signal, total, total != 0), reduction)
