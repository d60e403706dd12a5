"""The gammatone and LEAF front-ends as deepSTRF 0.1.0 computed them: the definition of its checkpoints.

deepSTRF 0.1.0 shipped a ``CausalGammatone`` and a ``CausalLEAF`` that compute something
other than the front-ends of those names here. :class:`PublishedCausalGammatone` and
:class:`PublishedCausalLEAF` compute what 0.1.0's did, so that its checkpoints load and
reproduce its outputs (:mod:`deepSTRF.models.legacy` converts them onto these); new models
should use :class:`~deepSTRF.models.wav2spec.CausalGammatone` and
:class:`~deepSTRF.models.wav2spec.CausalLEAF`. Both are strictly causal, like every front-end.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.functional.filterbanks import warped_linspace
from deepSTRF.functional.framing import align_frames
from deepSTRF.functional.scales import ERB_bandwidth
from deepSTRF.models.wav2spec._base import WaveformFrontEnd, causal_mean_pool
from deepSTRF.models.wav2spec._conv import causal_conv1d
from deepSTRF.models.wav2spec.pcen import smooth_energy

#: Compressions of :class:`PublishedCausalGammatone`.
PUBLISHED_GAMMATONE_COMPRESSIONS = ("log_floor", "cuberoot", "pcen", "none")
# 0.1.0 scaled each gammatone kernel by the peak of its spectrum on this many FFT points.
_PEAK_FFT_POINTS = 4096


def _centre_range(front_end: WaveformFrontEnd, f_min_hz: float, f_max_hz: float | None) -> tuple[float, float]:
    """``(f_min_hz, f_max_hz)`` checked, the top at Nyquist by default."""
    nyquist = front_end.audio_fs / 2
    low = check_positive_float("f_min_hz", f_min_hz, allow_zero=True)
    high = nyquist if f_max_hz is None else check_positive_float("f_max_hz", f_max_hz)
    if not low < high <= nyquist:
        raise ValueError(
            f"need 0 <= f_min_hz < f_max_hz <= audio_fs / 2 = {nyquist:g}, got f_min_hz={f_min_hz}, "
            f"f_max_hz={f_max_hz} (0.1.0 cut a higher f_max to audio_fs / 2: pass None for that)"
        )
    return low, high


def _taps(front_end: WaveformFrontEnd, name: str, ms: float) -> int:
    """A length in ms as 0.1.0 turned it into samples: rounded, and at least one bin."""
    return max(front_end.hop, round(check_positive_float(name, ms) * front_end.audio_fs / 1000.0))


def peak_normalised_gammatone_kernels(
    centre_freqs: torch.Tensor, audio_fs: float, n_taps: int, order: int = 4, bandwidth_factor: float = 1.019
) -> torch.Tensor:
    """Sampled gammatone impulse responses, each divided by the peak of its 4096-point FFT magnitude.

    ``g(t) = t^(n-1) exp(-2 pi b t) cos(2 pi f t)``, ``t = k / audio_fs``, ``b = bandwidth_factor * ERB(f)``,
    then ``g / max |FFT_4096(g)|`` (the FFT truncates kernels longer than 4096 taps).

    Args:
        centre_freqs: Centre frequencies in Hz ``(F,)``.
        audio_fs: Sampling rate in Hz.
        n_taps: Kernel length in samples.
        order: Filter order ``n``.
        bandwidth_factor: Bandwidth in ERBs.

    Returns:
        ``(F, n_taps)``, in the dtype of ``centre_freqs``; tap ``k`` is the impulse response at lag ``k``.

    Example:
        >>> kernels = peak_normalised_gammatone_kernels(torch.tensor([1000.0], dtype=torch.float64), 16000, 64)
        >>> round(float(torch.fft.rfft(kernels, n=4096).abs().max()), 6)
        1.0
    """
    t = torch.arange(n_taps, dtype=centre_freqs.dtype, device=centre_freqs.device) / audio_fs
    f = centre_freqs.unsqueeze(1)
    b = bandwidth_factor * ERB_bandwidth(f)
    kernels = t.pow(order - 1) * torch.exp(-2 * math.pi * b * t) * torch.cos(2 * math.pi * f * t)
    peak = torch.fft.rfft(kernels, n=_PEAK_FFT_POINTS, dim=1).abs().amax(dim=1, keepdim=True)
    return kernels / peak.clamp(min=1e-12)


class PublishedCausalGammatone(WaveformFrontEnd):
    """deepSTRF 0.1.0's ``CausalGammatone``: the definition its checkpoints were trained with.

    Centre frequencies are evenly spaced on the ERB-rate scale from ``f_min_hz`` to
    ``f_max_hz``; each channel is the FIR filter whose taps, oldest sample first, are
    :func:`peak_normalised_gammatone_kernels`; the output is rectified, averaged over the
    ``window_ms`` ending at each bin's end, and compressed. It differs from
    :class:`~deepSTRF.models.wav2spec.CausalGammatone` in that:

    - each channel applies the gammatone impulse response **reversed in time** (its onset
      weighs the oldest sample of the kernel), so a click comes out about one kernel length
      late (13.9 to 19.4 ms in 500 Hz to 7.9 kHz channels with 20 ms kernels at 16 kHz;
      0.5 to 6 ms in ``CausalGammatone``);
    - kernels are scaled by the peak of their 4096-point FFT, not to unit gain at the centre
      frequency (0.990 to 1.002 times it);
    - the highest centre frequency may be Nyquist (its default), and kernels and windows
      are at least one bin long;
    - ``'log_floor'`` is ``log(max(x, log_floor))``, ``'cuberoot'`` is ``x^(1/3)`` with no offset,
      and ``'pcen'`` uses fixed parameters with the smoother starting at zero.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of channels ``F``.
        f_min_hz: Lowest centre frequency in Hz.
        f_max_hz: Highest centre frequency in Hz, at most Nyquist (the default).
        order: Gammatone order.
        bandwidth_factor: Bandwidth in ERBs.
        kernel_ms: Kernel length in ms (rounded to samples, at least one bin).
        rectify: ``'half'`` (``max(y, 0)``) or ``'full'`` (``|y|``).
        window_ms: Pooling window in ms (at least one bin); two bins by default.
        compression: ``'log_floor'``, ``'cuberoot'``, ``'pcen'`` or ``'none'``.
        log_floor: Floor of ``'log_floor'``.
        pcen_s: Smoother coefficient of ``'pcen'``: ``M[t] = (1 - s) M[t - 1] + s E[t]``, ``M[-1] = 0``.
        pcen_alpha: Gain exponent of ``'pcen'``: ``(E / (pcen_eps + M)^alpha + delta)^r - delta^r``.
        pcen_delta: Bias of ``'pcen'``.
        pcen_r: Root of ``'pcen'``.
        pcen_eps: Offset of the smoothed energy in ``'pcen'``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> gt = PublishedCausalGammatone(16000, dt_ms=5.0, n_filters=8)
        >>> gt(torch.randn(2, 1, 800)).shape
        torch.Size([2, 1, 8, 10])
        >>> round(float(gt.centre_freqs[-1]))  # Nyquist
        8000
    """

    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 34,
        f_min_hz: float = 500.0,
        f_max_hz: float | None = None,
        order: int = 4,
        bandwidth_factor: float = 1.019,
        kernel_ms: float = 20.0,
        rectify: str = "half",
        window_ms: float | None = None,
        compression: str = "log_floor",
        log_floor: float = 1e-4,
        pcen_s: float = 0.025,
        pcen_alpha: float = 0.98,
        pcen_delta: float = 2.0,
        pcen_r: float = 0.5,
        pcen_eps: float = 1e-6,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        low, high = _centre_range(self, f_min_hz, f_max_hz)
        self.rectify = str(check_choice("rectify", rectify, ("half", "full")))
        self.compression = str(check_choice("compression", compression, PUBLISHED_GAMMATONE_COMPRESSIONS))
        self.log_floor = check_positive_float("log_floor", log_floor)
        self.pcen_s = check_positive_float("pcen_s", pcen_s)
        if self.pcen_s > 1:
            raise ValueError(f"`pcen_s` must be in (0, 1], got {pcen_s!r}")
        self.pcen_alpha = check_positive_float("pcen_alpha", pcen_alpha, allow_zero=True)
        self.pcen_delta = check_positive_float("pcen_delta", pcen_delta, allow_zero=True)
        self.pcen_r = check_positive_float("pcen_r", pcen_r)
        self.pcen_eps = check_positive_float("pcen_eps", pcen_eps)
        self.kernel_size = _taps(self, "kernel_ms", kernel_ms)
        self.window = 2 * self.hop if window_ms is None else _taps(self, "window_ms", window_ms)
        centre_freqs = warped_linspace(low, high, self.out_channels, "erb")
        self.register_constant("centre_freqs", centre_freqs)
        kernels = peak_normalised_gammatone_kernels(
            centre_freqs,
            self.audio_fs,
            self.kernel_size,
            check_int("order", order),
            check_positive_float("bandwidth_factor", bandwidth_factor),
        )
        # causal_conv1d weighs the oldest sample with tap 0: the impulse response runs backwards in time
        self.register_constant("weight", kernels.unsqueeze(1))

    centre_freqs: torch.Tensor
    weight: torch.Tensor

    def _pcen(self, energy: torch.Tensor) -> torch.Tensor:
        coef = torch.full((self.out_channels,), self.pcen_s, dtype=energy.dtype, device=energy.device)
        smoothed = smooth_energy(energy, coef, start_at_zero=True)
        delta = self.pcen_delta
        return (energy / (self.pcen_eps + smoothed).pow(self.pcen_alpha) + delta).pow(self.pcen_r) - delta**self.pcen_r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter, rectify, pool and compress ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        y = causal_conv1d(x, self.weight.to(x.dtype))
        y = torch.relu(y) if self.rectify == "half" else y.abs()
        energy = causal_mean_pool(y, self.window, self.hop)
        if self.compression == "log_floor":
            energy = torch.log(energy.clamp(min=self.log_floor))
        elif self.compression == "cuberoot":
            energy = energy.clamp(min=0.0).pow(1.0 / 3.0)
        elif self.compression == "pcen":
            energy = self._pcen(energy.clamp(min=0.0))
        return energy.unsqueeze(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, window={self.window}"


def _inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))


class PublishedCausalLEAF(WaveformFrontEnd):
    """deepSTRF 0.1.0's ``CausalLEAF``: the definition its checkpoints were trained with.

    1. Complex Gabor filters on the ``K`` samples ending at the current one, ``K`` odd,
       ``n = k - (K - 1) / 2``: ``exp(-n^2 / (2 sigma^2)) exp(i omega n) / sum_n exp(-n^2 / (2 sigma^2))``,
       ``sigma = max(softplus(raw_sigma), 1)`` samples, ``omega = clamp(centre, 0.01, pi)`` rad/sample;
       the modulus ``sqrt(re^2 + im^2 + 1e-9)`` is taken.
    2. Pooling over the ``L`` samples ending at each bin's end, weighted by a Gaussian of
       the age of each sample, ``exp(-age^2 / (2 w^2))`` with ``w = max(softplus(raw_pool_width), 0.5)``
       samples, normalised to sum to one.
    3. PCEN: ``M[t] = (1 - s) M[t - 1] + s E[t]``, ``M[-1] = 0``, ``s = sigmoid(smooth_logit)``;
       output ``(E / (1e-6 + M)^alpha + delta)^r - delta^r`` with ``alpha = softplus(raw_alpha)``,
       ``delta = softplus(raw_delta)`` and ``r = max(softplus(raw_r), 1e-3)``.

    It differs from :class:`~deepSTRF.models.wav2spec.CausalLEAF` in that it pools the
    modulus ``|y|`` (there: the energy ``|y|^2``), with a window peaked on the newest sample
    (there: centred in the window), starts the smoother at zero (there: at the first
    frame), normalises the Gabor kernels by the sum of their envelope (there:
    ``sqrt(2 pi) sigma``) and keeps its parameters positive by softplus rather than by clamping.
    The filters are initialised at mel-spaced centres from ``f_min_hz`` to ``f_max_hz`` with
    widths matching one ERB, the pooling width at ``L / 4``, and PCEN at ``alpha = 0.96``,
    ``delta = 2``, ``r = 0.5``, ``s = 0.04``.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of channels ``F``.
        f_min_hz: Lowest initial centre frequency in Hz.
        f_max_hz: Highest initial centre frequency in Hz, at most Nyquist (the default).
        kernel_ms: Gabor kernel length in ms (rounded to samples, at least one bin, made odd).
        window_ms: Pooling window in ms (at least one bin); four bins by default.
        learn_filters: Train the centres and widths of the Gabor filters.
        learn_pooling: Train the pooling widths.
        learn_pcen: Train the PCEN parameters.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> leaf = PublishedCausalLEAF(16000, dt_ms=5.0, n_filters=8, kernel_ms=5.0)
        >>> leaf(torch.randn(2, 1, 800)).shape
        torch.Size([2, 1, 8, 10])
        >>> leaf.kernel_size, leaf.window
        (81, 320)
    """

    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 34,
        f_min_hz: float = 60.0,
        f_max_hz: float | None = None,
        kernel_ms: float = 15.0,
        window_ms: float | None = None,
        learn_filters: bool = True,
        learn_pooling: bool = True,
        learn_pcen: bool = True,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        low, high = _centre_range(self, f_min_hz, f_max_hz)
        self.kernel_size = _taps(self, "kernel_ms", kernel_ms) | 1
        self.window = 4 * self.hop if window_ms is None else _taps(self, "window_ms", window_ms)
        centres_hz = warped_linspace(low, high, self.out_channels, "mel")
        sigma = self.audio_fs / (2 * math.pi * ERB_bandwidth(centres_hz))
        dtype = torch.get_default_dtype()
        n = self.out_channels

        def parameter(values: torch.Tensor, learn: bool) -> nn.Parameter:
            return nn.Parameter(values.to(dtype), requires_grad=learn)

        self.centre = parameter(2 * math.pi * centres_hz / self.audio_fs, learn_filters)
        self.raw_sigma = parameter(torch.log(torch.expm1(sigma)), learn_filters)
        self.raw_pool_width = parameter(torch.full((n,), _inverse_softplus(self.window / 4)), learn_pooling)
        self.raw_alpha = parameter(torch.full((n,), _inverse_softplus(0.96)), learn_pcen)
        self.raw_delta = parameter(torch.full((n,), _inverse_softplus(2.0)), learn_pcen)
        self.raw_r = parameter(torch.full((n,), _inverse_softplus(0.5)), learn_pcen)
        self.smooth_logit = parameter(torch.full((n,), math.log(0.04 / 0.96)), learn_pcen)

    def gabor_kernels(self) -> torch.Tensor:
        """Real and imaginary parts of the Gabor kernels ``(2F, kernel_size)`` (real first), oldest tap first."""
        sigma = F.softplus(self.raw_sigma).clamp(min=1.0).unsqueeze(1)
        omega = self.centre.clamp(0.01, math.pi).unsqueeze(1)
        n = torch.arange(self.kernel_size, dtype=omega.dtype, device=omega.device) - (self.kernel_size - 1) / 2
        envelope = torch.exp(-0.5 * (n / sigma).square())
        envelope = envelope / envelope.sum(dim=1, keepdim=True).clamp(min=1e-8)
        return torch.cat([envelope * torch.cos(omega * n), envelope * torch.sin(omega * n)])

    def pooling_windows(self) -> torch.Tensor:
        """Pooling weights ``(F, window)``, oldest sample first, each summing to one."""
        width = F.softplus(self.raw_pool_width).clamp(min=0.5).unsqueeze(1)
        age = torch.arange(self.window - 1, -1, -1, dtype=width.dtype, device=width.device)
        windows = torch.exp(-0.5 * (age / width).square())
        return windows / windows.sum(dim=1, keepdim=True).clamp(min=1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute 0.1.0's LEAF representation of ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, F, T_audio // hop)``."""
        self.check_input(x)
        y = causal_conv1d(x, self.gabor_kernels().to(x.dtype).unsqueeze(1))
        real, imag = y[:, : self.out_channels], y[:, self.out_channels :]
        modulus = torch.sqrt(real.square() + imag.square() + 1e-9)
        windows = self.pooling_windows().to(x.dtype).unsqueeze(1)
        pooled = F.conv1d(
            align_frames(modulus, self.window, self.hop), windows, stride=self.hop, groups=self.out_channels
        )
        smoothed = smooth_energy(pooled, torch.sigmoid(self.smooth_logit), start_at_zero=True)
        alpha = F.softplus(self.raw_alpha).to(x.dtype).unsqueeze(1)
        delta = F.softplus(self.raw_delta).to(x.dtype).unsqueeze(1)
        r = F.softplus(self.raw_r).clamp(min=1e-3).to(x.dtype).unsqueeze(1)
        return ((pooled / (1e-6 + smoothed).pow(alpha) + delta).pow(r) - delta.pow(r)).unsqueeze(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kernel_size={self.kernel_size}, window={self.window}"
