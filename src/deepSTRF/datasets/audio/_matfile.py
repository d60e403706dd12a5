"""Reading MATLAB v5 files into plain Python values (dicts, lists, arrays, str, float).

Files are read with ``scipy.io.loadmat(simplify_cells=True)``: a 1×1 struct becomes a
dict (fields in file order), a struct array an object array of dicts, a char array a
str and a numeric vector a squeezed array. Because MATLAB's singleton dimensions are
squeezed away, the helpers below undo the ambiguities (a struct array of one element
comes back as a dict, a one-spike vector as a 0-d array).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from deepSTRF._optional import require


def load_mat(path: str | os.PathLike[str], *, simplify: bool = True) -> dict[str, Any]:
    """Load a MATLAB v5/v7 file as nested dicts, without the ``__header__``-style entries.

    With ``simplify=False`` arrays keep their MATLAB shape (no squeezing).

    Raises:
        ValueError: If the file is not a MATLAB v5/v7 file (e.g. a v7.3/HDF5 file).
    """
    sio = require("scipy.io", extra="data", purpose="reading MATLAB files")
    try:
        raw = sio.loadmat(os.fspath(path), simplify_cells=simplify)
    except (NotImplementedError, ValueError, TypeError) as err:
        raise ValueError(f"could not read {path} as a MATLAB v5/v7 file ({err})") from err
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def items(value: Any) -> list[Any]:
    """Elements of a struct array (or cell array) as a list; one struct gives a one-element list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel())
    if isinstance(value, list):
        return value
    return [value]


def as_vector(value: Any) -> np.ndarray:
    """A numeric value as a 1-D float64 array (empty matrices give shape (0,))."""
    if value is None or (isinstance(value, str) and not value):
        return np.zeros(0)
    return np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()


def as_float(value: Any, default: float = float("nan")) -> float:
    """A scalar as float; empty values give ``default``."""
    vec = as_vector(value) if not isinstance(value, str) else np.zeros(0)
    return float(vec[0]) if vec.size else default


def as_str(value: Any) -> str:
    """A MATLAB char array (or a cell holding one) as a stripped str."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.dtype.kind in "US":
            return "".join(str(v) for v in value.ravel()).strip()
        if value.dtype == object and value.size == 1:
            return as_str(value.ravel()[0])
    return str(value).strip()


def field(struct: Any, name: str, path: str | os.PathLike[str]) -> Any:
    """``struct[name]``, or a ``ValueError`` naming the file and the fields that exist."""
    if not isinstance(struct, dict) or name not in struct:
        have = sorted(struct) if isinstance(struct, dict) else type(struct).__name__
        raise ValueError(f"{path}: expected a MATLAB struct with field {name!r}, found {have}")
    return struct[name]
