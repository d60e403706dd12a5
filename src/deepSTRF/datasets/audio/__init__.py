"""Audio datasets: simulated data, your own data (arrays, HDF5, NWB) and public datasets.

- :class:`SimulatedDataset`: LNP neurons with known STRFs (the default of ``deepstrf fit``);
- :func:`from_arrays`, :func:`load_hdf5` / :func:`save_hdf5`, :func:`from_nwb`: your own data;
- the public dataset loaders declared in :mod:`deepSTRF.datasets.catalog` (``NS1Dataset``,
  ``NAT4Dataset``, ``CRCNSAA1Dataset``, ...), imported on first use.

Example:
    >>> from deepSTRF.datasets.audio import SimulatedDataset
    >>> SimulatedDataset(n_neurons=2, n_stimuli=3).n_neurons
    2
"""

from __future__ import annotations

import importlib
from typing import Any

from deepSTRF.datasets.audio.arrays import from_arrays
from deepSTRF.datasets.audio.hdf5 import load_hdf5, save_hdf5
from deepSTRF.datasets.audio.nwb import from_nwb
from deepSTRF.datasets.audio.simulated import SimulatedDataset, lnp_rate
from deepSTRF.datasets.catalog import list_datasets

#: Public dataset loaders of this package by class name, read from the catalogue (imported on first access).
PUBLIC_LOADERS = {
    entry.loader.partition(":")[2]: entry.loader.partition(":")[0].rpartition(".")[2]
    for entry in list_datasets()
    if entry.loader.startswith(__name__ + ".") and entry.loader.count(".") == __name__.count(".") + 1
}

__all__ = ["SimulatedDataset", "from_arrays", "from_nwb", "lnp_rate", "load_hdf5", "save_hdf5", *PUBLIC_LOADERS]


def __getattr__(name: str) -> Any:
    if name in PUBLIC_LOADERS:
        module = importlib.import_module(f"{__name__}.{PUBLIC_LOADERS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(PUBLIC_LOADERS))
