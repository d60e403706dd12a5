"""From band centre frequencies to adaptation time constants and per-frame decay factors.

Time constants follow the midbrain map ``tau_ms = 500 - 105 log10(f)`` of Willmore et al.
(2016); a time constant ``tau`` (ms) becomes the decay factor ``a = exp(-dt / tau)`` of
frames ``dt`` ms wide.
"""

from __future__ import annotations

import torch

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.functional import scales

__all__ = ["a_to_tau", "freq_to_tau", "get_CFs", "tau_to_a"]

Number = float | torch.Tensor


def _values(name: str, value: object) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(torch.get_default_dtype())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    raise TypeError(f"`{name}` must be a real number or a floating tensor, got {type(value).__name__}")


def _like(result: torch.Tensor, original: object) -> Number:
    return result if isinstance(original, torch.Tensor) else float(result)


def freq_to_tau(freqs: Number) -> Number:
    """Time constant (ms) of midbrain adaptation at frequency ``f`` (Hz): ``500 - 105 log10(f)``.

    From Willmore et al. (2016), J. Neurosci. 36(2):280-289.

    Args:
        freqs: Frequencies in Hz, a number or a tensor.

    Returns:
        Time constants in ms, a float for a number, a tensor for a tensor.

    Raises:
        TypeError: If ``freqs`` is neither a number nor a tensor.
        ValueError: If a frequency is not in ``(0, 10**(500/105))`` Hz (about 57.8 kHz),
            where the time constant would not be positive.

    Example:
        >>> freq_to_tau(1000.0)
        185.0
    """
    f = _values("freqs", freqs)
    tau = 500.0 - 105.0 * torch.log10(f)
    if not bool(((f > 0) & (tau > 0)).all()):
        raise ValueError(f"`freqs` must lie in (0, {10 ** (500 / 105):.0f}) Hz, got values {f.tolist()}")
    return _like(tau, freqs)


def tau_to_a(time_constants: Number, dt: float = 1) -> Number:
    """Decay factor per frame ``a = exp(-dt / tau)`` of time constants ``tau`` (ms) for ``dt``-ms frames.

    Args:
        time_constants: Time constants in ms (> 0), a number or a tensor.
        dt: Frame width in ms.

    Returns:
        ``a`` in ``(0, 1)``, a float for a number, a tensor for a tensor.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a time constant or ``dt`` is not positive.

    Example:
        >>> round(tau_to_a(10.0, dt=10.0), 6)
        0.367879
    """
    tau = _values("time_constants", time_constants)
    step = check_positive_float("dt", dt)
    if not bool((tau > 0).all()):
        raise ValueError(f"`time_constants` must be > 0, got values {tau.tolist()}")
    return _like(torch.exp(-step / tau), time_constants)


def a_to_tau(a: Number, dt: float = 1) -> Number:
    """Time constant (ms) ``tau = -dt / log(a)`` of a decay factor per frame (inverse of :func:`tau_to_a`).

    Args:
        a: Decay factors in ``(0, 1)``, a number or a tensor.
        dt: Frame width in ms.

    Returns:
        Time constants in ms, a float for a number, a tensor for a tensor.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a value of ``a`` is outside ``(0, 1)`` or ``dt`` is not positive.

    Example:
        >>> round(a_to_tau(tau_to_a(42.0, dt=5.0), dt=5.0), 9)
        42.0
    """
    values = _values("a", a)
    step = check_positive_float("dt", dt)
    if not bool(((values > 0) & (values < 1)).all()):
        raise ValueError(f"`a` must lie in (0, 1), got values {values.tolist()}")
    return _like(-step / torch.log(values), a)


def get_CFs(min_freq: float, max_freq: float, n_freqs: int, scale: str) -> torch.Tensor:
    """Centre frequencies of ``n_freqs`` bands equally spaced on a perceptual or cochlear scale.

    Args:
        min_freq: Lowest centre frequency in Hz.
        max_freq: Highest centre frequency in Hz.
        n_freqs: Number of bands.
        scale: ``'mel'`` (HTK mel), ``'erb'`` (Glasberg-Moore ERB-rate) or ``'greenwood'``
            (equal steps of position along the human cochlea, Greenwood 1990).

    Returns:
        Increasing frequencies in Hz, ``(n_freqs,)``, in the default dtype, from exactly
        ``min_freq`` to exactly ``max_freq``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``min_freq`` <= 0, ``max_freq`` <= ``min_freq``, ``n_freqs`` < 1 or ``scale`` is unknown.

    Example:
        >>> get_CFs(500.0, 20000.0, 4, "greenwood").round().tolist()
        [500.0, 1887.0, 6253.0, 20000.0]
    """
    low, high = check_positive_float("min_freq", min_freq), check_positive_float("max_freq", max_freq)
    if high <= low:
        raise ValueError(f"`max_freq` must be greater than min_freq={min_freq}, got {max_freq}")
    count = check_int("n_freqs", n_freqs)
    check_choice("scale", scale, ("mel", "erb", "greenwood"))
    forward, inverse = {
        "mel": (scales.Hz_to_mel, scales.mel_to_Hz),
        "erb": (scales.Hz_to_ERB, scales.ERB_to_Hz),
        "greenwood": (scales.inverse_Greenwood, scales.Greenwood),
    }[scale]
    ends = torch.tensor([low, high], dtype=torch.float64)
    warped = forward(ends)
    cfs = inverse(torch.linspace(float(warped[0]), float(warped[1]), count, dtype=torch.float64))
    cfs[0] = low
    if count > 1:
        cfs[-1] = high
    return cfs.clamp(low, high).to(torch.get_default_dtype())
