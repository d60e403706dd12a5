"""Causal spectrograms and resampling for loaders that compute their own stimuli.

Frame ``t`` is end-aligned: it summarises the audio up to the end of response bin ``t``,
never later. Frame ends sit at ``floor((t + 1) * dt_ms * sf / 1000 + 0.5)`` samples, so a
sample rate whose hop is not an integer (44.1 kHz at 5 ms) does not drift; the window
reaches back ``window_len`` samples from there (zeros before the sound starts and after
it ends). Everything is float64 NumPy; this is stimulus preparation, not a model.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from deepSTRF._optional import require


def frame_ends(n_frames: int, dt_ms: float, sf: float) -> np.ndarray:
    """Sample index (exclusive) where each causal frame ends: ``(n_frames,)`` int64."""
    return np.floor(np.arange(1, n_frames + 1) * (dt_ms * sf / 1000.0) + 0.5).astype(np.int64)


def causal_frames(x: np.ndarray, ends: np.ndarray, window_len: int) -> np.ndarray:
    """Gather ``(n_frames, window_len)`` windows ending at ``ends``, zero outside the signal."""
    idx = ends[:, None] - window_len + np.arange(window_len)[None, :]
    inside = (idx >= 0) & (idx < x.shape[0])
    return np.where(inside, x[np.clip(idx, 0, max(x.shape[0] - 1, 0))] if x.size else 0.0, 0.0)


def stft_magnitude(
    x: np.ndarray,
    sf: float,
    dt_ms: float,
    n_frames: int,
    window_len: int,
    *,
    window: str = "hann",
    freqs_hz: np.ndarray | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """Magnitude of a causal short-time Fourier transform, ``(n_freqs, n_frames)``.

    With ``freqs_hz`` the transform is evaluated at those frequencies (bands at or above
    Nyquist get zero: a sampled signal has no energy there); otherwise at the ``n_fft // 2 + 1``
    bins of an FFT of size ``n_fft`` (default ``window_len``, zero-padded if larger).
    """
    taper = np.hanning(window_len) if window == "hann" else np.hamming(window_len)
    frames = causal_frames(np.asarray(x, dtype=np.float64), frame_ends(n_frames, dt_ms, sf), window_len) * taper
    if freqs_hz is None:
        return np.abs(np.fft.rfft(frames, n=n_fft or window_len, axis=1)).T
    freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(window_len), freqs_hz) / sf)
    mag = np.abs(frames @ basis).T
    mag[freqs_hz >= sf / 2.0] = 0.0
    return mag


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, sf: float, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular HTK-mel filters (peak 1) over the rFFT bins: ``(n_mels, n_fft // 2 + 1)``."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.asarray(f_min)), _hz_to_mel(np.asarray(f_max)), n_mels + 2))
    bins = np.arange(n_fft // 2 + 1) * sf / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / (mid - lo)
    falling = (hi - bins[None, :]) / (hi - mid)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def mel_fft_size(window_len: int, sf: float, n_mels: int, f_min: float, f_max: float) -> int:
    """Smallest power-of-two FFT size >= ``window_len`` whose bin spacing resolves every mel triangle."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.asarray(f_min)), _hz_to_mel(np.asarray(f_max)), n_mels + 2))
    narrowest = float(np.min(np.diff(edges)))
    n_fft = 1 << max(int(window_len) - 1, 1).bit_length()
    while sf / n_fft > narrowest / 2.0:
        n_fft *= 2
    return n_fft


def causal_mel_spectrogram(
    x: np.ndarray,
    sf: float,
    dt_ms: float,
    n_frames: int,
    *,
    n_mels: int,
    f_min: float,
    f_max: float,
    window_ms: float,
    power: float,
) -> np.ndarray:
    """Causal mel spectrogram ``(n_mels, n_frames)``: end-aligned Hann STFT, ``|X| ** power``, mel filters."""
    window_len = max(round(window_ms * sf / 1000.0), 2)
    n_fft = mel_fft_size(window_len, sf, n_mels, f_min, f_max)
    mag = stft_magnitude(x, sf, dt_ms, n_frames, window_len, window="hann", n_fft=n_fft)
    return mel_filterbank(n_fft, sf, n_mels, f_min, f_max) @ (mag**power)


def resample(x: np.ndarray, sf_in: float, sf_out: float) -> np.ndarray:
    """Resample a 1-D signal with a polyphase filter (``scipy.signal.resample_poly``)."""
    if sf_in == sf_out:
        return np.asarray(x, dtype=np.float64)
    ratio = (Fraction(str(sf_out)) / Fraction(str(sf_in))).limit_denominator(100_000)
    signal = require("scipy.signal", extra="data", purpose="resampling audio")
    return signal.resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad a 1-D signal to ``n`` samples."""
    out = np.zeros(n, dtype=np.float64)
    m = min(n, x.shape[0])
    out[:m] = x[:m]
    return out


def read_audio(path: str) -> tuple[np.ndarray, float]:
    """Read a mono (or first-channel) audio file as float64 and its header sample rate."""
    sf = require("soundfile", extra="data", purpose="reading audio files")
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    return data[:, 0], float(rate)
