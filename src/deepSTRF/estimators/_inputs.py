"""Trials from the shapes users bring: lists of trials, stacked trials, one recording, or a deepSTRF dataset.

Every input becomes a list of ``(T_s, F)`` stimulus trials and ``(T_s, N)`` response
trials (time first, float64), whatever the ``layout`` of the caller:

- ``'tf'``: time x features, as in MNE, mTRFpy (Python) and scikit-learn;
- ``'ft'``: features x time, as in deepSTRF datasets and MATLAB's mTRF toolbox.

A layout that looks swapped (the response length matches the other axis, or the
fitted feature count shows up on the other axis) is reported with the fix.

Example:
    >>> import numpy as np
    >>> xs, ys, info = as_trials(np.zeros((2, 100, 3)), np.zeros((2, 100)), layout="tf")
    >>> len(xs), tuple(xs[0].shape), tuple(ys[0].shape), info.kind, info.squeeze_outputs
    (2, (100, 3), (100, 1), 'stacked', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["InputInfo", "as_trials", "lag_range", "restore_layout"]

LAYOUTS = ("tf", "ft")


@dataclass
class InputInfo:
    """How the caller's input was shaped, so predictions come back in the same form."""

    kind: str  # 'list', 'stacked', 'single' or 'dataset'
    layout: str
    squeeze_outputs: bool = False
    lengths: tuple[int, ...] = ()


def lag_range(n_lags: int | None, tmin: float | None, tmax: float | None, sfreq: float | None) -> tuple[int, int]:
    """First and last lag in bins, from ``n_lags`` (lags ``0 .. n_lags - 1``) or ``tmin``/``tmax`` in seconds.

    Args:
        n_lags: Number of lags in bins, or ``None`` to use ``tmin``/``tmax``.
        tmin: First lag in seconds (negative: the response leads the stimulus).
        tmax: Last lag in seconds (included).
        sfreq: Sampling rate of the bins in Hz.

    Returns:
        ``(lag_min, lag_max)`` in bins, ``lag_max >= lag_min``.

    Raises:
        ValueError: If neither or both ways are given, or the window is empty.

    Example:
        >>> lag_range(None, 0.0, 0.3, 100.0)  # 0-300 ms at 100 Hz: 31 lags, lag 0 included
        (0, 30)
        >>> lag_range(5, None, None, None)
        (0, 4)
    """
    if n_lags is not None:
        if tmin is not None or tmax is not None:
            raise ValueError(f"give either `n_lags` or `tmin`/`tmax`, got n_lags={n_lags}, tmin={tmin}, tmax={tmax}")
        if isinstance(n_lags, bool) or not isinstance(n_lags, (int, np.integer)) or n_lags < 1:
            raise ValueError(f"`n_lags` must be a positive int, got {n_lags!r}")
        return 0, int(n_lags) - 1
    if tmin is None or tmax is None or sfreq is None:
        raise ValueError(
            f"lags need `n_lags` (bins), or `tmin`, `tmax` (seconds) and `sfreq` (Hz); "
            f"got n_lags=None, tmin={tmin}, tmax={tmax}, sfreq={sfreq}"
        )
    if not sfreq > 0:
        raise ValueError(f"`sfreq` must be positive (Hz), got {sfreq}")
    lo, hi = round(tmin * sfreq), round(tmax * sfreq)
    if hi < lo:
        raise ValueError(f"`tmax` must not be below `tmin`, got tmin={tmin}, tmax={tmax}")
    return lo, hi


