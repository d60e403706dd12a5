"""Figures of spectro-temporal filters: STRF grids (ON/OFF aware) and adaptation prefilter kernels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.models.prefiltering import AdapTrans, ICAdaptation
from deepSTRF.utils._plot_base import (
    as_array,
    check_clim,
    check_dt_ms,
    check_freqs,
    label_bands,
    new_figure,
    symmetric_limit,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = ["plot_adaptation_kernels", "plot_strf_grid"]


def _lag_extent(n_lags: int, dt_ms: float | None, n_bands: int) -> tuple[float, float, float, float]:
    """Image extent with the present bin at x = 0 and older bins to the left."""
    step = 1.0 if dt_ms is None else dt_ms
    return (-(n_lags - 0.5) * step, 0.5 * step, -0.5, n_bands - 0.5)


def _lag_label(dt_ms: float | None) -> str:
    return "time relative to response (ms)" if dt_ms is not None else "time relative to response (bins)"


def _strf_image(ax: Axes, strf: np.ndarray, limit: float, dt_ms: float | None, cmap: str) -> AxesImage:
    extent = _lag_extent(strf.shape[1], dt_ms, strf.shape[0])
    return ax.imshow(strf, origin="lower", aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, extent=extent)


def _strf_panel(
    fig: Figure,
    ax: Axes,
    strf: np.ndarray,
    *,
    limit: float,
    dt_ms: float | None,
    freqs: np.ndarray | None,
    cmap: str,
    title: str,
    colorbar: bool,
) -> AxesImage:
    """Draw one STRF with its title and ticks (axis labels are left to :func:`_label_outer`)."""
    image = _strf_image(ax, strf, limit, dt_ms, cmap)
    ax.set_title(title, fontsize=9)
    label_bands(ax, freqs, strf.shape[0], label=False)
    ax.tick_params(labelsize=7)
    if colorbar:
        fig.colorbar(image, ax=ax).ax.tick_params(labelsize=7)
    return image


def _label_outer(grid: np.ndarray, dt_ms: float | None, freqs: np.ndarray | None, n_bands: int) -> None:
    """Axis labels on the outer panels of a grid of STRF axes (``None`` where a cell is empty).

    The time label goes under the lowest panel of each column, the frequency label left of
    the first panel of each row.
    """
    for column in grid.T:
        drawn = [ax for ax in column if ax is not None]
        if drawn:
            drawn[-1].set_xlabel(_lag_label(dt_ms), fontsize=8)
    for row in grid:
        drawn = [ax for ax in row if ax is not None]
        if drawn:
            label_bands(drawn[0], freqs, n_bands, fontsize=8)


def _channel_names(n_channels: int, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != n_channels:
            raise ValueError(f"`channel_names` must hold {n_channels} names (one per channel), got {len(names)}")
        return [str(n) for n in names]
    if n_channels == 1:
        return [""]
    if n_channels == 2:
        return ["ON", "OFF"]
    return [f"channel {c}" for c in range(n_channels)]


def plot_strf_grid(
    strfs: Any,
    *,
    clim: str | float = "shared",
    dt_ms: float | None = None,
    freqs_hz: Any = None,
    titles: Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    ncols: int | None = None,
    colorbar: bool = True,
    colorbar_label: str = "weight (a.u.)",
    cmap: str = "RdBu_r",
    panel_size: float = 2.0,
) -> Figure:
    """Draw a grid of STRFs, with shared or per-panel colour limits and ON/OFF channels.

    Each STRF is an image with frequency upwards and time along x, the present bin at
    ``x = 0`` and older bins to the left, in a colour scale symmetric about zero. With
    several input channels (e.g. the ON and OFF channels after an ``AdapTrans``
    prefilter) the channels of one neuron are stacked vertically. Axis labels are
    written on the outer panels only: time under each column, frequency left of each row.

    Args:
        strfs: ``(F, T)``, ``(N, F, T)`` (e.g. ``Linear.STRF_weight()``) or ``(N, C, F, T)``
            (e.g. ``model.readout.conv.STRF_weight()`` or ``STRF_gradmap()``); tensor or array.
        clim: ``'shared'`` (one colour scale for all panels, one colour bar), ``'per_panel'``
            (each panel scaled to its own largest magnitude, one colour bar each), or a
            positive number ``L`` (the scale ``[-L, L]`` for all panels).
        dt_ms: Bin width in ms; the x axis is then in ms instead of bins.
        freqs_hz: Centre frequencies of the ``F`` bands in Hz, to label the y axis in kHz.
        titles: One title per neuron (``"neuron n"`` by default).
        channel_names: One name per channel (``ON``/``OFF`` by default for two channels).
        ncols: Neurons per row (by default about ``sqrt(N * C)``, so that the grid of
            ``N * C`` panels is roughly square).
        colorbar: Draw colour bars.
        colorbar_label: Label of the colour bars.
        cmap: Matplotlib colour map (a diverging one suits signed STRFs).
        panel_size: Width of one panel in inches.

    Returns:
        A matplotlib ``Figure``: ``N * C`` image axes, plus the colour bar axes
        (one if the limits are shared, ``N * C`` if per panel).

    Raises:
        ValueError: If ``strfs`` is not 2-, 3- or 4-D, ``clim`` is unknown, or ``titles``,
            ``channel_names`` or ``freqs_hz`` have the wrong length.
        TypeError: If a numeric argument has the wrong type.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> fig = plot_strf_grid(torch.randn(3, 2, 8, 5), clim="shared")
        >>> len(fig.axes)  # 3 neurons x (ON, OFF) + one shared colour bar
        7
    """
    array = as_array(strfs, "strfs", (2, 3, 4))
    array = array.reshape((-1, 1, *array.shape[-2:])) if array.ndim < 4 else array
    n, n_channels, n_bands, _ = array.shape
    mode = check_clim(clim)
    dt = check_dt_ms(dt_ms)
    freqs = check_freqs(freqs_hz, n_bands)
    names = _channel_names(n_channels, channel_names)
    if titles is not None and len(titles) != n:
        raise ValueError(f"`titles` must hold {n} titles (one per neuron), got {len(titles)}")
    if ncols is None:  # about square in panels, the channels of a neuron counting as rows
        cols = min(n, math.ceil(math.sqrt(n * n_channels)))
    else:
        cols = min(n, check_int("ncols", ncols))
    rows = math.ceil(n / cols)
    size = check_positive_float("panel_size", panel_size)
    per_panel_bars = colorbar and mode == "per_panel"
    width = size * cols * (1.2 if per_panel_bars else 1.0) + (0.8 if colorbar and not per_panel_bars else 0.0)
    fig = new_figure(width, 0.8 * size * rows * n_channels + 0.3)
    axes = np.asarray(fig.subplots(rows * n_channels, cols, squeeze=False))
    grid = np.full(axes.shape, None, dtype=object)
    shared = symmetric_limit(array) if mode == "shared" else mode
    image = None
    for i in range(rows * cols):
        row, col = divmod(i, cols)
        for c in range(n_channels):
            ax = axes[row * n_channels + c, col]
            if i >= n:
                fig.delaxes(ax)
                continue
            title = f"neuron {i}" if titles is None else str(titles[i])
            limit = symmetric_limit(array[i, c]) if mode == "per_panel" else float(shared)
            name = f"{title} {names[c]}".strip()
            image = _strf_panel(
                fig, ax, array[i, c], limit=limit, dt_ms=dt, freqs=freqs, cmap=cmap, title=name, colorbar=per_panel_bars
            )
            grid[row * n_channels + c, col] = ax
    _label_outer(grid, dt, freqs, n_bands)
    if colorbar and not per_panel_bars and image is not None:
        bar = fig.colorbar(image, ax=[ax for ax in grid.flat if ax is not None], shrink=0.8)
        bar.set_label(colorbar_label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def plot_adaptation_kernels(
    prefilter: nn.Module,
    *,
    dt_ms: float | None = None,
    bands: Sequence[int] | None = None,
    freqs_hz: Any = None,
    cmap: str = "RdBu_r",
) -> Figure:
    """Draw the temporal kernels of an ``AdapTrans`` or ``ICAdaptation`` prefilter.

    The kernels come from the module's ``build_kernels()`` (so a trained ``AdapTrans``
    shows its learned kernels). Each kernel multiplies the present frame by its last
    tap and subtracts (ON) or adds (OFF) a weighted exponential average of the past
    frames; the present tap is much larger than each past tap, so the figure shows the
    past taps and quotes the present one. Top row: the past taps of every band, one
    image per channel (one shared colour scale). Bottom row: the past taps of a few
    bands as curves, one panel per channel.

    Args:
        prefilter: An ``AdapTrans`` (two channels, ON and OFF) or ``ICAdaptation`` (one).
        dt_ms: Frame width in ms, for a time axis in ms.
        bands: Bands drawn as curves (default: lowest, middle, highest).
        freqs_hz: Centre frequencies of the bands in Hz, for axis and legend labels.
        cmap: Matplotlib colour map of the images.

    Returns:
        A matplotlib ``Figure``: ``2 C`` axes (``C`` images, ``C`` curve panels) and one
        colour bar.

    Raises:
        TypeError: If ``prefilter`` is not an ``AdapTrans`` or ``ICAdaptation``.
        ValueError: If a band index is out of range, or ``freqs_hz`` has the wrong length.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> from deepSTRF.models.prefiltering import make_prefiltering
        >>> fig = plot_adaptation_kernels(make_prefiltering("adaptrans", 8, dt=10.0), dt_ms=10.0)
        >>> len(fig.axes)  # ON and OFF images, ON and OFF curves, one colour bar
        5
    """
    if not isinstance(prefilter, (AdapTrans, ICAdaptation)):
        raise TypeError(f"`prefilter` must be an AdapTrans or ICAdaptation module, got {type(prefilter).__name__}")
    kernels = prefilter.build_kernels().detach().cpu().double().numpy()
    n_channels, n_bands, n_taps = kernels.shape
    dt = check_dt_ms(dt_ms)
    freqs = check_freqs(freqs_hz, n_bands)
    chosen = sorted({0, n_bands // 2, n_bands - 1}) if bands is None else [int(b) for b in bands]
    for b in chosen:
        if not 0 <= b < n_bands:
            raise ValueError(f"`bands` must hold indices in [0, {n_bands}), got {list(bands or [])}")
    names = ["ON", "OFF"] if n_channels == 2 else ["ICAdaptation"]
    past = kernels[:, :, :-1]
    step = 1.0 if dt is None else dt
    lags = -np.arange(n_taps - 1, 0, -1) * step
    limit = symmetric_limit(past)
    fig = new_figure(4.2 * n_channels + 0.6, 5.6)
    axes = np.asarray(fig.subplots(2, n_channels, squeeze=False))
    image = None
    for c in range(n_channels):
        top, bottom = axes[0, c], axes[1, c]
        extent = (lags[0] - step / 2, lags[-1] + step / 2, -0.5, n_bands - 0.5)
        image = top.imshow(past[c], origin="lower", aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, extent=extent)
        top.set_title(f"{names[c]} kernel, past taps of every band", fontsize=9)
        top.set_xlabel(_lag_label(dt), fontsize=8)
        label_bands(top, freqs, n_bands, fontsize=8)
        for b in chosen:
            where = f"band {b}" if freqs is None else f"{freqs[b] / 1000:.2g} kHz"
            bottom.plot(lags, past[c, b], label=f"{where} (present tap {kernels[c, b, -1]:+.2f})")
        bottom.axhline(0.0, color="0.6", lw=0.6)
        bottom.set_title(f"{names[c]} kernel, selected bands", fontsize=9)
        bottom.set_xlabel(_lag_label(dt), fontsize=8)
        bottom.set_ylabel("past tap weight", fontsize=8)
        bottom.legend(fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), shrink=0.85).set_label("tap weight", fontsize=8)
    return fig
