"""ICNet: an end-to-end waveform encoding model of the auditory midbrain (Drakopoulos et al., 2025)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.wav2spec import SincNet, WaveformFrontEnd
from deepSTRF.models.wav2spec._conv import causal_conv1d


def factor_strides(total: int, n_layers: int) -> list[int]:
    """Split a total downsampling factor into ``n_layers`` strides: as many 2s as possible, the rest last.

    Args:
        total: Product the strides must reach (audio samples per response bin).
        n_layers: Number of strides.

    Returns:
        The strides, whose product is ``total``.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is < 1.

    Example:
        >>> factor_strides(80, 5)
        [2, 2, 2, 2, 5]
        >>> factor_strides(240, 5)
        [2, 2, 2, 2, 15]
    """
    remaining = check_int("total", total)
    strides = []
    for _ in range(check_int("n_layers", n_layers) - 1):
        stride = 2 if remaining % 2 == 0 else 1
        strides.append(stride)
        remaining //= stride
    return [*strides, remaining]


class CausalConv1dBlock(ConfigurableModule):
    """Strided 1-d convolution over the ``kernel_size`` samples ending at each output step, then PReLU.

    Output step ``i`` sees the input samples ``[(i + 1) * stride - kernel_size, (i + 1) * stride)``
    (zeros before the start), so an input of length ``T`` (a multiple of ``stride``)
    gives ``T // stride`` causal outputs.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel length.
        stride: Downsampling factor.

    Shape:
        - Input: ``(B, in_channels, T)``.
        - Output: ``(B, out_channels, T // stride)``.

    Example:
        >>> CausalConv1dBlock(3, 5, kernel_size=4, stride=2)(torch.randn(1, 3, 10)).shape
        torch.Size([1, 5, 5])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.stride = check_int("stride", stride)
        self.conv = nn.Conv1d(
            check_int("in_channels", in_channels),
            check_int("out_channels", out_channels),
            self.kernel_size,
            stride=self.stride,
        )
        self.activation = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve causally and apply the PReLU."""
        return self.activation(causal_conv1d(x, self.conv.weight, self.conv.bias, self.stride))


class ICNetEncoder(WaveformFrontEnd):
    """The ICNet encoder, used as ICNet's ``wav2spec``: SincNet, strided causal convolutions, bottleneck.

    A :class:`~deepSTRF.models.wav2spec.SincNet` bank (one output per sample,
    symlog activation) feeds ``len(strides)`` causal convolution blocks whose
    strides multiply to the hop, then a stride-1 bottleneck block.

    Args:
        audio_fs: Sampling rate in Hz.
        dt_ms: Response bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: SincNet filters.
        sincnet_kernel_size: SincNet kernel length in samples.
        encoder_channels: Channels of the strided blocks.
        encoder_kernel_size: Kernel length of every block.
        n_encoder_layers: Number of strided blocks.
        bottleneck_channels: Output channels ``F`` of the bottleneck.
        encoder_strides: Strides of the blocks; by default :func:`factor_strides` of the hop.
        sincnet_min_low_hz: The SincNet's smallest lower cut-off in Hz (its ``min_low_hz``).
        sincnet_min_band_hz: The SincNet's smallest bandwidth in Hz (its ``min_band_hz``).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If the strides do not multiply to the hop or their number is not ``n_encoder_layers``.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of the hop.
        - Output: ``(B, 1, bottleneck_channels, T_audio // hop)``.

    Example:
        >>> encoder = ICNetEncoder(16000, 5.0, n_filters=4, sincnet_kernel_size=16, encoder_channels=8,
        ...                        encoder_kernel_size=8, bottleneck_channels=6)
        >>> encoder.strides, encoder(torch.randn(1, 1, 800)).shape
        ([2, 2, 2, 2, 5], torch.Size([1, 1, 6, 10]))
    """

    def __init__(
        self,
        audio_fs: float,
        dt_ms: float = 5.0,
        n_filters: int = 48,
        sincnet_kernel_size: int = 64,
        encoder_channels: int = 128,
        encoder_kernel_size: int = 64,
        n_encoder_layers: int = 5,
        bottleneck_channels: int = 64,
        encoder_strides: Sequence[int] | None = None,
        sincnet_min_low_hz: float = 50.0,
        sincnet_min_band_hz: float = 50.0,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("bottleneck_channels", bottleneck_channels))
        n_layers = check_int("n_encoder_layers", n_encoder_layers)
        if encoder_strides is None:
            strides = factor_strides(self.hop, n_layers)
        else:
            strides = [check_int(f"encoder_strides[{i}]", s) for i, s in enumerate(encoder_strides)]
            if len(strides) != n_layers or math.prod(strides) != self.hop:
                raise ValueError(
                    f"`encoder_strides` must be {n_layers} ints (n_encoder_layers) whose product is the hop "
                    f"audio_fs * dt_ms / 1000 = {self.hop}, got {strides} (product {math.prod(strides)})"
                )
        self.strides = strides
        self.sincnet = SincNet(
            audio_fs,
            n_filters=n_filters,
            kernel_size=sincnet_kernel_size,
            dt_ms=1000.0 / self.audio_fs,
            init="mel",
            activation="symlog",
            min_low_hz=check_positive_float("sincnet_min_low_hz", sincnet_min_low_hz, allow_zero=True),
            min_band_hz=check_positive_float("sincnet_min_band_hz", sincnet_min_band_hz, allow_zero=True),
        )
        channels = [n_filters] + [check_int("encoder_channels", encoder_channels)] * n_layers
        self.encoder = nn.ModuleList(
            CausalConv1dBlock(c_in, c_out, encoder_kernel_size, s)
            for c_in, c_out, s in zip(channels, channels[1:], strides)
        )
        self.bottleneck = CausalConv1dBlock(encoder_channels, bottleneck_channels, encoder_kernel_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode ``x`` ``(B, 1, T_audio)`` -> ``(B, 1, bottleneck_channels, T_audio // hop)``."""
        self.check_input(x)
        y = self.sincnet(x)[:, 0]
        for block in self.encoder:
            y = block(y)
        return self.bottleneck(y).unsqueeze(1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, strides={self.strides}"


class ICNet(AudioEncodingModel):
    """End-to-end waveform model of inferior-colliculus responses (Drakopoulos et al., 2025).

    Architecture: SincNet (``n_filters`` learnable band-passes, one output per
    audio sample, symlog) -> ``n_encoder_layers`` causal strided
    ``Conv1d(encoder_channels, encoder_kernel_size) + PReLU`` blocks whose strides
    multiply to ``audio_fs * dt_ms / 1000`` -> stride-1 bottleneck block
    (``bottleneck_channels``) -> per-bin linear readout to ``N`` neurons ->
    softplus (a Poisson rate, to train with :func:`deepSTRF.metrics.poisson_loss`).

    The strides adapt to the dataset: ``[2, 2, 2, 2, 5]`` for 16 kHz audio and
    5 ms bins, ``[2, 2, 2, 2, 15]`` for 48 kHz and 5 ms, ``[2, 2, 2, 2, 2]`` for the
    original 24 414 Hz and 32-sample bins; pass ``encoder_strides`` to choose.
    The encoder is the ``wav2spec`` slot (an :class:`ICNetEncoder`), the readout an
    ``nn.Linear`` registered once as ``readout`` (``decoder`` is an alias).

    Compared with the paper, this is the single-branch, time-invariant model with
    a Poisson head, and the first bins are not cropped: the output has one value
    per bin of the input.

    Args:
        audio_fs: Sampling rate in Hz.
        out_neurons: Number ``N`` of neurons.
        dt_ms: Response bin width in ms.
        n_filters: SincNet filters.
        sincnet_kernel_size: SincNet kernel length in samples.
        encoder_channels: Channels of the strided blocks.
        encoder_kernel_size: Kernel length of the blocks.
        n_encoder_layers: Number of strided blocks.
        bottleneck_channels: Latent channels.
        encoder_strides: Strides of the blocks (default: :func:`factor_strides`).
        sincnet_min_low_hz: The SincNet's smallest lower cut-off in Hz.
        sincnet_min_band_hz: The SincNet's smallest bandwidth in Hz. A deepSTRF 0.1.0 ICNet
            converts to ``sincnet_min_low_hz=1.0, sincnet_min_band_hz=0.0``, the bounds it used.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or the strides do not multiply to the hop.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of the hop.
        - Output: ``(B, N, 1, T_audio // hop)``, non-negative.

    References:
        Drakopoulos, Pellatt, Sabesan, Xia, Fragner & Lesica (2025). Modelling neural coding in the
        auditory midbrain with high resolution and accuracy. Nature Machine Intelligence 7:1478-1493.

    Example:
        >>> model = ICNet(16000, out_neurons=3, n_filters=4, sincnet_kernel_size=16, encoder_channels=8,
        ...               encoder_kernel_size=8, bottleneck_channels=6)
        >>> model(torch.randn(2, 1, 800)).shape
        torch.Size([2, 3, 1, 10])
    """

    def __init__(
        self,
        audio_fs: float,
        out_neurons: int,
        dt_ms: float = 5.0,
        n_filters: int = 48,
        sincnet_kernel_size: int = 64,
        encoder_channels: int = 128,
        encoder_kernel_size: int = 64,
        n_encoder_layers: int = 5,
        bottleneck_channels: int = 64,
        encoder_strides: Sequence[int] | None = None,
        sincnet_min_low_hz: float = 50.0,
        sincnet_min_band_hz: float = 50.0,
    ) -> None:
        encoder = ICNetEncoder(
            audio_fs,
            dt_ms,
            n_filters=n_filters,
            sincnet_kernel_size=sincnet_kernel_size,
            encoder_channels=encoder_channels,
            encoder_kernel_size=encoder_kernel_size,
            n_encoder_layers=n_encoder_layers,
            bottleneck_channels=bottleneck_channels,
            encoder_strides=encoder_strides,
            sincnet_min_low_hz=sincnet_min_low_hz,
            sincnet_min_band_hz=sincnet_min_band_hz,
        )
        # The readout sees one latent frame at a time, so the receptive-field probe needs one bin.
        super().__init__(bottleneck_channels, 1, out_neurons, wav2spec=encoder)
        self.readout = nn.Linear(bottleneck_channels, out_neurons)

    @property
    def decoder(self) -> nn.Module:
        """The linear readout (the paper's decoder); the same module as ``readout``."""
        return self.readout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict rates ``(B, N, 1, T)`` from a waveform ``(B, 1, T_audio)``.

        With ``wav2spec`` replaced by an identity (as :meth:`STRF_gradmap` does) the
        input is a latent ``(B, 1, bottleneck_channels, T)``.
        """
        latent = self.wav2spec(x)[:, 0]  # (B, F, T)
        rates = F.softplus(self.readout(latent.transpose(1, 2)))  # (B, T, N)
        return rates.transpose(1, 2).unsqueeze(2)