def _tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        out = value.detach()
    else:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"`{name}` must hold real numbers, got {type(value).__name__} of dtype {arr.dtype}")
        out = torch.from_numpy(np.ascontiguousarray(arr))
    if not (out.is_floating_point() or out.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise TypeError(f"`{name}` must hold real numbers, got dtype {out.dtype}")
    return out.to(torch.float64)


def _orient(a: torch.Tensor, layout: str, name: str) -> torch.Tensor:
    """One trial as ``(T, K)``."""
    if a.dim() == 1:
        return a[:, None]
    if a.dim() != 2:
        raise ValueError(f"each trial of `{name}` must be 1-D or 2-D, got shape {tuple(a.shape)}")
    return a if layout == "tf" else a.T


def _swap_hint(layout: str) -> str:
    other = "ft" if layout == "tf" else "tf"
    return f"the arrays look transposed: pass layout='{other}' or transpose each trial"


def _split_runs(a: torch.Tensor, trials: Any) -> list[torch.Tensor]:
    labels = np.asarray(trials)
    if labels.ndim != 1 or labels.shape[0] != a.shape[0]:
        raise ValueError(f"`trials` must hold one label per time bin ({a.shape[0]}), got shape {labels.shape}")
    cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return list(torch.tensor_split(a, cuts.tolist()))


def _dataset_trials(data: torch.utils.data.Dataset) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    xs, ys = [], []
    for s in range(len(data)):  # type: ignore[arg-type]
        item = data[s]
        stim = _tensor(item["stims"], f"data[{s}]['stims']")
        if stim.dim() == 3 and stim.shape[0] == 1:
            stim = stim[0]
        if stim.dim() != 2:
            raise ValueError(f"stimulus {s} must be (1, F, T) or (F, T), got shape {tuple(stim.shape)}")
        resp = _tensor(item["responses"], f"data[{s}]['responses']")
        if resp.dim() == 3:
            resp = resp.nanmean(1)
        xs.append(stim.T)
        ys.append(resp.T)
    return xs, ys


def as_trials(
    X: Any, y: Any = None, *, layout: str = "tf", trials: Any = None, n_features: int | None = None
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None, InputInfo]:
    """Stimulus and response trials ``(T_s, F)`` / ``(T_s, N)`` from the caller's arrays.

    Args:
        X: A list of trials (each ``(T, F)``, ``(F, T)`` by ``layout``, or ``(T,)``), a stacked
            array ``(S, T, F)`` / ``(S, F, T)``, one recording ``(T, F)`` / ``(F, T)`` / ``(T,)``
            (cut into trials where ``trials`` changes value), or a deepSTRF dataset (then ``y``
            is ``None`` and the trial-mean responses are used).
        y: Responses of the same form with ``N`` outputs (1-D trials for one output), or ``None``.
        layout: ``'tf'`` (time first) or ``'ft'`` (time last).
        trials: With one recording: a label per time bin; bins with the same consecutive label form a trial.
        n_features: The feature count expected (from a fit), for a clearer error.

    Returns:
        ``(xs, ys, info)``; ``ys`` is ``None`` when ``y`` is.

    Raises:
        TypeError: For inputs that are not arrays.
        ValueError: For shapes that disagree (with a transposition hint when one explains it).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"`layout` must be 'tf' (time x features) or 'ft' (features x time), got {layout!r}")
    if isinstance(X, torch.utils.data.Dataset) and not isinstance(X, torch.Tensor):
        if y is not None:
            raise ValueError("with a dataset as `X`, `y` must be None (the dataset holds the responses)")
        stim_trials, resp_trials = _dataset_trials(X)
        return stim_trials, resp_trials, InputInfo("dataset", "ft", False, tuple(x.shape[0] for x in stim_trials))
    if isinstance(X, (str, bytes, Mapping)):
        raise TypeError(f"`X` must be an array, a list of trials or a dataset, got {type(X).__name__}")
    if isinstance(X, Sequence) and not isinstance(X, np.ndarray):
        kind = "list"
        raw = [_tensor(x, f"X[{s}]") for s, x in enumerate(X)]
        if not raw:
            raise ValueError("`X` holds no trial")
    else:
        arr = _tensor(X, "X")
        if arr.dim() == 3:
            kind, raw = "stacked", list(arr)
        elif arr.dim() in (1, 2):
            kind = "single"
            raw = [arr]
        else:
            raise ValueError(f"`X` must be (T, F), (S, T, F), a list of trials or a dataset, got {tuple(arr.shape)}")
    xs = [_orient(x, layout, "X") for x in raw]
    if kind == "single" and trials is not None:
        xs = _split_runs(xs[0], trials)
    squeeze = False
    ys: list[torch.Tensor] | None = None
    if y is not None:
        if kind == "list":
            if isinstance(y, (str, bytes, Mapping)) or not isinstance(y, Sequence) or isinstance(y, np.ndarray):
                whole = _tensor(y, "y")
                y_raw = list(whole) if whole.dim() >= 2 else [whole]
            else:
                y_raw = [_tensor(v, f"y[{s}]") for s, v in enumerate(y)]
        else:
            yt = _tensor(y, "y")
            y_raw = list(yt) if kind == "stacked" else [yt]
        if len(y_raw) != len(raw):
            raise ValueError(f"`X` and `y` must hold the same number of trials, got {len(raw)} and {len(y_raw)}")
        squeeze = all(v.dim() == 1 for v in y_raw)
        ys = [_orient(v, layout, "y") for v in y_raw]
        if kind == "single" and trials is not None:
            ys = _split_runs(ys[0], trials)
        for s, (x, v) in enumerate(zip(xs, ys)):
            if v.shape[0] != x.shape[0]:
                swapped = (v.dim() == 2 and v.shape[1] == x.shape[0]) or x.shape[1] == v.shape[0]
                hint = f"; {_swap_hint(layout)}" if swapped else ""
                raise ValueError(
                    f"trial {s}: `X` has {x.shape[0]} time bins (shape {tuple(x.shape)} as time x features) but `y` "
                    f"has {v.shape[0]} (shape {tuple(v.shape)} as time x outputs){hint}"
                )
        outs = {int(v.shape[1]) for v in ys}
        if len(outs) != 1:
            raise ValueError(f"every trial of `y` must have the same number of outputs, got {sorted(outs)}")
    feats = {int(x.shape[1]) for x in xs}
    if len(feats) != 1:
        raise ValueError(f"every trial of `X` must have the same number of features, got {sorted(feats)}")
    got = feats.pop()
    if n_features is not None and got != n_features:
        swapped = any(x.shape[0] == n_features for x in xs)
        hint = f"; {_swap_hint(layout)}" if swapped else ""
        raise ValueError(
            f"`X` must have {n_features} features (as fitted), got shape {tuple(raw[0].shape)} with layout "
            f"'{layout}', i.e. {got} features{hint}"
        )
    for s, x in enumerate(xs):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"trial {s} of `X` holds NaN or infinite values")
    if ys is not None:
        for s, v in enumerate(ys):
            if not bool(torch.isfinite(v).all()):
                raise ValueError(
                    f"trial {s} of `y` holds NaN or infinite values; for missing responses use "
                    "deepSTRF.training.fit_ridge, which leaves them out neuron by neuron"
                )
    return xs, ys, InputInfo(kind, layout, squeeze, tuple(x.shape[0] for x in xs))


def restore_layout(preds: list[torch.Tensor], info: InputInfo) -> Any:
    """Predictions ``(T_s, N)`` per trial back in the caller's form (NumPy arrays)."""
    outs = [p.squeeze(1) if info.squeeze_outputs else p for p in preds]
    if info.layout == "ft" or info.kind == "dataset":
        outs = [o.T if o.dim() == 2 else o for o in outs]
    arrays = [o.cpu().numpy() for o in outs]
    if info.kind == "stacked":
        return np.stack(arrays)
    if info.kind == "single":
        return np.concatenate(arrays, axis=-1 if (info.layout == "ft" and arrays[0].ndim == 2) else 0)
    return arrays
