"""What every waveform front-end shares: the sample grid, input checks, causal framing and compression.

A front-end maps a mono waveform ``(B, 1, T_audio)`` to a spectrogram-like
``(B, 1, F, T_audio // hop)``. Response bin ``t`` owns the audio samples
``[t * hop, (t + 1) * hop)`` and may only use samples before ``(t + 1) * hop``.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_choice, check_positive_float, check_tensor
from deepSTRF.functional.framing import align_frames, samples_per_bin
from deepSTRF.models.configurable import ConfigurableModule

#: Amplitude compressions accepted by the front-ends' ``compression`` argument.
COMPRESSIONS = ("log", "log_floor", "cuberoot", "log1p", "none")


def causal_mean_pool(x: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """Mean of ``x`` over the ``window`` samples ending at each bin's end, one value per bin.

    Args:
        x: Signal ``(B, C, T)`` with ``T`` a multiple of ``hop``.
        window: Window length in samples (zeros are used before the signal starts).
        hop: Samples per bin.

    Returns:
        ``(B, C, T // hop)``.

    Example:
        >>> causal_mean_pool(torch.arange(1.0, 7.0).view(1, 1, 6), window=4, hop=2)
        tensor([[[0.7500, 2.5000, 4.5000]]])
    """
    return F.avg_pool1d(align_frames(x, window, hop), kernel_size=window, stride=hop)


def compress(x: torch.Tensor, kind: str, eps: float) -> torch.Tensor:
    """Apply an amplitude compression to a non-negative tensor.

    ``'log'``: ``log(x + eps)``; ``'log_floor'``: ``log(max(x, eps))``; ``'cuberoot'``: ``(x + eps)^(1/3)``;
    ``'log1p'``: ``log(1 + x)``; ``'none'``: ``x``.

    Example:
        >>> compress(torch.tensor([0.0, 7.0]), "cuberoot", eps=1.0)
        tensor([1., 2.])
        >>> compress(torch.tensor([0.0, 1.0]), "log_floor", eps=0.5)
        tensor([-0.6931,  0.0000])
    """
    if kind == "log":
        return torch.log(x + eps)
    if kind == "log_floor":
        return torch.log(x.clamp(min=eps))
    if kind == "cuberoot":
        return (x + eps).pow(1.0 / 3.0)
    if kind == "log1p":
        return torch.log1p(x)
    return x


class WaveformFrontEnd(ConfigurableModule):
    """Base class of the waveform front-ends (``wav2spec`` modules).

    Sets the attributes of the front-end contract and checks inputs.

    Args:
        audio_fs: Audio sampling rate in Hz.
        dt_ms: Output bin width in milliseconds; ``audio_fs * dt_ms / 1000`` must be an integer.
        out_channels: Number ``F`` of output channels (frequency bands).

    Attributes:
        audio_fs: Sampling rate in Hz (float).
        dt_ms: Bin width in ms.
        hop: Samples per output bin.
        out_channels: Number of output bands ``F``.

    Raises:
        TypeError: If ``audio_fs`` or ``dt_ms`` is not a real number.
        ValueError: If ``audio_fs * dt_ms / 1000`` is not a whole number of samples.

    Example:
        >>> class Energy(WaveformFrontEnd):
        ...     def __init__(self, audio_fs: float, dt_ms: float):
        ...         super().__init__(audio_fs, dt_ms, out_channels=1)
        ...     def forward(self, x):
        ...         self.check_input(x)
        ...         return causal_mean_pool(x.square(), self.hop, self.hop).unsqueeze(1)
        >>> Energy(16000, 5.0)(torch.ones(2, 1, 160)).shape
        torch.Size([2, 1, 1, 2])
    """

    @accepts_old_names(hop_ms="dt_ms")
    def __init__(self, audio_fs: float, dt_ms: float, out_channels: int) -> None:
        super().__init__()
        self.hop = samples_per_bin(audio_fs, dt_ms, name="dt_ms")
        self.audio_fs = float(audio_fs)
        self.dt_ms = float(dt_ms)
        self.out_channels = out_channels

    @property
    def hop_ms(self) -> float:
        """Deprecated spelling of :attr:`dt_ms`."""
        warnings.warn(f"{type(self).__name__}.hop_ms is deprecated, use .dt_ms", DeprecationWarning, stacklevel=2)
        return self.dt_ms

    def register_constant(self, name: str, value: torch.Tensor) -> None:
        """Store fixed coefficients as a non-persistent buffer in the default dtype.

        Such buffers are rebuilt from the constructor arguments (so checkpoints do
        not hold them) and follow the module through ``.to()`` / ``.double()``.
        """
        self.register_buffer(name, value.to(torch.get_default_dtype()), persistent=False)

    def ms_to_samples(self, name: str, ms: float, *, minimum: int = 1) -> int:
        """Convert a duration argument in ms to a number of samples (rounded, at least ``minimum``)."""
        value = check_positive_float(name, ms)
        return max(minimum, round(value * self.audio_fs / 1000.0))

    def check_input(self, x: torch.Tensor) -> None:
        """Check that ``x`` is a floating waveform ``(B, 1, T_audio)`` with ``T_audio`` a positive multiple of hop.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If its shape is wrong or its length is not a multiple of ``hop``.
        """
        check_tensor("x", x, ndim=3, floating=True)
        if x.shape[1] != 1:
            raise ValueError(f"`x` must be a mono waveform (B, 1, T_audio), got shape {tuple(x.shape)}")
        n = x.shape[-1]
        if n == 0 or n % self.hop:
            below, above = (n // self.hop) * self.hop, (n // self.hop + 1) * self.hop
            raise ValueError(
                f"{type(self).__name__}: T_audio must be a positive multiple of hop={self.hop} samples "
                f"({self.audio_fs:g} Hz x {self.dt_ms:g} ms), got T_audio={n} (shape {tuple(x.shape)}); "
                f"trim or pad it to {below or above} or {above}"
            )

    def extra_repr(self) -> str:
        return f"audio_fs={self.audio_fs:g}, hop={self.hop}, out_channels={self.out_channels}"


def check_compression(compression: str) -> str:
    """Validate a ``compression`` argument (one of :data:`COMPRESSIONS`)."""
    return str(check_choice("compression", compression, COMPRESSIONS))
