"""NaN-aware, masked, vectorised metrics and losses for neural response prediction.

Conventions shared by every function here:

- ``pred`` is ``(B, N, 1, T)``; the target is a PSTH ``(B, N, 1, T)`` or trials
  ``(B, N, R, T)``, with NaN marking a missing trial, time bin or (stimulus, neuron)
  pair. Where a PSTH is needed, trials are averaged over the ones present.
- ``mask`` (optional) is a bool tensor broadcastable to ``(B, N, 1, T)``; False
  excludes a position.
- Per-neuron statistics pool all valid (stimulus, time) positions of the neuron.
- ``reduction``: ``'mean'`` (the default, as in deepSTRF 0.1.0) and ``'median'``
  ignore NaN neurons; ``'sum'`` adds the non-NaN ones; ``'none'`` gives ``(N,)``.
- A statistic with zero variance is NaN, never padded with an epsilon.
- No Python loop over neurons, stimuli or trials, and no host synchronisation: the
  functions run unchanged on GPU tensors and keep fixed output shapes.

Example:
    >>> import torch
    >>> from deepSTRF import metrics
    >>> gen = torch.Generator().manual_seed(0)
    >>> rate = torch.rand(4, 3, 1, 200, generator=gen) * 4
    >>> trials = torch.poisson(rate.expand(4, 3, 10, 200), generator=gen)
    >>> metrics.normalized_corrcoef(rate, trials, reduction="none").shape
    torch.Size([3])
    >>> metrics.normalized_corrcoef(rate, trials).shape  # the mean over neurons
    torch.Size([])
"""

from deepSTRF.metrics._masked import MetricWarning
from deepSTRF.metrics.coherence import coherence
from deepSTRF.metrics.correlation import corrcoef, fve
from deepSTRF.metrics.intervals import ConfidenceInterval, bootstrap_ci, jackknife_ci
from deepSTRF.metrics.losses import mse_loss, poisson_loss
from deepSTRF.metrics.noise import explainable_variance, noise_power, signal_power, snr
from deepSTRF.metrics.normalized import cc_max, feve, normalized_corrcoef
from deepSTRF.metrics.registry import LOSSES, METRICS, MetricInfo
from deepSTRF.metrics.ttrc import ttrc

__all__ = [
    "LOSSES",
    "METRICS",
    "ConfidenceInterval",
    "MetricInfo",
    "MetricWarning",
    "bootstrap_ci",
    "cc_max",
    "coherence",
    "corrcoef",
    "explainable_variance",
    "feve",
    "fve",
    "jackknife_ci",
    "mse_loss",
    "noise_power",
    "normalized_corrcoef",
    "poisson_loss",
    "signal_power",
    "snr",
    "ttrc",
]
