"""Binning spike times into counts, shared by the public dataset loaders.

Bin ``t`` covers ``[t * dt_ms, (t + 1) * dt_ms)`` from stimulus onset; a spike at ``τ`` ms
goes to bin ``floor(τ / dt_ms)``; spikes before onset or at/after the window end are
dropped, and coincident spikes are counted, not merged. Times stay float64 until the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bin_spike_times(
    trials: Sequence[np.ndarray], n_bins: int, dt_ms: float, *, offsets_ms: Sequence[float] | None = None
) -> np.ndarray:
    """Count the spikes of each trial in ``n_bins`` half-open bins of ``dt_ms``.

    Args:
        trials: One 1-D array of spike times (ms) per trial; empty arrays are zero trials.
        n_bins: Number of bins.
        dt_ms: Bin width in ms.
        offsets_ms: Optional onset time of each trial, subtracted from its spike times.

    Returns:
        float64 array ``(R, n_bins)`` of counts.

    Example:
        >>> bin_spike_times([np.array([-1.0, 0.0, 4.9, 5.0, 5.1, 10.0])], 2, 5.0)
        array([[2., 2.]])
    """
    n_trials = len(trials)
    counts = np.zeros((n_trials, n_bins), dtype=np.float64)
    if n_trials == 0 or n_bins == 0:
        return counts
    sizes = np.fromiter((np.size(t) for t in trials), dtype=np.int64, count=n_trials)
    if sizes.sum() == 0:
        return counts
    times = np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in trials])
    rows = np.repeat(np.arange(n_trials), sizes)
    if offsets_ms is not None:
        times = times - np.repeat(np.asarray(offsets_ms, dtype=np.float64), sizes)
    idx = np.floor(times / dt_ms)
    keep = (idx >= 0) & (idx < n_bins) & np.isfinite(idx)
    flat = rows[keep] * n_bins + idx[keep].astype(np.int64)
    counts += np.bincount(flat, minlength=n_trials * n_bins).reshape(n_trials, n_bins)
    return counts
