"""Figures of receptive fields (matplotlib, the ``plot`` extra).

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas, never
through ``pyplot``, so nothing is shown and no global figure state is touched:
save them with ``fig.savefig(path)``.

STRFs are drawn as ``(F, T)`` images with frequency upwards and time lag along x,
the present bin on the right (the layout of a causal STRF kernel), in a colour scale
symmetric about zero.

- Receptive fields: :func:`plot_strfs`, :func:`plot_strf_grid` (shared or per-panel
  colour limits, ON/OFF channels), :func:`plot_learned_vs_true`, :func:`strf_correlation`.
- Responses: :func:`plot_responses` (stimulus or waveform, trial raster, PSTH and
  prediction), :func:`plot_prediction_scatter`, :func:`plot_metric_distributions`.
- Front-ends and prefilters: :func:`plot_filterbank`, :func:`filterbank_responses`,
  :func:`plot_adaptation_kernels`.

Example:
    >>> import torch
    >>> fig = plot_strfs(torch.randn(3, 8, 5))
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepSTRF._optional import require
from deepSTRF._validation import check_int
from deepSTRF.utils._plot_filters import plot_adaptation_kernels, plot_strf_grid
from deepSTRF.utils._plot_frontends import filterbank_responses, plot_filterbank
from deepSTRF.utils._plot_responses import plot_responses
from deepSTRF.utils._plot_scores import plot_metric_distributions, plot_prediction_scatter

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "filterbank_responses",
    "plot_adaptation_kernels",
    "plot_filterbank",
    "plot_learned_vs_true",
    "plot_metric_distributions",
    "plot_prediction_scatter",
    "plot_responses",
    "plot_strf_grid",
    "plot_strfs",
    "strf_correlation",
]


def _as_strfs(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"`{name}` must have shape (N, F, T) or (F, T), got {array.shape}")
    return array


def _figure(rows: int, cols: int, panel: float) -> tuple[Figure, np.ndarray]:
    mpl_figure = require("matplotlib.figure", extra="plot", purpose="plotting")
    backend = require("matplotlib.backends.backend_agg", extra="plot", purpose="plotting")
    fig = mpl_figure.Figure(figsize=(panel * cols, panel * rows * 0.9), layout="constrained")
    backend.FigureCanvasAgg(fig)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    return fig, axes


def _draw(ax: Axes, strf: np.ndarray, title: str | None, dt_ms: float | None, cmap: str) -> None:
    limit = float(np.nanmax(np.abs(strf))) or 1.0
    lags = strf.shape[1]
    extent = None if dt_ms is None else (-(lags - 0.5) * dt_ms, 0.5 * dt_ms, -0.5, strf.shape[0] - 0.5)
    ax.imshow(strf, origin="lower", aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, extent=extent)
    ax.set_xlabel("lag (ms)" if dt_ms is not None else "kernel bin (present on the right)", fontsize=7)
    ax.set_ylabel("frequency band", fontsize=7)
    ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=8)


def plot_strfs(
    strfs: Any,
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    dt_ms: float | None = None,
    cmap: str = "RdBu_r",
    panel_size: float = 2.2,
) -> Figure:
    """Draw STRFs side by side.

    Args:
        strfs: ``(N, F, T)`` or ``(F, T)`` tensor or array.
        titles: One title per STRF; ``"neuron n"`` by default.
        ncols: Panels per row (about the square root of ``N`` by default).
        dt_ms: Bin width; when given, the x axis shows the lag in milliseconds.
        cmap: Matplotlib colour map (a diverging one suits signed STRFs).
        panel_size: Width of one panel in inches.

    Returns:
        A matplotlib ``Figure`` (Agg canvas).

    Raises:
        ValueError: If ``strfs`` is not 2-D or 3-D, or ``titles`` has the wrong length.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> fig = plot_strfs(torch.randn(4, 8, 5), dt_ms=5.0)
        >>> [ax.get_title() for ax in fig.axes]
        ['neuron 0', 'neuron 1', 'neuron 2', 'neuron 3']
    """
    array = _as_strfs(strfs, "strfs")
    n = array.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"`titles` must hold {n} titles (one per STRF), got {len(titles)}")
    cols = math.ceil(math.sqrt(n)) if ncols is None else check_int("ncols", ncols)
    rows = math.ceil(n / cols)
    fig, axes = _figure(rows, cols, panel_size)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _draw(ax, array[i], f"neuron {i}" if titles is None else titles[i], dt_ms, cmap)
        else:
            fig.delaxes(ax)
    return fig


def strf_correlation(learned: Any, true: Any) -> torch.Tensor:
    """Pearson correlation of each learned STRF with its true STRF, over all (frequency, lag) bins.

    When the temporal extents differ, both are compared on their common most recent lags.

    Args:
        learned: ``(N, F, T1)`` STRFs.
        true: ``(N, F, T2)`` STRFs.

    Returns:
        ``(N,)`` float64 correlations (NaN for a constant STRF).

    Raises:
        ValueError: If ``N`` or ``F`` differ.

    Example:
        >>> strf_correlation(torch.eye(3)[None], 2 * torch.eye(3)[None])
        tensor([1.], dtype=torch.float64)
    """
    a, b = _as_strfs(learned, "learned"), _as_strfs(true, "true")
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"`learned` and `true` must share N and F, got shapes {a.shape} and {b.shape}")
    lags = min(a.shape[2], b.shape[2])
    a = a[:, :, a.shape[2] - lags :].reshape(a.shape[0], -1)
    b = b[:, :, b.shape[2] - lags :].reshape(b.shape[0], -1)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return torch.from_numpy(corr)


def plot_learned_vs_true(
    learned: Any,
    true: Any,
    *,
    max_neurons: int = 8,
    dt_ms: float | None = None,
    cmap: str = "RdBu_r",
    panel_size: float = 2.2,
) -> Figure:
    """Draw learned STRFs (top row) above the true ones (bottom row), with their correlation.

    Args:
        learned: ``(N, F, T1)`` learned STRFs.
        true: ``(N, F, T2)`` ground-truth STRFs.
        max_neurons: Draw at most this many neurons (the first ones).
        dt_ms: Bin width, for a lag axis in milliseconds.
        cmap: Matplotlib colour map.
        panel_size: Width of one panel in inches.

    Returns:
        A matplotlib ``Figure`` (Agg canvas).

    Raises:
        ValueError: If the shapes do not match (see :func:`strf_correlation`).
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> fig = plot_learned_vs_true(torch.randn(2, 6, 4), torch.randn(2, 6, 4))
        >>> len(fig.axes)
        4
    """
    corr = strf_correlation(learned, true)
    a, b = _as_strfs(learned, "learned"), _as_strfs(true, "true")
    n = min(a.shape[0], check_int("max_neurons", max_neurons))
    fig, axes = _figure(2, n, panel_size)
    for i in range(n):
        _draw(axes[0, i], a[i], f"learned {i} (r = {float(corr[i]):.2f})", dt_ms, cmap)
        _draw(axes[1, i], b[i], f"true {i}", dt_ms, cmap)
    return fig
