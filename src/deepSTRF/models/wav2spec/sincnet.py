"""SincNet: a bank of band-pass filters whose cut-off frequencies are learned (Ravanelli & Bengio, 2018)."""

from __future__ import annotations

import torch
from torch import nn

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.functional.filterbanks import warped_linspace
from deepSTRF.models.wav2spec._base import WaveformFrontEnd, causal_mean_pool
from deepSTRF.models.wav2spec._conv import causal_conv1d

INITS = ("mel", "erb", "linear")
ACTIVATIONS = (None, "symlog", "abs", "relu", "logabs")


def symlog(x: torch.Tensor) -> torch.Tensor:
    """Symmetric logarithm ``sign(x) log(1 + |x|)``.

    Example:
        >>> symlog(torch.tensor([-3.0, 0.0, 1.0]))
        tensor([-1.3863,  0.0000,  0.6931])
    """
    return torch.copysign(torch.log1p(x.abs()), x)


class SincNet(WaveformFrontEnd):
    """Learnable band-pass filterbank with windowed-sinc kernels.

    Filter ``k`` passes ``[f1_k, f2_k]`` with the kernel
    ``h[n] = (2 f2 sinc(2 f2 t_n) - 2 f1 sinc(2 f1 t_n)) w[n] / audio_fs``
    (``t_n`` in seconds, centred on the kernel; ``w`` a Hamming window), which has
    about unit gain in its pass band. The learned parameters are the lower
    cut-off and the bandwidth: ``f1 = min_low_hz + |low_hz|``,
    ``f2 = min(f1 + min_band_hz + |band_hz|, audio_fs / 2)``; ``low_hz`` and
    ``band_hz`` start at band edges spaced evenly on the ``init`` scale.

    The kernels are applied causally: the output at sample ``t`` uses the
    ``kernel_size`` samples ending at ``t`` (a delay of half a kernel). With a
    hop of one sample the output is the filtered signal. With a longer hop,
    either the filtered signal is sampled at the last sample of each bin
    (``envelope=False``), or its magnitude is averaged over each bin
    (``envelope=True``). An optional pointwise ``activation`` follows:
    ``'symlog'`` (``sign(y) log(1 + |y|)``), ``'abs'``, ``'relu'`` or ``'logabs'`` (``log(1 + |y|)``).

    Args:
        audio_fs: Sampling rate in Hz.
        n_filters: Number of filters ``F``.
        kernel_size: Kernel length in samples.
        dt_ms: Output bin width in ms (``1000 / audio_fs`` for one output per sample).
        init: Scale on which the initial band edges are evenly spaced, from 30 Hz to
            ``audio_fs / 2 - min_low_hz - min_band_hz``: ``'mel'``, ``'erb'`` or ``'linear'``.
        activation: ``None``, ``'symlog'``, ``'abs'``, ``'relu'`` or ``'logabs'``.
        envelope: Average the rectified output over each bin instead of sampling it.
        min_low_hz: Smallest lower cut-off in Hz.
        min_band_hz: Smallest bandwidth in Hz (0 lets a band close, giving a zero kernel).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> sinc = SincNet(16000, n_filters=8, kernel_size=33, dt_ms=1000 / 16000, activation="symlog")
        >>> sinc(torch.randn(2, 1, 400)).shape
        torch.Size([2, 1, 8, 400])
    """

    @accepts_old_names(hop_ms="dt_ms")
    def __init__(
        self,
        audio_fs: float,
        n_filters: int = 48,
        kernel_size: int = 64,
        dt_ms: float = 5.0,
        init: str = "mel",
        activation: str | None = None,
        envelope: bool = False,
        min_low_hz: float = 50.0,
        min_band_hz: float = 50.0,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=2)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.envelope = bool(envelope)
        self.min_low_hz = check_positive_float("min_low_hz", min_low_hz, allow_zero=True)
        self.min_band_hz = check_positive_float("min_band_hz", min_band_hz, allow_zero=True)
        nyquist = self.audio_fs / 2
        top = nyquist - (self.min_low_hz + self.min_band_hz)
        if top <= 30.0:
            raise ValueError(
                f"`min_low_hz` + `min_band_hz` must stay below audio_fs / 2 - 30 = {nyquist - 30:g} Hz, "
                f"got {self.min_low_hz + self.min_band_hz:g}"
            )
        edges = warped_linspace(30.0, top, self.out_channels + 1, str(check_choice("init", init, INITS)))
        dtype = torch.get_default_dtype()
        self.low_hz = nn.Parameter(edges[:-1].to(dtype))
        self.band_hz = nn.Parameter(edges.diff().to(dtype))

    def cutoffs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Current lower and upper cut-off frequencies in Hz, each ``(F,)``."""
        low = self.min_low_hz + self.low_hz.abs()
        high = (low + self.min_band_hz + self.band_hz.abs()).clamp(max=self.audio_fs / 2)
        return low, high

    def kernels(self) -> torch.Tensor:
        """Current filter kernels ``(F, kernel_size)`` (symmetric, so orientation does not matter)."""
        low, high = self.cutoffs()
        dtype, device = low.dtype, low.device
        t = (torch.arange(self.kernel_size, dtype=dtype, device=device) - (self.kernel_size - 1) / 2) / self.audio_fs
        taper = torch.hamming_window(self.kernel_size, periodic=False, dtype=dtype, device=device)

        def lowpass(cutoff: torch.Tensor) -> torch.Tensor:
            return 2 * cutoff.unsqueeze(1) * torch.sinc(2 * cutoff.unsqueeze(1) * t)

        return (lowpass(high) - lowpass(low)) * taper / self.audio_fs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        weight = self.kernels().to(x.dtype).unsqueeze(1)
        if self.envelope:
            y = causal_mean_pool(causal_conv1d(x, weight).abs(), self.hop, self.hop)
        else:
            y = causal_conv1d(x, weight, stride=self.hop)
        if self.activation == "symlog":
            y = symlog(y)
        elif self.activation == "abs":
            y = y.abs()
        elif self.activation == "relu":
            y = torch.relu(y)
        elif self.activation == "logabs":
            y = torch.log1p(y.abs())
        return y.unsqueeze(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, activation={self.activation!r}"
