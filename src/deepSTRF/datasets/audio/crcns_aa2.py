"""CRCNS AA2: zebra finch units in MLd, OV, Field L and CM (Theunissen lab), songs and ripples.

CRCNS data set aa-2 (DOI 10.6080/K0JW8BSC; a free CRCNS account is needed): three archives
``crcns-aa2-{all_cells,all_stims,docs}.tar.gz``, each wrapped in ``crcns/aa2/``. Layout:
``all_cells/<cell>/<type>/{stimK,spikeK}`` in the AA1 text format (spike times in ms from
onset, one trial per line), ``all_stims/*.wav`` (flat, 32 kHz 16-bit), and three CSV files:
``cell_regions.csv`` (cell first, region last: L, L1, L2a, L2b, L3, mld, OV, CM, None),
``cell_stim_classes.csv`` (cell first, then classes) and ``stim_data.csv`` (wav, sample rate,
bit depth, samples, class: songrip, flatrip, conspecific, unknown, bengalese). The CSVs are
read as headerless; a header line, if any, is skipped.

Documented counts: 494 units from 57 birds (143 MLd, 59 OV, 189 L, 37 CM, 66 None);
72 conspecific, 20 flatrip and 25 songrip stimuli; 10-20 trials.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepSTRF.datasets.audio._aa1_files import cell_meta, read_aa1_cell, stratified_split
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._songbird import SongFeatures, check_selection
from deepSTRF.datasets.audio._spectro import read_audio
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.catalog import dataset_folder, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.smoothing import apply_published_smoothing
from deepSTRF.datasets.verify import VerificationReport

__all__ = ["EXPECTED", "REGIONS", "CRCNSAA2Dataset", "find_aa2_base", "read_csv_rows"]

AA2_URL = "https://crcns.org/data-sets/aa/aa-2"
#: Region names of `cell_regions.csv` (L, L1-L3 are Field L; "None" means unassigned).
REGIONS = ("L", "L1", "L2a", "L2b", "L3", "mld", "OV", "CM", "None")
CLASSES = ("conspecific", "flatrip", "songrip", "unknown", "bengalese")
#: Documented figures for the real data (DATASETS-wave2.md).
EXPECTED = {
    "units": 494,
    "birds": 57,
    "units_mld": 143,
    "units_OV": 59,
    "units_L": 189,
    "units_CM": 37,
    "units_None": 66,
    "stimuli_conspecific": 72,
    "stimuli_flatrip": 20,
    "stimuli_songrip": 25,
}


def find_aa2_base(root: Path) -> Path:
    """The folder holding ``all_cells`` (``root``, ``root/crcns/aa2`` or a folder up to 3 levels down).

    Raises:
        FileNotFoundError: If there is none.
    """
    for candidate in (root, root / "crcns" / "aa2", *sorted(root.glob("*/")), *sorted(root.glob("*/*/"))):
        if (candidate / "all_cells").is_dir():
            return candidate
    raise FileNotFoundError(f"CRCNS AA2: no 'all_cells' folder in {root} (nor in crcns/aa2/ below it)")


def read_csv_rows(path: Path) -> list[list[str]]:
    """Rows of a headerless CSV (stripped cells; empty rows dropped)."""
    with path.open(newline="") as fh:
        return [[c.strip() for c in row] for row in csv.reader(fh) if any(c.strip() for c in row)]


def _find_csv(base: Path, root: Path, name: str) -> Path | None:
    for folder in (base, root):
        hits = sorted(folder.rglob(name))
        if hits:
            return hits[0]
    return None


def _stim_classes(base: Path, root: Path) -> dict[str, dict[str, Any]]:
    path = _find_csv(base, root, "stim_data.csv")
    out: dict[str, dict[str, Any]] = {}
    for row in read_csv_rows(path) if path else []:
        if len(row) < 5 or not row[1].replace(".", "", 1).isdigit():
            continue  # a header line
        out[row[0]] = {"sample_rate": float(row[1]), "bit_depth": row[2], "n_samples": int(float(row[3])),
                       "class": row[4]}  # fmt: skip
    return out


def _regions(base: Path, root: Path) -> dict[str, str]:
    path = _find_csv(base, root, "cell_regions.csv")
    return {row[0]: row[-1] for row in (read_csv_rows(path) if path else []) if len(row) >= 2}


def _cell_classes(base: Path, root: Path) -> dict[str, list[str]]:
    path = _find_csv(base, root, "cell_stim_classes.csv")
    return {row[0]: [c for c in row[1:] if c] for row in (read_csv_rows(path) if path else []) if row}


class CRCNSAA2Dataset(NeuralDataset):
    """CRCNS AA2 (Theunissen lab): 494 zebra finch units in MLd, OV, Field L and CM.

    Stimuli are the WAVs the selected cells heard, ordered by class (from ``stim_data.csv``,
    ``'unknown'`` when not listed) then name. Responses are spike counts per bin over
    ``[0, T * dt_ms)``, one row per trial; a (stimulus, cell) pair without a spike file is missing.
    Stimulus features and presets as in :class:`CRCNSAA1Dataset` (``"deepstrf"``: causal mel,
    250 Hz-8 kHz, cube root; ``"published"``: centred 32-band mel from 0 Hz to Nyquist).

    Neuron metadata: ``cell_id``, ``animal_id``, ``region`` (from ``cell_regions.csv``; ``'None'`` when
    unlisted), ``stim_classes`` (from ``cell_stim_classes.csv``), ``types`` (the stimulus folders),
    ``n_trials``. Stimulus metadata: ``name``, ``class``, ``sample_rate``, ``n_samples``, ``duration_s``.

    ``splits``: stratified by class, about 70/10/20 % (see :func:`stratified_split`).

    Args:
        root: Dataset folder; default ``<cache>/crcns-aa2``.
        download: Download the archives from CRCNS (needs an account).
        username: CRCNS user name (else ``CRCNS_USERNAME``).
        password: CRCNS password (else ``CRCNS_PASSWORD``; never shown or stored).
        regions: Regions to keep (see :data:`REGIONS`), default all.
        stim_classes: Stimulus classes to keep (conspecific, flatrip, songrip, unknown, bengalese), default all.
        dt_ms: Bin width in ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz); ``audio_fs * dt_ms / 1000`` must be an integer.
        preset: ``"deepstrf"`` (causal) or ``"published"``.
        n_frequency_bands: Mel bands (``"deepstrf"`` preset).
        f_min_hz: Lowest mel edge (``"deepstrf"`` preset).
        f_max_hz: Highest mel edge (``"deepstrf"`` preset).
        smooth: Smooth every trial as the published pipeline does (a 21 ms Hanning window of
            ``floor(21 / dt_ms)`` taps, made odd, not normalised, zero-padded and centred; see
            :func:`deepSTRF.datasets.smoothing.published_smooth_trials`); default ``True`` with
            ``preset="published"``, ``False`` otherwise.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If the data are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("crcns-aa2")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (True, 'about 180 MB unpacked')
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        regions: Sequence[str] | None = None,
        stim_classes: Sequence[str] | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 32000.0,
        preset: str = "deepstrf",
        smooth: bool | None = None,
        n_frequency_bands: int = 32,
        f_min_hz: float = 250.0,
        f_max_hz: float = 8000.0,
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        chosen_regions = check_selection("regions", regions, REGIONS)
        chosen_classes = check_selection("stim_classes", stim_classes, CLASSES)
        features = SongFeatures(dt_ms, waveform, audio_fs, hop, preset, n_frequency_bands, f_min_hz, f_max_hz)
        folder = fetch("crcns-aa2", root, download=download, username=username, password=password, progress=progress)
        base = find_aa2_base(folder)
        stim_info = _stim_classes(base, folder)
        region_of, classes_of = _regions(base, folder), _cell_classes(base, folder)

        cells: list[tuple[dict[str, Any], dict[str, list[Any]]]] = []
        for cell_dir in sorted(p for p in (base / "all_cells").iterdir() if p.is_dir()):
            region = region_of.get(cell_dir.name, "None")
            if chosen_regions is not None and region not in chosen_regions:
                continue
            types = sorted(p.name for p in cell_dir.iterdir() if p.is_dir())
            heard: dict[str, list[Any]] = {}
            for t in types:
                for wav, trials in read_aa1_cell(cell_dir / t, t).items():
                    klass = stim_info.get(wav, {}).get("class", "unknown")
                    if chosen_classes is None or klass in chosen_classes:
                        heard.setdefault(wav, []).extend(trials)
            meta = cell_meta(cell_dir.name, region)
            meta.pop("area")
            meta |= {"region": region, "stim_classes": classes_of.get(cell_dir.name, []), "types": types}
            meta["n_trials"] = max((len(v) for v in heard.values()), default=0)
            cells.append((meta, heard))
        if not cells:
            raise FileNotFoundError(f"CRCNS AA2: no cell in {base / 'all_cells'} for regions {chosen_regions}")

        names = sorted({w for _, heard in cells for w in heard},
                       key=lambda w: (stim_info.get(w, {}).get("class", "unknown"), w))  # fmt: skip
        stims, stim_meta, lengths = [], [], []
        for name in names:
            path = base / "all_stims" / name
            if not path.exists():
                raise FileNotFoundError(f"CRCNS AA2: {name} (named by a stim file) is not in {path.parent}")
            audio, sr = read_audio(str(path))
            stim, n_bins = features(audio, sr)
            stims.append(as_tensor(stim[None]))
            lengths.append(n_bins)
            stim_meta.append(
                {
                    "name": name,
                    "class": stim_info.get(name, {}).get("class", "unknown"),
                    "sample_rate": sr,
                    "n_samples": int(audio.size),
                    "duration_s": audio.size / sr,
                }
            )
        index = {n: s for s, n in enumerate(names)}
        responses: list[list[Any]] = [[None] * len(cells) for _ in names]
        for n, (_, heard) in enumerate(cells):
            for wav, trials in heard.items():
                s = index[wav]
                responses[s][n] = as_tensor(bin_spike_times(trials, lengths[s], dt_ms))
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=[meta for meta, _ in cells],
            audio_fs=audio_fs if waveform else None,
            name="CRCNS-AA2",
            info={**features.describe(), "source": AA2_URL},
        )
        if smooth is None:
            smooth = features.preset == "published"
        elif not isinstance(smooth, bool):
            raise TypeError(f"`smooth` must be a bool or None, got {type(smooth).__name__}")
        if smooth:
            apply_published_smoothing(self)
        self.splits = stratified_split([m["class"] for m in stim_meta], [m["name"] for m in stim_meta])

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy: layout, CSV columns, sample rates, spike format and documented counts.

        Args:
            root: Dataset folder (default: the cache folder).

        Returns:
            The report.

        Example:
            >>> import tempfile
            >>> CRCNSAA2Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        folder = dataset_folder("crcns-aa2", root)
        report = VerificationReport("crcns-aa2")
        base = report.attempt("layout crcns/aa2/all_cells", lambda: find_aa2_base(folder))
        if base is None:
            return report
        stim_info = _stim_classes(base, folder)
        regions = _regions(base, folder)
        report.check("stim_data.csv (wav, sr, bit depth, n_samples, class)", bool(stim_info),
                     f"{len(stim_info)} rows")  # fmt: skip
        report.check("cell_regions.csv (cell, ..., region)", bool(regions), f"{len(regions)} rows")
        report.check("cell_stim_classes.csv", _find_csv(base, folder, "cell_stim_classes.csv") is not None, "")
        unknown = sorted(set(regions.values()) - set(REGIONS))
        report.check("region names", not unknown, f"unexpected {unknown}" if unknown else "as documented")
        rates = {round(v["sample_rate"]) for v in stim_info.values()}
        report.check("stimulus sample rate 32 kHz", rates <= {32000}, f"found {sorted(rates)}")
        wavs = {p.name for p in (base / "all_stims").glob("*.wav")} if (base / "all_stims").is_dir() else set()
        report.check("all_stims/*.wav flat", bool(wavs), f"{len(wavs)} WAVs")
        cells = sorted(p for p in (base / "all_cells").iterdir() if p.is_dir())
        birds = {c.name.split("_")[0] for c in cells}
        unreadable = 0
        for cell in cells[:20]:
            for t in (p for p in cell.iterdir() if p.is_dir()):
                try:
                    read_aa1_cell(t, t.name)
                except ValueError:
                    unreadable += 1
        report.check(
            "spike files: one trial per line, ms", unreadable == 0, f"{unreadable} unreadable (first 20 cells)"
        )
        observed: dict[str, Any] = {"units": len(cells), "birds": len(birds)}
        for region in ("mld", "OV", "CM", "None"):
            observed[f"units_{region}"] = sum(regions.get(c.name, "None") == region for c in cells)
        observed["units_L"] = sum(regions.get(c.name, "None").startswith("L") for c in cells)
        for klass in ("conspecific", "flatrip", "songrip"):
            observed[f"stimuli_{klass}"] = sum(v["class"] == klass for v in stim_info.values())
        report.counts(observed, EXPECTED)
        return report
