"""Deprecation helpers: old module paths and old argument spellings keep working for one release.

Each use warns with a ``DeprecationWarning`` that names the new spelling, so users see
what to change without their code breaking.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


def moved_module(old: str, new: str) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` forwarding every public name of ``old`` to module ``new``.

    Example:
        >>> getattr_ = moved_module("deepSTRF.utils.download", "deepSTRF.datasets.download")
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     get_data_dir = getattr_("get_data_dir")
        >>> get_data_dir.__module__, caught[0].category.__name__
        ('deepSTRF.datasets.download', 'DeprecationWarning')
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new), name)
        warnings.warn(f"{old} moved to {new}; import {name} from there", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__


def renamed_arguments(owner: str, kwargs: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """Map old keyword spellings in ``kwargs`` to their new names, warning once per old name.

    Args:
        owner: What the arguments belong to, for the message (e.g. ``"make_wav2spec"``).
        kwargs: The keyword arguments received.
        renames: ``{old_name: new_name}``.

    Returns:
        A new dict with old names replaced.

    Raises:
        TypeError: If both spellings of one argument are given.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     renamed_arguments("f", {"dt": 5.0, "x": 1}, {"dt": "dt_ms"})
        {'x': 1, 'dt_ms': 5.0}
    """
    out = {k: v for k, v in kwargs.items() if k not in renames}
    for old, new in renames.items():
        if old not in kwargs:
            continue
        if new in kwargs:
            raise TypeError(f"{owner}() got both `{old}` (deprecated) and `{new}`; pass only `{new}`")
        warnings.warn(f"{owner}(): `{old}` is deprecated, use `{new}`", DeprecationWarning, stacklevel=3)
        out[new] = kwargs[old]
    return out


def accepts_old_names(**renames: str) -> Callable[[_F], _F]:
    """Decorator: a function or ``__init__`` also takes the old keyword spellings ``renames`` (``old=new``).

    Each old spelling warns with a ``DeprecationWarning`` and is passed on under its new
    name. The map is kept as ``_renamed_arguments`` on the wrapper, so that
    :class:`~deepSTRF.models.configurable.ConfigurableModule` records the new names and a
    checkpoint written with an old name still loads (silently).

    Example:
        >>> import warnings
        >>> @accepts_old_names(hop_ms="dt_ms")
        ... def frames(duration_ms: float, dt_ms: float) -> float:
        ...     return duration_ms / dt_ms
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     frames(100.0, hop_ms=5.0)
        20.0
        >>> str(caught[0].message)
        'frames(): `hop_ms` is deprecated, use `dt_ms`'
    """

    def decorate(function: _F) -> _F:
        owner = function.__qualname__.removesuffix(".__init__")

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **renamed_arguments(owner, kwargs, renames))

        wrapper._renamed_arguments = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
