"""Gammatone filterbanks on the ERB scale: an FIR front-end and the classic IIR gammatonegram."""

from __future__ import annotations

import math

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.functional.filterbanks import warped_linspace
from deepSTRF.functional.scales import ERB_bandwidth
from deepSTRF.models.wav2spec._base import (
    WaveformFrontEnd,
    causal_mean_pool,
    check_compression,
    compress,
)
from deepSTRF.models.wav2spec._conv import causal_conv1d
from deepSTRF.models.wav2spec._recursive import ChunkOperators, chunk_operators, chunked_filter
from deepSTRF.models.wav2spec.pcen import PCEN

RECTIFICATIONS = ("half", "full", "square")

# Gammatone bandwidth in ERBs for a 4th-order filter (Patterson et al., 1987).
_BANDWIDTH_ERB = 1.019


def gammatone_fir_kernels(centre_freqs: torch.Tensor, audio_fs: float, n_taps: int, order: int = 4) -> torch.Tensor:
    """Sampled gammatone impulse responses, scaled to unit gain at their centre frequency.

    ``g(t) = c t^(n-1) exp(-2 pi b t) cos(2 pi f t)`` for ``t = k / audio_fs``, ``k = 0 .. n_taps - 1``,
    with ``b = 1.019 ERB(f)`` and ``c = 2 (2 pi b)^n / ((n - 1)! audio_fs)``.

    Args:
        centre_freqs: Centre frequencies in Hz ``(F,)``.
        audio_fs: Sampling rate in Hz.
        n_taps: Kernel length in samples.
        order: Filter order ``n``.

    Returns:
        Kernels ``(F, n_taps)`` in the dtype of ``centre_freqs``; tap ``k`` weighs the sample ``k`` steps back.

    Example:
        >>> gammatone_fir_kernels(torch.tensor([440.0]), 16000, 16).shape
        torch.Size([1, 16])
    """
    t = torch.arange(n_taps, dtype=centre_freqs.dtype, device=centre_freqs.device) / audio_fs
    f = centre_freqs.unsqueeze(1)
    b = _BANDWIDTH_ERB * ERB_bandwidth(f)
    envelope = t.pow(order - 1) * torch.exp(-2 * math.pi * b * t)
    gain = 2 * (2 * math.pi * b) ** order / (math.factorial(order - 1) * audio_fs)
    return gain * envelope * torch.cos(2 * math.pi * f * t)


def _frequency_range(audio_fs: float, f_min_hz: float, f_max_hz: float | None) -> tuple[float, float]:
    low = check_positive_float("f_min_hz", f_min_hz)
    high = 0.45 * audio_fs if f_max_hz is None else check_positive_float("f_max_hz", f_max_hz)
    if not low < high < audio_fs / 2:
        raise ValueError(
            f"need 0 < f_min_hz < f_max_hz < audio_fs / 2 = {audio_fs / 2:g}, "
            f"got f_min_hz={f_min_hz}, f_max_hz={f_max_hz}"
        )
    return low, high


