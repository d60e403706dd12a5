"""Figures of model scores: predicted against measured responses, and per-neuron metric distributions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from deepSTRF._validation import check_int
from deepSTRF.utils._plot_base import as_array, integer_ticks, new_figure, pearson, trial_mean

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_metric_distributions", "plot_prediction_scatter"]


def plot_prediction_scatter(
    prediction: Any,
    target: Any,
    *,
    neurons: Any = None,
    max_points: int = 20000,
    seed: int = 0,
) -> Figure:
    """Scatter predicted against measured responses, bin by bin, with the identity line.

    The measured response is the PSTH (mean over the recorded trials); only bins where
    both are finite are drawn. Points are coloured by neuron when at most ten are drawn.
    The title gives the correlation over all drawn bins.

    Args:
        prediction: ``(B, N, 1, T)`` predictions (or ``(N, 1, T)`` for one stimulus).
        target: ``(B, N, R, T)`` trials or ``(B, N, 1, T)`` PSTHs (or without the batch axis).
        neurons: Indices of the neurons drawn (all by default).
        max_points: Draw at most this many points (a seeded random subset).
        seed: Seed of the subset.

    Returns:
        A matplotlib ``Figure`` with one axes.

    Raises:
        ValueError: If the shapes disagree, a neuron index is out of range, or no bin is valid.
        TypeError: If an argument has the wrong type.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> target = torch.poisson(torch.full((2, 3, 4, 50), 2.0))
        >>> fig = plot_prediction_scatter(target.mean(2, keepdim=True), target)
        >>> len(fig.axes), len(fig.axes[0].collections)  # one scatter per neuron
        (1, 3)
    """
    pred = as_array(prediction, "prediction", (3, 4))
    pred = pred[None] if pred.ndim == 3 else pred
    trials = as_array(target, "target", (3, 4))
    trials = trials[None] if trials.ndim == 3 else trials
    if pred.shape[2] != 1 or pred.shape[:2] != trials.shape[:2] or pred.shape[-1] != trials.shape[-1]:
        raise ValueError(
            f"`prediction` must be (B, N, 1, T) matching `target` (B, N, R, T), got shapes {pred.shape} and "
            f"{trials.shape}"
        )
    n_neurons = pred.shape[1]
    chosen = np.arange(n_neurons) if neurons is None else np.atleast_1d(np.asarray(neurons))
    if chosen.dtype.kind not in "iu" or chosen.size == 0 or chosen.min() < 0 or chosen.max() >= n_neurons:
        raise ValueError(f"`neurons` must be indices in [0, {n_neurons}), got {neurons!r}")
    psth = trial_mean(trials, axis=2)
    x = np.moveaxis(psth[:, chosen], 1, 0).reshape(-1)
    y = np.moveaxis(pred[:, chosen, 0], 1, 0).reshape(-1)
    label = np.repeat(chosen, x.size // len(chosen))
    valid = np.isfinite(x) & np.isfinite(y)
    if not valid.any():
        raise ValueError("no time bin has both a finite prediction and a measured response")
    keep = np.flatnonzero(valid)
    limit = check_int("max_points", max_points)
    if keep.size > limit:
        keep = np.sort(np.random.default_rng(check_int("seed", seed, minimum=0)).choice(keep, limit, replace=False))
    r = pearson(x, y)
    fig = new_figure(4.6, 4.2)
    ax = fig.subplots()
    if len(chosen) <= 10:
        for n in chosen:
            sel = keep[label[keep] == n]
            ax.scatter(x[sel], y[sel], s=6, alpha=0.5, label=f"neuron {n}")
        ax.legend(fontsize=7, markerscale=2)
    else:
        ax.scatter(x[keep], y[keep], s=4, alpha=0.3, color="tab:blue")
    low = float(min(x[valid].min(), y[valid].min()))
    high = float(max(x[valid].max(), y[valid].max()))
    ax.plot([low, high], [low, high], color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("measured response (trial mean per bin)")
    ax.set_ylabel("predicted response per bin")
    ax.set_title(f"prediction vs measurement: r = {r:.3f} over {int(valid.sum())} bins", fontsize=10)
    return fig


def plot_metric_distributions(
    scores: Mapping[str, Any] | Any,
    *,
    bins: int = 20,
    ncols: int | None = None,
    panel_size: float = 3.2,
) -> Figure:
    """Draw the distribution over neurons of one or several per-neuron scores.

    One histogram per metric, named on its x axis, with its median marked by a dashed
    line and quoted in the title; NaN scores (e.g. neurons without test data or with no
    explainable variance) are counted in the title but not drawn.

    Args:
        scores: A mapping from metric name to ``(N,)`` per-neuron values (e.g. the result of
            an evaluation), or a single ``(N,)`` tensor or array.
        bins: Number of histogram bins.
        ncols: Panels per row (all in one row by default, at most four).
        panel_size: Width of one panel in inches.

    Returns:
        A matplotlib ``Figure`` with one axes per metric.

    Raises:
        ValueError: If ``scores`` is empty or a value is not 1-D.
        TypeError: If an argument has the wrong type.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> fig = plot_metric_distributions({"cc": torch.rand(30), "fve": torch.rand(30)})
        >>> len(fig.axes)
        2
    """
    named = dict(scores) if isinstance(scores, Mapping) else {"score": scores}
    if not named:
        raise ValueError("`scores` must hold at least one metric, got an empty mapping")
    values = {str(name): as_array(v, f"scores[{name!r}]", (1,)) for name, v in named.items()}
    n_bins = check_int("bins", bins)
    cols = min(len(values), 4) if ncols is None else min(len(values), check_int("ncols", ncols))
    rows = -(-len(values) // cols)
    fig = new_figure(panel_size * cols, 0.85 * panel_size * rows)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).reshape(-1)
    for ax in axes[len(values) :]:
        fig.delaxes(ax)
    for ax, (name, v) in zip(axes, values.items()):
        finite = v[np.isfinite(v)]
        ax.set_xlabel(name)
        ax.set_ylabel("neurons")
        integer_ticks(ax.yaxis)
        if finite.size == 0:
            ax.set_title(f"no finite value (0/{v.size} neurons)", fontsize=9)
            continue
        median = float(np.median(finite))
        ax.hist(finite, bins=n_bins, color="tab:blue", alpha=0.8)
        ax.axvline(median, color="k", ls="--", lw=1.0)
        ax.set_title(f"median {median:.3f} (dashed), {finite.size}/{v.size} neurons", fontsize=9)
    return fig
