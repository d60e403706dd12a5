"""Your own data from NumPy arrays (or tensors), dense or ragged: :func:`from_arrays`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from deepSTRF._validation import check_positive_float
from deepSTRF.datasets.core import NeuralDataset, hop_samples

__all__ = ["from_arrays"]


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def _numpy(name: str, x: Any) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must hold real numbers, got dtype {arr.dtype}")
    return arr


def _split_stims(stims: Any, waveform: bool) -> list[Any]:
    """A list of per-stimulus arrays from a stacked array (or the list itself)."""
    if not _is_array(stims):
        if isinstance(stims, (str, bytes, Mapping)) or not isinstance(stims, Sequence):
            raise TypeError(f"`stims` must be an array or a list of arrays, got {type(stims).__name__}")
        return list(stims)
    arr = _numpy("stims", stims)
    dims = (2, 3) if waveform else (3, 4)
    if arr.ndim not in dims or (arr.ndim == dims[1] and arr.shape[1] != 1):
        want = "(S, T_audio) or (S, 1, T_audio)" if waveform else "(S, F, T) or (S, 1, F, T)"
        raise ValueError(f"a stacked `stims` array must be {want}, got shape {arr.shape}")
    return list(arr)


def _trim(rows: np.ndarray) -> np.ndarray | None:
    """Drop trials that hold only NaN (padding); ``None`` if no trial is left."""
    keep = ~np.isnan(rows).all(axis=-1)
    return rows[keep] if keep.any() else None


def _crop(x: np.ndarray, length: int) -> np.ndarray:
    """Crop NaN padding beyond ``length`` bins (any other length mismatch is left to the dataset's check)."""
    if x.shape[-1] > length and np.isnan(x[..., length:]).all():
        return x[..., :length]
    return x


def _stimulus_responses(s: int, entry: Any, length: int) -> list[Any]:
    if _is_array(entry):
        arr = _numpy(f"responses[{s}]", entry).astype(np.float64, copy=False)
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim != 3:
            raise ValueError(f"`responses[{s}]` must be (N, R, T) or (N, T), got shape {arr.shape}")
        arr = _crop(arr, length)
        return [_trim(arr[n]) for n in range(arr.shape[0])]
    if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence):
        raise TypeError(
            f"`responses[{s}]` must be an (N, R, T) array or a list of N responses, got {type(entry).__name__}"
        )
    out: list[np.ndarray | None] = []
    for n, x in enumerate(entry):
        if x is None:
            out.append(None)
            continue
        arr = _numpy(f"responses[{s}][{n}]", x)
        out.append(_crop(arr, length))
    return out


def from_arrays(
    stims: Any,
    responses: Any,
    dt_ms: float,
    *,
    stim_meta: Sequence[Mapping[str, Any]] | None = None,
    nrn_meta: Sequence[Mapping[str, Any]] | None = None,
    audio_fs: float | None = None,
    name: str | None = None,
    info: Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> NeuralDataset:
    """Build a :class:`~deepSTRF.datasets.NeuralDataset` from arrays, dense or ragged.

    Stimuli:
        - a stacked array: spectrograms ``(S, F, T)`` or ``(S, 1, F, T)``; with ``audio_fs``,
          waveforms ``(S, T_audio)`` or ``(S, 1, T_audio)``;
        - or a list of ``S`` arrays ``(F, T_s)`` / ``(1, F, T_s)`` (waveforms ``(T_audio_s,)`` /
          ``(1, T_audio_s)``), of any lengths.

    Responses:
        - a dense array ``(S, N, R, T)`` (or ``(S, N, T)`` for one trial) with NaN padding:
          trials holding only NaN are dropped, a pair with no trial left is missing, and time
          bins beyond a shorter stimulus must be NaN (they are cropped);
        - or a list of ``S`` entries, each an ``(N, R, T_s)`` / ``(N, T_s)`` array or a list of
          ``N`` responses ``(R, T_s)`` / ``(T_s,)`` / ``None`` (missing).

    Args:
        stims: The stimuli.
        responses: The responses.
        dt_ms: Bin width in ms.
        stim_meta: As for :class:`NeuralDataset`.
        nrn_meta: As for :class:`NeuralDataset`.
        audio_fs: As for :class:`NeuralDataset`.
        name: As for :class:`NeuralDataset`.
        info: As for :class:`NeuralDataset`.
        dtype: As for :class:`NeuralDataset`.

    Returns:
        A :class:`NeuralDataset`.

    Raises:
        TypeError, ValueError: For inputs of the wrong type, shape or length (shapes are printed).

    Example:
        >>> import numpy as np
        >>> stims = np.random.rand(3, 8, 20)                  # S=3, F=8, T=20
        >>> resp = np.random.poisson(1.0, (3, 5, 4, 20)).astype(float)  # N=5, R=4
        >>> resp[1, 2] = np.nan                               # neuron 2 did not hear stimulus 1
        >>> ds = from_arrays(stims, resp, dt_ms=10.0)
        >>> ds.valid_mask[1].tolist(), ds[0]["responses"].shape
        ([True, True, False, True, True], torch.Size([5, 4, 20]))
    """
    waveform = audio_fs is not None
    stim_list = _split_stims(stims, waveform)
    if _is_array(responses):
        arr = _numpy("responses", responses)
        if arr.ndim == 3:
            arr = arr[:, :, None, :]
        if arr.ndim != 4:
            raise ValueError(f"a dense `responses` array must be (S, N, R, T) or (S, N, T), got shape {arr.shape}")
        responses = list(arr)
    elif isinstance(responses, (str, bytes, Mapping)) or not isinstance(responses, Sequence):
        raise TypeError(f"`responses` must be an array or a list, got {type(responses).__name__}")
    if len(responses) != len(stim_list):
        raise ValueError(f"`responses` must hold one entry per stimulus ({len(stim_list)}), got {len(responses)}")
    hop = 1
    if audio_fs is not None:
        hop = hop_samples(check_positive_float("audio_fs", audio_fs), check_positive_float("dt_ms", dt_ms))
    lengths = [int(np.shape(x)[-1]) // hop if np.ndim(x) else 0 for x in stim_list]
    nested = [_stimulus_responses(s, entry, lengths[s]) for s, entry in enumerate(responses)]
    return NeuralDataset(
        stim_list,
        nested,
        dt_ms,
        stim_meta=stim_meta,
        nrn_meta=nrn_meta,
        audio_fs=audio_fs,
        name=name,
        info=info,
        dtype=dtype,
    )
