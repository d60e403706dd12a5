r"""Noise-corrected scores: normalised correlation, its ceiling, and FEVE.

Two estimators of how well a prediction matches the noise-free response:

- **Schoppe et al. (2016)**, from the Sahani–Linden signal power SP
  (:mod:`deepSTRF.metrics.noise`):

  .. math::
      \mathrm{CC_{norm}} = \frac{\operatorname{Cov}(\hat y, \bar x)}
                               {\sqrt{\operatorname{Var}(\hat y)\,\mathrm{SP}}},
      \qquad \mathrm{CC_{max}} = \sqrt{\mathrm{SP} / \operatorname{Var}(\bar x)}.

  SP, the covariance and both variances are estimated on the same positions and the
  same basis: the responses of all stimuli concatenated (positions with at least two
  trials). A perfect prediction of the true rate then scores 1 up to sampling error,
  even when stimuli drive very different mean rates. (The published deepSTRF 0.1.0
  library divides an across-stimulus covariance by a within-stimulus signal power,
  which can exceed 1 in that case.)
- **Hsu et al. (2004)**: the raw correlation divided by a ``CCmax`` from random
  split halves of the trials (see :func:`cc_max`):
  :math:`\mathrm{CC_{max}} = \sqrt{2\rho_{1/2} / (1 + \rho_{1/2})}` for an even number
  of trials, generalised exactly to odd and ragged counts.
"""

from __future__ import annotations

import torch

from deepSTRF._validation import check_choice, check_int
from deepSTRF.metrics._halfsplit import split_half
from deepSTRF.metrics._masked import (
    check_pred,
    check_reduction,
    check_target,
    correlation,
    reduce_neurons,
    safe_divide,
    squared_error,
)
from deepSTRF.metrics.noise import decompose

__all__ = ["cc_max", "feve", "normalized_corrcoef"]

_METHODS = ("schoppe", "hsu")


def _check_split_args(method: object, n_splits: object, seed: object) -> tuple[str, int, int]:
    method = str(check_choice("method", method, _METHODS))
    return method, check_int("n_splits", n_splits), check_int("seed", seed, minimum=0)


def normalized_corrcoef(
    pred: torch.Tensor,
    responses: torch.Tensor,
    method: str = "schoppe",
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    *,
    n_splits: int = 100,
    seed: int = 0,
) -> torch.Tensor:
    r"""Correlation with the noise-free response (noise-corrected ``CCnorm``), per neuron.

    - ``'schoppe'``: :math:`\operatorname{Cov}(\hat y, \bar x) / \sqrt{\operatorname{Var}(\hat y)\,\mathrm{SP}}`
      with SP the Sahani–Linden signal power, all on positions with at least two trials.
    - ``'hsu'``: :math:`r / \mathrm{CC_{max}}`, with :math:`r` the raw correlation and
      ``CCmax`` from ``n_splits`` seeded random half-splits (see :func:`cc_max`).

    A prediction with zero variance, a non-positive signal power (Schoppe) or a
    non-positive split-half correlation (Hsu) gives NaN. Sampling error can push the
    score slightly above 1 for a near-perfect prediction of noisy data.

    Args:
        pred: Predictions.
        responses: Trials, NaN where a trial, bin or pair is missing.
        method: ``'schoppe'`` or ``'hsu'``.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a position.
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware) or ``'sum'``.
        n_splits: Number of random half-splits (``'hsu'`` only).
        seed: Seed of the half-splits (``'hsu'`` only).

    Returns:
        ``(N,)`` for ``'none'``, else a scalar.

    Raises:
        TypeError: If a tensor is not floating point, ``mask`` is not bool, or
            ``n_splits``/``seed`` are not ints.
        ValueError: If shapes disagree, or ``method``, ``reduction``, ``n_splits`` or
            ``seed`` is invalid.

    Shape:
        - pred: ``(B, N, 1, T)``
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> rate = torch.tensor([1.0, 3.0, 1.0, 3.0, 2.0, 2.0]).view(1, 1, 1, 6)
        >>> trials = rate.expand(1, 1, 4, 6)  # noise-free trials: CCnorm is the raw correlation
        >>> schoppe = normalized_corrcoef(rate, trials, reduction="none")
        >>> schoppe, normalized_corrcoef(rate, trials, "hsu", reduction="none")
        (tensor([1.]), tensor([1.]))
    """
    pred = check_pred(pred)
    responses = check_target(responses, pred, name="responses")
    method, n_splits, seed = _check_split_args(method, n_splits, seed)
    reduction = check_reduction(reduction)
    if method == "hsu":
        halves = split_half(responses, mask, pred, n_splits, seed)
        score = safe_divide(correlation(halves.moments), halves.cc_max, torch.isfinite(halves.cc_max))
    else:
        dec = decompose(responses, mask, pred)
        m = dec.moments
        ok = (dec.signal > 0) & (m.var_y > 0)
        score = safe_divide(m.cov, torch.sqrt(m.var_y * dec.signal), ok)
    return reduce_neurons(score, reduction)


