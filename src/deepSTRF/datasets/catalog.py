"""The public datasets deepSTRF can download and load, with their sources and citations.

Used by ``deepstrf datasets`` (:func:`list_datasets`) and ``deepstrf download NAME``
(:func:`download_dataset`). Loader classes are imported only when asked for.

Example:
    >>> [d.name for d in list_datasets()]
    ['ns1', 'nat4', 'crcns-aa1', 'crcns-ac1']
    >>> get_dataset_info("nat4").licence
    'CC-BY-4.0'
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_AUDIO = "deepSTRF.datasets.audio"


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one public dataset.

    Args:
        name: Short name used on the command line.
        loader: ``"module:Class"`` path of the loader (a NeuralDataset subclass).
        downloader: ``"module:function"`` path of the function that downloads everything.
        description: One-line summary.
        size: Approximate download size.
        citations: References to cite when using the data.
        url: Landing page of the data.
        licence: Licence or terms of use.
        needs_account: Whether the host needs a (free) account.

    Example:
        >>> DATASETS[0].loader
        'deepSTRF.datasets.audio.ns1:NS1Dataset'
    """

    name: str
    loader: str
    downloader: str
    description: str
    size: str
    citations: tuple[str, ...]
    url: str
    licence: str
    needs_account: bool = False


DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="ns1",
        loader=f"{_AUDIO}.ns1:NS1Dataset",
        downloader=f"{_AUDIO}.ns1:download_ns1",
        description="Ferret A1 (anaesthetised), 119 units x 20 natural sounds x 20 repeats, 5 ms cochleagrams",
        size="about 160 MB",
        citations=(
            "Harper NS, Schoppe O, Willmore BDB, Cui Z, Schnupp JWH, King AJ (2016). Network receptive field "
            "modeling reveals extensive integration and multi-feature selectivity in auditory cortical neurons. "
            "PLoS Comput Biol 12:e1005113.",
            "Rahman M, Willmore BDB, King AJ, Harper NS (2019). A dynamic network model of temporal receptive "
            "fields in primary auditory cortex. PLoS Comput Biol 15:e1006618.",
        ),
        url="https://osf.io/ayw2p/",
        licence="see the OSF project page (cochleagrams: DNet repository, github.com/monzilur/DNet)",
    ),
    DatasetInfo(
        name="nat4",
        loader=f"{_AUDIO}.nat4:NAT4Dataset",
        downloader=f"{_AUDIO}.nat4:download_nat4",
        description="Ferret A1 (849 units) and PEG (398 units), awake, 575 + 18 natural sounds, 10 ms bins",
        size="about 220 MB (both areas and the WAV files)",
        citations=(
            "Pennington JR, David SV (2023). A convolutional neural network provides a generalizable model of "
            "natural sound coding by neural populations in auditory cortex. PLoS Comput Biol 19:e1011110.",
            "Data: Zenodo record 8044773, doi:10.5281/zenodo.8044773.",
        ),
        url="https://zenodo.org/records/8044773",
        licence="CC-BY-4.0",
    ),
    DatasetInfo(
        name="crcns-aa1",
        loader=f"{_AUDIO}.crcns_aa1:CRCNSAA1Dataset",
        downloader=f"{_AUDIO}.crcns_aa1:download_aa1",
        description="Zebra finch Field L and MLd, 50 + 50 single units, 10 songs and 20 flat ripples, 32 kHz WAVs",
        size="about 17 MB",
        citations=(
            "Theunissen FE et al. Single-unit recordings from two auditory areas in male zebra finches. "
            "CRCNS.org (aa-1), doi:10.6080/K0F769GP.",
        ),
        url="https://crcns.org/data-sets/aa/aa-1",
        licence="CRCNS terms of use (free account; cite the data set)",
        needs_account=True,
    ),
    DatasetInfo(
        name="crcns-ac1",
        loader=f"{_AUDIO}.crcns_ac1:CRCNSAC1Dataset",
        downloader=f"{_AUDIO}.crcns_ac1:download_ac1",
        description="Rat A1 whole-cell membrane potential (Wehr), 25 cells, natural sound clips",
        size="about 1.1 GB (the archive with the Wehr data)",
        citations=(
            "Machens CK, Wehr MS, Zador AM (2004). Linearity of cortical receptive fields measured with natural "
            "sounds. J Neurosci 24:1089-1100.",
            "Asari H, Wehr M, Machens CK, Zador AM. Auditory cortex and thalamic neuronal responses to various "
            "natural and synthetic sounds. CRCNS.org (ac-1), doi:10.6080/K0KW5CXR.",
        ),
        url="https://crcns.org/data-sets/ac/ac-1",
        licence="CRCNS terms of use (free account; cite the data set)",
        needs_account=True,
    ),
)


def list_datasets() -> list[DatasetInfo]:
    """All public datasets, in a fixed order.

    Example:
        >>> list_datasets()[0].name
        'ns1'
    """
    return list(DATASETS)


def get_dataset_info(name: str) -> DatasetInfo:
    """Facts about one dataset.

    Args:
        name: Dataset name (case-insensitive; ``_`` and ``-`` are interchangeable).

    Returns:
        Its :class:`DatasetInfo`.

    Raises:
        ValueError: If the name is unknown (the message lists the known names).

    Example:
        >>> get_dataset_info("CRCNS_AA1").needs_account
        True
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    for info in DATASETS:
        if info.name == key:
            return info
    raise ValueError(f"`name` must be one of {[d.name for d in DATASETS]}, got {name!r}")


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_loader(name: str) -> type:
    """The loader class of a dataset (imported on demand).

    Args:
        name: Dataset name, see :func:`list_datasets`.

    Returns:
        The class (a :class:`~deepSTRF.datasets.NeuralDataset` subclass).

    Raises:
        ValueError: If the name is unknown.

    Example:
        >>> get_loader("ns1").__name__
        'NS1Dataset'
    """
    return _resolve(get_dataset_info(name).loader)


def download_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Download (and extract) every file of a dataset into its folder; files already there are kept.

    Args:
        name: Dataset name, see :func:`list_datasets`.
        root: Dataset folder; default ``<cache>/<name>`` (the cache is ``$DEEPSTRF_DATA_DIR`` or the
            platform cache folder).
        username: Account name for hosts that need one (CRCNS); else ``CRCNS_USERNAME``.
        password: Account password (CRCNS); else ``CRCNS_PASSWORD``. Never printed or stored.
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Raises:
        ValueError: If the name is unknown, or credentials are needed and missing.
        TypeError: If credentials are given for a dataset that needs none.
        DownloadError: If a download fails or does not match its published checksum.

    Example:
        >>> download_dataset("no-such-data")
        Traceback (most recent call last):
        ...
        ValueError: `name` must be one of ['ns1', 'nat4', 'crcns-aa1', 'crcns-ac1'], got 'no-such-data'
    """
    info = get_dataset_info(name)
    fetch = _resolve(info.downloader)
    if info.needs_account:
        return fetch(root, username=username, password=password, progress=progress)
    if username is not None or password is not None:
        raise TypeError(f"the {info.name} dataset needs no account; do not pass `username`/`password`")
    return fetch(root, progress=progress)
