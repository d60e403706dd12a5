"""Shared pieces of the plotting functions: Agg figures, array conversion and colour limits.

matplotlib is imported inside the functions (the ``plot`` extra), and figures are
built on an Agg canvas without ``pyplot``, so no window opens and no global figure
state is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepSTRF._optional import require
from deepSTRF._validation import check_positive_float
from deepSTRF.functional import moments

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Accepted values of the ``clim`` argument besides a positive number.
CLIM_MODES = ("shared", "per_panel")


def new_figure(width: float, height: float) -> Figure:
    """An empty constrained-layout figure of ``width`` x ``height`` inches with an Agg canvas."""
    mpl_figure = require("matplotlib.figure", extra="plot", purpose="plotting")
    backend = require("matplotlib.backends.backend_agg", extra="plot", purpose="plotting")
    fig = mpl_figure.Figure(figsize=(width, height), layout="constrained")
    backend.FigureCanvasAgg(fig)
    return fig


def as_array(value: Any, name: str, ndims: Sequence[int]) -> np.ndarray:
    """Convert a tensor or array-like to a float64 NumPy array with one of the allowed ``ndims``.

    Raises:
        TypeError: If ``value`` cannot be read as numbers.
        ValueError: If its number of dimensions is not allowed.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be a tensor or an array of numbers, got {type(value).__name__}") from err
    if array.ndim not in ndims:
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"`{name}` must be {expected}, got shape {array.shape}")
    return array


def symmetric_limit(values: np.ndarray) -> float:
    """Largest finite absolute value (1.0 for an all-zero or all-NaN array), for a colour scale centred on 0."""
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def check_clim(clim: object) -> str | float:
    """Validate a ``clim`` argument: ``'shared'``, ``'per_panel'`` or a positive number."""
    if isinstance(clim, str):
        if clim not in CLIM_MODES:
            raise ValueError(f"`clim` must be one of {list(CLIM_MODES)} or a positive number, got {clim!r}")
        return clim
    return check_positive_float("clim", clim)


def check_dt_ms(dt_ms: object) -> float | None:
    """Validate an optional bin width in ms."""
    return None if dt_ms is None else check_positive_float("dt_ms", dt_ms)


def check_freqs(freqs_hz: Any, n_bands: int) -> np.ndarray | None:
    """Validate optional band centre frequencies ``(F,)`` in Hz."""
    if freqs_hz is None:
        return None
    freqs = as_array(freqs_hz, "freqs_hz", (1,))
    if freqs.shape[0] != n_bands:
        raise ValueError(f"`freqs_hz` must hold one frequency per band ({n_bands}), got shape {freqs.shape}")
    return freqs


def label_bands(ax: Any, freqs: np.ndarray | None, n_bands: int, fontsize: float = 7, *, label: bool = True) -> None:
    """Tick the y axis of a band-by-time image with band indices, or a few centre frequencies in kHz.

    With ``label=False`` only the ticks are set (for inner panels of a grid).
    """
    if freqs is None:
        integer_ticks(ax.yaxis, nbins=5)
    else:
        ticks = np.unique(np.linspace(0, n_bands - 1, min(n_bands, 5)).round().astype(int))
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{freqs[i] / 1000:.2g}" for i in ticks])
    if label:
        ax.set_ylabel("frequency band" if freqs is None else "frequency (kHz)", fontsize=fontsize)


def integer_ticks(axis: Any, nbins: int | str = "auto") -> None:
    """Put ticks of a matplotlib axis (``ax.xaxis`` / ``ax.yaxis``) on whole numbers only, at most ``nbins``."""
    ticker = require("matplotlib.ticker", extra="plot", purpose="plotting")
    axis.set_major_locator(ticker.MaxNLocator(nbins=nbins, integer=True))


def trial_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the finite values, NaN where there is none (no warning)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Correlation of ``x`` and ``y`` over the positions where both are finite; NaN if either is constant."""
    return float(moments.pearson(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)))
