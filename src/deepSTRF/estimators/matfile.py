"""MATLAB files (v5/v7 and v7.3) as plain Python values, for the arrays the estimators take.

MATLAB v7.3 files are HDF5: arrays are stored with their axes reversed, cell arrays as
references, text as UTF-16 codes and structs as groups. :func:`from_mat` undoes all
of that, so both versions give the same values: numeric arrays in MATLAB's axis order
with singleton axes squeezed, cell arrays as lists, structs as dicts, text as ``str``.

Example:
    >>> import numpy as np, scipy.io, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "trf.mat")
    >>> cells = np.empty((1, 2), dtype=object)
    >>> cells[0, 0], cells[0, 1] = np.ones((100, 16)), np.ones((80, 16))
    >>> scipy.io.savemat(path, {"stim": cells, "fs": 100.0})
    >>> data = from_mat(path)
    >>> [x.shape for x in data["stim"]], data["fs"]
    ([(100, 16), (80, 16)], 100.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepSTRF._optional import require
from deepSTRF.datasets.audio._matfile import load_mat

__all__ = ["from_mat"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: str) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(1024)
    # v7.3 files keep a 512-byte MATLAB header before the HDF5 superblock
    return start[:8] == _HDF5_SIGNATURE or start[512:520] == _HDF5_SIGNATURE


def _squeeze(value: np.ndarray) -> Any:
    value = value.squeeze()
    return value.item() if value.ndim == 0 and value.dtype.kind in "biuf" else value


def _h5_value(obj: Any, root: Any, h5py: Any) -> Any:
    if isinstance(obj, h5py.Group):
        return {key: _h5_value(obj[key], root, h5py) for key in obj if not key.startswith("#")}
    kind = obj.attrs.get("MATLAB_class", b"double")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if obj.attrs.get("MATLAB_empty", 0):
        return np.zeros(0)
    data = obj[()]
    if kind == "cell":
        refs = np.asarray(data).T  # MATLAB's axis order
        return [_h5_value(root[ref], root, h5py) for ref in refs.ravel(order="F")]
    if kind == "char":
        return "".join(chr(int(c)) for c in np.asarray(data).T.ravel(order="F"))
    arr = np.asarray(data).T
    if kind == "logical":
        arr = arr.astype(bool)
    if arr.dtype.names and {"real", "imag"} <= set(arr.dtype.names):
        arr = arr["real"] + 1j * arr["imag"]
    return _squeeze(arr)


def from_mat(path: str | os.PathLike[str], variables: Sequence[str] | None = None) -> dict[str, Any]:
    """Read the variables of a MATLAB file, whatever its version.

    Args:
        path: A ``.mat`` file, v5/v7 (read with SciPy) or v7.3 (HDF5, read with h5py).
        variables: Names to read; all by default.

    Returns:
        ``{name: value}``: arrays in MATLAB's axis order (singleton axes squeezed; a scalar as a
        Python number), cell arrays as lists, structs as dicts, char arrays as ``str``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        KeyError: If a requested variable is not in the file (the message lists those present).
        ImportError: If SciPy (v5) or h5py (v7.3) is missing (``pip install 'deepSTRF[data]'``).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no MATLAB file at {path}")
    if _is_hdf5(path):
        h5py = require("h5py", extra="data", purpose="reading MATLAB v7.3 files")
        with h5py.File(path, "r") as root:
            names = [key for key in root if not key.startswith("#")]
            wanted = names if variables is None else list(variables)
            missing = sorted(set(wanted) - set(names))
            if missing:
                raise KeyError(f"{path} has no variable {missing}; it holds {sorted(names)}")
            return {name: _h5_value(root[name], root, h5py) for name in wanted}
    values = load_mat(path)
    wanted = list(values) if variables is None else list(variables)
    missing = sorted(set(wanted) - set(values))
    if missing:
        raise KeyError(f"{path} has no variable {missing}; it holds {sorted(values)}")
    out = {}
    for name in wanted:
        value = values[name]
        if isinstance(value, np.ndarray) and value.dtype == object:
            value = list(value.ravel(order="F"))
        out[name] = value
    return out
