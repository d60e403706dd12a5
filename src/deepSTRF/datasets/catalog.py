"""The one catalogue of public datasets: what each one is, where its files live, and how to fetch them.

Each :class:`DatasetEntry` declares everything a download needs: its files (name, URL,
exact size and checksum where known, published-checksum source otherwise, archive or not,
and the *part* of the dataset a file belongs to, for partial downloads), its access
(``'open'`` or ``'crcns'``, the free CRCNS account), citations, licence and the
``"module:Class"`` path of its loader. Every loader and ``deepstrf download`` fetch through
:func:`fetch`, so adding a dataset means one loader module and one entry in :data:`CATALOG`.

URLs may name a host as ``{zenodo}``, ``{osf}``, ``{crcns}`` or ``{github}``; they are
expanded at download time by :func:`deepSTRF.datasets.sources.expand_url`.

Example:
    >>> [d.name for d in list_datasets()][:4]
    ['ns1', 'nat4', 'crcns-aa1', 'crcns-ac1']
    >>> get_dataset_info("nat4").licence
    'CC-BY-4.0'
    >>> [f.filename for f in get_dataset_info("nat4").select(parts=["PEG"])]
    ['PEG_NAT4_ozgf.fs100.ch18.tgz', 'PEG_pred_correlation.csv', 'PEG_single_sites.zip']
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepSTRF.datasets.download import get_data_dir
from deepSTRF.datasets.sources import ACCESS_KINDS, RemoteFile, ensure_files, plan_files

__all__ = [
    "CATALOG",
    "DatasetEntry",
    "DatasetInfo",
    "dataset_folder",
    "download_dataset",
    "fetch",
    "get_dataset_info",
    "get_loader",
    "list_datasets",
    "plan_download",
    "register",
]

_AUDIO = "deepSTRF.datasets.audio"
_MB = 1_000_000


@dataclass(frozen=True)
class DatasetEntry:
    """Facts about one public dataset and the files it is made of.

    Args:
        name: Short name used on the command line and as the cache sub-folder.
        title: Name shown in messages (e.g. ``"CRCNS AA1"``).
        loader: ``"module:Class"`` path of the loader (a NeuralDataset subclass).
        description: One-line summary.
        size: Approximate download size, in words.
        citations: References to cite when using the data.
        url: Landing page of the data.
        licence: Licence or terms of use.
        access: ``'open'`` (anonymous download) or ``'crcns'`` (free CRCNS account).
        files: Every remote file of the dataset, see :class:`~deepSTRF.datasets.sources.RemoteFile`.
        parts: What the parts named in ``files`` are (``{part: description}``); files without a
            part are always fetched.
        default_parts: Parts fetched by ``deepstrf download NAME`` when none is named (default: all).
        folder: Cache sub-folder (default: ``name``); two entries that share files share a folder.
        expected: Documented counts of the real data (units, stimuli, ...), re-checked by ``verify``.

    Example:
        >>> get_dataset_info("ns1").loader
        'deepSTRF.datasets.audio.ns1:NS1Dataset'
        >>> get_dataset_info("crcns-aa1").needs_account
        True
    """

    name: str
    title: str
    loader: str
    description: str
    size: str
    citations: tuple[str, ...]
    url: str
    licence: str
    access: str = "open"
    files: tuple[RemoteFile, ...] = ()
    parts: tuple[tuple[str, str], ...] = ()
    default_parts: tuple[str, ...] | None = None
    folder: str | None = None
    expected: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.access not in ACCESS_KINDS:
            raise ValueError(f"`access` must be one of {list(ACCESS_KINDS)}, got {self.access!r}")
        if ":" not in self.loader:
            raise ValueError(f"`loader` must be a 'module:Class' path, got {self.loader!r}")
        known = {p for p, _ in self.parts}
        unknown = sorted({f.part for f in self.files if f.part is not None} - known)
        if unknown:
            raise ValueError(f"{self.name}: files name parts {unknown} that `parts` does not describe")

    @property
    def needs_account(self) -> bool:
        """Whether the host needs a (free) account."""
        return self.access != "open"

    @property
    def part_names(self) -> list[str]:
        """The names of the parts, in declaration order."""
        return [p for p, _ in self.parts]

    def file(self, filename: str) -> RemoteFile:
        """The declared file of that name.

        Raises:
            KeyError: If the dataset has no such file.
        """
        for f in self.files:
            if f.filename == filename:
                return f
        raise KeyError(f"{self.name} has no file {filename!r}; known: {[f.filename for f in self.files]}")

    def select(self, *, files: Iterable[str] | None = None, parts: Iterable[str] | None = None) -> list[RemoteFile]:
        """The files named in ``files`` and those of ``parts`` (plus the part-less files).

        Args:
            files: File names to include, or ``None``.
            parts: Part names to include, or ``None``; with both ``None``, the default parts.

        Returns:
            The selected files, in declaration order.

        Raises:
            ValueError: If a part or a file name is unknown.
        """
        names = None if files is None else list(files)
        wanted = None if parts is None else [str(p) for p in parts]
        if wanted is not None:
            lookup = {p.lower(): p for p in self.part_names}
            bad = [p for p in wanted if p.lower() not in lookup]
            if bad:
                raise ValueError(f"`parts` of {self.name} must be among {self.part_names}, got {bad}")
            wanted = [lookup[p.lower()] for p in wanted]
        if names is not None:
            for n in names:
                self.file(n)  # raises on an unknown name
        if names is None and wanted is None:
            wanted = list(self.default_parts) if self.default_parts is not None else self.part_names
            return [f for f in self.files if f.part is None or f.part in wanted]
        out = []
        for f in self.files:
            by_name = names is not None and f.filename in names
            by_part = wanted is not None and (f.part is None or f.part in wanted)
            if by_name or by_part:
                out.append(f)
        return out


#: Former name of :class:`DatasetEntry`.
DatasetInfo = DatasetEntry


def _osf(name: str, guid: str, approx_mb: float, **kwargs: Any) -> RemoteFile:
    return RemoteFile(name, f"{{osf}}/{guid}/", published=f"osf:{guid}", approx_size=int(approx_mb * _MB), **kwargs)


def _zenodo(record: int, name: str, approx_mb: float, **kwargs: Any) -> RemoteFile:
    url = f"{{zenodo}}/{record}/files/{name}/content"
    return RemoteFile(name, url, published=f"zenodo:{record}", approx_size=int(approx_mb * _MB), **kwargs)


def _crcns(dataset: str, name: str, approx_mb: float, **kwargs: Any) -> RemoteFile:
    return RemoteFile(
        name, f"{{crcns}}/{dataset}/{name}", published=f"crcns:{dataset}", approx_size=int(approx_mb * _MB), **kwargs
    )


_NAT4 = 8044773
_AA4_ANIMALS = ("BlaBro09xxF", "GreBlu9508M", "LblBlu2028M", "WhiBlu5396M", "WhiWhi4522M", "YelBlu6903F")


def _nat4_area(area: str, pop_mb: float, sites_mb: float) -> tuple[RemoteFile, ...]:
    pop = f"{area}_NAT4_ozgf.fs100.ch18"
    sites = f"{area}_single_sites"
    return (
        _zenodo(_NAT4, f"{pop}.tgz", pop_mb, markers=(pop,), part=area, description="population recording"),
        _zenodo(_NAT4, f"{area}_pred_correlation.csv", 0.1, part=area, description="auditory flags"),
        _zenodo(
            _NAT4,
            f"{sites}.zip",
            sites_mb,
            extract=True,
            markers=(sites, f"{area}_Single_Sites"),
            part=area,
            description="single trials of the validation sounds",
        ),
    )


_ENTRIES: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        name="ns1",
        title="NS1",
        loader=f"{_AUDIO}.ns1:NS1Dataset",
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
        files=(
            _osf("MetadataSHEnCneurons.mat", "gdwyd", 0.1, description="neuron metadata"),
            _osf(
                "spikesandwav.zip",
                "5nxga",
                155.0,
                extract=True,
                markers=("spikesandwav",),
                description="spike times and sound waveforms",
            ),
            _osf("ReadMe.rtf", "f3rtm", 0.01, description="dataset README"),
            RemoteFile(
                "test_data_5ms.mat",
                "{github}/monzilur/DNet/master/test_data_5ms.mat",
                checksum="gitsha1:70179b2d34a90c6436955363c802280a89c0cc0f",
                approx_size=int(5.2 * _MB),
                description="5 ms cochleagrams of the 20 natural sounds (DNet repository)",
            ),
        ),
    ),
    DatasetEntry(
        name="nat4",
        title="NAT4",
        loader=f"{_AUDIO}.nat4:NAT4Dataset",
        description="Ferret A1 (849 units) and PEG (398 units), awake, 575 + 18 natural sounds, 10 ms bins",
        size="about 220 MB (both areas and the WAV files)",
        citations=(
            "Pennington JR, David SV (2023). A convolutional neural network provides a generalizable model of "
            "natural sound coding by neural populations in auditory cortex. PLoS Comput Biol 19:e1011110.",
            "Data: Zenodo record 8044773, doi:10.5281/zenodo.8044773.",
        ),
        url="https://zenodo.org/records/8044773",
        licence="CC-BY-4.0",
        files=(
            *_nat4_area("A1", 60.0, 48.0),
            *_nat4_area("PEG", 28.0, 22.0),
            _zenodo(_NAT4, "wav.zip", 60.0, extract=True, markers=("wav",), part="wav", description="sound waveforms"),
        ),
        parts=(("A1", "primary auditory cortex"), ("PEG", "posterior ectosylvian gyrus"), ("wav", "the WAV files")),
    ),
    DatasetEntry(
        name="crcns-aa1",
        title="CRCNS AA1",
        loader=f"{_AUDIO}.crcns_aa1:CRCNSAA1Dataset",
        description="Zebra finch Field L and MLd, 50 + 50 single units, 10 songs and 20 flat ripples, 32 kHz WAVs",
        size="about 17 MB",
        citations=(
            "Theunissen FE et al. Single-unit recordings from two auditory areas in male zebra finches. "
            "CRCNS.org (aa-1), doi:10.6080/K0F769GP.",
        ),
        url="https://crcns.org/data-sets/aa/aa-1",
        licence="CRCNS terms of use (free account; cite the data set)",
        access="crcns",
        files=(_crcns("aa-1", "crcns-aa1.zip", 17.0, extract=True, markers=("all_stims", "*/all_stims")),),
    ),
    DatasetEntry(
        name="crcns-ac1",
        title="CRCNS AC1",
        loader=f"{_AUDIO}.crcns_ac1:CRCNSAC1Dataset",
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
        access="crcns",
        files=(
            _crcns(
                "ac-1",
                "crcns-ac1.zip",
                1100.0,
                extract=True,
                markers=("wehr", "*/wehr", "*/*/wehr"),
                description="Wehr recordings and the stimuli of both parts",
            ),
        ),
    ),
    DatasetEntry(
        name="crcns-aa2",
        title="CRCNS AA2",
        loader=f"{_AUDIO}.crcns_aa2:CRCNSAA2Dataset",
        description="Zebra finch MLd, OV, Field L and CM, 494 units from 57 birds, songs and ripples, 32 kHz WAVs",
        size="about 180 MB unpacked",
        citations=(
            "Theunissen FE et al. Single-unit recordings from multiple auditory areas in male zebra finches. "
            "CRCNS.org (aa-2), doi:10.6080/K0JW8BSC.",
        ),
        url="https://crcns.org/data-sets/aa/aa-2",
        licence="CRCNS terms of use (free account; cite the data set)",
        access="crcns",
        files=(
            _crcns(
                "aa-2",
                "crcns-aa2-all_cells.tar.gz",
                60.0,
                extract=True,
                strip=2,
                markers=("all_cells", "crcns/aa2/all_cells"),
            ),
            _crcns(
                "aa-2",
                "crcns-aa2-all_stims.tar.gz",
                100.0,
                extract=True,
                strip=2,
                markers=("all_stims", "crcns/aa2/all_stims"),
            ),
            _crcns("aa-2", "crcns-aa2-docs.tar.gz", 1.0, extract=True, strip=2, markers=("*.csv", "crcns/aa2/*.csv")),
        ),
    ),
    DatasetEntry(
        name="crcns-aa4",
        title="CRCNS AA4",
        loader=f"{_AUDIO}.crcns_aa4:CRCNSAA4Dataset",
        description="Zebra finch auditory units, 6 animals, 1401 units (one HDF5 file each), 170 unique sounds",
        size="several hundred MB per animal (one archive each)",
        citations=(
            "Theunissen FE et al. Single-unit and multi-unit recordings from the zebra finch auditory system "
            "(songs, calls, noise). CRCNS.org (aa-4), doi:10.6080/K00C4T06.",
        ),
        url="https://crcns.org/data-sets/aa/aa-4",
        licence="CRCNS terms of use (free account; cite the data set)",
        access="crcns",
        files=(
            *(_crcns("aa-4", f"{a}.tar.gz", 300.0, extract=True, markers=(a,), part=a) for a in _AA4_ANIMALS),
            _crcns("aa-4", "CRCNSCode.tar.gz", 1.0, extract=True, markers=("CRCNSCode",), part="code"),
        ),
        parts=(*((a, "one animal") for a in _AA4_ANIMALS), ("code", "the lab's analysis code")),
        default_parts=_AA4_ANIMALS,
    ),
    DatasetEntry(
        name="crcns-ac1-asari",
        title="CRCNS AC1 (Asari)",
        loader=f"{_AUDIO}.crcns_ac1_asari:CRCNSAC1AsariDataset",
        description="Rat A1 whole-cell (39 cells) and MGB cell-attached (14 cells), 5-segment natural sound sequences",
        size="about 4.1 GB (the archive shared with the Wehr part, and two result archives)",
        citations=(
            "Asari H, Zador AM (2009). Long-lasting context dependence constrains neural encoding models in "
            "rodent auditory cortex. J Neurophysiol 102:2638-2656.",
            "Asari H, Wehr M, Machens CK, Zador AM. Auditory cortex and thalamic neuronal responses to various "
            "natural and synthetic sounds. CRCNS.org (ac-1), doi:10.6080/K0KW5CXR.",
        ),
        url="https://crcns.org/data-sets/ac/ac-1",
        licence="CRCNS terms of use (free account; cite the data set)",
        access="crcns",
        folder="crcns-ac1",
        files=(
            _crcns(
                "ac-1",
                "crcns-ac1.zip",
                1100.0,
                extract=True,
                markers=("asari", "*/asari", "*/*/asari"),
                description="the stimuli (shared with the Wehr part)",
            ),
            _crcns(
                "ac-1",
                "crcns-ac1-asari-results-1.zip",
                1500.0,
                extract=True,
                markers=("asari-results-1", "*/asari-results-1"),
                part="results-1",
                description="Asari recordings, first archive",
            ),
            _crcns(
                "ac-1",
                "crcns-ac1-asari-results-2.zip",
                1500.0,
                extract=True,
                markers=("asari-results-2", "*/asari-results-2"),
                part="results-2",
                description="Asari recordings, second archive",
            ),
        ),
        parts=(("results-1", "first archive of recordings"), ("results-2", "second archive of recordings")),
    ),
)

_ESPEJO, _WINGERT, _DOWNER, _LE = 3445557, 18331549, 16175377, 29203457
#: Alice EEG files in the University of Maryland repository (DRUM): file -> bitstream UUID.
ALICE_BITSTREAMS = {
    "eeg.0.zip": "264ca110-f7f4-4fd5-9b00-896102b841ad",
    "eeg.1.zip": "bef532d8-cf74-4b9d-9b4c-5c1f81610ce9",
    "eeg.2.zip": "25fc51ae-d1fa-4094-85af-65dd4cf30251",
    "stimuli.zip": "df241468-26ee-42df-b27f-3f438cfc5a3f",
}


def _drum(name: str, approx_mb: float, **kwargs: Any) -> RemoteFile:
    uuid = ALICE_BITSTREAMS[name]
    return RemoteFile(
        name, f"{{drum}}/{uuid}/download", published=f"drum:{uuid}", approx_size=int(approx_mb * _MB), **kwargs
    )


_WAVE2B: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        name="espejo2019",
        title="Espejo 2019",
        loader=f"{_AUDIO}.espejo2019:Espejo2019Dataset",
        description="Ferret A1 single units: natural sounds (540 units, 35 sites) and vocalisation-modulated noise "
        "(200 units, 103 sites), 10 ms bins",
        size="about 660 MB (natural sounds 638 MB, modulated noise 25 MB)",
        citations=(
            "Espejo ML, Schwartz ZP, David SV (2019). Spectral tuning of adaptation supports coding of sensory "
            "context in auditory cortex. PLoS Comput Biol 15:e1007430.",
            "Data: Zenodo record 3445557, doi:10.5281/zenodo.3445557.",
        ),
        url="https://zenodo.org/records/3445557",
        licence="open access (see the Zenodo record)",
        files=(
            _zenodo(
                _ESPEJO,
                "A1_natural_sounds.tgz",
                638.0,
                extract=True,
                markers=("A1_natural_sounds",),
                part="NAT",
                description="natural-sound sites",
            ),
            _zenodo(
                _ESPEJO,
                "A1_voc_mod_noise.tgz",
                25.0,
                extract=True,
                markers=("A1_voc_mod_noise",),
                part="VMN",
                description="vocalisation-modulated-noise sites",
            ),
        ),
        parts=(("NAT", "natural sounds"), ("VMN", "vocalisation-modulated noise")),
    ),
    DatasetEntry(
        name="le2025",
        title="Le 2025",
        loader=f"{_AUDIO}.le2025:Le2025Dataset",
        description="Zebra finch auditory units, song motifs intact, gapped or noise-filled (auditory restoration); "
        "nat8a (794 units), nat8b (445), synth8b (476)",
        size="about 105 MB (720 MB unpacked)",
        citations=(
            "Le et al. (2025), zebra finch auditory restoration data set 'zebf-auditory-restoration-1'. figshare "
            "article 29203457, doi:10.6084/m9.figshare.29203457 (cite the publication the record names).",
        ),
        url="https://doi.org/10.6084/m9.figshare.29203457",
        licence="open access (see the figshare record)",
        files=(
            RemoteFile(
                "zebf-auditory-restoration-1.zip",
                f"{{figshare}}/{_LE}/files",
                published=f"figshare:{_LE}",
                approx_size=105 * _MB,
                extract=True,
                markers=("metadata", "*/metadata"),
                description="responses (pprox), stimuli and metadata",
            ),
        ),
    ),
    DatasetEntry(
        name="downer2025",
        title="Downer 2025",
        loader=f"{_AUDIO}.downer2025:Downer2025Dataset",
        description="Macaque auditory cortex, 1718 multi-units in 41 sessions (3 monkeys), 499 TIMIT sentences and "
        "303 monkey vocalisations; read session by session",
        size="about 29 GB (one archive; the loaders fetch single sessions from it)",
        citations=(
            "Downer et al. (2025), macaque auditory cortex multi-unit data set 'auditory_cortex_data'. Zenodo "
            "record 16175377, doi:10.5281/zenodo.16175377 (cite the publication the record names).",
        ),
        url="https://zenodo.org/records/16175377",
        licence="CC-BY-4.0",
        files=(
            _zenodo(
                _DOWNER,
                "auditory_cortex_data.zip",
                29_000.0,
                description="sessions, stimuli and metadata (read in place, never extracted)",
            ),
        ),
    ),
    DatasetEntry(
        name="wingert2026",
        title="Wingert 2026",
        loader=f"{_AUDIO}.wingert2026:Wingert2026Dataset",
        description="Ferret auditory cortex and hippocampus units (2128 A1, 746 PEG, 217 AC, 37 HC), long natural "
        "sound sequences, 32-band spectrograms at 10 ms",
        size="about 8 GB (recordings 4.35 GB, audio 3.7 GB); single sites can be fetched alone",
        citations=(
            "Wingert et al. (2026), ferret auditory cortex and hippocampus recordings. Zenodo record 18331549, "
            "doi:10.5281/zenodo.18331549 (cite the publication the record names).",
        ),
        url="https://zenodo.org/records/18331549",
        licence="open access (see the Zenodo record)",
        files=(
            _zenodo(_WINGERT, "cell_list.csv", 5.4, description="unit metadata (area, layer, depth, cell type)"),
            _zenodo(
                _WINGERT,
                "recordings.zip",
                4350.0,
                extract=True,
                markers=("recordings",),
                part="recordings",
                description="site recordings",
            ),
            _zenodo(_WINGERT, "wav.zip", 3700.0, extract=True, markers=("wav",), part="wav", description="audio"),
            _zenodo(
                _WINGERT,
                "models.zip",
                100.0,
                extract=True,
                markers=("models",),
                part="models",
                description="the authors' fitted models (not read by deepSTRF)",
            ),
        ),
        parts=(("recordings", "site recordings"), ("wav", "the WAV files"), ("models", "fitted models")),
        default_parts=("recordings", "wav"),
    ),
    DatasetEntry(
        name="alice-eeg",
        title="Alice EEG",
        loader=f"{_AUDIO}.alice_eeg:AliceEEGDataset",
        description="Human EEG, 33 subjects x 61 channels, 12 segments of Alice in Wonderland (12.4 min)",
        size="about 2.5 GiB (three EEG archives and the stimuli)",
        citations=(
            "Bhattasali S, Brennan J, Luh W-M, Franzluebbers B, Hale J (2020). The Alice Datasets: fMRI & EEG "
            "observations of natural language comprehension. Proceedings of LREC 2020.",
            "Brodbeck C, Das P, Gillis M, Kulasingham JP, Bhattasali S, Gaston P, Resnik P, Simon JZ (2023). "
            "Eelbrain, a Python toolkit for time-continuous analysis with temporal response functions. "
            "eLife 12:e85012. Data: DRUM, doi:10.13016/pulf-lndn.",
        ),
        url="https://doi.org/10.13016/pulf-lndn",
        licence="open access (see the DRUM record)",
        files=(
            _drum("stimuli.zip", 70.0, extract=True, markers=("stimuli",), description="the 12 WAV segments"),
            _drum("eeg.0.zip", 820.0, extract=True, markers=("eeg.0",), part="eeg0", description="EEG, first third"),
            _drum("eeg.1.zip", 820.0, extract=True, markers=("eeg.1",), part="eeg1", description="EEG, second third"),
            _drum("eeg.2.zip", 820.0, extract=True, markers=("eeg.2",), part="eeg2", description="EEG, last third"),
        ),
        parts=(("eeg0", "eeg.0.zip"), ("eeg1", "eeg.1.zip"), ("eeg2", "eeg.2.zip")),
    ),
)

#: Every public dataset by name, in a fixed order (see :func:`register`).
CATALOG: dict[str, DatasetEntry] = {e.name: e for e in (*_ENTRIES, *_WAVE2B)}


def register(entry: DatasetEntry) -> DatasetEntry:
    """Add a dataset to the catalogue (used by this module for each dataset it declares).

    Args:
        entry: The dataset's entry; its ``name`` must be new.

    Returns:
        ``entry``.

    Raises:
        TypeError: If ``entry`` is not a :class:`DatasetEntry`.
        ValueError: If the name is already taken.

    Example:
        >>> register(get_dataset_info("ns1"))
        Traceback (most recent call last):
        ...
        ValueError: `entry.name` must be new, got 'ns1' (already in the catalogue)
    """
    if not isinstance(entry, DatasetEntry):
        raise TypeError(f"`entry` must be a DatasetEntry, got {type(entry).__name__}")
    if entry.name in CATALOG:
        raise ValueError(f"`entry.name` must be new, got {entry.name!r} (already in the catalogue)")
    CATALOG[entry.name] = entry
    return entry


def list_datasets() -> list[DatasetEntry]:
    """All public datasets, in a fixed order.

    Example:
        >>> list_datasets()[0].name
        'ns1'
    """
    return list(CATALOG.values())


def get_dataset_info(name: str) -> DatasetEntry:
    """Facts about one dataset.

    Args:
        name: Dataset name (case-insensitive; ``_`` and ``-`` are interchangeable).

    Returns:
        Its :class:`DatasetEntry`.

    Raises:
        TypeError: If ``name`` is not a str.
        ValueError: If the name is unknown (the message lists the known names).

    Example:
        >>> get_dataset_info("CRCNS_AA1").needs_account
        True
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    if key in CATALOG:
        return CATALOG[key]
    raise ValueError(f"`name` must be one of {list(CATALOG)}, got {name!r}")


