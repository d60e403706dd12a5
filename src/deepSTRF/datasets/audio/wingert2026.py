"""Wingert 2026: ferret auditory cortex and hippocampus units (A1, PEG, AC, HC), long natural-sound sequences.

Zenodo record 18331549 (open access). ``recordings.zip`` holds one NEMS0 recording per site
(``recordings/<SITE>_<hash>.tgz``): spike times (``resp.h5``, a point process read at the
recordings' 100 Hz raster) and the stimulus as a tiled 32-band linear gammatone spectrogram
(200 Hz-20 kHz; ``stim.h5``, ``STIM_<name>`` → ``(32, T)``). ``cell_list.csv`` gives each unit's
area, layer, depth and cell type. Estimation sounds ``STIM_seqNNNN.wav`` are heard once, the
validation (test) sounds ``STIM_00seq*`` 5-30 times. ``wav.zip`` holds the audio.

Documented quirks, handled here: ``PRN018b_*`` duplicates ``PRN018a`` (the duplicate archive is
skipped when both are present); some archive names differ from their cells' id prefix (units are
keyed by their own ids and take their site from ``cell_list.csv``); SLJ032a holds two probes
(their units have distinct ids, so they stay distinct neurons).
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._validation import check_choice
from deepSTRF.datasets.audio._checks import add_counts
from deepSTRF.datasets.audio._nat4_parts import find_dir, nat4_splits, pool
from deepSTRF.datasets.audio._nems_sites import merge_sites, placed_waveform, read_site, site_of, wav_index
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.catalog import fetch, get_dataset_info
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.remote_zip import fetch_zip_members
from deepSTRF.datasets.sources import expand_url
from deepSTRF.datasets.verify import VerificationReport

WINGERT_URL = "https://zenodo.org/records/18331549"
#: archive site -> the site it duplicates
DUPLICATE_SITES = {"PRN018b": "PRN018a"}
#: Figures of the real data (DATASETS-wave2.md).
DOCUMENTED: dict[str, Any] = {
    "units_A1": 2128,
    "units_PEG": 746,
    "units_AC": 217,
    "units_HC": 37,
    "units_unlabelled": 131,
    "sites": (60, 67),
    "bands": 32,
    "test_repeats": (5, 30),
}
_CELL_COLUMNS = ("cellid", "siteid", "area", "layer", "depth", "narrow", "celltype", "sw", "goodpred")


def wingert_files(*, waveform: bool = False, recordings: bool = True) -> list[str]:
    """The files the loader needs (declared in :mod:`deepSTRF.datasets.catalog`).

    Example:
        >>> wingert_files(waveform=True)
        ['cell_list.csv', 'recordings.zip', 'wav.zip']
    """
    return ["cell_list.csv"] + (["recordings.zip"] if recordings else []) + (["wav.zip"] if waveform else [])


def fetch_sites(folder: Path, sites: list[str], *, progress: bool = True) -> list[Path]:
    """Fetch the archives of some sites out of the remote ``recordings.zip`` (only those missing).

    Only the archive's directory and the chosen members are transferred (HTTP range requests),
    each member checked against the CRC-32 the archive stores.

    Example:
        >>> callable(fetch_sites)
        True
    """
    have = {site_of(p) for p in site_archives(folder)}
    wanted = [s for s in sites if s not in have]
    if not wanted:
        return []
    url = expand_url(get_dataset_info("wingert2026").file("recordings.zip").url)
    return fetch_zip_members(
        url, folder, lambda name: name.endswith(".tgz") and site_of(name) in wanted, progress=progress
    )


def site_archives(folder: Path) -> list[Path]:
    """The site recordings under ``folder/recordings`` (archives or extracted folders)."""
    rec = find_dir(folder, "recordings") if folder.is_dir() else None
    if rec is None:
        return []
    return sorted(p for p in rec.iterdir() if p.name.endswith((".tgz", ".tar.gz")) or p.is_dir())


def read_cell_list(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """``{cellid: metadata}`` from ``cell_list.csv`` (numbers parsed; empty fields become ``None``).

    Raises:
        ValueError: If the documented columns are missing.
    """
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        if not {"cellid", "siteid", "area"} <= set(fields):
            raise ValueError(f"{path}: needs the columns {list(_CELL_COLUMNS)}, got {fields}")
        out = {}
        for row in reader:
            meta: dict[str, Any] = {}
            for key, value in row.items():
                if key is None:
                    continue
                value = (value or "").strip()
                meta[key.strip()] = _number(value)
            out[str(meta["cellid"])] = meta
    return out


def _number(value: str) -> Any:
    if value == "" or value.lower() in ("nan", "none"):
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


class Wingert2026Dataset(NeuralDataset):
    """Wingert et al. 2026: ferret A1, PEG, AC and HC units, long natural-sound sequences, 10 ms bins.

    Stimuli are the tiled 32-band spectrograms of the files (linear, as published), frames averaged
    over blocks when ``dt_ms`` is a multiple of 10; or, with ``waveform=True``, the WAVs of
    ``wav.zip`` (``wav/<name without STIM_>``, matched case-insensitively) placed at the
    pre-stimulus offset. Responses are raw spike counts, every trial kept.

    Splits: ``'test'``, the validation sequences ``STIM_00seq*`` (5-30 repeats); ``'val'``, a pinned
    10 % of the estimation sequences (lowest SHA-256 of the name); ``'train'``, the rest.

    ``normalize``: ``'none'`` (default); ``'train'``, ``log((x + 0.1) / 0.1)`` then per-band min-max
    of the spectrogram (values below 1e-6 set to 0) and per-unit min-max of the counts, statistics
    from the ``'train'`` split; ``'published'``, the same with statistics from every sound, test
    included, as published (a leak, warned about). ``preset='published'`` selects it.

    Neuron metadata: ``cell_id``, ``site``, ``archive``, and the ``cell_list.csv`` columns
    (``area``, ``layer``, ``depth``, ``narrow``, ``celltype``, ``sw``, ``goodpred``); units absent from
    the list get ``area=None``. Stimulus metadata: ``name``, ``subset``, ``n_repeats``, ``prestim_s``.

    Args:
        root: Dataset folder; default ``<cache>/wingert2026``.
        download: Download what is missing (with ``sites``: only those sites' archives, read out of the
            remote ``recordings.zip``; ``catalog.download_dataset("wingert2026")`` fetches everything).
        dt_ms: Bin width, a multiple of 10 ms.
        waveform: Return waveforms.
        audio_fs: Waveform sample rate (Hz).
        sites: Load only these sites; default all.
        areas: Keep only units of these areas (from ``cell_list.csv``, e.g. ``['A1', 'PEG']``).
        normalize: ``'none'``, ``'train'`` or ``'published'``.
        preset: ``'default'`` or ``'published'`` (``normalize='published'``).
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("wingert2026")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 8 GB (recordings 4.35 GB, audio 3.7 GB); single sites can be fetched alone')
        >>> info.part_names  # pieces that can be fetched alone (``deepstrf download --part``)
        ['recordings', 'wav', 'models']
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        dt_ms: float = 10.0,
        waveform: bool = False,
        audio_fs: float = 44100.0,
        sites: list[str] | None = None,
        areas: list[str] | None = None,
        normalize: str = "none",
        preset: str = "default",
        progress: bool = True,
    ) -> None:
        check_choice("preset", preset, ["default", "published"])
        normalize = "published" if preset == "published" else normalize
        check_choice("normalize", normalize, ["none", "train", "published"])
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        if abs(dt_ms / 10.0 - round(dt_ms / 10.0)) > 1e-9:
            raise ValueError(f"`dt_ms` must be a multiple of 10 (the recordings' 100 Hz raster), got {dt_ms}")
        k = round(dt_ms / 10.0)
        files = wingert_files(waveform=waveform, recordings=sites is None)
        folder = fetch("wingert2026", root, files=files, download=download, progress=progress)
        if sites is not None and download:
            fetch_sites(folder, list(sites), progress=progress)
        cells = read_cell_list(folder / "cell_list.csv")
        paths = site_archives(folder)
        if sites is not None:
            paths = [p for p in paths if site_of(p) in set(sites)]
        present = {site_of(p) for p in paths}
        skipped = [p.name for p in paths if DUPLICATE_SITES.get(site_of(p)) in present]
        paths = [p for p in paths if p.name not in skipped]
        if not paths:
            raise FileNotFoundError(f"Wingert 2026: no site recordings under {folder / 'recordings'}")
        keep = None if areas is None else (lambda u: (cells.get(u) or {}).get("area") in set(areas))
        recs = [read_site(p) for p in paths]
        merged = merge_sites(recs, keep_unit=keep)
        names = merged.names
        test = [s for s, n in enumerate(names) if n.startswith("STIM_00")]
        est = [s for s, n in enumerate(names) if not n.startswith("STIM_00")]
        splits = nat4_splits(names, est, test)
        units = [u for u in merged.trials if merged.trials[u]]
        if normalize == "published":
            warnings.warn(
                "Wingert 2026 normalize='published' takes statistics from the test sounds too",
                UserWarning,
                stacklevel=2,
            )
        stat_names = names if normalize == "published" else [names[s] for s in splits["train"]]
        responses = []
        scale = {u: _unit_range(merged.trials[u], stat_names) if normalize != "none" else (0.0, 1.0) for u in units}
        for name in names:
            row: list[Any] = []
            for unit in units:
                parts = merged.trials[unit].get(name)
                if not parts:
                    row.append(None)
                    continue
                lo, span = scale[unit]
                row.append(as_tensor(pool((np.concatenate(parts) - lo) / span, k, "sum")))
            responses.append(row)
        lengths = [merged.spectrograms[n].shape[1] // k for n in names]
        if waveform:
            wavs = wav_index(find_dir(folder, "wav"))
            stims = []
            for name, n_bins in zip(names, lengths):
                path = wavs.get(name.removeprefix("STIM_").lower())
                if path is None:
                    raise FileNotFoundError(f"Wingert 2026: no WAV for {name} in {folder / 'wav'}")
                stims.append(
                    as_tensor(placed_waveform(path, n_bins, int(hop or 0), audio_fs, merged.prestim[name])[None])
                )
        else:
            specs = {n: merged.spectrograms[n] for n in names}
            if normalize != "none":
                specs = _normalise_spectrograms(specs, stat_names)
            stims = [as_tensor(pool(specs[n], k, "mean")[None]) for n in names]
        archive_of = {u: merged.archives[u][0] for u in units}
        nrn_meta = []
        for u in units:
            listed: dict[str, Any] = dict(cells.get(u, {}))
            listed.pop("cellid", None)
            site = listed.pop("siteid", None) or u.split("-")[0]
            nrn_meta.append(
                {"cell_id": u, "site": site, "archive": archive_of[u], "area": listed.pop("area", None), **listed}
            )
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=[
                {
                    "name": n,
                    "subset": "test" if n.startswith("STIM_00") else "est",
                    "n_repeats": int(sum(merged.repeats[n])),
                    "prestim_s": merged.prestim[n],
                }
                for n in names
            ],
            nrn_meta=nrn_meta,
            audio_fs=audio_fs if waveform else None,
            name="Wingert2026",
            info={
                "normalize": normalize,
                "preset": preset,
                "sites": sorted({r.site for r in recs}),
                "skipped_archives": skipped,
                "source": WINGERT_URL,
            },
        )
        self.splits = splits

    def observed(self) -> dict[str, Any]:
        """The figures :meth:`verify` compares with the documentation (units per area, sites, bands...)."""
        areas = [m.get("area") for m in self.nrn_meta]
        test_reps = [self.stim_meta[s]["n_repeats"] for s in self.splits["test"]]
        found: dict[str, Any] = {f"units_{a}": areas.count(a) for a in ("A1", "PEG", "AC", "HC")}
        found.update(
            units_unlabelled=areas.count(None),
            sites=len(self.info["sites"]) + len(self.info["skipped_archives"]),
            bands=self.F,
            sounds=self.n_stimuli,
            units=self.n_neurons,
            test_repeats=min(test_reps) if test_reps else None,
        )
        return found

    @classmethod
    def verify(
        cls, root: str | os.PathLike[str] | None = None, *, expected: dict[str, Any] | None = None
    ) -> VerificationReport:
        """Re-check a downloaded copy against the documented figures (units per area, sites, bands, repeats).

        Args:
            root: Dataset folder (default: the cache folder).
            expected: Figures to check (value or ``(low, high)``); default :data:`DOCUMENTED`.

        Returns:
            The report.

        Example:
            >>> import tempfile
            >>> Wingert2026Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("wingert2026")
        ds = report.load(lambda: cls(root, progress=False))
        if ds is not None:
            report.check(
                "duplicate archive PRN018b skipped when PRN018a is present",
                not {"PRN018a", "PRN018b"} <= set(ds.info["sites"]),
                f"skipped: {ds.info['skipped_archives']}",
            )
            add_counts(report, ds.observed(), DOCUMENTED if expected is None else expected)
        return report


def _unit_range(trials: dict[str, list[np.ndarray]], names: list[str]) -> tuple[float, float]:
    values = [np.concatenate(trials[n]) for n in names if n in trials]
    if not values:
        return 0.0, 1.0
    lo = min(float(v.min()) for v in values)
    span = max(float(v.max()) for v in values) - lo
    return lo, span if span > 0 else 1.0


def _normalise_spectrograms(specs: dict[str, np.ndarray], stat_names: list[str]) -> dict[str, np.ndarray]:
    logged = {n: np.log((x + 0.1) / 0.1) for n, x in specs.items()}
    stacked = np.concatenate([logged[n] for n in stat_names], axis=1) if stat_names else np.zeros((1, 1))
    lo, hi = stacked.min(axis=1, keepdims=True), stacked.max(axis=1, keepdims=True)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    out = {}
    for n, x in logged.items():
        y = (x - lo) / span
        y[y < 1e-6] = 0.0
        out[n] = y
    return out
