"""Causal mel spectrogram: windowed STFT whose frames end at bin ends, and an in-house mel filterbank."""

from __future__ import annotations

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.functional.filterbanks import mel_filterbank
from deepSTRF.functional.framing import align_frames
from deepSTRF.models.wav2spec._base import WaveformFrontEnd, check_compression, compress


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
        dt_ms: Bin width in ms (``audio_fs * dt_ms / 1000`` must be an integer).
        n_filters: Number of mel bands ``F``.
        window_ms: Analysis window length in ms.
        n_fft: FFT size; the smallest power of two holding the window by default.
        f_min_hz: Lowest filterbank edge in Hz.
        f_max_hz: Highest filterbank edge in Hz (Nyquist by default).
        mel_scale: ``'htk'`` or ``'slaney'``.
        norm: ``None`` or ``'slaney'`` (area-normalised triangles).
        power: Exponent of the magnitude spectrum (2: power, 1: magnitude).
        compression: ``'log'``, ``'log_floor'``, ``'cuberoot'``, ``'log1p'`` or ``'none'`` (see :func:`compress`).
        eps: Offset of the ``'log'`` and ``'cuberoot'`` compressions, floor of ``'log_floor'``.
        periodic_window: Periodic Hann window (``torch.hann_window(periodic=True)``); ``False`` gives
            the symmetric one, whose last sample is zero (the window of deepSTRF 0.1.0's checkpoints).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument is out of range or unknown, or the hop is not an integer.

    Shape:
        - Input: ``(B, 1, T_audio)`` with ``T_audio`` a multiple of ``hop``.
        - Output: ``(B, 1, F, T_audio // hop)``.

    Example:
        >>> mel = CausalMelSpectrogram(16000, dt_ms=5.0, n_filters=32)
        >>> mel(torch.randn(2, 1, 1600)).shape
        torch.Size([2, 1, 32, 20])
        >>> symmetric = CausalMelSpectrogram(16000, dt_ms=5.0, window_ms=10.0, n_fft=160, periodic_window=False)
        >>> float(symmetric.window[-1])
        0.0
    """

    @accepts_old_names(hop_ms="dt_ms", f_min="f_min_hz", f_max="f_max_hz")
    def __init__(
        self,
        audio_fs: float,
        dt_ms: float,
        n_filters: int = 64,
        window_ms: float = 25.0,
        n_fft: int | None = None,
        f_min_hz: float = 0.0,
        f_max_hz: float | None = None,
        mel_scale: str = "htk",
        norm: str | None = None,
        power: float = 2.0,
        compression: str = "log",
        eps: float = 1e-6,
        periodic_window: bool = True,
    ) -> None:
        super().__init__(audio_fs, dt_ms, check_int("n_filters", n_filters))
        self.win_length = self.ms_to_samples("window_ms", window_ms)
        if n_fft is None:
            n_fft = 1 << (self.win_length - 1).bit_length()
        self.n_fft = check_int("n_fft", n_fft, minimum=2)
        if self.n_fft < self.win_length:
            raise ValueError(f"`n_fft` must be >= the window length ({self.win_length} samples), got {n_fft}")
        self.power = check_positive_float("power", power)
        self.compression = check_compression(compression)
        self.eps = check_positive_float("eps", eps)
        if not isinstance(periodic_window, bool):
            raise TypeError(f"`periodic_window` must be a bool, got {type(periodic_window).__name__}")
        self.periodic_window = periodic_window
        hann = torch.hann_window(self.win_length, periodic=periodic_window, dtype=torch.float64)
        window = torch.zeros(self.n_fft, dtype=torch.float64)
        window[self.n_fft - self.win_length :] = hann
        fb = mel_filterbank(self.n_fft // 2 + 1, self.out_channels, self.audio_fs, f_min_hz, f_max_hz, mel_scale, norm)
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
