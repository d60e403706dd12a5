"""Frequency responses of the waveform front-ends (``wav2spec``) and their figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from deepSTRF._optional import require
from deepSTRF._validation import check_int
from deepSTRF.models.wav2spec import (
    CausalGammatone,
    CausalLEAF,
    CausalMelSpectrogram,
    Gammatonegram,
    PublishedCausalGammatone,
    PublishedCausalLEAF,
    SincNet,
    WaveformFrontEnd,
)
from deepSTRF.utils._plot_base import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["filterbank_responses", "plot_filterbank"]


def _impulse_responses(front_end: nn.Module, n_fft: int) -> torch.Tensor | None:
    """Impulse responses ``(F, n)`` of the linear filtering stage, complex for LEAF; ``None`` for mel."""
    if isinstance(front_end, (CausalGammatone, PublishedCausalGammatone)):
        return front_end.weight[:, 0].flip(-1)
    if isinstance(front_end, SincNet):
        return front_end.kernels()
    if isinstance(front_end, (CausalLEAF, PublishedCausalLEAF)):
        gabor = front_end.gabor_kernels()
        taps = torch.complex(gabor[: front_end.out_channels], gabor[front_end.out_channels :])
        return taps if isinstance(front_end, CausalLEAF) else taps.flip(-1)
    if isinstance(front_end, Gammatonegram):
        length = front_end.hop * -(-n_fft // front_end.hop)
        impulse = torch.zeros(1, 1, length, dtype=front_end.centre_freqs.dtype)
        impulse[..., 0] = 1.0
        return front_end.filter(impulse)[0]
    return None


def filterbank_responses(front_end: nn.Module, n_fft: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Power gain of each channel of a waveform front-end's filterbank, as a function of frequency.

    The gain is that of the linear filtering stage, before rectification, pooling and
    compression: ``|H_k(f)|^2`` of the FIR kernels (:class:`CausalGammatone`,
    :class:`SincNet`, the complex Gabor filters of :class:`CausalLEAF`) or of the
    recursive filters' impulse responses (:class:`Gammatonegram`, truncated to
    ``n_fft`` samples), and the triangular weights applied to the power spectrum for
    :class:`CausalMelSpectrogram` (on its own STFT grid).

    Args:
        front_end: A ``deepSTRF.models.wav2spec`` front-end.
        n_fft: FFT length for the filter-based front-ends (raised to the kernel length if shorter).

    Returns:
        ``(freqs_hz, gains)``: frequencies ``(M,)`` from 0 to ``audio_fs / 2`` and power gains
        ``(F, M)``, float64, detached.

    Raises:
        TypeError: If ``front_end`` is not one of the front-ends above, or ``n_fft`` is not an int.
        ValueError: If ``n_fft`` < 2.

    Example:
        >>> from deepSTRF.models.wav2spec import CausalGammatone
        >>> gt = CausalGammatone(16000, dt_ms=5.0, n_filters=4, f_min_hz=200.0, f_max_hz=4000.0)
        >>> freqs, gains = filterbank_responses(gt)
        >>> gains.shape, bool((freqs[gains.argmax(dim=1)].diff() > 0).all())
        (torch.Size([4, 2049]), True)
    """
    size = check_int("n_fft", n_fft, minimum=2)
    if not isinstance(front_end, WaveformFrontEnd):
        raise TypeError(f"`front_end` must be a deepSTRF wav2spec front-end, got {type(front_end).__name__}")
    with torch.no_grad():
        if isinstance(front_end, CausalMelSpectrogram):
            gains = front_end.filterbank.detach().double().T
            freqs = torch.linspace(0.0, front_end.audio_fs / 2, gains.shape[1], dtype=torch.float64)
            return freqs, gains
        impulses = _impulse_responses(front_end, size)
        if impulses is None:
            raise TypeError(f"no frequency response is defined for the front-end {type(front_end).__name__}")
        impulses = impulses.detach().cpu()
        size = max(size, impulses.shape[-1])
        spectrum = torch.fft.fft(impulses.to(torch.complex128), n=size)[:, : size // 2 + 1]
    freqs = torch.arange(size // 2 + 1, dtype=torch.float64) * front_end.audio_fs / size
    return freqs, spectrum.abs().square()


def _plain_log_axis(ax: Axes, which: str) -> None:
    """Tick the ``'x'`` or ``'y'`` log axis of ``ax`` at 1, 2 and 5 times powers of ten, in plain numbers."""
    ticker = require("matplotlib.ticker", extra="plot", purpose="plotting")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(ticker.LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def plot_filterbank(
    front_end: nn.Module, *, n_fft: int = 4096, floor_db: float = -60.0, log_frequency: bool = True
) -> Figure:
    """Draw the frequency responses of a waveform front-end's channels and their peak frequencies.

    Left: the power gain of every channel in dB relative to the largest gain of the bank
    (see :func:`filterbank_responses`), clipped at ``floor_db``. Right: the frequency of
    each channel's peak against the channel index. On a logarithmic frequency axis the
    range starts at 20 Hz (lower when a channel peaks below 40 Hz).

    Args:
        front_end: A ``deepSTRF.models.wav2spec`` front-end.
        n_fft: FFT length for the filter-based front-ends.
        floor_db: Lowest gain shown, in dB (negative).
        log_frequency: Logarithmic frequency axis.

    Returns:
        A matplotlib ``Figure`` with two axes; the left one holds one line per channel.

    Raises:
        TypeError: If ``front_end`` is not supported (see :func:`filterbank_responses`).
        ValueError: If ``floor_db`` is not negative or ``n_fft`` < 2.
        ImportError: If matplotlib is not installed (the ``plot`` extra).

    Example:
        >>> from deepSTRF.models.wav2spec import make_wav2spec
        >>> fig = plot_filterbank(make_wav2spec("mel", 16000, 5.0, n_filters=8))
        >>> len(fig.axes), len(fig.axes[0].lines)
        (2, 8)
    """
    if isinstance(floor_db, bool) or not isinstance(floor_db, (int, float)) or not floor_db < 0:
        raise ValueError(f"`floor_db` must be a negative number of dB, got {floor_db!r}")
    freqs, gains = filterbank_responses(front_end, n_fft)
    f, g = freqs.numpy(), gains.numpy()
    with np.errstate(divide="ignore"):
        db = np.maximum(10 * np.log10(g / g.max()), floor_db)
    peaks = f[g.argmax(axis=1)]
    keep = f > 0 if log_frequency else np.ones_like(f, dtype=bool)
    fig = new_figure(9.0, 3.4)
    left, right = fig.subplots(1, 2, width_ratios=[2.2, 1])
    cmap = require("matplotlib", extra="plot", purpose="plotting").colormaps["viridis"]
    colours = cmap(np.linspace(0.0, 0.9, g.shape[0]))
    for k in range(g.shape[0]):
        left.plot(f[keep], db[k, keep], color=colours[k], lw=0.9)
    if log_frequency:
        left.set_xscale("log")
        right.set_yscale("log")
        _plain_log_axis(left, "x")
        _plain_log_axis(right, "y")
        positive = peaks[peaks > 0]
        lowest = min(20.0, 0.5 * float(positive.min())) if positive.size else 20.0
        left.set_xlim(max(float(f[1]), lowest), float(f[-1]))
    left.set_ylim(floor_db - 2, 3)
    left.set_xlabel("frequency (Hz)")
    left.set_ylabel("power gain (dB re. max)")
    left.set_title(f"{type(front_end).__name__}: {g.shape[0]} channels, {front_end.audio_fs:g} Hz", fontsize=10)
    right.plot(np.arange(g.shape[0]), peaks, "o-", ms=3)
    right.set_xlabel("channel")
    right.set_ylabel("peak frequency (Hz)")
    right.set_title("channel peak frequencies", fontsize=10)
    return fig
