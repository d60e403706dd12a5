"""Frequency scales of the auditory system: mel, ERB and the Greenwood cochlear map.

Every function takes a Python number or a tensor and returns the same kind:
a ``float`` for a number, a tensor of the same shape and dtype for a tensor.

- Mel (HTK): ``m = 2595 log10(1 + f / 700)``.
- ERB-rate (Glasberg & Moore, 1990): ``E = 21.4 log10(0.00437 f + 1)``; bandwidth
  ``ERB(f) = 24.7 (0.00437 f + 1)``.
- Greenwood (1990) place-frequency map ``f = A (10^(a x) - k)``, with ``x`` the
  normalised distance from the apex (0) to the base (1) of the cochlea.

Example:
    >>> round(Hz_to_mel(1000.0), 1)
    1000.0
    >>> round(mel_to_Hz(Hz_to_mel(440.0)), 6)
    440.0
    >>> import torch
    >>> Greenwood(torch.tensor([0.0, 1.0], dtype=torch.float64)).round().tolist()
    [20.0, 20677.0]
"""

from __future__ import annotations

import math
import numbers
from typing import TypeVar

import torch

__all__ = [
    "GREENWOOD_CONSTANTS",
    "ERB_bandwidth",
    "ERB_to_Hz",
    "Greenwood",
    "Hz_to_ERB",
    "Hz_to_mel",
    "inverse_Greenwood",
    "mel_to_Hz",
]

Value = TypeVar("Value", float, torch.Tensor)

#: Greenwood constants ``(A in Hz, a, k)`` for ``f = A (10^(a x) - k)``, ``x`` from apex (0) to base (1).
#:
#: - human: Greenwood (1990), J. Acoust. Soc. Am. 87(6):2592-2605, doi:10.1121/1.399052.
#: - mouse: A = 9.8 kHz, a = 0.92, k = 0.680, the mouse map of the Eaton-Peabody Laboratories
#:   cochlear frequency-map plugin for ImageJ (Massachusetts Eye and Ear), fitted to the
#:   physiological place-frequency data of the CBA/J mouse (Müller, von Hünerbein, Hoidis &
#:   Smolders, 2005, Hear. Res. 202:63-73). It spans about 3.1 kHz (apex) to 74.8 kHz (base).
GREENWOOD_CONSTANTS: dict[str, tuple[float, float, float]] = {
    "human": (165.4, 2.1, 0.88),
    "mouse": (9800.0, 0.92, 0.680),
}


def _as_value(name: str, value: object) -> float | torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"`{name}` must be a real number or a torch.Tensor, got {type(value).__name__}")


def _log10(x: float | torch.Tensor) -> float | torch.Tensor:
    return torch.log10(x) if isinstance(x, torch.Tensor) else math.log10(x)


def _exp10(x: float | torch.Tensor) -> float | torch.Tensor:
    return torch.pow(10.0, x) if isinstance(x, torch.Tensor) else 10.0**x


def _greenwood_constants(animal: str) -> tuple[float, float, float]:
    if animal not in GREENWOOD_CONSTANTS:
        raise ValueError(f"`animal` must be one of {sorted(GREENWOOD_CONSTANTS)}, got {animal!r}")
    return GREENWOOD_CONSTANTS[animal]


def Hz_to_mel(f: Value) -> Value:
    """Convert frequencies in Hz to the HTK mel scale, ``2595 log10(1 + f / 700)``.

    Args:
        f: Frequency in Hz (number or tensor).

    Returns:
        Mel value, a float for a number input, a tensor of the same shape otherwise.

    Raises:
        TypeError: If ``f`` is neither a real number nor a tensor.

    Example:
        >>> round(Hz_to_mel(700.0), 2)
        781.17
    """
    x = _as_value("f", f)
    return 2595.0 * _log10(1.0 + x / 700.0)  # type: ignore[return-value]


