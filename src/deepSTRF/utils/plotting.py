"""Figures of receptive fields (matplotlib, the ``plot`` extra).

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas, never
through ``pyplot``, so nothing is shown and no global figure state is touched:
save them with ``fig.savefig(path)``.

STRFs are drawn as ``(F, T)`` images with frequency upwards and time along x, the
present bin at ``x = 0`` on the right and older bins to the left (the layout of a
causal STRF kernel), in a colour scale symmetric about zero.

- Receptive fields: :func:`plot_strfs`, :func:`plot_strf_grid` (shared or per-panel
  colour limits, ON/OFF channels), :func:`plot_learned_vs_true`, :func:`strf_correlation`.
- Responses: :func:`plot_responses` (stimulus or waveform, trial raster, PSTH and
  prediction), :func:`plot_prediction_scatter`, :func:`plot_metric_distributions`.
- Front-ends and prefilters: :func:`plot_filterbank`, :func:`filterbank_responses`,
  :func:`plot_adaptation_kernels`.
- Dynamic STRFs: :func:`plot_dstrf_strip` (dSTRFs under the stimulus and response),
  :func:`plot_nonlinearity_indices` (the indices across a population).

Example:
    >>> import torch
    >>> fig = plot_strfs(torch.randn(3, 8, 5))
    >>> len(fig.axes)  # three STRFs, each with its colour bar
    6
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.functional.moments import pearson
from deepSTRF.utils._plot_base import check_dt_ms, check_freqs, new_figure, symmetric_limit
from deepSTRF.utils._plot_dstrf import plot_dstrf_strip, plot_nonlinearity_indices
from deepSTRF.utils._plot_filters import _label_outer, _strf_panel, plot_adaptation_kernels, plot_strf_grid
from deepSTRF.utils._plot_frontends import filterbank_responses, plot_filterbank
from deepSTRF.utils._plot_responses import plot_responses
from deepSTRF.utils._plot_scores import plot_metric_distributions, plot_prediction_scatter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "filterbank_responses",
    "plot_adaptation_kernels",
    "plot_dstrf_strip",
    "plot_filterbank",
    "plot_learned_vs_true",
    "plot_metric_distributions",
    "plot_nonlinearity_indices",
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


def plot_strfs(
    strfs: Any,
    *,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    dt_ms: float | None = None,
    freqs_hz: Any = None,
    colorbar: bool = True,
    cmap: str = "RdBu_r",
    panel_size: float = 2.2,
) -> Figure:
    """Draw STRFs side by side, each in its own colour scale.

    A shortcut for :func:`plot_strf_grid` with ``clim="per_panel"`` for ``(N, F, T)`` STRFs.

    Args:
        strfs: ``(N, F, T)`` or ``(F, T)`` tensor or array.
        titles: One title per STRF; ``"neuron n"`` by default.
        ncols: Panels per row (about the square root of ``N`` by default).
        dt_ms: Bin width; when given, the time axis is in milliseconds instead of bins.
        freqs_hz: Centre frequencies of the ``F`` bands in Hz, to label the y axis in kHz.
        colorbar: Draw a colour bar next to each panel.
        cmap: Matplotlib colour map (a diverging one suits signed STRFs).
        panel_size: Width of one panel in inches.

    Returns:
        A matplotlib ``Figure`` (Agg canvas): ``N`` image axes, each followed by its colour bar.

    Raises:
        ValueError: If ``strfs`` is not 2-D or 3-D, or ``titles`` has the wrong length.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> fig = plot_strfs(torch.randn(4, 8, 5), dt_ms=5.0, colorbar=False)
        >>> [ax.get_title() for ax in fig.axes]
        ['neuron 0', 'neuron 1', 'neuron 2', 'neuron 3']
    """
    array = _as_strfs(strfs, "strfs")
    n = array.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"`titles` must hold {n} titles (one per STRF), got {len(titles)}")
    return plot_strf_grid(
        array,
        clim="per_panel",
        dt_ms=dt_ms,
        freqs_hz=freqs_hz,
        titles=titles,
        ncols=ncols,
        colorbar=colorbar,
        cmap=cmap,
        panel_size=panel_size,
    )


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
    recent_a = torch.from_numpy(a[:, :, a.shape[2] - lags :].reshape(a.shape[0], -1)).double()
    recent_b = torch.from_numpy(b[:, :, b.shape[2] - lags :].reshape(b.shape[0], -1)).double()
    return pearson(recent_a, recent_b, dim=1)


def plot_learned_vs_true(
    learned: Any,
    true: Any,
    *,
    max_neurons: int = 8,
    ncols: int = 4,
    dt_ms: float | None = None,
    freqs_hz: Any = None,
    colorbar: bool = True,
    cmap: str = "RdBu_r",
    panel_size: float = 2.2,
    compact: bool = False,
) -> Figure:
    """Draw each learned STRF above the true one, with their correlation.

    Every panel has its own colour scale (learned and true STRFs rarely share units), so
    the figure compares shapes; the correlation in the title (:func:`strf_correlation`)
    quantifies the match. Neurons are laid out ``ncols`` per row, each as a pair of
    panels, learned on top.

    Args:
        learned: ``(N, F, T1)`` learned STRFs.
        true: ``(N, F, T2)`` ground-truth STRFs.
        max_neurons: Draw at most this many neurons (the first ones).
        ncols: Most neurons per row; the rows are balanced (5 neurons with ``ncols=4`` make
            rows of 3 and 2).
        dt_ms: Bin width, for a time axis in milliseconds.
        freqs_hz: Centre frequencies of the ``F`` bands in Hz, to label the y axis in kHz.
        colorbar: Draw a colour bar next to each panel.
        cmap: Matplotlib colour map.
        panel_size: Width of one panel in inches.
        compact: Draw every panel as a tile of one image, each tile divided by its
            largest absolute weight, under a single colour bar (with ``colorbar``): the
            same layout, titles and axis labels, about ten times faster to draw and save
            than one axes per panel. Each tile's ticks are left out: the x label gives
            the lags a tile spans, the y label the frequency range.

    Returns:
        A matplotlib ``Figure`` (Agg canvas): for each neuron its learned then its true
        panel, row by row, each image followed by its colour bar when ``colorbar``; with
        ``compact``, one image axes (then its colour bar).

    Raises:
        ValueError: If the shapes do not match (see :func:`strf_correlation`) or
            ``freqs_hz`` has the wrong length.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> fig = plot_learned_vs_true(torch.randn(2, 6, 4), torch.randn(2, 6, 4), colorbar=False)
        >>> [ax.get_title()[:7] for ax in fig.axes]
        ['learned', 'learned', 'true 0', 'true 1']
        >>> fig = plot_learned_vs_true(torch.randn(2, 6, 4), torch.randn(2, 6, 4), compact=True)
        >>> len(fig.axes)  # the image of all panels and its colour bar
        2
    """
    corr = strf_correlation(learned, true)
    a, b = _as_strfs(learned, "learned"), _as_strfs(true, "true")
    n = min(a.shape[0], check_int("max_neurons", max_neurons))
    rows = math.ceil(n / min(n, check_int("ncols", ncols)))
    cols = math.ceil(n / rows)  # balanced rows: 5 neurons at most 4 per row make rows of 3 and 2
    dt = check_dt_ms(dt_ms)
    freqs = check_freqs(freqs_hz, a.shape[1])
    size = check_positive_float("panel_size", panel_size)
    if not isinstance(compact, bool):
        raise TypeError(f"`compact` must be a bool, got {type(compact).__name__}")
    if compact:
        titles = [(f"learned {i} (r = {float(corr[i]):.2f})", f"true {i}") for i in range(n)]
        return _learned_vs_true_mosaic(a[:n], b[:n], titles, cols, dt, freqs, colorbar, cmap, size)
    fig = new_figure(size * cols * (1.2 if colorbar else 1.0), 0.8 * size * 2 * rows + 0.3)
    axes = np.asarray(fig.subplots(2 * rows, cols, squeeze=False))
    grid = np.full(axes.shape, None, dtype=object)
    for i in range(rows * cols):
        row, col = divmod(i, cols)
        pair = ((a[i], f"learned {i} (r = {float(corr[i]):.2f})"), (b[i], f"true {i}")) if i < n else None
        for k in range(2):
            ax = axes[2 * row + k, col]
            if pair is None:
                fig.delaxes(ax)
                continue
            strf, title = pair[k]
            limit = symmetric_limit(strf)
            _strf_panel(fig, ax, strf, limit=limit, dt_ms=dt, freqs=freqs, cmap=cmap, title=title, colorbar=colorbar)
            grid[2 * row + k, col] = ax
    _label_outer(grid, dt, freqs, a.shape[1])
    return fig


def _learned_vs_true_mosaic(
    a: np.ndarray,
    b: np.ndarray,
    titles: list[tuple[str, str]],
    cols: int,
    dt_ms: float | None,
    freqs: np.ndarray | None,
    colorbar: bool,
    cmap: str,
    size: float,
) -> Figure:
    """The ``compact`` layout of :func:`plot_learned_vs_true`: all panels as tiles of one image."""
    n, n_bands = a.shape[0], a.shape[1]
    rows = math.ceil(n / cols)
    lags = max(a.shape[2], b.shape[2])
    gap_x, gap_y = max(1, lags // 6), max(2, n_bands // 4)  # blank space between tiles, room for titles
    tile_w, tile_h = lags + gap_x, n_bands + gap_y
    canvas = np.full((2 * rows * tile_h, cols * tile_w), np.nan)
    fig = new_figure(size * cols * (1.1 if colorbar else 1.0), 0.8 * size * 2 * rows + 0.6)
    ax = fig.add_subplot()
    labels = []
    for i in range(n):
        row, col = divmod(i, cols)
        for k, strf in enumerate((a[i], b[i])):
            top = (2 * row + k) * tile_h + gap_y  # image rows grow downwards: the title gap is above the tile
            right = col * tile_w + lags  # most recent lag at the tile's right edge, as in the other STRF plots
            tile = strf[::-1] / symmetric_limit(strf)  # frequency upwards
            canvas[top : top + n_bands, right - strf.shape[1] : right] = tile
            labels.append((col * tile_w - 0.5, top - 0.6, titles[i][k]))
    image = ax.imshow(canvas, cmap=cmap, vmin=-1.0, vmax=1.0, aspect="auto", interpolation="nearest")
    for x, y, text in labels:
        ax.text(x, y, text, fontsize=8, va="bottom", ha="left")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    span = f"{lags * dt_ms:g} ms" if dt_ms is not None else f"{lags} bins"
    ax.set_xlabel(f"time relative to response: each panel spans the last {span}, present at its right edge", fontsize=8)
    if freqs is None:
        ax.set_ylabel(f"frequency band (each panel: bands 0 to {n_bands - 1}, low to high)", fontsize=8)
    else:
        low, high = float(freqs.min()) / 1000, float(freqs.max()) / 1000
        ax.set_ylabel(f"frequency (each panel: {low:.2g} to {high:.2g} kHz, low to high)", fontsize=8)
    if colorbar:
        bar = fig.colorbar(image, ax=ax, fraction=0.03)
        bar.set_label("weight / the panel's largest |weight|", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig
