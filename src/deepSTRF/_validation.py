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
