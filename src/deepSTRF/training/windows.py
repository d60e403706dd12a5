"""Training windows: long trials cut into pieces, each with its causal history in front, masked.

With a few long stimuli, one stimulus per batch row gives a handful of optimiser
steps per epoch, and a fit with early stopping ends long before it converges. Cut
into windows, the same data give many steps per epoch. Each window starts
``context`` bins early; the responses of those bins are set to NaN (missing), so the
model sees the past of every fitted bin and each bin is fitted exactly once.

Example:
    >>> import torch
    >>> x, y = torch.arange(10.0)[:, None], torch.arange(10.0)[:, None]
    >>> pieces = window_trial(x, y, window=4, context=2)
    >>> [tuple(p[0].shape) for p in pieces]
    [(1, 4), (1, 6), (1, 4)]
    >>> pieces[1][1][0, 0].tolist()                         # bins 2-3 are context only
    [nan, nan, 4.0, 5.0, 6.0, 7.0]
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils.data import Dataset

from deepSTRF._validation import check_int

__all__ = ["MIN_STEPS_PER_EPOCH", "WindowedDataset", "auto_window", "window_trial"]

#: Optimiser steps per epoch that ``FitConfig(window="auto")`` aims for when it cuts trials.
MIN_STEPS_PER_EPOCH = 16


def window_trial(
    x: torch.Tensor, y: torch.Tensor, window: int, context: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Cut one trial ``(T, F)`` / ``(T, N)`` into windows ``(F, W)`` / ``(N, 1, W)`` with masked context.

    Args:
        x: Stimulus, time first.
        y: Responses, time first.
        window: Fitted bins per window.
        context: Bins before each window that the model sees but is not fitted on (NaN responses).

    Returns:
        ``(stimulus, responses)`` pairs; the first window has no context (the trial starts there).

    Shape:
        - ``x``: ``(T, F)``; ``y``: ``(T, N)``
        - returned: ``(F, W')`` and ``(N, 1, W')`` with ``W' <= window + context``
    """
    out = []
    for start in range(0, x.shape[0], window):
        lo = max(start - context, 0)
        stop = min(start + window, x.shape[0])
        resp = y[lo:stop].T.clone()
        resp[:, : start - lo] = float("nan")
        out.append((x[lo:stop].T, resp[:, None, :]))
    return out


def _item_window(item: dict[str, Any], start: int, window: int, context: int) -> dict[str, Any]:
    """One window of a dataset item (``stims`` ``(1, F, T)``, ``responses`` ``(N, R, T)``)."""
    length = item["responses"].shape[-1]
    lo, stop = max(start - context, 0), min(start + window, length)
    resp = item["responses"][..., lo:stop].clone()
    resp[..., : start - lo] = float("nan")
    meta = dict(item["stim_meta"])
    meta["window_start"] = start
    return {
        "stims": item["stims"][..., lo:stop],
        "responses": resp,
        "valid_mask": item["valid_mask"],
        "stim_meta": meta,
    }


class WindowedDataset(Dataset):
    """A dataset whose items are windows of another's spectrogram items.

    Args:
        data: A dataset of :class:`~deepSTRF.datasets.NeuralDataset` items whose stimuli
            have one frame per response bin (spectrograms, not waveforms).
        window: Fitted bins per window.
        context: Masked bins of history in front of each window.

    Raises:
        ValueError: If ``window`` < 1, ``context`` < 0, or an item's stimulus and responses
            differ in length (a waveform).

    Example:
        >>> from deepSTRF.datasets import SimulatedDataset
        >>> data = SimulatedDataset(n_neurons=2, n_stimuli=2, seed=0)
        >>> windows = WindowedDataset(data, window=100, context=10)
        >>> len(windows), windows[1]["stims"].shape[-1], windows.dt_ms == data.dt_ms
        (8, 110, True)
    """

    def __init__(self, data: Dataset, window: int, context: int) -> None:
        self.data = data
        self.window = check_int("window", window)
        self.context = check_int("context", context, minimum=0)
        self.index: list[tuple[int, int]] = []
        for s in range(len(data)):  # type: ignore[arg-type]
            item = data[s]
            length = item["responses"].shape[-1]
            if item["stims"].shape[-1] != length:
                raise ValueError(
                    f"windows need one stimulus frame per response bin; stimulus {s} has "
                    f"{item['stims'].shape[-1]} frames for {length} bins (a waveform?); use window=None"
                )
            self.index.extend((s, start) for start in range(0, length, self.window))

    def __getattr__(self, name: str) -> Any:  # dt_ms, audio_fs, F, ...: those of the windowed dataset
        # never forward the data protocol (``__getitems__`` would batch the inner indices)
        if name == "data" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.data, name)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s, start = self.index[i]
        return _item_window(self.data[s], start, self.window, self.context)


def auto_window(data: Dataset, batch_size: int, context: int) -> int | None:
    """The window ``FitConfig(window="auto")`` uses, or ``None`` to keep whole stimuli.

    Whole stimuli are kept when there are at least ``batch_size`` of them (a full batch
    per step), or when they are not spectrograms. Otherwise the window is chosen so
    that the bins give about :data:`MIN_STEPS_PER_EPOCH` full batches per epoch, and is
    at least ``2 * context`` bins (so at least half of the bins are fitted) and at least 1.

    Example:
        >>> import torch
        >>> from deepSTRF.datasets import NeuralDataset
        >>> data = NeuralDataset([torch.zeros(1, 3, 400)] * 2, [[torch.ones(2, 400)]] * 2, 5.0)  # 2 x 400 bins
        >>> auto_window(data, batch_size=8, context=2)  # 800 bins / (16 steps x 8 windows) -> 7 bins per window
        7
        >>> auto_window(data, batch_size=2, context=2) is None
        True
    """
    try:
        n = len(data)  # type: ignore[arg-type]
    except TypeError:
        return None
    if n == 0 or n >= batch_size:
        return None
    total = 0
    for s in range(n):
        item = data[s]
        length = item["responses"].shape[-1]
        if item["stims"].shape[-1] != length:
            return None
        total += length
    return max(math.ceil(total / (MIN_STEPS_PER_EPOCH * batch_size)), 2 * context, 1)
