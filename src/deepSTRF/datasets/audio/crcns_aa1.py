"""CRCNS AA1: zebra finch Field L and MLd single units (Theunissen lab), songs and flat ripples.

CRCNS data set aa-1 (DOI 10.6080/K0F769GP; a free CRCNS account is needed): 50 Field L and
50 MLd units recorded in anaesthetised male zebra finches, each with about 10 trials of 10
conspecific songs and 20 modulation-limited noises ("flat ripples", 250 Hz to 8 kHz), as
plain-text spike times (ms from stimulus onset) and 32 kHz WAV files.

No spectrogram ships with the data: this loader computes a causal mel spectrogram (each frame
ends with its response bin). Facts not yet checked against the real archive (the loader accepts
both variants): whether spike lines end with a trailing space, and whether the zip wraps
everything in one top folder. The pre-onset window used for the spontaneous rate is taken as
2 s (spikes are recorded from -2000 ms).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._aa1_files import (
    cell_meta,
    find_base,
    read_aa1_cell,
    read_aa1_spike_file,
    stratified_split,
)
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._songbird import SongFeatures
from deepSTRF.datasets.audio._spectro import read_audio
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.catalog import download_dataset, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.smoothing import apply_published_smoothing
from deepSTRF.datasets.verify import VerificationReport

__all__ = [
    "CRCNSAA1Dataset",
    "download_aa1",
    "find_base",
    "read_aa1_cell",
    "read_aa1_spike_file",
    "stratified_split",
]

AA1_URL = "https://crcns.org/data-sets/aa/aa-1"
STIM_TYPES = ("conspecific", "flatrip")
AREAS = {"Field_L": "Field_L_cells", "MLd": "MLd_cells"}
PRE_ONSET_S = 2.0


def download_aa1(
    root: str | os.PathLike[str] | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Deprecated: use ``deepSTRF.datasets.catalog.download_dataset("crcns-aa1", root, username=..., password=...)``.

    Example:
        >>> callable(download_aa1)
        True
    """
    warnings.warn(
        'download_aa1 is deprecated; use deepSTRF.datasets.catalog.download_dataset("crcns-aa1", root)',
        DeprecationWarning,
        stacklevel=2,
    )
    return download_dataset("crcns-aa1", root, username=username, password=password, progress=progress)


EXPECTED = {"units_Field_L": 50, "units_MLd": 50, "stimuli_conspecific": 10, "stimuli_flatrip": 20}


