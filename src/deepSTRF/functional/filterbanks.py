"""Filterbanks on auditory frequency scales: warped frequency grids and triangular mel filters.

The one mel filterbank of the library: the waveform front-end
:class:`~deepSTRF.models.wav2spec.CausalMelSpectrogram` and the loaders that compute their
own spectrograms both use :func:`mel_filterbank` (the loaders take its transpose).

Example:
    >>> fb = mel_filterbank(129, 16, 16000, f_min_hz=100.0)
    >>> fb.shape, warped_linspace(100.0, 8000.0, 3, "mel").round().tolist()
    (torch.Size([129, 16]), [100.0, 1938.0, 8000.0])
"""

from __future__ import annotations

import math

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.functional.scales import ERB_to_Hz, Hz_to_ERB, Hz_to_mel, mel_to_Hz

__all__ = ["MEL_SCALES", "mel_filterbank", "warped_linspace"]


def warped_linspace(low: float, high: float, n: int, scale: str) -> torch.Tensor:
    """``n`` frequencies (Hz, float64) from ``low`` to ``high``, evenly spaced on ``scale``.

    Args:
        low: First frequency in Hz.
        high: Last frequency in Hz.
        n: Number of frequencies.
        scale: ``'mel'`` (HTK), ``'erb'`` (ERB-rate) or ``'linear'``.

    Example:
        >>> warped_linspace(100.0, 8000.0, 3, "erb").round()
        tensor([ 100., 1416., 8000.], dtype=torch.float64)
    """
    if scale == "linear":
        return torch.linspace(low, high, n, dtype=torch.float64)
    warp, unwarp = (Hz_to_mel, mel_to_Hz) if scale == "mel" else (Hz_to_ERB, ERB_to_Hz)
    bounds = warp(torch.tensor([low, high], dtype=torch.float64))
    return unwarp(torch.linspace(float(bounds[0]), float(bounds[1]), n, dtype=torch.float64))


#: Mel scales accepted by :func:`mel_filterbank`: HTK (``2595 log10(1 + f / 700)``) and Slaney's.
MEL_SCALES = ("htk", "slaney")


# Slaney's mel scale (Auditory Toolbox): linear below 1 kHz, logarithmic above.
_SLANEY_LINEAR_HZ_PER_MEL = 200.0 / 3.0


_SLANEY_BREAK_HZ = 1000.0


_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def _slaney_hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    linear = f / _SLANEY_LINEAR_HZ_PER_MEL
    brk = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_HZ_PER_MEL
    logarithmic = brk + torch.log(f.clamp(min=_SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return torch.where(f < _SLANEY_BREAK_HZ, linear, logarithmic)


def _slaney_mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    brk = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_HZ_PER_MEL
    linear = m * _SLANEY_LINEAR_HZ_PER_MEL
    logarithmic = _SLANEY_BREAK_HZ * torch.exp(_SLANEY_LOG_STEP * (m - brk))
    return torch.where(m < brk, linear, logarithmic)


@accepts_old_names(n_freqs="n_fft_bins", f_min="f_min_hz", f_max="f_max_hz")
def mel_filterbank(
    n_fft_bins: int,
    n_filters: int,
    audio_fs: float,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
    mel_scale: str = "htk",
    norm: str | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Triangular mel filterbank mapping ``n_fft_bins`` STFT bins (0 .. Nyquist) to ``n_filters`` bands.

    ``n_filters + 2`` edge frequencies are spaced evenly on the mel scale between
    ``f_min_hz`` and ``f_max_hz``; filter ``m`` rises linearly (in Hz) from edge ``m``
    to edge ``m + 1`` and falls to edge ``m + 2``. With ``norm='slaney'`` each
    triangle is scaled by ``2 / (edge[m + 2] - edge[m])`` (constant area).

    Args:
        n_fft_bins: Number of STFT bins, ``n_fft // 2 + 1``.
        n_filters: Number of mel bands.
        audio_fs: Sampling rate in Hz.
        f_min_hz: Lowest edge in Hz.
        f_max_hz: Highest edge in Hz; the Nyquist frequency by default.
        mel_scale: ``'htk'`` (``2595 log10(1 + f / 700)``) or ``'slaney'`` (linear below 1 kHz, log above).
        norm: ``None`` (peak 1) or ``'slaney'`` (area normalisation).
        dtype: Dtype of the result.

    Returns:
        Filterbank ``(n_fft_bins, n_filters)``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown.

    Example:
        >>> fb = mel_filterbank(257, 40, 16000)
        >>> fb.shape, float(fb.max()) <= 1.0
        (torch.Size([257, 40]), True)
    """
    check_int("n_fft_bins", n_fft_bins, minimum=2)
    check_int("n_filters", n_filters)
    fs = check_positive_float("audio_fs", audio_fs)
    top = fs / 2.0 if f_max_hz is None else check_positive_float("f_max_hz", f_max_hz)
    low = check_positive_float("f_min_hz", f_min_hz, allow_zero=True)
    if not low < top <= fs / 2.0:
        raise ValueError(
            f"need 0 <= f_min_hz < f_max_hz <= audio_fs / 2 = {fs / 2:g}, got f_min_hz={f_min_hz}, f_max_hz={f_max_hz}"
        )
    check_choice("mel_scale", mel_scale, MEL_SCALES)
    check_choice("norm", norm, (None, "slaney"))
    if mel_scale == "htk":
        edges = warped_linspace(low, top, n_filters + 2, "mel")
    else:
        bounds = _slaney_hz_to_mel(torch.tensor([low, top], dtype=torch.float64))
        mels = torch.linspace(float(bounds[0]), float(bounds[1]), n_filters + 2, dtype=torch.float64)
        edges = _slaney_mel_to_hz(mels)
    bins = torch.linspace(0.0, fs / 2.0, n_fft_bins, dtype=torch.float64).unsqueeze(1)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    weights = torch.minimum(rising, falling).clamp(min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (right - left))
    return weights.to(dtype)
