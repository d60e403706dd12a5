"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ``ImportError`` naming the deepSTRF extra.

    Args:
        module: Dotted module name, e.g. ``"matplotlib.pyplot"``.
        extra: Name of the deepSTRF extra that provides it, e.g. ``"plot"``.
        purpose: Optional short description of what needs the module.

    Returns:
        The imported module.

    Raises:
        ImportError: If the module cannot be imported.

    Example:
        >>> require("json", extra="core").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        what = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"{module!r} is needed{what} but is not installed; install it with `pip install 'deepSTRF[{extra}]'`"
        ) from err
