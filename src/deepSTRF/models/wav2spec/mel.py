"""Causal mel spectrogram: windowed STFT whose frames end at bin ends, and an in-house mel filterbank."""

from __future__ import annotations

import math

import torch

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.models.wav2spec._base import (
    WaveformFrontEnd,
    align_frames,
    check_compression,
    compress,
    warped_linspace,
)

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


def mel_filterbank(
    n_freqs: int,
    n_filters: int,
    audio_fs: float,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "htk",
    norm: str | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Triangular mel filterbank mapping ``n_freqs`` STFT bins (0 .. Nyquist) to ``n_filters`` bands.

    ``n_filters + 2`` edge frequencies are spaced evenly on the mel scale between
    ``f_min`` and ``f_max``; filter ``m`` rises linearly (in Hz) from edge ``m``
    to edge ``m + 1`` and falls to edge ``m + 2``. With ``norm='slaney'`` each
    triangle is scaled by ``2 / (edge[m + 2] - edge[m])`` (constant area).

    Args:
        n_freqs: Number of STFT bins, ``n_fft // 2 + 1``.
        n_filters: Number of mel bands.
        audio_fs: Sampling rate in Hz.
        f_min: Lowest edge in Hz.
        f_max: Highest edge in Hz; the Nyquist frequency by default.
        mel_scale: ``'htk'`` (``2595 log10(1 + f / 700)``) or ``'slaney'`` (linear below 1 kHz, log above).
        norm: ``None`` (peak 1) or ``'slaney'`` (area normalisation).
        dtype: Dtype of the result.

    Returns:
        Filterbank ``(n_freqs, n_filters)``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown.

    Example:
        >>> fb = mel_filterbank(257, 40, 16000)
        >>> fb.shape, float(fb.max()) <= 1.0
        (torch.Size([257, 40]), True)
    """
    check_int("n_freqs", n_freqs, minimum=2)
    check_int("n_filters", n_filters)
    fs = check_positive_float("audio_fs", audio_fs)
    top = fs / 2.0 if f_max is None else check_positive_float("f_max", f_max)
    low = check_positive_float("f_min", f_min, allow_zero=True)
    if not low < top <= fs / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= audio_fs / 2 = {fs / 2:g}, got f_min={f_min}, f_max={f_max}")
    check_choice("mel_scale", mel_scale, MEL_SCALES)
    check_choice("norm", norm, (None, "slaney"))
    if mel_scale == "htk":
        edges = warped_linspace(low, top, n_filters + 2, "mel")
    else:
        bounds = _slaney_hz_to_mel(torch.tensor([low, top], dtype=torch.float64))
        mels = torch.linspace(float(bounds[0]), float(bounds[1]), n_filters + 2, dtype=torch.float64)
        edges = _slaney_mel_to_hz(mels)
    bins = torch.linspace(0.0, fs / 2.0, n_freqs, dtype=torch.float64).unsqueeze(1)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    weights = torch.minimum(rising, falling).clamp(min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (right - left))
    return weights.to(dtype)


class CausalMelSpectrogram(WaveformFrontEnd):
    """Mel spectrogram computed causally: the analysis window of bin ``t`` ends where bin ``t`` ends.

    The waveform is left-padded with zeros and cut into frames of ``n_fft``
    samples taken every ``hop`` samples so that frame ``t`` covers samples
    ``[(t + 1) * hop - n_fft, (t + 1) * hop)``; a Hann window of ``window_ms``
    occupies the last samples of each frame. The power (or magnitude)
    spectrum goes through a mel filterbank built by :func:`mel_filterbank`, then
    an amplitude compression.

    Args:
        audio_fs: Sampling rate in Hz.
        hop_ms: Bin width in ms (``audio_fs * hop_ms / 1000`` must be an integer).
        n_filters: Number of mel bands ``F``.
        window_ms: Analysis window length in ms.
        n_fft: FFT size; the smallest power of two holding the window by default.
        f_min: Lowest filterbank edge in Hz.
        f_max: Highest filterbank edge in Hz (Nyquist by default).
        mel_scale: ``'htk'`` or ``'slaney'``.
        norm: ``None`` or ``'slaney'`` (area-normalised triangles).
        power: Exponent of the magnitude spectrum (2: power, 1: magnitude).
        compression: ``'log'``, ``'cuberoot'``, ``'log1p'`` or ``'none'``.
        eps: Offset of the ``'log'`` and ``'cuberoot'`` compressions.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> mel = CausalMelSpectrogram(16000, hop_ms=5.0, n_filters=32)
        >>> mel(torch.randn(2, 1, 1600)).shape
        torch.Size([2, 1, 32, 20])
    """

    def __init__(
        self,
        audio_fs: float,
        hop_ms: float,
        n_filters: int = 64,
        window_ms: float = 25.0,
        n_fft: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        mel_scale: str = "htk",
        norm: str | None = None,
        power: float = 2.0,
        compression: str = "log",
        eps: float = 1e-6,
    ) -> None:
        super().__init__(audio_fs, hop_ms, check_int("n_filters", n_filters))
        self.win_length = self.ms_to_samples("window_ms", window_ms)
        if n_fft is None:
            n_fft = 1 << (self.win_length - 1).bit_length()
        self.n_fft = check_int("n_fft", n_fft, minimum=2)
        if self.n_fft < self.win_length:
            raise ValueError(f"`n_fft` must be >= the window length ({self.win_length} samples), got {n_fft}")
        self.power = check_positive_float("power", power)
        self.compression = check_compression(compression)
        self.eps = check_positive_float("eps", eps)
        window = torch.zeros(self.n_fft, dtype=torch.float64)
        window[self.n_fft - self.win_length :] = torch.hann_window(self.win_length, periodic=True, dtype=torch.float64)
        fb = mel_filterbank(self.n_fft // 2 + 1, self.out_channels, self.audio_fs, f_min, f_max, mel_scale, norm)
        self.register_constant("window", window)
        self.register_constant("filterbank", fb)

    window: torch.Tensor
    filterbank: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the mel spectrogram of ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        frames = align_frames(x[:, 0], self.n_fft, self.hop)
        spec = torch.stft(
            frames,
            n_fft=self.n_fft,
            hop_length=self.hop,
            window=self.window.to(x.dtype),
            center=False,
            return_complex=True,
        )
        if self.power == 2.0:
            energy = spec.real.square() + spec.imag.square()
        else:
            energy = spec.abs().pow(self.power)
        mel = torch.einsum("bkt,km->bmt", energy, self.filterbank.to(x.dtype))
        return compress(mel, self.compression, self.eps).unsqueeze(1)
