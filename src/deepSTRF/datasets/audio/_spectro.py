"""Causal spectrograms and resampling for loaders that compute their own stimuli.

Frame ``t`` is end-aligned: it summarises the audio up to the end of response bin ``t``,
never later (:func:`deepSTRF.functional.framing.frame_ends`); the window reaches back
``window_len`` samples from there (zeros before the sound starts and after it ends). The
mel filters are :func:`deepSTRF.functional.filterbanks.mel_filterbank`. Everything is
float64 NumPy; this is stimulus preparation, not a model.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from deepSTRF._optional import require
from deepSTRF.functional.filterbanks import mel_filterbank, warped_linspace
from deepSTRF.functional.framing import causal_frames, frame_ends


def stft_magnitude(
    x: np.ndarray,
    audio_fs: float,
    dt_ms: float,
    n_frames: int,
    window_len: int,
    *,
    window: str = "hann",
    freqs_hz: np.ndarray | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """Magnitude of a causal short-time Fourier transform, ``(n_fft_bins, n_frames)``.

    With ``freqs_hz`` the transform is evaluated at those frequencies (bands at or above
    Nyquist get zero: a sampled signal has no energy there); otherwise at the ``n_fft // 2 + 1``
    bins of an FFT of size ``n_fft`` (default ``window_len``, zero-padded if larger).
    """
    taper = np.hanning(window_len) if window == "hann" else np.hamming(window_len)
    frames = causal_frames(np.asarray(x, dtype=np.float64), frame_ends(n_frames, dt_ms, audio_fs), window_len) * taper
    if freqs_hz is None:
        return np.abs(np.fft.rfft(frames, n=n_fft or window_len, axis=1)).T
    freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(window_len), freqs_hz) / audio_fs)
    mag = np.abs(frames @ basis).T
    mag[freqs_hz >= audio_fs / 2.0] = 0.0
    return mag


def mel_fft_size(window_len: int, audio_fs: float, n_mels: int, f_min_hz: float, f_max_hz: float) -> int:
    """Smallest power-of-two FFT size >= ``window_len`` whose bin spacing resolves every mel triangle."""
    edges = warped_linspace(f_min_hz, f_max_hz, n_mels + 2, "mel").numpy()
    narrowest = float(np.min(np.diff(edges)))
    n_fft = 1 << max(int(window_len) - 1, 1).bit_length()
    while audio_fs / n_fft > narrowest / 2.0:
        n_fft *= 2
    return n_fft


def causal_mel_spectrogram(
    x: np.ndarray,
    audio_fs: float,
    dt_ms: float,
    n_frames: int,
    *,
    n_mels: int,
    f_min_hz: float,
    f_max_hz: float,
    window_ms: float,
    power: float,
) -> np.ndarray:
    """Causal mel spectrogram ``(n_mels, n_frames)``: end-aligned Hann STFT, ``|X| ** power``, mel filters."""
    window_len = max(round(window_ms * audio_fs / 1000.0), 2)
    n_fft = mel_fft_size(window_len, audio_fs, n_mels, f_min_hz, f_max_hz)
    mag = stft_magnitude(x, audio_fs, dt_ms, n_frames, window_len, window="hann", n_fft=n_fft)
    filters = mel_filterbank(n_fft // 2 + 1, n_mels, audio_fs, f_min_hz=f_min_hz, f_max_hz=f_max_hz).numpy()
    return filters.T @ (mag**power)


def resample(x: np.ndarray, audio_fs_in: float, audio_fs_out: float) -> np.ndarray:
    """Resample a 1-D signal with a polyphase filter (``scipy.signal.resample_poly``)."""
    if audio_fs_in == audio_fs_out:
        return np.asarray(x, dtype=np.float64)
    ratio = (Fraction(str(audio_fs_out)) / Fraction(str(audio_fs_in))).limit_denominator(100_000)
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
    soundfile = require("soundfile", extra="data", purpose="reading audio files")
    data, rate = soundfile.read(path, dtype="float64", always_2d=True)
    return data[:, 0], float(rate)


def centred_mel_spectrogram(
    x: np.ndarray,
    audio_fs: float,
    hop: int,
    *,
    n_mels: int,
    f_min_hz: float,
    f_max_hz: float,
    window_len: int,
    power: float,
) -> np.ndarray:
    """Centred mel spectrogram ``(n_mels, floor(n / hop) + 1)``, the convention of the published pipelines.

    Frame ``t`` is centred on sample ``t * hop`` (periodic Hann window of ``window_len`` samples,
    FFT of the same size, reflect padding at both ends), so it looks ``window_len / 2`` samples
    ahead: not causal. Used only by the ``preset="published"`` of the loaders.

    Example:
        >>> centred_mel_spectrogram(np.ones(1000), 16000.0, 80, n_mels=8, f_min_hz=0.0, f_max_hz=8000.0,
        ...                         window_len=160, power=2.0).shape
        (8, 13)
    """
    x = np.asarray(x, dtype=np.float64)
    half = window_len // 2
    padded = np.pad(x, half, mode="reflect") if x.size > half else np.pad(x, half)
    n_frames = x.size // hop + 1
    index = np.arange(window_len)[None, :] + hop * np.arange(n_frames)[:, None]
    taper = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(window_len) / window_len)  # periodic Hann
    frames = padded[np.minimum(index, padded.size - 1)] * taper
    mag = np.abs(np.fft.rfft(frames, axis=1)).T ** power
    filters = mel_filterbank(window_len // 2 + 1, n_mels, audio_fs, f_min_hz=f_min_hz, f_max_hz=f_max_hz).numpy()
    return filters.T @ mag
