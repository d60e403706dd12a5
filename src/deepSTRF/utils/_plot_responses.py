"""Figure of one neuron's responses to one stimulus: stimulus, trial raster, PSTH and prediction panels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.utils._plot_base import as_array, check_freqs, integer_ticks, label_bands, new_figure, pearson, trial_mean

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_responses"]


def _pick_neuron(array: np.ndarray, name: str, neuron: int, full_ndim: int) -> np.ndarray:
    """Drop a leading batch axis of size 1 and the neuron axis from a ``full_ndim``-D array."""
    if array.ndim == full_ndim:
        if array.shape[0] != 1:
            raise ValueError(f"`{name}` must hold a single stimulus (batch size 1), got shape {array.shape}")
        array = array[0]
    if array.ndim == full_ndim - 1:
        if neuron >= array.shape[0]:
            raise ValueError(f"`neuron` must be < {array.shape[0]} (the neurons in `{name}`), got {neuron}")
        array = array[neuron]
    return array


def _trials(responses: Any, neuron: int) -> np.ndarray:
    """``(R, T)`` trials of one neuron from ``(T,)``, ``(R, T)``, ``(N, R, T)`` or ``(1, N, R, T)``."""
    array = _pick_neuron(as_array(responses, "responses", (1, 2, 3, 4)), "responses", neuron, 4)
    return array.reshape(-1, array.shape[-1])


def _trace(prediction: Any, neuron: int, n_bins: int) -> np.ndarray:
    """``(T,)`` prediction of one neuron from ``(T,)``, ``(N, T)``, ``(N, 1, T)`` or ``(1, N, 1, T)``."""
    array = as_array(prediction, "prediction", (1, 2, 3, 4))
    if array.ndim >= 3:
        if array.shape[-2] != 1:
            raise ValueError(f"`prediction` must have a single trial axis (N, 1, T), got shape {array.shape}")
        array = array[..., 0, :]
    if array.ndim >= 2:
        array = _pick_neuron(array, "prediction", neuron, 3)
    if array.shape[0] != n_bins:
        raise ValueError(f"`prediction` must give {n_bins} time bins for one neuron, got shape {array.shape}")
    return array


def _stimulus(stimulus: Any, n_bins: int, hop: int | None) -> np.ndarray:
    """``(F, T)`` spectrogram (channel 0) or ``(T * hop,)`` waveform, checked against the response length."""
    if hop is None:
        array = as_array(stimulus, "stimulus", (2, 3, 4))
        array = array.reshape(-1, *array.shape[-2:])[0]
        if array.shape[-1] != n_bins:
            raise ValueError(
                f"`stimulus` must have the responses' {n_bins} time bins on its last axis, got shape {array.shape}"
            )
        return array
    array = as_array(stimulus, "stimulus", (1, 2, 3))
    if any(size != 1 for size in array.shape[:-1]) or array.shape[-1] != n_bins * hop:
        raise ValueError(
            f"a waveform `stimulus` must be (T_audio,), (1, T_audio) or (1, 1, T_audio) with "
            f"T_audio = {n_bins} bins x hop {hop} = {n_bins * hop}, got shape {array.shape}"
        )
    return array.reshape(-1)


def _is_counts(trials: np.ndarray) -> bool:
    values = trials[np.isfinite(trials)]
    return bool(values.size) and bool((values >= 0).all()) and bool((values == np.round(values)).all())


def plot_responses(
    stimulus: Any,
    responses: Any,
    prediction: Any = None,
    *,
    dt_ms: float,
    neuron: int = 0,
    audio_fs: float | None = None,
    freqs_hz: Any = None,
    title: str | None = None,
    cmap: str = "magma",
) -> Figure:
    """Draw a stimulus, one neuron's trials, its PSTH and optionally a model's prediction.

    Panels, sharing the time axis in seconds: the stimulus (a spectrogram image, or the
    waveform when ``audio_fs`` is given); the trials (a spike raster when the responses
    are non-negative integers, otherwise an image of the trial values); the PSTH (mean
    over the recorded trials) with the prediction on top and their correlation.
    Missing trials (all NaN) are left out; NaN bins are gaps.

    Args:
        stimulus: Spectrogram ``(F, T)``, ``(1, F, T)`` or ``(1, 1, F, T)`` (channel 0 is drawn);
            with ``audio_fs``, a waveform ``(T_audio,)``, ``(1, T_audio)`` or ``(1, 1, T_audio)``
            with ``T_audio = T * hop``.
        responses: Trials ``(R, T)`` (or one ``(T,)``) of one neuron, or ``(N, R, T)`` /
            ``(1, N, R, T)`` from which ``neuron`` is taken (a dataset item or a batch of one).
        prediction: Optional prediction ``(T,)``, ``(N, T)``, ``(N, 1, T)`` or ``(1, N, 1, T)``.
        dt_ms: Width of a response bin in ms.
        neuron: Neuron drawn when the inputs hold several.
        audio_fs: Audio sample rate in Hz; turns on waveform mode (``hop = audio_fs * dt_ms / 1000``).
        freqs_hz: Band centre frequencies in Hz, to label the spectrogram in kHz.
        title: Figure title.
        cmap: Colour map of the spectrogram.

    Returns:
        A matplotlib ``Figure``: three panels (stimulus, trials, PSTH) plus one colour bar for
        a spectrogram and one for trials drawn as an image.

    Raises:
        ValueError: If shapes disagree (time bins, waveform length, batch size, neuron index)
            or ``audio_fs * dt_ms / 1000`` is not an integer.
        TypeError: If an argument has the wrong type.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> import torch
        >>> counts = torch.poisson(torch.full((5, 40), 0.5))
        >>> fig = plot_responses(torch.rand(1, 8, 40), counts, counts.mean(0), dt_ms=10.0)
        >>> len(fig.axes)  # spectrogram, raster, PSTH, spectrogram colour bar
        4
    """
    dt = check_positive_float("dt_ms", dt_ms)
    index = check_int("neuron", neuron, minimum=0)
    trials = _trials(responses, index)
    n_bins = trials.shape[-1]
    hop = None
    if audio_fs is not None:
        exact = check_positive_float("audio_fs", audio_fs) * dt / 1000.0
        hop = round(exact)
        if hop < 1 or abs(exact - hop) > 1e-6 * exact:
            raise ValueError(f"`audio_fs` * `dt_ms` / 1000 must be a whole number of samples, got {exact:g}")
    stim = _stimulus(stimulus, n_bins, hop)
    pred = None if prediction is None else _trace(prediction, index, n_bins)
    present = trials[~np.isnan(trials).all(axis=1)]
    counts = _is_counts(present)
    seconds = dt / 1000.0
    t_end = n_bins * seconds

    fig = new_figure(8.0, 6.2)
    grid = fig.add_gridspec(3, 2, width_ratios=[40, 1], height_ratios=[1.2, 1, 1])
    ax_stim = fig.add_subplot(grid[0, 0])
    ax_trials = fig.add_subplot(grid[1, 0], sharex=ax_stim)
    ax_psth = fig.add_subplot(grid[2, 0], sharex=ax_stim)
    if hop is None:
        image = ax_stim.imshow(
            stim, origin="lower", aspect="auto", cmap=cmap, extent=(0.0, t_end, -0.5, stim.shape[0] - 0.5)
        )
        fig.colorbar(image, cax=fig.add_subplot(grid[0, 1])).set_label("level (a.u.)", fontsize=8)
        label_bands(ax_stim, check_freqs(freqs_hz, stim.shape[0]), stim.shape[0], fontsize=9)
        ax_stim.set_title("stimulus spectrogram", fontsize=10)
    else:
        ax_stim.plot(np.arange(stim.size) / (hop / seconds), stim, lw=0.4, color="0.2")
        ax_stim.set_ylabel("amplitude (a.u.)", fontsize=9)
        ax_stim.set_title(f"stimulus waveform ({audio_fs:g} Hz)", fontsize=10)

    centres = (np.arange(n_bins) + 0.5) * seconds
    if counts:
        rows, bins = np.nonzero(np.nan_to_num(present) > 0)
        ax_trials.scatter(centres[bins], rows, marker="|", s=40, color="k", linewidths=0.8)
        ax_trials.set_ylim(-0.5, max(len(present), 1) - 0.5)
        ax_trials.set_title(f"spike raster ({len(present)} trials)", fontsize=10)
    else:
        image = ax_trials.imshow(
            present, aspect="auto", interpolation="nearest", cmap="viridis",
            extent=(0.0, t_end, len(present) - 0.5, -0.5),
        )  # fmt: skip
        fig.colorbar(image, cax=fig.add_subplot(grid[1, 1])).set_label("response", fontsize=8)
        ax_trials.set_title(f"trials ({len(present)})", fontsize=10)
    ax_trials.set_ylabel("trial", fontsize=9)
    integer_ticks(ax_trials.yaxis)

    psth = trial_mean(present, axis=0)
    ax_psth.step(centres, psth, where="mid", color="k", lw=1.0, label="measured (trial mean)")
    if pred is not None:
        r = pearson(psth, pred)
        ax_psth.plot(centres, pred, color="tab:red", lw=1.2, label=f"predicted (r = {r:.2f})")
    ax_psth.legend(fontsize=8, loc="upper right")
    ax_psth.set_ylabel("spikes / bin" if counts else "response", fontsize=9)
    ax_psth.set_xlabel("time (s)", fontsize=9)
    ax_psth.set_xlim(0.0, t_end)
    ax_psth.set_title("PSTH", fontsize=10)
    fig.suptitle(title if title is not None else f"neuron {index}", fontsize=11)
    return fig