def cc_max(
    responses: torch.Tensor,
    method: str = "schoppe",
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    *,
    n_splits: int = 100,
    seed: int = 0,
) -> torch.Tensor:
    r"""Highest correlation a perfect model can reach with the recorded PSTH, per neuron.

    - ``'schoppe'``: :math:`\sqrt{\mathrm{SP} / \operatorname{Var}(\bar x)}`, NaN if SP ≤ 0.
    - ``'hsu'`` (Hsu et al., 2004): the trials of each (stimulus, neuron) pair are split
      at random into halves of :math:`\lfloor R_p/2 \rfloor` and :math:`\lceil R_p/2
      \rceil` trials; :math:`\rho_{1/2}` is the correlation between the two half-PSTHs,
      pooled over stimuli and averaged over ``n_splits`` seeded splits. For the same
      even :math:`R` everywhere,

      .. math::
          \mathrm{CC_{max}} = \sqrt{\frac{2\rho_{1/2}}{1 + \rho_{1/2}}}.

      In general, with :math:`u`, :math:`w` and :math:`z` the averages over positions of
      :math:`1/\lfloor R_p/2 \rfloor`, :math:`1/\lceil R_p/2 \rceil` and :math:`1/R_p`,
      a signal of variance :math:`S` plus independent trial noise :math:`\sigma^2` gives
      :math:`\rho_{1/2}^{-2} = (1 + a u)(1 + a w)` with :math:`a = \sigma^2/S`; solving,
      with :math:`q = \rho_{1/2}^{-2} - 1`,

      .. math::
          a = \frac{2q}{(u + w) + \sqrt{(u + w)^2 + 4uwq}}, \qquad
          \mathrm{CC_{max}} = (1 + a z)^{-1/2}.

      NaN if :math:`\rho_{1/2} \le 0`. Positions enter where all of the pair's recorded
      trials (those with any data) are present and there are at least two. The splits
      are random orderings of the trial slots drawn from ``seed``, so the result is
      reproducible and the same on every device; the cost grows with ``n_splits · R²``,
      never with the number of possible splits.

    On the same positions, ``normalized_corrcoef(pred, responses, method) ==
    corrcoef(pred, responses) / cc_max(responses, method)``.

    Args:
        responses: Trials, NaN where a trial, bin or pair is missing.
        method: ``'schoppe'`` or ``'hsu'``.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``.
        reduction: ``'none'``, ``'mean'``, ``'median'`` or ``'sum'``.
        n_splits: Number of random half-splits (``'hsu'`` only).
        seed: Seed of the half-splits (``'hsu'`` only).

    Returns:
        ``(N,)`` for ``'none'``, else a scalar.

    Raises:
        TypeError: If ``responses`` is not floating point, ``mask`` is not bool, or
            ``n_splits``/``seed`` are not ints.
        ValueError: If ``responses`` is not 4-D, or an argument is invalid.

    Shape:
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 0.0, 2.0]]).view(1, 1, 2, 4)
        >>> cc_max(trials, reduction="none"), cc_max(trials, method="hsu", reduction="none")
        (tensor([1.]), tensor([1.]))
    """
    responses = check_target(responses, name="responses")
    method, n_splits, seed = _check_split_args(method, n_splits, seed)
    reduction = check_reduction(reduction)
    if method == "hsu":
        return reduce_neurons(split_half(responses, mask, None, n_splits, seed).cc_max, reduction)
    dec = decompose(responses, mask)
    var = dec.moments.var_x
    ceiling = torch.sqrt(safe_divide(dec.signal, var, (dec.signal > 0) & (var > 0)))
    return reduce_neurons(ceiling, reduction)


def feve(
    pred: torch.Tensor,
    responses: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Fraction of explainable variance explained (Cadena et al., 2019), per neuron.

    .. math::
        \mathrm{FEVE} = 1 - \frac{\mathrm{MSE} - \sigma^2_{\mathrm{noise}}}
                                 {\mathrm{TP} - \sigma^2_{\mathrm{noise}}}

    where MSE is the mean squared error against single trials and :math:`\sigma^2_{
    \mathrm{noise}}` the trial-to-trial variance. On the positions with at least two
    trials (``n`` of them), it is computed from the PSTH:

    .. math::
        \mathrm{FEVE} = 1 - \frac{\sum_p (\bar x_p - \hat y_p)^2 - n\,\bar N}
                                 {\sum_p (\bar x_p - \langle \bar x\rangle)^2 - (n - 1)\,\bar N},
        \qquad \bar N = \frac1n \sum_p \frac{v_p}{r_p},

    the noise power left in the PSTH (:mod:`deepSTRF.metrics.noise`): both the error and
    the variance are corrected by their expected noise share, so predicting the true
    rate scores 1 and predicting its mean 0, up to sampling error. The denominator is
    ``(n − 1) · SP``; FEVE is NaN where SP ≤ 0. Without noise (``N̄ = 0``) it equals
    :func:`~deepSTRF.metrics.fve`.

    Args:
        pred: Predictions.
        responses: Trials, NaN where a trial, bin or pair is missing.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``.
        reduction: ``'none'``, ``'mean'``, ``'median'`` or ``'sum'``.

    Returns:
        ``(N,)`` for ``'none'``, else a scalar.

    Raises:
        TypeError: If a tensor is not floating point or ``mask`` is not bool.
        ValueError: If shapes disagree or ``reduction`` is unknown.

    Shape:
        - pred: ``(B, N, 1, T)``
        - responses: ``(B, N, R, T)``
        - output: ``(N,)`` or ``()``

    Example:
        >>> trials = torch.tensor([[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 0.0, 2.0]]).view(1, 1, 2, 4)
        >>> feve(trials[:, :, :1], trials, reduction="none")
        tensor([1.])
    """
    pred = check_pred(pred)
    responses = check_target(responses, pred, name="responses")
    reduction = check_reduction(reduction)
    dec = decompose(responses, mask, pred)
    n = dec.moments.n
    sse = squared_error(dec.moments)
    explainable = (n - 1) * dec.signal
    score = 1 - safe_divide(sse - n * dec.psth_noise, explainable, explainable > 0)
    return reduce_neurons(score, reduction)
