"""Causal band spectrograms for the wave-2b loaders: ERB-spaced Gaussian bands and log-mel bands.

Frames are end-aligned like every loader's (:mod:`._spectro`): frame ``t`` sees the audio up to
the end of response bin ``t`` only. The ERB bands weight the power of each FFT bin by a Gaussian
in frequency centred on ERB-rate-spaced frequencies, with a full width at half maximum of one
ERB (``24.7 (4.37 f / 1000 + 1)`` Hz): a smooth stand-in for a gammatone filterbank.
"""

from __future__ import annotations

import numpy as np

from deepSTRF.datasets.audio._spectro import stft_magnitude
from deepSTRF.functional.filterbanks import mel_filterbank, warped_linspace

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def erb_centres(n_bands: int, f_min_hz: float, f_max_hz: float) -> np.ndarray:
    """``n_bands`` centre frequencies (Hz) evenly spaced on the ERB-rate scale.

    Example:
        >>> erb_centres(3, 100.0, 8000.0).round().tolist()
        [100.0, 1416.0, 8000.0]
    """
    return warped_linspace(f_min_hz, f_max_hz, n_bands, "erb").numpy()


def erb_gaussian_weights(freqs_hz: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """``(n_bands, n_freqs)`` Gaussian weights, one ERB wide at half maximum, each row summing to 1."""
    width = 24.7 * (0.00437 * centres_hz + 1.0) * _FWHM_TO_SIGMA
    w = np.exp(-0.5 * ((freqs_hz[None, :] - centres_hz[:, None]) / width[:, None]) ** 2)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)


def erb_band_power(
    x: np.ndarray,
    audio_fs: float,
    dt_ms: float,
    n_frames: int,
    *,
    n_bands: int,
    f_min_hz: float,
    f_max_hz: float,
    window_ms: float,
) -> np.ndarray:
    """Causal power in ERB-spaced Gaussian bands, ``(n_bands, n_frames)``, float64.

    The FFT is zero-padded so that its bin spacing is at most half the narrowest band.
    Bands whose centre is at or above Nyquist are zero.

    Example:
        >>> audio_fs = 16000.0
        >>> tone = np.sin(2 * np.pi * 1000.0 * np.arange(1600) / audio_fs)
        >>> p = erb_band_power(tone, audio_fs, 10.0, 10, n_bands=8, f_min_hz=200.0, f_max_hz=7000.0, window_ms=10.0)
        >>> p.shape, int(p[:, 5].argmax()) == int(np.abs(erb_centres(8, 200.0, 7000.0) - 1000.0).argmin())
        ((8, 10), True)
    """
    window_len = max(round(window_ms * audio_fs / 1000.0), 2)
    centres = erb_centres(n_bands, f_min_hz, f_max_hz)
    narrowest = float(24.7 * (0.00437 * centres.min() + 1.0))
    n_fft = 1 << max(window_len - 1, 1).bit_length()
    while audio_fs / n_fft > narrowest / 2.0:
        n_fft *= 2
    mag = stft_magnitude(x, audio_fs, dt_ms, n_frames, window_len, window="hann", n_fft=n_fft)
    freqs = np.arange(n_fft // 2 + 1) * audio_fs / n_fft
    power = erb_gaussian_weights(freqs, centres) @ (mag**2)
    power[centres >= audio_fs / 2.0] = 0.0
    return power


def log_mel_power(
    x: np.ndarray,
    audio_fs: float,
    dt_ms: float,
    n_frames: int,
    *,
    n_bands: int,
    f_min_hz: float,
    f_max_hz: float,
    window_ms: float,
    floor: float = 1e-10,
) -> np.ndarray:
    """Causal log mel power ``log(max(P, floor))``, ``(n_bands, n_frames)``, a Kaldi-style filterbank.

    As in Kaldi, the FFT is the next power of two of the window (512 samples for 25 ms at 16 kHz),
    so the narrowest low-frequency bands may fall between FFT bins and stay at the floor.

    Example:
        >>> tone = np.sin(2 * np.pi * 1000.0 * np.arange(16000) / 16000.0)
        >>> log_mel_power(tone, 16000.0, 10.0, 100, n_bands=80, f_min_hz=20.0, f_max_hz=8000.0, window_ms=25.0).shape
        (80, 100)
    """
    window_len = max(round(window_ms * audio_fs / 1000.0), 2)
    n_fft = 1 << max(window_len - 1, 1).bit_length()
    mag = stft_magnitude(x, audio_fs, dt_ms, n_frames, window_len, window="hann", n_fft=n_fft)
    filters = mel_filterbank(n_fft // 2 + 1, n_bands, audio_fs, f_min_hz=f_min_hz, f_max_hz=f_max_hz).numpy()
    return np.log(np.maximum(filters.T @ (mag**2), floor))
