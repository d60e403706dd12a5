"""Deprecation helpers: old module paths and old argument spellings keep working for one release.

Each use warns with a ``DeprecationWarning`` that names the new spelling, so users see
what to change without their code breaking.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


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
