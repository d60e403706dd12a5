"""Pieces shared by the public dataset loaders: argument checks and array conversion."""

from __future__ import annotations

import numpy as np
import torch

from deepSTRF._validation import check_positive_float


def check_timing(dt_ms: float, waveform: bool, audio_fs: float | None) -> tuple[float, int | None]:
    """Validate ``dt_ms`` (and ``audio_fs`` in waveform mode); return ``(dt_ms, hop)``."""
    dt_ms = check_positive_float("dt_ms", dt_ms)
    if not isinstance(waveform, bool):
        raise TypeError(f"`waveform` must be a bool, got {type(waveform).__name__}")
    if not waveform:
        return dt_ms, None
    audio_fs = check_positive_float("audio_fs", audio_fs)
    hop = audio_fs * dt_ms / 1000.0
    if abs(hop - round(hop)) > 1e-9 or round(hop) < 1:
        raise ValueError(
            f"`audio_fs` * `dt_ms` / 1000 must be a positive integer (the audio samples per response bin), "
            f"got {audio_fs} * {dt_ms} / 1000 = {hop}"
        )
    return dt_ms, round(hop)


def as_tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 CPU tensor (contiguous copy) of an array."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
