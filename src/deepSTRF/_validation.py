"""Small argument checks shared by public entry points.

Each raises ``TypeError`` or ``ValueError`` with the argument name, what was
expected and what was received, as the project's error contract asks.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch


def check_int(name: str, value: object, *, minimum: int | None = 1) -> int:
    """Check that ``value`` is an int (not a bool) no smaller than ``minimum``.

    Example:
        >>> check_int("n_hidden", 4)
        4
        >>> check_int("n_hidden", 0)
        Traceback (most recent call last):
        ...
        ValueError: `n_hidden` must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__} ({value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Check that ``value`` is a real number > 0 (or >= 0 with ``allow_zero``).

    Example:
        >>> check_positive_float("dt_ms", 5)
        5.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__} ({value!r})")
    v = float(value)
    if not (v >= 0 if allow_zero else v > 0) or v != v:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be {bound}, got {value!r}")
    return v


def check_choice(name: str, value: object, choices: Sequence[object]) -> object:
    """Check that ``value`` is one of ``choices``.

    Example:
        >>> check_choice("reduction", "mean", ["none", "mean"])
        'mean'
    """
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {value!r}")
    return value


def check_tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    floating: bool = False,
) -> torch.Tensor:
    """Check that ``value`` is a tensor with the expected number of dimensions.

    Example:
        >>> check_tensor("x", torch.zeros(2, 3), ndim=2).shape
        torch.Size([2, 3])
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in allowed:
            raise ValueError(
                f"`{name}` must have {' or '.join(map(str, allowed))} dimensions, got shape {tuple(value.shape)}"
            )
    if floating and not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {value.dtype}")
    return value


def available_devices() -> list[str]:
    """The device strings this machine accepts: ``'cpu'``, then each CUDA GPU and ``'mps'`` when present.

    Example:
        >>> available_devices()[0]
        'cpu'
    """
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def check_device(name: str, value: object) -> torch.device:
    """Parse a device string (or ``torch.device``) and check that this machine has it.

    Args:
        name: Argument name, for the message.
        value: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'`` or a ``torch.device``.

    Returns:
        The ``torch.device``.

    Raises:
        TypeError: If ``value`` is neither a str nor a ``torch.device``.
        ValueError: If it names no device, or one this machine does not have; the
            message lists the valid ones.

    Example:
        >>> check_device("device", "cpu")
        device(type='cpu')
        >>> check_device("device", "gpu")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: `device` must be one of ['cpu'...], got 'gpu'
    """
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"`{name}` must be a device string or torch.device, got {type(value).__name__} ({value!r})")
    valid = available_devices()
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"`{name}` must be one of {valid}, got {value!r}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            what = "CUDA is not available on this machine" if count == 0 else f"this machine has {count} GPU(s)"
            raise ValueError(f"`{name}` is {str(value)!r} but {what}; valid devices here: {valid}")
    elif device.type == "mps" and "mps" not in valid:
        raise ValueError(f"`{name}` is {str(value)!r} but MPS is not available on this machine; valid: {valid}")
    elif device.type not in ("cpu", "meta", "cuda", "mps"):
        raise ValueError(f"`{name}` must be one of {valid}, got {value!r}")
    return device
