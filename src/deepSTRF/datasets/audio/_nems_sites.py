"""Per-site NEMS0 recordings with a tiled stimulus (Espejo 2019, Wingert 2026).

Each site is a NEMS0 recording archive (``<rec>/<rec>.<sig>.{json,epoch.csv,h5|csv}`` and
``<rec>.meta.json``, see :mod:`._nems`). These recordings keep the stimulus as a NEMS0
``TiledSignal``: the HDF5 member ``*.stim.h5`` holds one dataset ``STIM_<name>`` of shape
``(F, T)`` per sound, at the recording's ``rasterfs``; a few sites write a rasterised
``*.stim.csv`` instead. Responses are a point process (``*.resp.h5``, spike times in s) or,
at a few sites, a rasterised ``*.resp.csv`` of counts per bin.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepSTRF._optional import require
from deepSTRF.datasets.audio._nems import (
    Epoch,
    NemsSignal,
    _Source,
    epoch_rows,
    point_process_counts,
    prestim_seconds,
    read_signal,
)
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample


@dataclass
class SiteRecording:
    """One site: its meta JSON, the ``resp`` signal and the spectrogram of each sound ``(F, T)``."""

    path: Path
    site: str
    meta: dict
    resp: NemsSignal
    stims: dict[str, np.ndarray]
    rasterfs: float

    def repeats(self, prefix: str = "STIM_") -> dict[str, int]:
        """How many times each stimulus epoch occurs in the response signal."""
        return dict(Counter(e.name for e in self.resp.epochs if e.name.startswith(prefix)))


def site_of(path: str | os.PathLike[str]) -> str:
    """The site id of an archive name: the part before the first ``_`` (``TNC014a_ab12.tgz`` → ``TNC014a``).

    Example:
        >>> site_of("recordings/PRN018b_5da19f65.tgz")
        'PRN018b'
    """
    return Path(path).name.split("_")[0].split(".")[0]


def read_tiled(path: Path, signal: str = "stim") -> tuple[dict[str, np.ndarray], float] | None:
    """The ``STIM_*`` arrays ``(F, T)`` of a tiled signal and its ``fs``, or ``None`` if there is no ``*.h5``."""
    src = _Source(path)
    try:
        sidecar, data = src.find(f".{signal}.json"), src.find(f".{signal}.h5")
        if data is None:
            return None
        fs = float(json.loads(src.read(sidecar))["fs"]) if sidecar else float("nan")
        h5py = require("h5py", extra="data", purpose="reading NEMS tiled signals")
        with h5py.File(io.BytesIO(src.read(data)), "r") as h5:
            tiles = {str(k): np.asarray(h5[k][()], dtype=np.float64) for k in h5.keys()}
    finally:
        src.close()
    for name, x in tiles.items():
        if x.ndim != 2:
            raise ValueError(f"{path}: tiled {signal} {name!r} must be 2-D (F, T), got shape {x.shape}")
    return tiles, fs


def read_meta(path: Path) -> dict:
    """The recording's ``*.meta.json`` (an empty dict when it has none)."""
    src = _Source(path)
    try:
        name = src.find(".meta.json")
        return json.loads(src.read(name)) if name else {}
    finally:
        src.close()


def read_site(path: str | os.PathLike[str]) -> SiteRecording:
    """Read one site archive (or its extracted folder): meta, responses and per-sound spectrograms.

    Raises:
        FileNotFoundError: If the recording lacks its resp or stim signal.
        ValueError: If a member disagrees with the documented format.
    """
    path = Path(path)
    meta = read_meta(path)
    resp = read_signal(path, "resp")
    tiled = read_tiled(path)
    if tiled is not None:
        stims, fs = tiled
    else:  # rasterised stim.csv: cut each sound's first occurrence out of the signal
        stim = read_signal(path, "stim", dtype=np.float64)
        if stim.raster is None:
            raise ValueError(f"{path}: the stim signal is neither tiled (*.stim.h5) nor rasterised (*.stim.csv)")
        fs, stims = stim.fs, {}
        for e in sorted(stim.epochs, key=lambda e: e.start):
            if e.name.startswith("STIM_") and e.name not in stims:
                r0, r1 = epoch_rows(e, stim.fs)
                stims[e.name] = stim.raster[r0:r1].T.copy()
    rasterfs = float(meta.get("rasterfs", fs))
    if np.isfinite(fs) and abs(fs - rasterfs) > 1e-9:
        raise ValueError(f"{path}: stim fs {fs} differs from the meta rasterfs {rasterfs}")
    return SiteRecording(path, site_of(path), meta, resp, stims, rasterfs)