def resolve_path(path: str) -> Any:
    """Import the object a ``"module:attribute"`` path names.

    Example:
        >>> resolve_path("deepSTRF.datasets.catalog:list_datasets") is list_datasets
        True
    """
    module, sep, attr = path.partition(":")
    if not sep or not attr:
        raise ValueError(f"`path` must look like 'module:attribute', got {path!r}")
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
    return resolve_path(get_dataset_info(name).loader)


def dataset_folder(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of a dataset: ``root`` itself when given, else ``<cache>/<name>``.

    Example:
        >>> dataset_folder("ns1", "/data/ns1").as_posix()
        '/data/ns1'
    """
    if root is None:
        entry = get_dataset_info(name)
        return get_data_dir(entry.folder or entry.name)
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"`root` must be a path or None, got {type(root).__name__}")
    return Path(root).expanduser()


def plan_download(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    files: Sequence[str] | None = None,
    parts: Sequence[str] | None = None,
) -> list[RemoteFile]:
    """The files a :func:`fetch` with the same arguments would download (nothing is fetched).

    Args:
        name: Dataset name.
        root: Dataset folder (default: the cache folder).
        files: File names to consider (default: the selected parts).
        parts: Parts to consider (default: the dataset's default parts).

    Returns:
        The missing files, in declaration order (their ``url`` expanded).

    Example:
        >>> import tempfile
        >>> [f.filename for f in plan_download("nat4", tempfile.mkdtemp(), parts=["PEG"])][:1]
        ['PEG_NAT4_ozgf.fs100.ch18.tgz']
    """
    entry = get_dataset_info(name)
    return plan_files(dataset_folder(name, root), entry.select(files=files, parts=parts))


def fetch(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    files: Sequence[str] | None = None,
    parts: Sequence[str] | None = None,
    download: bool = True,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Make sure the selected files of a dataset are in its folder: THE fetch path of every loader.

    Files already present cause no network access. Missing ones are downloaded (when
    ``download`` is true), checked against their pinned or published checksum and size,
    and extracted when they are archives. A CRCNS login happens only when something must
    be downloaded.

    Args:
        name: Dataset name.
        root: Dataset folder (default ``<cache>/<name>``).
        files: File names the caller needs (default: the parts below).
        parts: Parts to fetch, e.g. ``["PEG"]`` (default: the dataset's default parts).
        download: Whether missing files may be downloaded.
        username: CRCNS user name (else ``CRCNS_USERNAME``); only for ``access='crcns'``.
        password: CRCNS password (else ``CRCNS_PASSWORD``); never shown or stored.
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Raises:
        ValueError: If the name, a part or a file is unknown, or credentials are needed and missing.
        FileNotFoundError: If files are missing and ``download`` is false.
        DownloadError: If a download fails or does not match its checksum.

    Example:
        >>> import tempfile
        >>> fetch("ns1", tempfile.mkdtemp(), files=[], download=False).is_dir()  # nothing asked: no network
        True
    """
    entry = get_dataset_info(name)
    return ensure_files(
        dataset_folder(name, root),
        entry.select(files=files, parts=parts),
        download=download,
        dataset=entry.title,
        access=entry.access,
        username=username,
        password=password,
        progress=progress,
    )


def download_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    parts: Sequence[str] | None = None,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Download (and extract) the files of a dataset, or of some of its parts; files already there are kept.

    Args:
        name: Dataset name, see :func:`list_datasets`.
        root: Dataset folder; default ``<cache>/<name>`` (the cache is ``$DEEPSTRF_DATA_DIR`` or the
            platform cache folder).
        parts: Parts to download (default: the dataset's default parts, usually all).
        username: Account name for hosts that need one (CRCNS); else ``CRCNS_USERNAME``.
        password: Account password (CRCNS); else ``CRCNS_PASSWORD``. Never printed or stored.
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Raises:
        ValueError: If the name or a part is unknown, or credentials are needed and missing.
        TypeError: If credentials are given for a dataset that needs none.
        DownloadError: If a download fails or does not match its published checksum.

    Example:
        >>> try:
        ...     download_dataset("no-such-data")
        ... except ValueError as err:
        ...     print(str(err).split(" of ")[0])
        `name` must be one
    """
    entry = get_dataset_info(name)
    if not entry.needs_account and (username is not None or password is not None):
        raise TypeError(f"the {entry.name} dataset needs no account; do not pass `username`/`password`")
    return fetch(name, root, parts=parts, username=username, password=password, progress=progress)
