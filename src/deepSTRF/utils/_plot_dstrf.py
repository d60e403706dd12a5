"""Figures of dynamic STRFs: a strip of per-time dSTRFs under the stimulus and response, and the indices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from deepSTRF._validation import check_int
from deepSTRF.models.interpret import DynamicSTRFs
from deepSTRF.utils._plot_base import as_array, check_dt_ms, check_freqs, label_bands, new_figure, symmetric_limit
from deepSTRF.utils._plot_filters import _strf_image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_dstrf_strip", "plot_nonlinearity_indices"]

_INDEX_LABELS = {
    "gain_change": "gain change",
    "temporal_hold": "temporal hold (bins)",
    "shape_change": "shape change",
}


def _pick_times(result: DynamicSTRFs, times: Sequence[int] | None, n_panels: int) -> list[int]:
    """Positions (into ``result.times``) of the dSTRFs to draw."""
    available = result.times.tolist()
    if times is None:
        candidates = [k for k, ok in enumerate(result.complete.tolist()) if ok] or list(range(len(available)))
        picks = np.linspace(0, len(candidates) - 1, min(n_panels, len(candidates))).round().astype(int)
        return [candidates[i] for i in np.unique(picks)]
    positions = []
    for t in times:
        if t not in available:
            raise ValueError(f"`times` must be time points of the result ({available[0]}..{available[-1]}), got {t}")
        positions.append(available.index(t))
    return positions


def plot_dstrf_strip(
    result: DynamicSTRFs,
    neuron: int = 0,
    *,
    times: Sequence[int] | None = None,
    n_panels: int = 8,
    dt_ms: float | None = None,
    freqs_hz: Any = None,
    cmap: str = "RdBu_r",
    panel_size: float = 1.6,
) -> Figure:
    """Draw a neuron's dSTRFs at a few time points under the stimulus and its predicted response.

    Top: the stimulus spectrogram; middle: the model's response; both with the chosen time
    points marked. Bottom: one dSTRF per marked time point, in one colour scale symmetric
    about zero (so gain changes show), present bin on the right.

    Args:
        result: The output of :func:`~deepSTRF.models.interpret.dynamic_strfs`.
        neuron: Position of the neuron in ``result.neurons``.
        times: Time bins to draw (they must be in ``result.times``); by default ``n_panels``
            evenly spread complete time points.
        n_panels: Number of dSTRFs drawn when ``times`` is not given.
        dt_ms: Bin width in ms, to label time in ms.
        freqs_hz: ``(F,)`` band centre frequencies in Hz, to label frequency in kHz.
        cmap: Colour map of the dSTRFs.
        panel_size: Width of one dSTRF panel in inches.

    Returns:
        A matplotlib ``Figure``: the stimulus, the response, then one axes per dSTRF and a colour bar.

    Raises:
        TypeError: If ``result`` is not a ``DynamicSTRFs`` or an int argument is not an int.
        ValueError: If ``neuron`` is out of range or a time is not in the result.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> from deepSTRF.models.audio import LinearNonlinear
        >>> from deepSTRF.models.interpret import dynamic_strfs
        >>> model = LinearNonlinear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
        >>> fig = plot_dstrf_strip(dynamic_strfs(model, torch.randn(6, 50)), n_panels=5)
        >>> len(fig.axes)  # stimulus, response, five dSTRFs, colour bar
        8
    """
    if not isinstance(result, DynamicSTRFs):
        raise TypeError(f"`result` must be a DynamicSTRFs (from dynamic_strfs), got {type(result).__name__}")
    neuron = check_int("neuron", neuron, minimum=0)
    if neuron >= result.dstrfs.shape[0]:
        raise ValueError(f"`neuron` must be < {result.dstrfs.shape[0]} (neurons in the result), got {neuron}")
    picks = _pick_times(result, times, check_int("n_panels", n_panels))
    step = check_dt_ms(dt_ms)
    stim = result.stimulus.detach().cpu().double().numpy()
    freqs = check_freqs(freqs_hz, stim.shape[0])
    dstrfs = result.dstrfs[neuron].detach().cpu().double().numpy()
    response = result.response[neuron].detach().cpu().double().numpy()
    marks = [int(result.times[k]) for k in picks]
    scale = 1.0 if step is None else step
    unit = "ms" if step is not None else "bins"

    cols = len(picks)
    fig = new_figure(max(6.0, panel_size * cols + 0.8), 5.2)
    grid = fig.add_gridspec(3, cols + 1, height_ratios=[1.2, 0.8, 1.2], width_ratios=[1.0] * cols + [0.08])
    ax_stim = fig.add_subplot(grid[0, :cols])
    extent = (-0.5 * scale, (stim.shape[1] - 0.5) * scale, -0.5, stim.shape[0] - 0.5)
    ax_stim.imshow(stim, origin="lower", aspect="auto", cmap="Greys", extent=extent)
    label_bands(ax_stim, freqs, stim.shape[0], fontsize=8)
    ax_stim.set_title(f"stimulus, dSTRFs of neuron {int(result.neurons[neuron])}", fontsize=9)
    ax_resp = fig.add_subplot(grid[1, :cols], sharex=ax_stim)
    ax_resp.plot(np.arange(response.shape[0]) * scale, response, color="C0", lw=1.0)
    ax_resp.set_ylabel("response", fontsize=8)
    ax_resp.set_xlabel(f"time ({unit})", fontsize=8)
    for t in marks:
        for ax in (ax_stim, ax_resp):
            ax.axvline(t * scale, color="C3", lw=0.8, alpha=0.8)
    limit = symmetric_limit(dstrfs[picks])
    images = []
    for col, (k, t) in enumerate(zip(picks, marks)):
        ax = fig.add_subplot(grid[2, col])
        images.append(_strf_image(ax, dstrfs[k], limit, step, cmap))
        ax.set_title(f"t = {t * scale:g} {unit}", fontsize=8)
        ax.tick_params(labelsize=7)
        label_bands(ax, freqs, stim.shape[0], fontsize=8, label=col == 0)
        if col > 0:
            ax.set_yticklabels([])
    fig.colorbar(images[-1], cax=fig.add_subplot(grid[2, cols])).ax.tick_params(labelsize=7)
    return fig


def plot_nonlinearity_indices(
    indices: Mapping[str, Any],
    *,
    panel_size: float = 2.6,
    seed: int = 0,
) -> Figure:
    """Draw gain change, temporal hold and shape change across a population, for one or several models.

    One panel per index; each model (group) is a column of points, one per neuron, with its
    median as a bar. NaN values are not drawn.

    Args:
        indices: The output of :func:`~deepSTRF.models.interpret.nonlinearity_indices`
            (``{index name: (N,) values}``), or a mapping from a model label to such a dict.
        panel_size: Width of one panel in inches.
        seed: Seed of the horizontal jitter of the points.

    Returns:
        A matplotlib ``Figure`` with one axes per index.

    Raises:
        ValueError: If ``indices`` is empty, the groups do not hold the same index names, or
            a value is not 1-D.
        TypeError: If a value is not numeric.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> fig = plot_nonlinearity_indices({"DNN": {"gain_change": torch.rand(9), "shape_change": torch.rand(9)}})
        >>> len(fig.axes)
        2
    """
    if not isinstance(indices, Mapping) or not indices:
        raise ValueError("`indices` must be a non-empty mapping of index names (or model labels) to values")
    groups = dict(indices) if all(isinstance(v, Mapping) for v in indices.values()) else {"": indices}
    names = list(next(iter(groups.values())))
    if not names or any(list(g) != names for g in groups.values()):
        raise ValueError(
            f"every group of `indices` must hold the same index names, got {[list(g) for g in groups.values()]}"
        )
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    fig = new_figure(panel_size * len(names), 0.95 * panel_size)
    axes = np.asarray(fig.subplots(1, len(names), squeeze=False)).reshape(-1)
    for ax, name in zip(axes, names):
        for g, (label, values) in enumerate(groups.items()):
            v = as_array(values[name], f"indices[{label!r}][{name!r}]", (1,))
            v = v[np.isfinite(v)]
            ax.scatter(g + rng.uniform(-0.15, 0.15, v.size), v, s=12, color=f"C{g}", alpha=0.7)
            if v.size:
                ax.hlines(np.median(v), g - 0.3, g + 0.3, color="k", lw=1.5)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(list(groups), fontsize=8, rotation=20 if len(groups) > 3 else 0)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_title(_INDEX_LABELS.get(name, name), fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("per neuron", fontsize=8)
    return fig
