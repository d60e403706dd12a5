"""Conversion and checks of user arrays into the tensors a dataset stores."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_float_tensor",
    "check_dtype",
    "check_stimuli",
    "hop_samples",
    "meta_list",
    "packed_rows",
    "trial_rows",
    "unpack_trials",
]


def hop_samples(audio_fs: float, dt_ms: float) -> int:
    """Audio samples per response bin, ``audio_fs * dt_ms / 1000``, which must be an integer.

    Raises:
        ValueError: If it is not a positive integer.

    Example:
        >>> hop_samples(16000, 5.0)
        80
    """
    hop = audio_fs * dt_ms / 1000.0
    if abs(hop - round(hop)) > 1e-9 * max(1.0, hop) or round(hop) < 1:
        raise ValueError(
            f"`audio_fs` * `dt_ms` / 1000 must be a positive integer number of audio samples per bin (the hop), "
            f"got {audio_fs} * {dt_ms} / 1000 = {hop}"
        )
    return round(hop)


def meta_list(name: str, meta: Sequence[Mapping[str, Any]] | None, n: int) -> list[dict[str, Any]]:
    """``n`` metadata dicts (copies), empty dicts when ``meta`` is None."""
    if meta is None:
        return [{} for _ in range(n)]
    if isinstance(meta, (str, bytes, Mapping)) or not isinstance(meta, Sequence):
        raise TypeError(f"`{name}` must be a list of dicts, got {type(meta).__name__}")
    if len(meta) != n:
        raise ValueError(f"`{name}` must hold one dict per {name[:-5]} ({n}), got {len(meta)}")
    for i, m in enumerate(meta):
        if not isinstance(m, Mapping):
            raise TypeError(f"`{name}[{i}]` must be a dict, got {type(m).__name__}")
    return [dict(m) for m in meta]


def check_dtype(dtype: object) -> torch.dtype:
    """Check that ``dtype`` is a floating torch dtype.

    Example:
        >>> check_dtype(torch.float64)
        torch.float64
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"`dtype` must be a floating torch.dtype, got {dtype!r}")
    return dtype


