"""Causal LEAF: learnable Gabor filterbank, Gaussian low-pass pooling and PCEN (Zeghidour et al., 2021)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.functional.filterbanks import warped_linspace
from deepSTRF.functional.framing import align_frames
from deepSTRF.models.wav2spec._base import WaveformFrontEnd
from deepSTRF.models.wav2spec._conv import causal_conv1d
from deepSTRF.models.wav2spec.pcen import PCEN

_FWHM_PER_STD = 2.0 * math.sqrt(2.0 * math.log(2.0))


class CausalLEAF(WaveformFrontEnd):
    """Learnable front-end (LEAF) made strictly causal.

    1. Complex Gabor filters ``phi_k[n] = exp(-n^2 / (2 sigma_k^2)) exp(i eta_k n) / (sqrt(2 pi) sigma_k)``
       (``n`` centred on the kernel) with learnable centre frequency ``eta_k``
       (rad/sample) and width ``sigma_k`` (samples), initialised from a mel
       filterbank: centres evenly spaced in mel, and bandwidths matching the
       triangles' half-height widths. The squared modulus of the output is taken.
    2. Per-channel Gaussian low-pass pooling over the ``window_ms`` ending at each
       bin's end, with a learnable width (a fraction of half the window), as a
       weighted mean.
    3. Per-channel energy normalisation with learnable parameters (:class:`PCEN`).

    Filters are applied to the samples ending at the current one (a delay of
    half a kernel), so output bin ``t`` only depends on audio before the end of bin ``t``.
    In :meth:`forward` the parameters are clamped to valid ranges: ``eta`` in
    ``[0, pi]``, ``sigma`` between about one sample and the kernel length, and the
    pooling width in ``[2 / window, 0.5]``.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of channels ``F``.
        kernel_ms: Gabor kernel length in ms.
        window_ms: Pooling window in ms.
        f_min_hz: Lowest edge of the initial mel filterbank in Hz.
        f_max_hz: Highest edge in Hz (Nyquist by default).
        pool_init: Initial pooling width.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> leaf = CausalLEAF(16000, dt_ms=10.0, n_filters=8, kernel_ms=5.0, window_ms=10.0)
        >>> leaf(torch.randn(2, 1, 1600)).shape
        torch.Size([2, 1, 8, 10])
    """

    @accepts_old_names(hop_ms="dt_ms", f_min="f_min_hz", f_max="f_max_hz")
    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 40,
        kernel_ms: float = 25.0,
        window_ms: float = 25.0,
        f_min_hz: float = 60.0,
        f_max_hz: float | None = None,
        pool_init: float = 0.4,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        self.kernel_size = self.ms_to_samples("kernel_ms", kernel_ms, minimum=2)
        self.window = self.ms_to_samples("window_ms", window_ms)
        low = check_positive_float("f_min_hz", f_min_hz, allow_zero=True)
        high = self.audio_fs / 2 if f_max_hz is None else check_positive_float("f_max_hz", f_max_hz)
        if not low < high <= self.audio_fs / 2:
            raise ValueError(
                f"need 0 <= f_min_hz < f_max_hz <= audio_fs / 2 = {self.audio_fs / 2:g}, "
                f"got f_min_hz={f_min_hz}, f_max_hz={f_max_hz}"
            )
        self.pool_bounds = (2.0 / self.window, 0.5)
        width = check_positive_float("pool_init", pool_init)
        if not self.pool_bounds[0] <= width <= self.pool_bounds[1]:
            raise ValueError(f"`pool_init` must be in [{self.pool_bounds[0]:.3g}, 0.5], got {pool_init!r}")
        edges = warped_linspace(low, high, self.out_channels + 2, "mel")
        fwhm_hz = (edges[2:] - edges[:-2]) / 2
        dtype = torch.get_default_dtype()
        self.centre = nn.Parameter((2 * math.pi * edges[1:-1] / self.audio_fs).to(dtype))
        self.sigma = nn.Parameter((_FWHM_PER_STD * self.audio_fs / (2 * math.pi * fwhm_hz)).to(dtype))
        self.sigma_bounds = (_FWHM_PER_STD / math.pi, self.kernel_size * _FWHM_PER_STD / math.pi)
        self.pool_width = nn.Parameter(torch.full((self.out_channels,), width, dtype=dtype))
        self.pcen = PCEN(self.out_channels)

    def gabor_kernels(self) -> torch.Tensor:
        """Real and imaginary parts of the current Gabor kernels, ``(2F, kernel_size)`` (real parts first)."""
        eta = self.centre.clamp(0.0, math.pi).unsqueeze(1)
        sigma = self.sigma.clamp(*self.sigma_bounds).unsqueeze(1)
        n = torch.arange(self.kernel_size, dtype=eta.dtype, device=eta.device) - (self.kernel_size - 1) / 2
        envelope = torch.exp(-0.5 * (n / sigma).square()) / (math.sqrt(2 * math.pi) * sigma)
        return torch.cat([envelope * torch.cos(eta * n), envelope * torch.sin(eta * n)])

    def pooling_windows(self) -> torch.Tensor:
        """Current Gaussian pooling windows ``(F, window)``, each summing to one."""
        width = self.pool_width.clamp(*self.pool_bounds).unsqueeze(1)
        half = (self.window - 1) / 2
        m = torch.arange(self.window, dtype=width.dtype, device=width.device) - half
        windows = torch.exp(-0.5 * (m / (width * max(half, 0.5))).square())
        return windows / windows.sum(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the LEAF representation of ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        # flipped so that the kernels are convolved (not correlated) with the K samples ending at t
        y = causal_conv1d(x, self.gabor_kernels().to(x.dtype).flip(-1).unsqueeze(1))
        energy = y[:, : self.out_channels].square() + y[:, self.out_channels :].square()
        windows = self.pooling_windows().to(x.dtype).unsqueeze(1)
        pooled = F.conv1d(
            align_frames(energy, self.window, self.hop), windows, stride=self.hop, groups=self.out_channels
        )
        return self.pcen(pooled).unsqueeze(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, window={self.window}"