def mel_to_Hz(mel_freqs: Value) -> Value:
    """Convert HTK mel values back to Hz (inverse of :func:`Hz_to_mel`).

    Args:
        mel_freqs: Value on the mel scale (number or tensor).

    Returns:
        Frequency in Hz, of the same kind as the input.

    Raises:
        TypeError: If ``mel_freqs`` is neither a real number nor a tensor.

    Example:
        >>> round(mel_to_Hz(1000.0), 1)
        1000.0
    """
    m = _as_value("mel_freqs", mel_freqs)
    return 700.0 * (_exp10(m / 2595.0) - 1.0)  # type: ignore[return-value]


def Hz_to_ERB(f: Value) -> Value:
    """ERB-rate (ERB-number) of Glasberg & Moore (1990), ``21.4 log10(0.00437 f + 1)``.

    Equal steps on this scale are equal numbers of equivalent rectangular
    bandwidths apart, the usual axis of gammatone filterbanks.

    Args:
        f: Frequency in Hz (number or tensor).

    Returns:
        ERB-rate, of the same kind as the input.

    Raises:
        TypeError: If ``f`` is neither a real number nor a tensor.

    Example:
        >>> round(Hz_to_ERB(1000.0), 3)
        15.621
    """
    x = _as_value("f", f)
    return 21.4 * _log10(0.00437 * x + 1.0)  # type: ignore[return-value]


def ERB_to_Hz(erb: Value) -> Value:
    """Convert an ERB-rate back to Hz (inverse of :func:`Hz_to_ERB`).

    Args:
        erb: ERB-rate (number or tensor).

    Returns:
        Frequency in Hz, of the same kind as the input.

    Raises:
        TypeError: If ``erb`` is neither a real number nor a tensor.

    Example:
        >>> round(ERB_to_Hz(Hz_to_ERB(3000.0)), 6)
        3000.0
    """
    e = _as_value("erb", erb)
    return (_exp10(e / 21.4) - 1.0) / 0.00437  # type: ignore[return-value]


def ERB_bandwidth(f: Value) -> Value:
    """Equivalent rectangular bandwidth (Hz) at centre frequency ``f``: ``24.7 (0.00437 f + 1)``.

    Args:
        f: Centre frequency in Hz (number or tensor).

    Returns:
        Bandwidth in Hz, of the same kind as the input.

    Raises:
        TypeError: If ``f`` is neither a real number nor a tensor.

    Example:
        >>> round(ERB_bandwidth(1000.0), 3)
        132.639
    """
    x = _as_value("f", f)
    return 24.7 * (0.00437 * x + 1.0)  # type: ignore[return-value]


def Greenwood(x: Value, animal: str = "human") -> Value:
    """Greenwood place-frequency map: normalised cochlear position to frequency, ``A (10^(a x) - k)``.

    Args:
        x: Normalised position along the cochlea, 0 at the apex and 1 at the base.
        animal: Species whose constants to use, ``'human'`` or ``'mouse'``
            (see :data:`GREENWOOD_CONSTANTS` for the values and their sources).

    Returns:
        Characteristic frequency in Hz, of the same kind as ``x``.

    Raises:
        TypeError: If ``x`` is neither a real number nor a tensor.
        ValueError: If ``animal`` is unknown.

    Example:
        >>> round(Greenwood(0.5), 1)
        1710.3
        >>> round(Greenwood(1.0, animal="mouse"))
        74849
    """
    A, a, k = _greenwood_constants(animal)
    pos = _as_value("x", x)
    return A * (_exp10(a * pos) - k)  # type: ignore[return-value]


def inverse_Greenwood(f: Value, animal: str = "human") -> Value:
    """Inverse Greenwood map: frequency to normalised cochlear position, ``log10(f / A + k) / a``.

    Args:
        f: Characteristic frequency in Hz (number or tensor).
        animal: Species whose constants to use, ``'human'`` or ``'mouse'``.

    Returns:
        Normalised position (0 at the apex, 1 at the base), of the same kind as ``f``.

    Raises:
        TypeError: If ``f`` is neither a real number nor a tensor.
        ValueError: If ``animal`` is unknown.

    Example:
        >>> round(inverse_Greenwood(Greenwood(0.25)), 6)
        0.25
    """
    A, a, k = _greenwood_constants(animal)
    freq = _as_value("f", f)
    return _log10(freq / A + k) / a  # type: ignore[return-value]
