"""CRCNS AC1 (Wehr): rat primary auditory cortex, whole-cell membrane potential, natural sounds.

CRCNS data set ac-1 (DOI 10.6080/K0KW5CXR; a free CRCNS account is needed), recorded by
M. Wehr in anaesthetised rats (Machens, Wehr & Zador 2004): 25 cells, each with its own set
of 3 to 63 natural sound clips (7.5-15 s) and several repeats. Responses are the membrane
potential in mV, averaged in bins (a signed target: use an MSE-type loss, not Poisson).
The Asari part of the data set (A1 and MGB) is not loaded by this class.

Facts not yet checked against the real files (implemented as documented; errors name the
file if they differ): the stimulus sample rate (read from each file), the trace dtype, and
the ``MakeRamp`` onset/offset ramp of the dataset's tools, reproduced here as a cos² ramp of
``ramp_ms`` (its exact shape and length are not verified).
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, resample
from deepSTRF.datasets.audio._wehr import (
    Repeat,
    apply_ramp,
    find_folder,
    gate_repeat_traces,
    logfreq_spectrogram,
    read_wehr_recording,
    read_wehr_stimulus,
    stimulus_descriptions,
)
from deepSTRF.datasets.catalog import download_dataset, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.verify import VerificationReport

AC1_URL = "https://crcns.org/data-sets/ac/ac-1"
USED_CELLS = tuple(i for i in range(25) if i not in (1, 2, 4, 8))  # the 21 cells of Rançon et al. 2024/2025
# (train, val, test) stimulus counts per Wehr cell (index in the sorted session list)
SPLIT_COUNTS = (
    (7, 2, 2), (5, 1, 1), (3, 1, 1), (7, 1, 1), (1, 1, 1), (6, 1, 1), (3, 1, 1), (1, 1, 1), (4, 1, 1),
    (7, 1, 2), (11, 2, 3), (25, 4, 7), (7, 1, 2), (25, 4, 7), (7, 1, 1), (14, 3, 5), (25, 4, 7), (17, 3, 5),
    (5, 1, 1), (11, 2, 3), (5, 1, 1), (12, 2, 4), (7, 2, 2), (44, 6, 13), (4, 1, 1),
)  # fmt: skip


def download_ac1(
    root: str | os.PathLike[str] | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Deprecated: use ``deepSTRF.datasets.catalog.download_dataset("crcns-ac1", root, username=..., password=...)``.

    Example:
        >>> callable(download_ac1)
        True
    """
    warnings.warn(
        'download_ac1 is deprecated; use deepSTRF.datasets.catalog.download_dataset("crcns-ac1", root)',
        DeprecationWarning,
        stacklevel=2,
    )
    return download_dataset("crcns-ac1", root, username=username, password=password, progress=progress)


def cell_split(session: str, stim_ids: list[int], counts: tuple[int, int, int] | None) -> dict[str, list[int]]:
    """Pinned per-cell split: stimuli ordered by SHA-256 of ``session/index``, then cut by ``counts``.

    Without ``counts`` (or when they do not add up to the number of stimuli) the cut is 70/10/20 %.

    Args:
        session: The cell's session name (seeds the order).
        stim_ids: The dataset indices of the stimuli the cell heard.
        counts: Published ``(train, val, test)`` counts, or ``None``.

    Returns:
        ``{'train', 'val', 'test'}`` lists of stimulus indices, sorted.

    Example:
        >>> sorted(len(v) for v in cell_split("s", list(range(10)), None).values())
        [1, 2, 7]
    """
    order = sorted(stim_ids, key=lambda s: hashlib.sha256(f"{session}/{s}".encode()).hexdigest())
    n = len(order)
    if counts is None or sum(counts) != n:
        n_test, n_val = round(0.2 * n), round(0.1 * n)
        counts = (n - n_test - n_val, n_val, n_test)
    a, b = counts[0], counts[0] + counts[1]
    return {"train": sorted(order[:a]), "val": sorted(order[a:b]), "test": sorted(order[b:])}


def _stim_key(rel: str) -> tuple[str, float, str]:
    folder, _, name = rel.rpartition("/")
    stem = Path(name).stem
    return folder, float(stem) if stem.isdigit() else math.inf, name