def site_trials(rec: SiteRecording, chan: str, name: str, n_bins: int) -> np.ndarray | None:
    """Counts ``(R, n_bins)`` of one unit over every occurrence of ``name``, in bins of ``1 / rasterfs``.

    Point-process units are rasterised with ``floor(t * fs)`` from each occurrence's start row;
    rasterised units (``resp.csv``) are cut at rows ``round(start * fs)``. Returns ``None`` when the
    sound never occurs or the unit has no data (all NaN) for it.
    """
    bin_ms = 1000.0 / rec.rasterfs
    resp = rec.resp
    if resp.raster is None:
        return point_process_counts(resp, chan, name, n_bins, bin_ms)
    col = resp.chans.index(chan)
    block = resp.fs / rec.rasterfs
    if abs(block - round(block)) > 1e-9:
        raise ValueError(f"{rec.path}: resp fs {resp.fs} is not a multiple of the rasterfs {rec.rasterfs}")
    k = round(block)
    trials = []
    for e in resp.occurrences(name):
        r0 = epoch_rows(e, resp.fs)[0]
        x = np.zeros(n_bins * k)
        seg = resp.raster[r0 : r0 + n_bins * k, col].astype(np.float64)
        x[: seg.size] = seg
        if np.all(np.isnan(x)):
            continue
        trials.append(x.reshape(n_bins, k).sum(-1))
    return np.stack(trials) if trials else None


def resp_units(rec: SiteRecording) -> list[str]:
    """Unit ids of a site, in file order (point process: HDF5 keys; raster: sidecar channels)."""
    return list(rec.resp.spikes) if rec.resp.raster is None else list(rec.resp.chans)


@dataclass
class MergedSites:
    """Sounds and units of several site recordings, units merged by id across archives."""

    names: list[str]  # sound epochs, in order of first appearance
    spectrograms: dict[str, np.ndarray]  # name -> (F, T)
    prestim: dict[str, float | None]  # name -> PreStimSilence duration (s)
    trials: dict[str, dict[str, list[np.ndarray]]]  # unit -> name -> [(R, T) per archive]
    archives: dict[str, list[str]]  # unit -> archive file names
    repeats: dict[str, list[int]]  # name -> repeat count at each site that played it
    site_max: dict[str, list[bool]]  # name -> whether it had the site's maximum repeat count, per site


def merge_sites(recs: list[SiteRecording], keep_unit: object = None) -> MergedSites:
    """Merge site recordings: one entry per sound name and per unit id (repeats concatenated).

    Args:
        recs: The site recordings, in a fixed order.
        keep_unit: Optional predicate on a unit id; units it rejects are skipped.
    """
    out = MergedSites([], {}, {}, {}, {}, {}, {})
    for rec in recs:
        counts = rec.repeats()
        heard = [n for n in rec.stims if counts.get(n, 0) > 0]
        top, bottom = max(counts.values(), default=0), min(counts.values(), default=0)
        for name in heard:
            if name not in out.spectrograms:
                out.names.append(name)
                out.spectrograms[name] = rec.stims[name]
                first = rec.resp.occurrences(name)[0]
                out.prestim[name] = prestim_of(rec.resp, first)
            out.repeats.setdefault(name, []).append(counts[name])
            out.site_max.setdefault(name, []).append(top > bottom and counts[name] == top)
        for unit in resp_units(rec):
            if callable(keep_unit) and not keep_unit(unit):
                continue
            out.archives.setdefault(unit, []).append(rec.path.name)
            per_unit = out.trials.setdefault(unit, {})
            for name in heard:
                x = site_trials(rec, unit, name, out.spectrograms[name].shape[1])
                if x is not None:
                    per_unit.setdefault(name, []).append(x)
    return out


def prestim_of(signal: NemsSignal, epoch: Epoch) -> float | None:
    """``PreStimSilence`` duration at the start of ``epoch`` (``None`` if absent)."""
    return prestim_seconds(signal, epoch)


def wav_index(folder: Path | None) -> dict[str, Path]:
    """WAV files of a folder (searched recursively), by lower-case file name."""
    if folder is None or not folder.is_dir():
        return {}
    return {p.name.lower(): p for p in sorted(folder.rglob("*")) if p.suffix.lower() == ".wav"}


def placed_waveform(path: Path, n_bins: int, hop: int, audio_fs: float, prestim_s: float | None) -> np.ndarray:
    """The sound of ``path`` in a silent buffer of ``n_bins * hop`` samples, from the pre-stimulus offset."""
    if prestim_s is None:
        raise ValueError(f"no PreStimSilence epoch starts with the sound of {path.name}; cannot place it")
    audio, fs = read_audio(str(path))
    buffer = np.zeros(n_bins * hop)
    start = round(prestim_s * audio_fs)
    sound = fit_length(resample(audio, fs, audio_fs), max(n_bins * hop - start, 0))
    buffer[start : start + sound.size] = sound
    return buffer
