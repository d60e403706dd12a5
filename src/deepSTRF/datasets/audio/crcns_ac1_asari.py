"""CRCNS AC1, Asari part: rat A1 whole-cell (39 cells) and MGB cell-attached (14 cells), sound sequences.

Recordings of H. Asari (Asari & Zador 2009) in CRCNS data set ac-1 (DOI 10.6080/K0KW5CXR; a free
CRCNS account is needed). Files: ``crcns-ac1-asari-results-{1,2}.zip`` unpack to
``asari-results-N/<yyyymmdd>-ha<k>-<NNN>/*.mat`` (one folder per cell); the stimuli are in
``crcns-ac1.zip`` (shared with the Wehr part) under ``asari/Stimuli/class<N>/<n>.mat``
(``stimulus.sample``, singular, and ``stimulus.param.sf`` = 97,656 Hz).

A recording file holds ``param.stimulus`` (1 x K, field ``file``), ``param.recording.site``
(containing "cortex" for A1, else MGB) and ``.type`` (whole cell, cell attached), ``triggers``
(type ``naturalsound``; ``param.description`` ``'Sequence n: a b c d e'``, 1-based indices into
``param.stimulus``; ``param.duration`` in ms; ``time``, the 1-based onset sample) and ``response``
(``trace``, ``scale``, ``sf`` = 10 kHz). A stimulus is the 5 segments concatenated without a gap,
each with a 5 ms cos² onset and offset ramp.

A1 responses are the membrane potential (mV) averaged per bin. MGB cells record spikes; they are
detected from the trace (subtract a 10 ms running median, then upward crossings of 2.5 standard
deviations of the result) and counted per bin. One dataset holds one site (``site='A1'`` or
``'MGB'``), so its responses have one unit. Malformed recording files are skipped with one warning.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._optional import require
from deepSTRF._validation import check_choice
from deepSTRF.datasets.audio._matfile import as_float, as_str, as_vector, field, items, load_mat
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._songbird import check_selection
from deepSTRF.datasets.audio._spectro import fit_length, resample
from deepSTRF.datasets.audio._wehr import (
    NATURAL_TYPES,
    apply_ramp,
    detrend_trace,
    find_folder,
    gate_repeat_traces,
    logfreq_spectrogram,
)
from deepSTRF.datasets.catalog import dataset_folder, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.verify import VerificationReport

__all__ = ["EXPECTED", "CRCNSAC1AsariDataset", "detect_spikes", "parse_sequence", "read_asari_recording"]

AC1_URL = "https://crcns.org/data-sets/ac/ac-1"
SEGMENT_RAMP_MS = 5.0
STIMULUS_FS = 97656.25
#: Documented figures for the real data (DATASETS.md, DATASETS-wave2.md).
EXPECTED = {"cells_A1": 39, "cells_MGB": 14, "response_sf_hz": 10000.0}
PRESETS = ("deepstrf", "published")
_SEQUENCE = re.compile(r"^\s*sequence\s*(\d+)\s*:\s*([\d\s]+)$", re.IGNORECASE)
_CELL = re.compile(r"^(\d{8})-(ha\d+)-(\d+)$")


def parse_sequence(description: str) -> tuple[int, list[int]]:
    """``(sequence number, 1-based segment indices)`` of ``'Sequence n: a b c d e'`` (any spacing).

    Raises:
        ValueError: If the description does not have that form.

    Example:
        >>> parse_sequence("Sequence 1: 2  1  3  1  4")
        (1, [2, 1, 3, 1, 4])
    """
    match = _SEQUENCE.match(description)
    if not match:
        raise ValueError(f"expected a description 'Sequence n: a b c d e', got {description!r}")
    return int(match[1]), [int(v) for v in match[2].split()]


def detect_spikes(trace: np.ndarray, sf: float, *, median_ms: float = 10.0, threshold_sd: float = 2.5) -> np.ndarray:
    """Spike times (ms) in a cell-attached trace: upward crossings of ``threshold_sd`` standard
    deviations of the trace minus its ``median_ms`` running median.

    Example:
        >>> x = np.zeros(1000); x[[200, 600]] = 10.0
        >>> detect_spikes(x, 1000.0).tolist()
        [200.0, 600.0]
    """
    ndimage = require("scipy.ndimage", extra="data", purpose="detecting spikes in cell-attached recordings")
    size = max(round(median_ms * sf / 1000.0) | 1, 1)
    high = trace - ndimage.median_filter(trace, size=size, mode="nearest")
    above = high > threshold_sd * high.std()
    onsets = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    return onsets * 1000.0 / sf


def read_asari_recording(path: str | os.PathLike[str]) -> dict[str, Any]:
    """One recording file: ``site``, ``recording_type``, ``sf``, ``trace`` (mV) and ``repeats``.

    Each repeat is ``(segment files, description, duration_ms, onset sample 0-based)``.

    Raises:
        ValueError: If the file lacks ``param.stimulus``, ``param.recording``, ``triggers`` or ``response``.
    """
    mat = load_mat(path)
    param = field(mat, "param", path)
    stimuli = items(field(param, "stimulus", path))
    files = [as_str(field(s, "file", path)).replace("\\", "/").lstrip("/") for s in stimuli]
    recording = field(param, "recording", path)
    site = as_str(field(recording, "site", path))
    response = field(mat, "response", path)
    sf = as_float(field(response, "sf", path))
    trace = as_vector(field(response, "trace", path)) * as_float(field(response, "scale", path))
    repeats = []
    for trig in items(field(mat, "triggers", path)):
        if as_str(field(trig, "type", path)).lower().replace(" ", "") not in NATURAL_TYPES:
            continue
        tparam = field(trig, "param", path)
        _, segments = parse_sequence(as_str(field(tparam, "description", path)))
        if any(i < 1 or i > len(files) for i in segments):
            raise ValueError(f"{path}: sequence {segments} indexes beyond the {len(files)} stimulus files")
        repeats.append(
            (
                tuple(files[i - 1] for i in segments),
                as_str(field(tparam, "description", path)),
                as_float(field(tparam, "duration", path)),
                round(as_float(field(trig, "time", path))) - 1,
            )
        )
    return {
        "site": "A1" if "cortex" in site.lower() else "MGB",
        "site_raw": site,
        "recording_type": as_str(recording.get("type", "")) if isinstance(recording, dict) else "",
        "sf": sf,
        "trace": trace,
        "repeats": repeats,
    }


def read_asari_segment(path: Path) -> tuple[np.ndarray, float]:
    """``(samples, sf)`` of an Asari stimulus segment (``stimulus.sample``; ``samples`` accepted too)."""
    stim = field(load_mat(path), "stimulus", path)
    samples = stim.get("sample", stim.get("samples")) if isinstance(stim, dict) else None
    if samples is None:
        raise ValueError(f"{path}: expected stimulus.sample")
    sf = as_float(field(field(stim, "param", path), "sf", path))
    return as_vector(samples), STIMULUS_FS if round(sf) == 97656 else sf


def _cell_folders(folder: Path) -> list[Path]:
    found = [p for p in folder.glob("**/asari-results-*/*") if p.is_dir() and _CELL.match(p.name)]
    return sorted(found, key=lambda p: p.name)


class CRCNSAC1AsariDataset(NeuralDataset):
    """CRCNS AC1, Asari part: A1 membrane potential (mV) or MGB spike counts, 5-segment sound sequences.

    Stimuli are the sequences heard by the selected cells (identified by their tuple of segment
    files), ordered by that tuple. ``T_s = min(floor(duration / dt_ms), floor(sound length / dt_ms))``;
    repeats cut short by the end of a recording are rejected. Stimuli: the log-frequency spectrogram
    of :class:`CRCNSAC1Dataset` (Hamming window ``2 * dt_ms``, 6 bands per octave from 100 Hz), or
    the waveform resampled to ``audio_fs``.

    Presets: ``"deepstrf"`` (default): raw membrane potential, bands up to 25.6 kHz (F = 49);
    ``"published"``: the baseline-detrended potential (100 ms running median then a σ = 10 ms
    Gaussian, computed on each repeat's slice alone, as the published pipeline), then the published repeat gating (see
    :class:`CRCNSAC1Dataset`; counts in ``nrn_meta[n]['gated_repeats']``), and bands up to 45 kHz
    (F = 53). MGB spikes are the same in both (the published pipeline's MGB gating and its smoothed
    spike-rate target are not reproduced).

    Neuron metadata: ``cell_id``, ``experimenter`` (asari), ``session``, ``date``, ``animal_id`` (ha1...),
    ``penetration``, ``site``, ``recording_type``, ``signal_type`` (subthresh or spikes), ``n_stims``,
    ``rejected_repeats``. Stimulus metadata: ``segment_files``, ``description``, ``category`` (the
    classes of the segments), ``sf``, ``duration_s``.

    ``splits``: a pinned 70/10/20 % split of the stimuli (ordered by the SHA-256 of their segment list).

    Args:
        root: Dataset folder; default ``<cache>/crcns-ac1`` (shared with :class:`CRCNSAC1Dataset`).
        download: Download the archives from CRCNS (needs an account; about 4.1 GB with the shared one).
        username: CRCNS user name (else ``CRCNS_USERNAME``).
        password: CRCNS password (else ``CRCNS_PASSWORD``; never shown or stored).
        site: ``'A1'`` (whole cell, mV) or ``'MGB'`` (cell attached, spike counts).
        animals: Animals (``'ha1'``...) to keep, default all.
        cell_types: Recording types to keep (e.g. ``'whole cell'``), default all.
        stim_classes: Segment classes (``'class1'``...) to keep: a sequence is kept when all its segments are.
        dt_ms: Bin width in ms; ``dt_ms * 10`` must be an integer (10 kHz recordings).
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz); ``audio_fs * dt_ms / 1000`` must be an integer.
        preset: ``"deepstrf"`` or ``"published"`` (see above).
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If the data are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> CRCNSAC1AsariDataset.__name__
        'CRCNSAC1AsariDataset'
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        site: str = "A1",
        animals: Sequence[str] | None = None,
        cell_types: Sequence[str] | None = None,
        stim_classes: Sequence[str] | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 48000.0,
        preset: str = "deepstrf",
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        check_choice("site", site, ["A1", "MGB"])
        check_choice("preset", preset, list(PRESETS))
        chosen_animals = check_selection("animals", animals)
        chosen_types = check_selection("cell_types", cell_types)
        chosen_classes = check_selection("stim_classes", stim_classes)
        f_max_hz = 45000.0 if preset == "published" else 25600.0
        detrend = "baseline_per_repeat" if preset == "published" else "none"
        gate = preset == "published" and site == "A1"
        n_gated = 0
        folder = fetch(
            "crcns-ac1-asari", root, download=download, username=username, password=password, progress=progress
        )
        asari = find_folder(folder, "asari")
        if asari is None or not (asari / "Stimuli").is_dir():
            raise FileNotFoundError(f"CRCNS AC1 Asari: no 'asari/Stimuli' folder within two levels of {folder}")

        cells: list[tuple[dict[str, Any], dict[tuple[str, ...], list[np.ndarray]], dict[tuple[str, ...], Any]]] = []
        skipped: list[str] = []
        for cell_dir in _cell_folders(folder):
            date, animal, penetration = _CELL.match(cell_dir.name).groups()  # type: ignore[union-attr]
            if chosen_animals is not None and animal not in chosen_animals:
                continue
            grouped: dict[tuple[str, ...], list[np.ndarray]] = defaultdict(list)
            descriptions: dict[tuple[str, ...], tuple[str, float]] = {}
            meta: dict[str, Any] | None = None
            n_bad = 0
            for path in sorted(cell_dir.glob("*.mat")):
                try:
                    rec = read_asari_recording(path)
                except ValueError:
                    skipped.append(f"{cell_dir.name}/{path.name}")
                    continue
                if rec["site"] != site or (chosen_types is not None and rec["recording_type"] not in chosen_types):
                    continue
                sf = rec["sf"]
                block = sf * dt_ms / 1000.0
                if abs(block - round(block)) > 1e-9:
                    raise ValueError(f"`dt_ms` * sf / 1000 must be an integer, got {dt_ms} * {sf} / 1000")
                if meta is None:
                    meta = {
                        "cell_id": cell_dir.name,
                        "experimenter": "asari",
                        "session": cell_dir.name,
                        "date": date,
                        "animal_id": animal,
                        "penetration": penetration,
                        "site": rec["site"],
                        "site_raw": rec["site_raw"],
                        "recording_type": rec["recording_type"],
                        "signal_type": "subthresh" if site == "A1" else "spikes",
                        "response_sf_hz": sf,
                    }
                trace = rec["trace"]  # A1 + published preset: each repeat's slice is detrended alone
                spikes = detect_spikes(trace, sf) if site == "MGB" else None
                for segs, desc, duration, onset in rec["repeats"]:
                    if chosen_classes is not None and any(s.split("/")[0] not in chosen_classes for s in segs):
                        continue
                    n = round(duration * sf / 1000.0)
                    if onset < 0 or onset + n > trace.size:
                        n_bad += 1
                        continue
                    if spikes is None:
                        grouped[segs].append(detrend_trace(trace[onset : onset + n], sf, detrend))
                    else:
                        t0 = onset * 1000.0 / sf
                        grouped[segs].append(spikes[(spikes >= t0) & (spikes < t0 + duration)] - t0)
                    old = descriptions.get(segs, (desc, duration))
                    descriptions[segs] = (old[0], min(old[1], duration))
            if meta is not None and gate:
                gated_counts = dict.fromkeys(("range", "step", "xcorr"), 0)
                for segs in list(grouped):
                    reasons = gate_repeat_traces(grouped[segs], float(meta["response_sf_hz"]))
                    for why in reasons:
                        if why != "kept":
                            gated_counts[why] += 1
                    grouped[segs] = [r for r, why in zip(grouped[segs], reasons) if why == "kept"]
                    if not grouped[segs]:
                        del grouped[segs]
                meta["gated_repeats"] = gated_counts
                n_gated += sum(gated_counts.values())
            if meta is not None:
                meta["rejected_repeats"] = n_bad
                meta["n_stims"] = len(grouped)
                cells.append((meta, dict(grouped), descriptions))
        if skipped:
            warnings.warn(
                f"CRCNS AC1 Asari: skipped {len(skipped)} malformed recording file(s): {', '.join(skipped)}",
                UserWarning,
                stacklevel=2,
            )
        self.skipped_files = skipped
        if n_gated:
            warnings.warn(f"CRCNS AC1 Asari: {n_gated} repeats rejected by the gating", UserWarning, stacklevel=2)
        keys = sorted({k for _, grouped, _ in cells for k in grouped})
        if not keys:
            raise ValueError(f"CRCNS AC1 Asari: no {site} natural-sound sequence found under {folder}")

        segment_cache: dict[str, tuple[np.ndarray, float]] = {}
        stims, stim_meta, lengths = [], [], []
        for key in keys:
            parts = []
            for rel in key:
                if rel not in segment_cache:
                    path = asari / "Stimuli" / rel
                    if not path.exists():
                        raise FileNotFoundError(f"CRCNS AC1 Asari: segment {rel} is not in {path.parent}")
                    segment_cache[rel] = read_asari_segment(path)
                samples, sf = segment_cache[rel]
                parts.append(apply_ramp(samples, sf, SEGMENT_RAMP_MS))
            sound = np.concatenate(parts)
            desc = next(d[key][0] for _, _, d in cells if key in d)
            duration = min(d[key][1] for _, _, d in cells if key in d)
            n_bins = int(np.floor(min(duration, 1000.0 * sound.size / sf) / dt_ms + 1e-9))
            if waveform:
                stim = fit_length(resample(sound, sf, float(audio_fs)), n_bins * int(hop or 0))
            else:
                stim = logfreq_spectrogram(sound, sf, dt_ms, n_bins, 100.0, f_max_hz, 6)
            stims.append(as_tensor(stim[None]))
            lengths.append(n_bins)
            stim_meta.append(
                {
                    "experimenter": "asari",
                    "segment_files": list(key),
                    "description": desc,
                    "category": sorted({k.split("/")[0] for k in key}),
                    "sf": sf,
                    "duration_s": sound.size / sf,
                }
            )
        responses: list[list[Any]] = [[None] * len(cells) for _ in keys]
        index = {k: s for s, k in enumerate(keys)}
        for n, (meta, grouped, _) in enumerate(cells):
            for key, reps in grouped.items():
                s, t = index[key], lengths[index[key]]
                if site == "MGB":
                    counts = np.zeros((len(reps), t))
                    for r, times in enumerate(reps):
                        idx = np.floor(times / dt_ms).astype(int)
                        np.add.at(counts[r], idx[(idx >= 0) & (idx < t)], 1.0)
                    responses[s][n] = as_tensor(counts)
                else:
                    b = round(meta["response_sf_hz"] * dt_ms / 1000.0)
                    responses[s][n] = as_tensor(np.stack([r[: t * b].reshape(t, b).mean(1) for r in reps]))
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=[meta for meta, _, _ in cells],
            audio_fs=audio_fs if waveform else None,
            name=f"CRCNS-AC1-Asari-{site}",
            info={
                "stimulus": "waveform" if waveform else "causal log-frequency spectrogram (dB)",
                "response_unit": "mV" if site == "A1" else "spikes per bin",
                "preset": preset,
                "detrend": detrend if site == "A1" else "spike detection",
                "gate_repeats": gate,
                "f_range_hz": (100.0, f_max_hz),
                "source": AC1_URL,
            },
        )
        order = sorted(range(len(keys)), key=lambda s: hashlib.sha256("/".join(keys[s]).encode()).hexdigest())
        n_test, n_val = round(0.2 * len(order)), round(0.1 * len(order))
        self.splits = {
            "train": sorted(order[: len(order) - n_test - n_val]),
            "val": sorted(order[len(order) - n_test - n_val : len(order) - n_test]),
            "test": sorted(order[len(order) - n_test :]),
        }

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy: layout, variables, sampling rates, sequences and documented cell counts.

        Args:
            root: Dataset folder (default: the cache folder, shared with the Wehr part).

        Returns:
            The report.

        Example:
            >>> import tempfile
            >>> CRCNSAC1AsariDataset.verify(tempfile.mkdtemp()).ok
            False
        """
        folder = dataset_folder("crcns-ac1-asari", root)
        report = VerificationReport("crcns-ac1-asari")
        asari = find_folder(folder, "asari") if folder.is_dir() else None
        if asari is None or not report.check("asari/Stimuli", (asari / "Stimuli").is_dir(), str(folder)):
            if asari is None:
                report.check("asari/Stimuli", False, f"no 'asari' folder in {folder}")
            return report
        cells = _cell_folders(folder)
        report.check("cell folders asari-results-N/<yyyymmdd>-ha<k>-<NNN>", bool(cells), f"{len(cells)} folders")
        sites: dict[str, int] = {"A1": 0, "MGB": 0}
        rates, bad, sequences = set(), [], 0
        for cell in cells:
            first = next(iter(sorted(cell.glob("*.mat"))), None)
            if first is None:
                bad.append(f"{cell.name} (no .mat)")
                continue
            try:
                rec = read_asari_recording(first)
            except ValueError as err:
                bad.append(f"{cell.name}/{first.name}: {err}")
                continue
            sites[rec["site"]] += 1
            rates.add(rec["sf"])
            sequences += all(len(r[0]) == 5 for r in rec["repeats"])
        report.check("recording variables param/triggers/response", not bad, "; ".join(bad[:5]) or "all read")
        report.check("response sf 10 kHz", rates <= {EXPECTED["response_sf_hz"]}, f"found {sorted(rates)}")
        report.check("5-segment sequences", sequences == len(cells) - len(bad), f"{sequences} cells")
        segments = sorted((asari / "Stimuli").glob("class*/*.mat"))
        seg_rates = set()
        for path in segments[:5]:
            try:
                seg_rates.add(round(read_asari_segment(path)[1]))
            except ValueError as err:
                report.check(f"segment {path.name} has stimulus.sample", False, str(err))
        report.check("segment sf 97,656 Hz", bool(segments) and seg_rates <= {97656}, f"found {sorted(seg_rates)}")
        report.counts({"cells_A1": sites["A1"], "cells_MGB": sites["MGB"]},
                      {k: v for k, v in EXPECTED.items() if k.startswith("cells")})  # fmt: skip
        return report
