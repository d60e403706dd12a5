"""CRCNS AA4: zebra finch auditory units (Theunissen lab), one HDF5 file per unit, 6 animals.

CRCNS data set aa-4 (DOI 10.6080/K00C4T06; a free CRCNS account is needed). One archive per
animal, ``<animal>.tar.gz``, wrapping ``<animal>/``: one file per unit,
``Site<S>_L<um>R<um>_e<elec>_s<sortid>[_ss<n>].h5``, and the sounds in
``<animal>/wavfiles/stim<key>.wav`` (24,414 Hz). A unit file holds root attributes
``sortType`` (single, multi, noise, tdt; sometimes "singl"), ``site``, ``electrode``,
``ldepth``, ``rdepth``, ``sortid``; one group per stimulus class (``class_info`` and
``extra_info`` are not classes), then one group per stimulus ``<key>`` with attributes
``stim_type`` (song, call, mlnoise), ``stim_md5``, ``stim_class``, ``stim_duration`` (s), then
one sub-group per trial holding ``spike_times`` (s from onset).

Documented counts: 1401 units (914 single), about 130 stimuli per animal, 170 unique ones.
Stimuli are de-duplicated across animals by their MD5. Trials without spikes and
(stimulus, unit) pairs without any spike are kept (they are responses of zero). The
download can be partial: ``animals=["GreBlu9508M"]`` fetches that archive only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._optional import require
from deepSTRF.datasets.audio._aa1_files import stratified_split
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._songbird import SongFeatures, check_selection
from deepSTRF.datasets.audio._spectro import read_audio
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.catalog import dataset_folder, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.smoothing import apply_published_smoothing
from deepSTRF.datasets.verify import VerificationReport

__all__ = ["ANIMALS", "EXPECTED", "CRCNSAA4Dataset", "normalise_sort_type", "read_aa4_unit"]

AA4_URL = "https://crcns.org/data-sets/aa/aa-4"
#: The six animals, one archive each (the parts of the `crcns-aa4` catalogue entry).
ANIMALS = ("BlaBro09xxF", "GreBlu9508M", "LblBlu2028M", "WhiBlu5396M", "WhiWhi4522M", "YelBlu6903F")
SORT_TYPES = ("single", "multi", "noise", "tdt")
STIM_TYPES = ("song", "call", "mlnoise")
AUDIO_FS = 24414.0
#: Documented figures for the real data (DATASETS-wave2.md). The per-animal counts, in the order of
#: ``ANIMALS``, add up to 1343, not 1401: ``verify()`` reports whichever does not hold.
EXPECTED = {
    "units": 1401,
    "single_units": 914,
    "unique_stimuli": 170,
    "units_per_animal": dict(zip(ANIMALS, (151, 355, 53, 198, 304, 282), strict=True)),
}
_NOT_CLASSES = ("class_info", "extra_info")


def normalise_sort_type(value: Any) -> str:
    """``sortType`` as one of single, multi, noise, tdt (the typo "singl" is single).

    Example:
        >>> normalise_sort_type(b"singl"), normalise_sort_type("Multi")
        ('single', 'multi')
    """
    text = value.decode() if isinstance(value, bytes) else str(value)
    text = text.strip().lower()
    return "single" if text.startswith("singl") else text


def _attr(attrs: Any, key: str, default: Any = None) -> Any:
    value = attrs.get(key, default)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(()).item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_aa4_unit(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One unit file: ``(unit attributes, {md5: stimulus})``.

    Each stimulus dict has ``key``, ``stim_type``, ``stim_class``, ``duration_s``, ``md5``,
    ``class_group`` and ``trials`` (spike times in ms, one array per trial, in trial order).

    Raises:
        ValueError: If the file lacks the documented attributes or groups.
    """
    h5py = require("h5py", extra="data", purpose="reading CRCNS AA4 unit files")
    with h5py.File(path, "r") as fh:
        if "sortType" not in fh.attrs:
            raise ValueError(f"{path}: expected a root attribute 'sortType', found {sorted(fh.attrs)}")
        unit = {k: _attr(fh.attrs, k) for k in ("sortType", "site", "electrode", "ldepth", "rdepth", "sortid")}
        stims: dict[str, dict[str, Any]] = {}
        for class_name, group in fh.items():
            if class_name in _NOT_CLASSES or not isinstance(group, h5py.Group):
                continue
            for key, stim in group.items():
                if "stim_md5" not in stim.attrs:
                    raise ValueError(f"{path}: stimulus group {class_name}/{key} has no 'stim_md5' attribute")
                trials = []
                for trial_name in sorted(stim, key=lambda n: (len(n), n)):
                    trial = stim[trial_name]
                    if not isinstance(trial, h5py.Group) or "spike_times" not in trial:
                        raise ValueError(f"{path}: trial {class_name}/{key}/{trial_name} has no 'spike_times'")
                    trials.append(1000.0 * np.asarray(trial["spike_times"][()], dtype=np.float64).ravel())
                md5 = str(_attr(stim.attrs, "stim_md5")).lower()
                stims[md5] = {
                    "key": str(key),
                    "stim_type": str(_attr(stim.attrs, "stim_type", "")),
                    "stim_class": str(_attr(stim.attrs, "stim_class", "")),
                    "duration_s": float(_attr(stim.attrs, "stim_duration", float("nan"))),
                    "md5": md5,
                    "class_group": class_name,
                    "trials": trials,
                }
    return unit, stims