def check_stimuli(stims: list[torch.Tensor], hop: int | None) -> tuple[list[torch.Tensor], int | None, list[int]]:
    """Check spectrograms ``(1, F, T)`` (or waveforms ``(1, T * hop)`` when ``hop`` is given).

    A missing leading axis is added. Returns the stimuli, ``F`` (None for waveforms or no
    stimulus) and each stimulus length in response bins.

    Raises:
        ValueError: For a wrong shape, NaN/Inf, a different ``F``, or a waveform length that
            is not a multiple of ``hop`` (the grid lock).
    """
    want = 2 if hop is not None else 3
    out, bands = [], set()
    for s, x in enumerate(stims):
        if x.dim() == want - 1:
            x = x.unsqueeze(0)
        if x.dim() != want or x.shape[0] != 1:
            kind = "(1, T_audio) waveform" if hop is not None else "(1, F, T) spectrogram"
            raise ValueError(f"`stims[{s}]` must be a {kind}, got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"`stims[{s}]` holds NaN or Inf values; stimuli must be finite")
        if hop is not None and x.shape[-1] % hop:
            raise ValueError(
                f"`stims[{s}]` has {x.shape[-1]} audio samples, not a multiple of the hop {hop}: "
                f"a waveform must have T * hop samples (hop = audio_fs * dt_ms / 1000)"
            )
        if hop is None:
            bands.add(int(x.shape[1]))
        out.append(x)
    if len(bands) > 1:
        raise ValueError(f"all spectrograms must have the same number of bands F, got {sorted(bands)}")
    return out, (bands.pop() if bands else None), [x.shape[-1] // (hop or 1) for x in out]


def as_float_tensor(name: str, value: Any, dtype: torch.dtype) -> torch.Tensor:
    """``value`` (tensor or array of real numbers) as a CPU tensor of ``dtype``.

    Shares memory with ``value`` when it already has that dtype.

    Raises:
        TypeError: If ``value`` is not an array of real numbers.

    Example:
        >>> as_float_tensor("x", np.arange(3), torch.float32)
        tensor([0., 1., 2.])
    """
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"`{name}` must hold real numbers, got dtype {value.dtype}")
        return value.detach().to(device="cpu", dtype=dtype)
    if isinstance(value, (np.ndarray, Sequence)) and not isinstance(value, (str, bytes)):
        arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"`{name}` must be an array of real numbers, got dtype {arr.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
    raise TypeError(f"`{name}` must be a tensor or an array, got {type(value).__name__}")


def packed_rows(s: int, row: Sequence[Any], length: int, dtype: torch.dtype) -> tuple[torch.Tensor, list[int]]:
    """Stack the present responses of stimulus ``s`` into ``(sum_n R_sn, T_s)``; count trials.

    A missing pair is ``None``, an array holding only NaN, or an array with zero trials.

    Raises:
        TypeError, ValueError: If an entry is not an array, has the wrong length, or holds Inf.

    Example:
        >>> rows, counts = packed_rows(0, [np.ones((2, 3)), None, np.full((1, 1), np.nan)], 3, torch.float32)
        >>> tuple(rows.shape), counts
        ((2, 3), [2, 0, 0])
    """
    present, counts = [], []
    for n, value in enumerate(row):
        if value is None:
            counts.append(0)
            continue
        x = as_float_tensor(f"responses[{s}][{n}]", value, dtype)
        if x.dim() == 1:
            x = x.unsqueeze(0)
        if x.dim() != 2:
            raise ValueError(f"`responses[{s}][{n}]` must be a (R, T) array, got shape {tuple(x.shape)}")
        nan = torch.isnan(x)
        if x.numel() == 0 or bool(nan.all()):
            counts.append(0)
            continue
        if x.shape[1] != length:
            raise ValueError(
                f"`responses[{s}][{n}]` has {x.shape[1]} time bins but stimulus {s} has T_s = {length} "
                f"(got shape {tuple(x.shape)}); crop or pad responses to the stimulus length"
            )
        if bool(torch.isinf(x).any()):
            raise ValueError(f"`responses[{s}][{n}]` holds Inf values")
        present.append(x)
        counts.append(x.shape[0])
    rows = torch.cat(present) if present else torch.zeros(0, length, dtype=dtype)
    return rows, counts


def trial_rows(counts: torch.Tensor, neurons: Sequence[int]) -> torch.Tensor:
    """Rows of the packed trials of one stimulus that belong to ``neurons``, in that order.

    Example:
        >>> trial_rows(torch.tensor([2, 0, 3]), [2, 0]).tolist()
        [2, 3, 4, 0, 1]
    """
    idx = torch.as_tensor(list(neurons), dtype=torch.long)
    start = (torch.cumsum(counts, 0) - counts)[idx]
    take = counts[idx]
    offset = torch.repeat_interleave(torch.cumsum(take, 0) - take, take)
    return torch.repeat_interleave(start, take) + torch.arange(int(take.sum())) - offset


def unpack_trials(rows: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The ``(N, R_max, T)`` NaN-padded responses of one stimulus from its packed trials.

    ``R_max`` is the largest trial count (at least 1, so a stimulus without data still has a trial axis).

    Example:
        >>> unpack_trials(torch.ones(3, 2), torch.tensor([1, 0, 2]))[:, :, 0]
        tensor([[1., nan],
                [nan, nan],
                [1., 1.]])
    """
    n_neurons, length = counts.shape[0], rows.shape[-1]
    if n_neurons and rows.shape[0] % n_neurons == 0 and rows.shape[0] and bool((counts == counts[0]).all()):
        # every neuron has the same number of trials: the packed rows are already (N, R, T) in order
        return rows.reshape(n_neurons, rows.shape[0] // n_neurons, length).clone()
    r_max = max(1, int(counts.max())) if counts.numel() else 1
    out = torch.full((counts.shape[0], r_max, rows.shape[-1]), math.nan, dtype=rows.dtype)
    if rows.shape[0]:
        neuron = torch.repeat_interleave(torch.arange(counts.shape[0]), counts)
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        out[neuron, torch.arange(rows.shape[0]) - first] = rows
    return out
