"""Audio datasets: simulated data, your own data (arrays, HDF5, NWB) and public datasets.

- :class:`SimulatedDataset`: LNP neurons with known STRFs (the default of ``deepstrf fit``);
- :func:`from_arrays`, :func:`load_hdf5` / :func:`save_hdf5`, :func:`from_nwb`: your own data;
- ``NS1Dataset``, ``NAT4Dataset``, ``CRCNSAA1Dataset``, ``CRCNSAC1Dataset``: public datasets,
  imported on first use.

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

#: Public dataset loaders and the modules that define them (imported on first access).
PUBLIC_LOADERS = {
    "NS1Dataset": "ns1",
    "NAT4Dataset": "nat4",
    "CRCNSAA1Dataset": "crcns_aa1",
    "CRCNSAC1Dataset": "crcns_ac1",
}

__all__ = ["SimulatedDataset", "from_arrays", "from_nwb", "lnp_rate", "load_hdf5", "save_hdf5", *PUBLIC_LOADERS]


def __getattr__(name: str) -> Any:
    if name in PUBLIC_LOADERS:
        module = importlib.import_module(f"{__name__}.{PUBLIC_LOADERS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(PUBLIC_LOADERS))
