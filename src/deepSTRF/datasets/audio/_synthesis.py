"""Synthetic sounds for the simulated dataset: dynamic random chords, dynamic moving ripples, tones.

Level spectrograms ``(F, T)`` are in bels (10 dB) relative to the mean level, so they are
zero-mean with values in ``[-depth/2, depth/2]`` for a level range of ``depth`` bels.
:func:`tone_waveform` turns one into audio: one continuous tone per band at the band's
centre frequency whose amplitude follows the level of the current bin.
"""

from __future__ import annotations

import numpy as np

__all__ = ["band_frequencies", "drc_levels", "ripple_levels", "tone_waveform"]


def band_frequencies(n_bands: int, f_min_hz: float, f_max_hz: float) -> np.ndarray:
    """``n_bands`` log-spaced centre frequencies from ``f_min_hz`` to ``f_max_hz`` inclusive.

    Example:
        >>> band_frequencies(3, 500.0, 2000.0)
        array([ 500., 1000., 2000.])
    """
    return np.geomspace(f_min_hz, f_max_hz, n_bands)


def drc_levels(rng: np.random.Generator, n_bands: int, n_bins: int, chord_bins: int, depth: float) -> np.ndarray:
    """A dynamic random chord: every ``chord_bins`` bins each band takes a new uniform level.

    Example:
        >>> x = drc_levels(np.random.default_rng(0), 4, 10, 5, 3.0)
        >>> x.shape, bool((x[:, :5] == x[:, :1]).all()), bool(abs(x).max() <= 1.5)
        ((4, 10), True, True)
    """
    n_chords = -(-n_bins // chord_bins)
    chords = rng.uniform(-depth / 2, depth / 2, size=(n_bands, n_chords))
    return np.repeat(chords, chord_bins, axis=1)[:, :n_bins]


def _slow_curve(
    rng: np.random.Generator, n_bins: int, dt_ms: float, lo: float, hi: float, knot_ms: float
) -> np.ndarray:
    """A smooth random curve in ``[lo, hi]`` through uniform knots every ``knot_ms`` (cosine interpolation)."""
    pos = np.arange(n_bins) * dt_ms / knot_ms
    values = rng.uniform(lo, hi, size=int(pos[-1]) + 2)
    seg = pos.astype(np.int64)
    w = (1 - np.cos(np.pi * (pos - seg))) / 2
    return (1 - w) * values[seg] + w * values[seg + 1]


def ripple_levels(
    rng: np.random.Generator,
    octaves: np.ndarray,
    n_bins: int,
    dt_ms: float,
    depth: float,
    *,
    max_rate_hz: float = 20.0,
    max_density_cyc_oct: float = 2.0,
    knot_ms: float = 250.0,
) -> np.ndarray:
    """A dynamic moving ripple: ``depth/2 * sin(2 pi Omega(t) x + Phi(t))`` over octaves ``x``.

    The ripple density ``Omega`` (cycles/octave, in ``[0, max_density]``) and temporal rate
    ``omega = dPhi/dt / 2 pi`` (Hz, in ``[-max_rate, max_rate]``) drift slowly and at random.

    Example:
        >>> x = ripple_levels(np.random.default_rng(0), np.linspace(0, 5, 8), 100, 5.0, 3.0)
        >>> x.shape, bool(abs(x).max() <= 1.5)
        ((8, 100), True)
    """
    rate = _slow_curve(rng, n_bins, dt_ms, -max_rate_hz, max_rate_hz, knot_ms)
    density = _slow_curve(rng, n_bins, dt_ms, 0.0, max_density_cyc_oct, knot_ms)
    phase = 2 * np.pi * np.cumsum(rate) * dt_ms / 1000.0 + rng.uniform(0, 2 * np.pi)
    return depth / 2 * np.sin(2 * np.pi * density[None, :] * octaves[:, None] + phase[None, :])


def tone_waveform(
    rng: np.random.Generator,
    levels: np.ndarray,
    freqs_hz: np.ndarray,
    audio_fs: float,
    hop: int,
    *,
    ramp_ms: float = 1.0,
) -> np.ndarray:
    """Audio whose band ``f`` is a tone at ``freqs_hz[f]`` with the level of the current bin.

    Each tone is continuous and starts at a random phase; its amplitude is ``10 ** (level / 2)``
    (levels in bels) times a constant that keeps the signal well inside ``[-1, 1]``. Over the
    first ``ramp_ms`` of a bin the amplitude crosses linearly from the previous bin's to the
    current one, so the audio of bin ``t`` depends on levels up to ``t`` only and a causal
    spectrogram with ``hop`` recovers the levels.

    Returns:
        float64 audio of ``levels.shape[1] * hop`` samples.

    Example:
        >>> y = tone_waveform(np.random.default_rng(0), np.zeros((2, 3)), np.array([500.0, 1000.0]), 8000.0, 40)
        >>> y.shape
        (120,)
    """
    n_bands, n_bins = levels.shape
    amp = 10.0 ** (levels / 2) * (0.05 / np.sqrt(n_bands))  # (F, B)
    previous = np.concatenate([amp[:, :1], amp[:, :-1]], axis=1)
    ramp = max(1, round(ramp_ms * audio_fs / 1000.0))
    fade = np.clip(1.0 - (np.arange(hop) + 1) / ramp, 0.0, 1.0)  # weight of the previous amplitude in a bin
    phase = (
        rng.uniform(0, 2 * np.pi, size=(n_bands, 1))
        + 2 * np.pi * freqs_hz[:, None] * hop * np.arange(n_bins) / audio_fs
    )
    start = np.exp(1j * phase)  # (F, B): each tone's phase at the start of each bin
    within = np.exp(2j * np.pi * freqs_hz[:, None] * np.arange(hop) / audio_fs)  # (F, hop)
    steady = (amp * start).T @ within  # (B, hop): sum over bands, as complex phasors
    change = ((previous - amp) * start).T @ within
    return (steady + fade * change).imag.reshape(-1)