def _session_meta(session: str, idx: int, n_stims: int) -> dict[str, Any]:
    parts = session.split("-")
    return {
        "cell_id": session,
        "experimenter": "wehr",
        "session": session,
        "date": parts[0],
        "animal_id": parts[1] if len(parts) > 1 else None,
        "penetration": parts[2] if len(parts) > 2 else None,
        "site": "A1",
        "recording_type": "whole cell",
        "signal_type": "subthresh",
        "wehr_cell_idx": idx,
        "used_in_rancon2025": idx in USED_CELLS,
        "n_stims": n_stims,
        "rejected_repeats": 0,
    }


EXPECTED = {"cells": 25}


class CRCNSAC1Dataset(NeuralDataset):
    """CRCNS AC1, Wehr recordings: 25 rat A1 cells, whole-cell membrane potential (mV), natural sounds.

    Stimuli are the natural sounds that any cell heard (files under ``wehr/Stimuli``), ordered by
    folder and index. Each cell heard its own subset, so the (stimulus, cell) grid is sparse: a
    pair never presented is missing. ``T_s = min(floor(duration / dt_ms), floor(sound length / dt_ms))``;
    responses are the mean of ``trace * scale`` (mV) over the samples of each bin, one row per
    repeat. Repeats cut short by the end of a recording are rejected (counted in
    ``rejected_repeats``). Responses are raw by default; ``detrend='baseline'`` subtracts a slow
    baseline (100 ms running median, then a σ = 10 ms Gaussian), computed on the whole trace;
    ``detrend='baseline_per_repeat'`` computes it on each repeat's slice alone, as the published
    pipeline (see :func:`~deepSTRF.datasets.audio._wehr.detrend_trace`).

    Stimuli (after an onset/offset cos² ramp of ``ramp_ms``): the published log-frequency
    spectrogram (Hamming window of ``2 * dt_ms``, ``bands_per_octave`` bands per octave from
    ``f_min_hz`` to ``f_max_hz``, 49 bands by default, ``20 log10 |X|``), computed causally with frame
    ends placed without drift; bands above a sound's Nyquist frequency hold the -120 dB floor. Or,
    with ``waveform=True``, the sound resampled to ``audio_fs``.

    Neuron metadata: ``cell_id``, ``experimenter``, ``session``, ``date``, ``animal_id``, ``penetration``,
    ``site``, ``recording_type``, ``signal_type``, ``wehr_cell_idx``, ``used_in_rancon2025`` (the 21 cells
    of the deepSTRF benchmarks), ``n_stims``, ``rejected_repeats``. Stimulus metadata: ``experimenter``,
    ``file``, ``category``, ``idx``, ``description``, ``sf``, ``duration_s``.

    Models are fitted per cell; ``cell_splits[n]`` gives cell ``n``'s train/val/test stimulus indices,
    with the published per-cell counts (for the real cells) applied to a pinned order (see
    :func:`cell_split`). There is no population split, so ``splits`` is empty.

    Args:
        root: Dataset folder; default ``<cache>/crcns-ac1``.
        download: Download the archive from CRCNS (needs an account; about 1.1 GB).
        username: CRCNS user name (else ``CRCNS_USERNAME``); used only to download.
        password: CRCNS password (else ``CRCNS_PASSWORD``); never shown or stored.
        dt_ms: Bin width in ms; ``dt_ms * sf / 1000`` must be an integer for the 4 kHz recordings.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz); ``audio_fs * dt_ms / 1000`` must be an integer.
        detrend: ``'none'``, ``'baseline'`` or ``'baseline_per_repeat'``; default from ``preset``.
        gate_repeats: Reject artefactual repeats as the published pipeline does (see
            :class:`~deepSTRF.datasets.audio._wehr.RepeatGate`: ``|v| > 150`` mV, a sustained 30 mV step
            on more than 0.5 % of samples, or a correlation below 0.05 with the other repeats' median);
            the counts per cell are in ``nrn_meta[n]['gated_repeats']``. Default from ``preset``.
        ramp_ms: Length of the onset and offset ramps applied to each sound (0 for none); default from ``preset``.
        f_min_hz: Lowest spectrogram frequency.
        f_max_hz: Highest spectrogram frequency; default from ``preset``.
        bands_per_octave: Spectrogram bands per octave.
        preset: ``"deepstrf"`` (raw potential, 5 ms cos² ramp, bands to 25.6 kHz: F = 49, as the Wehr
            papers) or ``"published"`` (the published pipeline: potential detrended per repeat, no ramp,
            bands to 45 kHz: F = 53, and its repeat gating). Explicit ``detrend``, ``gate_repeats``,
            ``ramp_ms`` and ``f_max_hz`` override the preset.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If the data are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> CRCNSAC1Dataset.__name__
        'CRCNSAC1Dataset'
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 48000.0,
        detrend: str | None = None,
        gate_repeats: bool | None = None,
        ramp_ms: float | None = None,
        f_min_hz: float = 100.0,
        f_max_hz: float | None = None,
        bands_per_octave: int = 6,
        preset: str = "deepstrf",
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        check_choice("preset", preset, ["deepstrf", "published"])
        published = preset == "published"
        detrend = detrend if detrend is not None else ("baseline_per_repeat" if published else "none")
        ramp_ms = ramp_ms if ramp_ms is not None else (0.0 if published else 5.0)
        if gate_repeats is None:
            gate_repeats = published
        elif not isinstance(gate_repeats, bool):
            raise TypeError(f"`gate_repeats` must be a bool or None, got {type(gate_repeats).__name__}")
        f_max_hz = f_max_hz if f_max_hz is not None else (45000.0 if published else 25600.0)
        check_choice("detrend", detrend, ["none", "baseline", "baseline_per_repeat"])
        ramp_ms = check_positive_float("ramp_ms", ramp_ms, allow_zero=True)
        f_min_hz, f_max_hz = check_positive_float("f_min_hz", f_min_hz), check_positive_float("f_max_hz", f_max_hz)
        bands_per_octave = check_int("bands_per_octave", bands_per_octave)
        if f_min_hz >= f_max_hz:
            raise ValueError(f"`f_min_hz` must be below `f_max_hz`, got {f_min_hz} and {f_max_hz}")
        folder = fetch(
            "crcns-ac1",
            root,
            files=["crcns-ac1.zip"],
            download=download,
            username=username,
            password=password,
            progress=progress,
        )
        wehr = find_folder(folder, "wehr")
        if wehr is None or not (wehr / "Results").is_dir():
            raise FileNotFoundError(f"CRCNS AC1: no 'wehr/Results' folder within two levels of {folder}")
        sessions = sorted(p for p in (wehr / "Results").iterdir() if p.is_dir())

        by_cell: list[dict[str, list[Repeat]]] = []
        rejected = []
        skipped: list[str] = []
        by_description: dict[str, str] | None = None
        for session in sessions:
            grouped: dict[str, list[Repeat]] = defaultdict(list)
            n_bad = 0
            for path in sorted(session.glob("*.mat")):
                try:
                    repeats = read_wehr_recording(path, detrend)
                except ValueError:
                    skipped.append(f"{session.name}/{path.name}")
                    continue
                for rep in repeats:
                    if not rep.stim_file:  # no triggers.file: find the stimulus by its description
                        if by_description is None:
                            by_description = stimulus_descriptions(wehr / "Stimuli")
                        rep.stim_file = by_description.get(rep.description.strip(), "")
                    if not rep.stim_file or rep.trace_mv.size < round(rep.duration_ms * rep.sf / 1000.0):
                        n_bad += 1
                    else:
                        grouped[rep.stim_file].append(rep)
            by_cell.append(dict(grouped))
            rejected.append(n_bad)
        if skipped:
            warnings.warn(
                f"CRCNS AC1: skipped {len(skipped)} malformed recording file(s) (no response, triggers.type or "
                f"natural-sound trigger fields): {', '.join(skipped)}",
                UserWarning,
                stacklevel=2,
            )
        files = sorted({f for cell in by_cell for f in cell}, key=_stim_key)
        if not files:
            raise ValueError(f"CRCNS AC1: no natural-sound trigger in {wehr / 'Results'}")

        stims, stim_meta, lengths = [], [], []
        for rel in files:
            path = wehr / "Stimuli" / rel
            if not path.exists():
                raise FileNotFoundError(f"CRCNS AC1: stimulus {rel} (referenced by a trigger) is not in {path.parent}")
            samples, sf, desc = read_wehr_stimulus(path)
            samples = apply_ramp(samples, sf, ramp_ms)
            duration = min(r.duration_ms for cell in by_cell for r in cell.get(rel, []))
            n_bins = int(np.floor(min(duration, 1000.0 * samples.size / sf) / dt_ms + 1e-9))
            if waveform:
                stim = fit_length(resample(samples, sf, float(audio_fs)), n_bins * int(hop or 0))
            else:
                stim = logfreq_spectrogram(samples, sf, dt_ms, n_bins, f_min_hz, f_max_hz, bands_per_octave)
            stims.append(as_tensor(stim[None]))
            lengths.append(n_bins)
            category, idx, _ = _stim_key(rel)
            stim_meta.append(
                {
                    "experimenter": "wehr",
                    "file": rel,
                    "category": category,
                    "idx": None if idx == math.inf else int(idx),
                    "description": desc,
                    "sf": sf,
                    "duration_s": samples.size / sf,
                }
            )

        responses: list[list[Any]] = [[None] * len(sessions) for _ in files]
        gated = [dict.fromkeys(("range", "step", "xcorr"), 0) for _ in sessions]
        for n, cell in enumerate(by_cell):
            for rel, reps in cell.items():
                s = files.index(rel)
                if gate_repeats:
                    reasons = gate_repeat_traces([r.trace_mv for r in reps], reps[0].sf)
                    for why in reasons:
                        if why != "kept":
                            gated[n][why] += 1
                    reps = [r for r, why in zip(reps, reasons) if why == "kept"]
                    if not reps:
                        continue
                block = reps[0].sf * dt_ms / 1000.0
                if abs(block - round(block)) > 1e-9:
                    raise ValueError(f"`dt_ms` * sf / 1000 must be an integer, got {dt_ms} * {reps[0].sf} / 1000")
                b, t = round(block), lengths[s]
                responses[s][n] = as_tensor(np.stack([r.trace_mv[: t * b].reshape(t, b).mean(1) for r in reps]))
        nrn_meta = [_session_meta(p.name, i, len(by_cell[i])) for i, p in enumerate(sessions)]
        for meta, n_bad in zip(nrn_meta, rejected):
            meta["rejected_repeats"] = n_bad
        if gate_repeats:
            for meta, counts in zip(nrn_meta, gated):
                meta["gated_repeats"] = dict(counts)
            n_gated = sum(sum(c.values()) for c in gated)
            if n_gated:
                warnings.warn(f"CRCNS AC1: {n_gated} repeats rejected by the gating", UserWarning, stacklevel=2)
        if any(rejected):
            warnings.warn(f"CRCNS AC1: {sum(rejected)} incomplete repeats rejected", UserWarning, stacklevel=2)
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=audio_fs if waveform else None,
            name="CRCNS-AC1-Wehr",
            info={
                "stimulus": "waveform" if waveform else "causal log-frequency spectrogram (dB)",
                "response_unit": "mV",
                "detrend": detrend,
                "gate_repeats": gate_repeats,
                "preset": preset,
                "ramp_ms": ramp_ms,
                "window_ms": 2 * dt_ms,
                "f_range_hz": (f_min_hz, f_max_hz),
                "bands_per_octave": bands_per_octave,
                "source": AC1_URL,
            },
        )
        self.skipped_files = skipped
        self.splits: dict[str, list[int]] = {}
        self.cell_splits = [
            cell_split(p.name, sorted(files.index(f) for f in by_cell[i]), SPLIT_COUNTS[i] if i < 25 else None)
            for i, p in enumerate(sessions)
        ]

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy against the documented structure and counts (25 Wehr cells,
        4 kHz recordings, 3 to 63 sounds per cell).

        Example:
            >>> import tempfile
            >>> CRCNSAC1Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("crcns-ac1")
        ds = report.load(lambda: cls(root))
        if ds is None:
            return report
        report.check("no malformed recording", not ds.skipped_files, f"skipped {ds.skipped_files[:3]}")
        per_cell = [m["n_stims"] for m in ds.nrn_meta]
        report.check("count sounds per cell (3 to 63)", bool(per_cell) and min(per_cell) >= 3 and max(per_cell) <= 63,
                     f"found {min(per_cell, default=0)} to {max(per_cell, default=0)}")  # fmt: skip
        report.counts({"cells": ds.n_neurons}, EXPECTED)
        return report