class CausalGammatone(WaveformFrontEnd):
    """FIR gammatone filterbank on the ERB scale, rectified and pooled causally to the hop.

    Each channel is filtered with a truncated 4th-order gammatone impulse
    response (:func:`gammatone_fir_kernels`; it starts at lag 0, so the filter is
    causal with no added delay), rectified, and averaged over the
    ``window_ms`` preceding the end of each bin. The result is compressed, or
    normalised with a learnable :class:`PCEN` when ``pcen=True``.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of channels ``F``.
        f_min_hz: Lowest centre frequency in Hz.
        f_max_hz: Highest centre frequency in Hz (``0.45 * audio_fs`` by default).
        kernel_ms: Length of the FIR kernels in ms; low channels whose response lasts
            longer are truncated.
        rectify: ``'half'`` (``max(y, 0)``), ``'full'`` (``|y|``) or ``'square'`` (``y^2``).
        window_ms: Pooling window in ms, ending at each bin's end; one bin by default.
        pcen: Use per-channel energy normalisation instead of ``compression``.
        compression: ``'log'``, ``'log_floor'``, ``'cuberoot'``, ``'log1p'`` or ``'none'`` (ignored with ``pcen``;
            see :func:`~deepSTRF.models.wav2spec._base.compress`).
        eps: Offset of the ``'log'`` and ``'cuberoot'`` compressions, floor of ``'log_floor'``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> gt = CausalGammatone(16000, dt_ms=5.0, n_filters=16)
        >>> gt(torch.randn(2, 1, 800)).shape
        torch.Size([2, 1, 16, 10])
    """

    @accepts_old_names(hop_ms="dt_ms", f_min="f_min_hz", f_max="f_max_hz")
    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 64,
        f_min_hz: float = 100.0,
        f_max_hz: float | None = None,
        kernel_ms: float = 25.0,
        rectify: str = "half",
        window_ms: float | None = None,
        pcen: bool = False,
        compression: str = "log",
        eps: float = 1e-6,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        low, high = _frequency_range(self.audio_fs, f_min_hz, f_max_hz)
        self.rectify = str(check_choice("rectify", rectify, RECTIFICATIONS))
        self.window = self.hop if window_ms is None else self.ms_to_samples("window_ms", window_ms)
        self.compression = check_compression(compression)
        self.eps = check_positive_float("eps", eps)
        n_taps = self.ms_to_samples("kernel_ms", kernel_ms, minimum=2)
        centre_freqs = warped_linspace(low, high, self.out_channels, "erb")
        self.register_constant("centre_freqs", centre_freqs)
        # conv1d correlates, so the kernels are stored time-reversed
        self.register_constant(
            "weight", gammatone_fir_kernels(centre_freqs, self.audio_fs, n_taps).flip(-1).unsqueeze(1)
        )
        self.pcen = PCEN(self.out_channels) if pcen else None

    centre_freqs: torch.Tensor
    weight: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter, rectify and pool ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        y = causal_conv1d(x, self.weight.to(x.dtype))
        if self.rectify == "half":
            y = torch.relu(y)
        elif self.rectify == "full":
            y = y.abs()
        else:
            y = y.square()
        energy = causal_mean_pool(y, self.window, self.hop)
        if self.pcen is not None:
            return self.pcen(energy).unsqueeze(1)
        return compress(energy, self.compression, self.eps).unsqueeze(1)


