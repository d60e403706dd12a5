"""Where time bins fall on the audio samples: the one causal frame alignment of the library.

Response bin ``t`` of width ``dt_ms`` owns the audio samples up to the end of the bin, and a
causal frame for bin ``t`` ends exactly there. With an integer number of samples per bin
(``hop``) frame ``t`` ends at sample ``(t + 1) * hop`` (:func:`samples_per_bin`,
:func:`align_frames`, used by the waveform front-ends); with a sample rate whose hop is not
an integer (44.1 kHz at 5 ms), frame ends are rounded to the nearest sample without drift
(:func:`frame_ends`, :func:`causal_frames`, used by loaders that compute their own
spectrograms). Both agree whenever the hop is an integer.

Example:
    >>> frame_ends(3, dt_ms=5.0, audio_fs=16000).tolist()
    [80, 160, 240]
    >>> samples_per_bin(16000, 5.0)
    80
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deepSTRF._validation import check_positive_float

__all__ = ["align_frames", "causal_frames", "frame_ends", "samples_per_bin"]


def samples_per_bin(audio_fs: float, dt_ms: float, *, name: str = "dt_ms") -> int:
    """Number of audio samples in one time bin, ``audio_fs * dt_ms / 1000``, which must be a whole number.

    Args:
        audio_fs: Audio sampling rate in Hz.
        dt_ms: Bin width in milliseconds.
        name: Name of the bin-width argument, used in error messages.

    Returns:
        The hop in samples.

    Raises:
        TypeError: If an argument is not a real number.
        ValueError: If an argument is not positive, or the hop is not an integer number of samples.

    Example:
        >>> samples_per_bin(16000, 5.0)
        80
        >>> samples_per_bin(24414.0625, 1.31072)
        32
    """
    fs = check_positive_float("audio_fs", audio_fs)
    dt = check_positive_float(name, dt_ms)
    exact = fs * dt / 1000.0
    hop = round(exact)
    if hop < 1 or abs(exact - hop) > 1e-6 * max(1.0, exact):
        raise ValueError(
            f"`audio_fs` * `{name}` / 1000 must be a whole number of samples >= 1, "
            f"got {audio_fs} Hz * {dt_ms} ms / 1000 = {exact:.6g}"
        )
    return hop


def align_frames(x: torch.Tensor, frame_length: int, hop: int) -> torch.Tensor:
    """Pad (or crop) the start of ``x`` so frames of ``frame_length`` taken every ``hop`` samples end at bin ends.

    After alignment, frame ``t`` (start ``t * hop``) covers the original samples
    ``[(t + 1) * hop - frame_length, (t + 1) * hop)``: it ends where bin ``t`` ends,
    and there are exactly ``T // hop`` frames when ``T`` is a multiple of ``hop``.
    Missing samples before the start are zeros.

    Example:
        >>> align_frames(torch.arange(1.0, 5.0).view(1, 1, 4), frame_length=3, hop=2)
        tensor([[[0., 1., 2., 3., 4.]]])
    """
    return F.pad(x, (frame_length - hop, 0))


def frame_ends(n_frames: int, dt_ms: float, audio_fs: float) -> np.ndarray:
    """Sample index (exclusive) where each causal frame ends: ``floor((t + 1) * dt_ms * audio_fs / 1000 + 0.5)``.

    Args:
        n_frames: Number of time bins.
        dt_ms: Bin width in milliseconds.
        audio_fs: Audio sampling rate in Hz (the hop may be fractional: rounding does not drift).

    Returns:
        ``(n_frames,)`` int64 end indices; equal to ``(t + 1) * hop`` when the hop is an integer.

    Example:
        >>> frame_ends(4, dt_ms=5.0, audio_fs=44100).tolist()
        [221, 441, 662, 882]
    """
    return np.floor(np.arange(1, n_frames + 1) * (dt_ms * audio_fs / 1000.0) + 0.5).astype(np.int64)


def causal_frames(x: np.ndarray, ends: np.ndarray, window_len: int) -> np.ndarray:
    """Gather ``(n_frames, window_len)`` windows of a 1-D signal ending at ``ends``, zero outside the signal.

    Example:
        >>> causal_frames(np.arange(1.0, 5.0), np.array([2, 4]), 3).tolist()
        [[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]]
    """
    idx = ends[:, None] - window_len + np.arange(window_len)[None, :]
    inside = (idx >= 0) & (idx < x.shape[0])
    return np.where(inside, x[np.clip(idx, 0, max(x.shape[0] - 1, 0))] if x.size else 0.0, 0.0)