def _unit_files(folder: Path, animals: Sequence[str]) -> list[tuple[str, Path]]:
    out = []
    for animal in animals:
        base = folder / animal
        out += [(animal, p) for p in sorted(base.glob("*.h5"))] if base.is_dir() else []
    return out


class CRCNSAA4Dataset(NeuralDataset):
    """CRCNS AA4 (Theunissen lab): zebra finch units, one HDF5 file each; songs, calls and ml-noise.

    Stimuli are the unique sounds (by MD5) heard by the selected units, ordered by type then
    MD5; each comes from the first ``wavfiles/stim<key>.wav`` found. Responses are spike counts
    per bin over ``[0, T * dt_ms)``, one row per trial, zero trials kept; a pair never presented
    is missing. Stimulus features and presets: see :class:`CRCNSAA1Dataset` (``"deepstrf"`` is
    causal; ``"published"`` is the published centred 0-Nyquist mel spectrogram).

    Neuron metadata: ``cell_id`` (``<animal>/<file stem>``), ``animal_id``, ``sort_type`` (normalised),
    ``sort_type_raw``, ``site``, ``electrode``, ``ldepth_um``, ``rdepth_um``, ``sortid``, ``n_stims``.
    Stimulus metadata: ``md5``, ``type``, ``stim_class``, ``duration_s``, ``keys`` (``{animal: key}``),
    ``sample_rate``, ``n_samples``.

    ``splits``: stratified by type, about 70/10/20 % (see :func:`stratified_split`).

    Args:
        root: Dataset folder; default ``<cache>/crcns-aa4``.
        download: Download the missing animal archives from CRCNS (needs an account).
        username: CRCNS user name (else ``CRCNS_USERNAME``).
        password: CRCNS password (else ``CRCNS_PASSWORD``; never shown or stored).
        animals: Animals to load (and download); default all six (with ``download=False``, all those
            already in the folder).
        sort_types: Unit sort types to keep among single, multi, noise, tdt (default all).
        stim_types: Stimulus types to keep among song, call, mlnoise (default all).
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
        >>> info = get_dataset_info("crcns-aa4")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (True, 'several hundred MB per animal (one archive each)')
        >>> info.part_names  # pieces that can be fetched alone (``deepstrf download --part``)
        ['BlaBro09xxF', 'GreBlu9508M', 'LblBlu2028M', 'WhiBlu5396M', 'WhiWhi4522M', 'YelBlu6903F', 'code']
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        animals: Sequence[str] | None = None,
        sort_types: Sequence[str] | None = None,
        stim_types: Sequence[str] | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 24000.0,
        preset: str = "deepstrf",
        smooth: bool | None = None,
        n_frequency_bands: int = 32,
        f_min_hz: float = 250.0,
        f_max_hz: float = 8000.0,
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        chosen = check_selection("animals", animals, ANIMALS)
        if chosen is None:  # every animal; offline, those already in the folder
            here = dataset_folder("crcns-aa4", root)
            found = [a for a in ANIMALS if (here / a).is_dir() or (here / f"{a}.tar.gz").exists()]
            chosen = list(ANIMALS) if download or not found else found
        sorts = check_selection("sort_types", sort_types, SORT_TYPES)
        types = check_selection("stim_types", stim_types, STIM_TYPES)
        features = SongFeatures(dt_ms, waveform, audio_fs, hop, preset, n_frequency_bands, f_min_hz, f_max_hz)
        folder = fetch(
            "crcns-aa4",
            root,
            parts=chosen,
            download=download,
            username=username,
            password=password,
            progress=progress,
        )
        units: list[dict[str, Any]] = []
        heard: list[dict[str, dict[str, Any]]] = []
        catalogue: dict[str, dict[str, Any]] = {}
        for animal, path in _unit_files(folder, chosen):
            attrs, stims = read_aa4_unit(path)
            sort_type = normalise_sort_type(attrs["sortType"])
            if sorts is not None and sort_type not in sorts:
                continue
            stims = {m: s for m, s in stims.items() if types is None or s["stim_type"] in types}
            units.append(
                {
                    "cell_id": f"{animal}/{path.stem}",
                    "animal_id": animal,
                    "sort_type": sort_type,
                    "sort_type_raw": attrs["sortType"],
                    "site": attrs["site"],
                    "electrode": attrs["electrode"],
                    "ldepth_um": attrs["ldepth"],
                    "rdepth_um": attrs["rdepth"],
                    "sortid": attrs["sortid"],
                    "n_stims": len(stims),
                }
            )
            heard.append(stims)
            for md5, s in stims.items():
                entry = catalogue.setdefault(md5, {"type": s["stim_type"], "stim_class": s["stim_class"], "keys": {}})
                entry.setdefault("duration_s", s["duration_s"])
                entry["keys"].setdefault(animal, s["key"])
        if not units:
            raise FileNotFoundError(f"CRCNS AA4: no unit file (*.h5) for {chosen} in {folder}")

        order = sorted(catalogue, key=lambda m: (catalogue[m]["type"], m))
        stims_out, stim_meta, lengths = [], [], []
        for md5 in order:
            entry = catalogue[md5]
            wav = next(
                (
                    folder / a / "wavfiles" / f"stim{k}.wav"
                    for a, k in entry["keys"].items()
                    if (folder / a / "wavfiles" / f"stim{k}.wav").exists()
                ),
                None,
            )
            if wav is None:
                raise FileNotFoundError(f"CRCNS AA4: no wavfiles/stim<key>.wav for stimulus {md5} ({entry['keys']})")
            audio, sr = read_audio(str(wav))
            stim, n_bins = features(audio, sr)
            stims_out.append(as_tensor(stim[None]))
            lengths.append(n_bins)
            stim_meta.append(
                {
                    "md5": md5,
                    "type": entry["type"],
                    "stim_class": entry["stim_class"],
                    "duration_s": entry["duration_s"],
                    "keys": dict(entry["keys"]),
                    "sample_rate": sr,
                    "n_samples": int(audio.size),
                    "wav_file": wav.relative_to(folder).as_posix(),
                }
            )
        index = {m: s for s, m in enumerate(order)}
        responses: list[list[Any]] = [[None] * len(units) for _ in order]
        for n, stims in enumerate(heard):
            for md5, s in stims.items():
                responses[index[md5]][n] = as_tensor(bin_spike_times(s["trials"], lengths[index[md5]], dt_ms))
        super().__init__(
            stims_out,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=units,
            audio_fs=audio_fs if waveform else None,
            name="CRCNS-AA4",
            info={**features.describe(), "animals": chosen, "source": AA4_URL},
        )
        if smooth is None:
            smooth = features.preset == "published"
        elif not isinstance(smooth, bool):
            raise TypeError(f"`smooth` must be a bool or None, got {type(smooth).__name__}")
        if smooth:
            apply_published_smoothing(self)
        self.splits = stratified_split([m["type"] for m in stim_meta], [m["md5"] for m in stim_meta])

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy: file layout, attributes, sample rate and the documented counts.

        Args:
            root: Dataset folder (default: the cache folder).

        Returns:
            The report (``report.ok``, ``report.failed``).

        Example:
            >>> import tempfile
            >>> CRCNSAA4Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        folder = dataset_folder("crcns-aa4", root)
        report = VerificationReport("crcns-aa4")
        present = [a for a in ANIMALS if (folder / a).is_dir()]
        report.check("animal folders", len(present) == len(ANIMALS), f"found {present}")
        files = _unit_files(folder, present)
        report.check(
            "unit files <animal>/Site*_e*_s*.h5",
            bool(files) and all(p.name.startswith("Site") for _, p in files),
            f"{len(files)} files",
        )
        per_animal: dict[str, int] = {a: 0 for a in present}
        n_single, md5s, sort_seen, types_seen, rates = 0, set(), set(), set(), set()
        too_late = 0
        for animal, path in files:
            read = report.attempt(f"read {animal}/{path.name}", lambda p=path: read_aa4_unit(p))  # type: ignore[misc]
            if read is None:
                continue
            report.checks.pop()  # one line per unreadable file only
            attrs, stims = read
            per_animal[animal] += 1
            sort_type = normalise_sort_type(attrs["sortType"])
            sort_seen.add(sort_type)
            n_single += sort_type == "single"
            for md5, s in stims.items():
                md5s.add(md5)
                types_seen.add(s["stim_type"])
                limit_ms = 1000.0 * (s["duration_s"] + 10.0)  # spikes in s: none 10 s after the sound ends
                too_late += sum(bool(t.size and t.max() > limit_ms) for t in s["trials"])
        report.check("spike_times in seconds from onset", too_late == 0, f"{too_late} trials with spikes > 10 s late")
        report.check("sortType values", sort_seen <= set(SORT_TYPES), f"found {sorted(sort_seen)}")
        report.check("stim_type values", types_seen <= set(STIM_TYPES), f"found {sorted(types_seen)}")
        for animal in present:
            for wav in sorted((folder / animal / "wavfiles").glob("*.wav"))[:3]:
                rates.add(read_audio(str(wav))[1])
        report.check(
            "WAV sample rate 24414 Hz",
            rates == {AUDIO_FS} or {round(r) for r in rates} == {24414},
            f"found {sorted(rates)}",
        )
        expected = {
            "units": EXPECTED["units"],
            "single_units": EXPECTED["single_units"],
            "unique_stimuli": EXPECTED["unique_stimuli"],
        }
        if len(present) == len(ANIMALS):
            report.counts({"units": len(files), "single_units": n_single, "unique_stimuli": len(md5s)}, expected)
        for animal in present:
            want = EXPECTED["units_per_animal"][animal]  # type: ignore[index]
            report.check(
                f"count units of {animal}", per_animal[animal] == want, f"found {per_animal[animal]}, documented {want}"
            )
        return report