def gammatone_iir_poles(centre_freqs: torch.Tensor, audio_fs: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pole and unit-gain factor of the 8th-order IIR gammatone filter of each channel.

    The classic IIR gammatone (Slaney, 1993, Apple Technical Report 35) has the
    transfer function ``G Re[1 / (1 - p z^-1)^4]`` for a real input, with the
    pole ``p = exp((-2 pi b + 2 pi i f) / audio_fs)``, ``b = 1.019 ERB(f)``, and
    ``G`` setting the gain at ``f`` to one.

    Args:
        centre_freqs: Centre frequencies in Hz ``(F,)``.
        audio_fs: Sampling rate in Hz.

    Returns:
        ``(poles, gains)``: complex128 ``(F,)`` and float64 ``(F,)``.

    Example:
        >>> poles, gains = gammatone_iir_poles(torch.tensor([1000.0]), 16000)
        >>> round(float(poles.abs()), 4), round(float(poles.angle()), 4)
        (0.9483, 0.3927)
    """
    f = centre_freqs.to(torch.float64)
    b = _BANDWIDTH_ERB * ERB_bandwidth(f)
    poles = torch.exp(torch.complex(-2 * math.pi * b, 2 * math.pi * f) / audio_fs)
    z_inv = torch.exp(torch.complex(torch.zeros_like(f), -2 * math.pi * f / audio_fs))
    response = 0.5 * ((1 - poles * z_inv).pow(-4) + (1 - poles.conj() * z_inv).pow(-4))
    return poles, 1.0 / response.abs()


def _gammatone_state_space(
    poles: torch.Tensor, gains: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real 8-dimensional state space of ``G Re[cascade of four one-pole filters with pole p]``."""
    n = poles.shape[0]
    lower = torch.tril(torch.ones(4, 4, dtype=torch.float64))
    A = poles.view(n, 1, 1) * lower  # w_k[t] = p (w_1 + ... + w_k)[t - 1] + u[t]
    C = gains.view(n, 1) * poles.view(n, 1) * torch.ones(1, 4, dtype=torch.float64)
    real_A = torch.cat([torch.cat([A.real, -A.imag], -1), torch.cat([A.imag, A.real], -1)], -2)
    real_B = torch.cat([torch.ones(n, 4), torch.zeros(n, 4)], -1).to(torch.float64)
    real_C = torch.cat([C.real, -C.imag], -1)
    return real_A, real_B, real_C, gains


class Gammatonegram(WaveformFrontEnd):
    """Gammatonegram: IIR gammatone filterbank on the ERB scale and causal RMS pooling.

    As in the classic ``gtgram``, each channel is an 8th-order IIR gammatone
    filter (:func:`gammatone_iir_poles`; the filters of ``scipy.signal.gammatone``
    with ``ftype='iir'``) with unit gain at its centre frequency, and the output
    is the root-mean-square of each channel over a window. Here the window is the
    ``window_ms`` ending at each bin's end, so the representation is causal (with
    ``window_at='start'``, a window no longer than a bin starts at the bin's start
    instead, as in deepSTRF 0.1.0's checkpoints). The recursion is computed exactly
    (not truncated) by a blockwise parallel scan.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of channels ``F``.
        f_min_hz: Lowest centre frequency in Hz.
        f_max_hz: Highest centre frequency in Hz (``0.45 * audio_fs`` by default).
        window_ms: RMS window in ms, ending at each bin's end; one bin by default.
        compression: ``'log'``, ``'log_floor'``, ``'cuberoot'``, ``'log1p'`` or ``'none'`` applied to the RMS.
        eps: Offset of the ``'log'`` and ``'cuberoot'`` compressions, floor of ``'log_floor'``.
        chunk: Block length of the recursive filter (a speed setting).
        window_at: ``'end'`` (the window ends at the bin's end) or ``'start'`` (it starts at the
            bin's start; the window must then be at most one bin).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> gtgram = Gammatonegram(16000, dt_ms=10.0, n_filters=8)
        >>> gtgram(torch.randn(1, 1, 1600)).shape
        torch.Size([1, 1, 8, 10])
        >>> first_half = Gammatonegram(16000, dt_ms=10.0, n_filters=8, window_ms=5.0, window_at="start")
        >>> first_half(torch.randn(1, 1, 1600)).shape
        torch.Size([1, 1, 8, 10])
    """

    @accepts_old_names(hop_ms="dt_ms", f_min="f_min_hz", f_max="f_max_hz")
    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 64,
        f_min_hz: float = 100.0,
        f_max_hz: float | None = None,
        window_ms: float | None = None,
        compression: str = "log",
        eps: float = 1e-6,
        chunk: int = 32,
        window_at: str = "end",
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        low, high = _frequency_range(self.audio_fs, f_min_hz, f_max_hz)
        self.window = self.hop if window_ms is None else self.ms_to_samples("window_ms", window_ms)
        self.window_at = str(check_choice("window_at", window_at, ("end", "start")))
        if self.window_at == "start" and self.window > self.hop:
            raise ValueError(
                f"window_at='start' needs a window of at most one bin ({self.hop} samples), got {self.window} samples"
            )
        self.compression = check_compression(compression)
        self.eps = check_positive_float("eps", eps)
        centre_freqs = warped_linspace(low, high, self.out_channels, "erb")
        self.register_constant("centre_freqs", centre_freqs)
        state_space = _gammatone_state_space(*gammatone_iir_poles(centre_freqs, self.audio_fs))
        ops = chunk_operators(*state_space, check_int("chunk", chunk))
        for name, tensor in ops._asdict().items():
            self.register_constant(f"_{name}", tensor)

    centre_freqs: torch.Tensor

    def filter(self, x: torch.Tensor) -> torch.Tensor:
        """Gammatone-filtered signals ``(B, F, T_audio)`` of a waveform ``(B, 1, T_audio)``."""
        self.check_input(x)
        operators = ChunkOperators(*(getattr(self, f"_{name}").to(x.dtype) for name in ChunkOperators._fields))
        return chunked_filter(x, operators)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the gammatonegram of ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        energy = self.filter(x).square()
        if self.window_at == "start":
            power = energy.unflatten(-1, (-1, self.hop))[..., : self.window].mean(-1)
        else:
            power = causal_mean_pool(energy, self.window, self.hop)
        rms = power.clamp(min=torch.finfo(power.dtype).tiny).sqrt()
        return compress(rms, self.compression, self.eps).unsqueeze(1)
