"""The one list of named metrics and losses, with what callers need to know about each.

Training (validation and early stopping), cross-validation, ``deepstrf evaluate`` and
the command line's choices all read :data:`METRICS` and :data:`LOSSES`; a metric or loss
is added to the library by writing its function and registering it here, nowhere else.

Every registered function takes ``(pred, target, mask=None, reduction=...)`` with the
shapes of :mod:`deepSTRF.metrics` and returns per-neuron values with ``reduction='none'``.

Example:
    >>> from deepSTRF.metrics.registry import METRICS, get_metric
    >>> sorted(METRICS)
    ['cc', 'ccnorm', 'feve', 'fve', 'ttrc']
    >>> info = get_metric("ccnorm")
    >>> info.higher_is_better, info.needs_trials
    (True, True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import torch

from deepSTRF.metrics.correlation import corrcoef, fve
from deepSTRF.metrics.losses import mse_loss, poisson_loss
from deepSTRF.metrics.normalized import feve, normalized_corrcoef
from deepSTRF.metrics.ttrc import ttrc

__all__ = ["LOSSES", "METRICS", "MetricInfo", "get_loss", "get_metric"]


@dataclass(frozen=True)
class MetricInfo:
    """A named metric or loss and its metadata.

    Attributes:
        name: The name used in configurations, results and on the command line.
        function: ``function(pred, target, mask=None, reduction=...) -> Tensor``.
        higher_is_better: Whether a larger value is a better prediction (``False`` for losses).
        needs_trials: Whether the value needs repeated trials (NaN with a single trial).
        description: One line for help texts.

    Example:
        >>> get_metric("cc").description
        'Pearson correlation with the trial mean'
    """

    name: str
    function: Callable[..., torch.Tensor]
    higher_is_better: bool
    needs_trials: bool
    description: str

    @property
    def mode(self) -> Literal["min", "max"]:
        """``'max'`` if higher is better, else ``'min'`` (the convention of early stopping and schedulers)."""
        return "max" if self.higher_is_better else "min"


def _table(*entries: MetricInfo) -> Mapping[str, MetricInfo]:
    return MappingProxyType({entry.name: entry for entry in entries})


#: Per-neuron scores of a prediction, by name, in the order results report them.
METRICS: Mapping[str, MetricInfo] = _table(
    MetricInfo("ccnorm", normalized_corrcoef, True, True, "correlation with the noise-free response (CCnorm)"),
    MetricInfo("cc", corrcoef, True, False, "Pearson correlation with the trial mean"),
    MetricInfo("feve", feve, True, True, "fraction of explainable variance explained"),
    MetricInfo("fve", fve, True, False, "fraction of the trial mean's variance explained"),
    MetricInfo("ttrc", ttrc, True, True, "single-trial correlation corrected by the trial-to-trial correlation"),
)

#: Training losses, by name (all minimised).
LOSSES: Mapping[str, MetricInfo] = _table(
    MetricInfo("mse", mse_loss, False, False, "mean squared error"),
    MetricInfo("poisson", poisson_loss, False, False, "Poisson deviance of non-negative rates"),
    MetricInfo(
        "poisson_log",
        functools.partial(poisson_loss, log_input=True),
        False,
        False,
        "Poisson deviance of log-rates",
    ),
)


def _lookup(table: Mapping[str, MetricInfo], kind: str, name: object) -> MetricInfo:
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"`{kind}` must be one of {sorted(table)}, got {name!r}")
    return table[name]


def get_metric(name: str) -> MetricInfo:
    """The registered metric ``name``.

    Raises:
        ValueError: If ``name`` is not registered.

    Example:
        >>> get_metric("fve").function.__name__
        'fve'
    """
    return _lookup(METRICS, "metric", name)


def get_loss(name: str) -> MetricInfo:
    """The registered loss ``name``.

    Raises:
        ValueError: If ``name`` is not registered.

    Example:
        >>> get_loss("mse").mode
        'min'
    """
    return _lookup(LOSSES, "loss", name)