class CRCNSAA1Dataset(NeuralDataset):
    """CRCNS AA1 (Theunissen lab): zebra finch Field L and MLd units, conspecific songs and flat ripples.

    Stimuli are ordered by type, then by file name (the upper-case MD5 of the WAV). ``T_s`` is
    ``ceil(duration / dt_ms)``; responses are raw spike counts per bin over ``[0, T_s * dt_ms)``
    (pre-onset and post-stimulus spikes are not counted; trials without spikes are zero trials).
    A (stimulus, unit) pair without a spike file is missing.

    Spectrogram mode: causal mel spectrogram, ``n_frequency_bands`` bands from ``f_min_hz`` to ``f_max_hz``
    (default 32 bands, 250 Hz to 8 kHz, the band of the flat ripples), a Hann window of ``window_ms``
    ending with each bin, power spectrum, then ``compression`` (``'cube_root'``, ``'log'`` = natural
    log of power + 1e-6, or ``'none'``). Waveform mode: the 32 kHz audio (resampled to ``audio_fs``)
    zero-padded to ``T_s * hop`` samples.

    Neuron metadata: ``cell_id``, ``animal_id``, ``area`` (``Field_L``/``MLd``), ``cell_seq``, ``rig``,
    ``n_trials`` (per stimulus type, the most trials of any stimulus), ``spont_rate_hz`` (pre-onset
    spikes over a 2 s pre-onset window per trial). Stimulus metadata: ``name``, ``type``,
    ``sample_rate``, ``n_samples``, ``duration_s``, ``md5_ok`` (file name matches its MD5).

    The data set defines no split; ``splits`` is a deterministic split stratified by type (see
    :func:`stratified_split`: about 70/10/20 % train/val/test); leave-one-stimulus-out, the lab's
    habit, is available from :mod:`deepSTRF.datasets.splits`.

    Args:
        root: Dataset folder; default ``<cache>/crcns-aa1``.
        download: Download the archive from CRCNS (needs an account).
        username: CRCNS user name (else ``CRCNS_USERNAME``); used only to download.
        password: CRCNS password (else ``CRCNS_PASSWORD``); never shown or stored.
        dt_ms: Bin width in ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz); ``audio_fs * dt_ms / 1000`` must be an integer.
        stim_types: Stimulus types to load, among ``'conspecific'`` and ``'flatrip'``.
        areas: Areas to load, among ``'Field_L'`` and ``'MLd'``.
        n_frequency_bands: Number of mel bands (``n_mels`` is its deprecated spelling).
        f_min_hz: Lowest mel edge.
        f_max_hz: Highest mel edge.
        window_ms: STFT window length.
        compression: ``'cube_root'``, ``'log'`` or ``'none'``.
        preset: ``"deepstrf"`` (the causal spectrogram above) or ``"published"`` (the published pipeline:
            a centred STFT, 32 mel bands from 0 Hz to the Nyquist frequency, cube root,
            ``T = floor(n / hop) + 1`` with ``hop = int(sr * dt_ms / 1000)``; not causal). Responses
            get the published 21 ms smoothing (see ``smooth``); the published 1 ms bins are not imposed:
            pass ``dt_ms=1`` to match them.
        smooth: Smooth every trial as the published pipeline does (a 21 ms Hanning window of
            ``floor(21 / dt_ms)`` taps, made odd, not normalised, zero-padded and centred; see
            :func:`deepSTRF.datasets.smoothing.published_smooth_trials`); default ``True`` with
            ``preset="published"``, ``False`` otherwise.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If the data are missing and ``download`` is false.
        ValueError: For invalid arguments or missing credentials when downloading.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("crcns-aa1")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (True, 'about 17 MB')
    """

    @accepts_old_names(n_mels="n_frequency_bands")
    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        username: str | None = None,
        password: str | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 32000.0,
        stim_types: Sequence[str] = STIM_TYPES,
        areas: Sequence[str] = ("Field_L", "MLd"),
        n_frequency_bands: int = 32,
        f_min_hz: float = 250.0,
        f_max_hz: float = 8000.0,
        window_ms: float = 10.0,
        compression: str = "cube_root",
        preset: str = "deepstrf",
        smooth: bool | None = None,
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        for name, values, allowed in (("stim_types", stim_types, STIM_TYPES), ("areas", areas, tuple(AREAS))):
            if isinstance(values, str) or not values or any(v not in allowed for v in values):
                raise ValueError(f"`{name}` must be a non-empty list of {list(allowed)}, got {values!r}")
        check_choice("compression", compression, ["cube_root", "log", "none"])
        n_bands = check_int("n_frequency_bands", n_frequency_bands)
        f_min_hz, f_max_hz = check_positive_float("f_min_hz", f_min_hz), check_positive_float("f_max_hz", f_max_hz)
        window_ms = check_positive_float("window_ms", window_ms)
        if f_min_hz >= f_max_hz:
            raise ValueError(f"`f_min_hz` must be below `f_max_hz`, got {f_min_hz} and {f_max_hz}")
        features = SongFeatures(
            dt_ms, waveform, audio_fs, hop, preset, n_bands, f_min_hz, f_max_hz, window_ms, compression
        )
        folder = fetch(
            "crcns-aa1",
            root,
            files=["crcns-aa1.zip"],
            download=download,
            username=username,
            password=password,
            progress=progress,
        )
        base = find_base(folder)

        stims, stim_meta, lengths = [], [], []
        for stim_type in stim_types:
            for path in sorted(p for p in (base / "all_stims" / stim_type).glob("*") if p.suffix.lower() == ".wav"):
                audio, sr = read_audio(str(path))
                stim, n_bins = features(audio, sr)
                stims.append(as_tensor(stim[None]))
                lengths.append(n_bins)
                md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest().upper()
                stim_meta.append(
                    {
                        "name": path.name,
                        "type": stim_type,
                        "sample_rate": sr,
                        "n_samples": int(audio.size),
                        "duration_s": audio.size / sr,
                        "md5_ok": md5 == path.stem.upper(),
                    }
                )
        if not stims:
            raise FileNotFoundError(f"CRCNS AA1: no WAV file in {base / 'all_stims'} for {list(stim_types)}")

        index = {(m["type"], m["name"]): s for s, m in enumerate(stim_meta)}
        responses: list[list[Any]] = [[] for _ in stims]
        nrn_meta = []
        for area in areas:
            area_dir = base / AREAS[area]
            for cell_dir in sorted(p for p in area_dir.iterdir() if p.is_dir()) if area_dir.is_dir() else []:
                trials = {t: read_aa1_cell(cell_dir / t, t) for t in stim_types if (cell_dir / t).is_dir()}
                row: list[Any] = [None] * len(stims)
                for t, by_wav in trials.items():
                    for wav, spikes in by_wav.items():
                        s = index.get((t, wav))
                        if s is None:
                            warnings.warn(
                                f"CRCNS AA1: {cell_dir.name} refers to unknown {t}/{wav}", UserWarning, stacklevel=2
                            )
                        else:
                            row[s] = as_tensor(bin_spike_times(spikes, lengths[s], dt_ms))
                for s, r in enumerate(row):
                    responses[s].append(r)
                all_trials = [tr for by_wav in trials.values() for sp in by_wav.values() for tr in sp]
                n_pre = sum(int(np.sum(tr < 0)) for tr in all_trials)
                meta = cell_meta(cell_dir.name, area)
                meta["n_trials"] = {
                    t: max((len(sp) for sp in by_wav.values()), default=0) for t, by_wav in trials.items()
                }
                meta["spont_rate_hz"] = n_pre / (PRE_ONSET_S * len(all_trials)) if all_trials else float("nan")
                nrn_meta.append(meta)
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=audio_fs if waveform else None,
            name="CRCNS-AA1",
            info={**features.describe(), "source": AA1_URL},
        )
        if smooth is None:
            smooth = features.preset == "published"
        elif not isinstance(smooth, bool):
            raise TypeError(f"`smooth` must be a bool or None, got {type(smooth).__name__}")
        if smooth:
            apply_published_smoothing(self)
        self.splits = stratified_split([str(m["type"]) for m in stim_meta], [str(m["name"]) for m in stim_meta])

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy against the documented structure and counts (50 Field L + 50 MLd
        units, 10 songs and 20 flat ripples at 32 kHz, WAV names equal to their MD5).

        Example:
            >>> import tempfile
            >>> CRCNSAA1Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("crcns-aa1")
        ds = report.load(lambda: cls(root))
        if ds is None:
            return report
        rates = sorted({m["sample_rate"] for m in ds.stim_meta})
        report.check("WAV sample rate 32 kHz", rates == [32000.0], f"found {rates}")
        bad = [m["name"] for m in ds.stim_meta if not m["md5_ok"]]
        report.check("WAV name = MD5 of the file", not bad, f"{len(bad)} differ: {bad[:3]}")
        observed = {
            "units_Field_L": sum(m["area"] == "Field_L" for m in ds.nrn_meta),
            "units_MLd": sum(m["area"] == "MLd" for m in ds.nrn_meta),
            "stimuli_conspecific": sum(m["type"] == "conspecific" for m in ds.stim_meta),
            "stimuli_flatrip": sum(m["type"] == "flatrip" for m in ds.stim_meta),
        }
        report.counts(observed, EXPECTED)
        return report
