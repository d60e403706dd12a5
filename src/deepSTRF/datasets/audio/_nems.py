"""Reading NEMS0 recording archives (the format of the NAT4 files) without NEMS.

A recording is a ``.tgz`` (or the folder it extracts to) holding, per signal ``<sig>``:
a JSON sidecar ``*.<sig>.json`` (``fs``, ``chans``, ``signal_type``, ...), an epoch table
``*.<sig>.epoch.csv`` (columns ``start``, ``end``, ``name``, in seconds) and the data,
either a header-less CSV ``*.<sig>.csv`` of shape ``(time, channel)`` (rasterised signal)
or an HDF5 file ``*.<sig>.h5`` with one dataset of spike times (s) per channel (point process).
Files are found by suffix, at the archive root or under one folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepSTRF._optional import require
from deepSTRF.datasets.audio._spikes import bin_spike_times

_VIEW_PREFIX = re.compile(r"^\d+\.")


@dataclass
class Epoch:
    """One row of an epoch table (times in seconds)."""

    start: float
    end: float
    name: str


@dataclass
class NemsSignal:
    """A signal of a NEMS0 recording: sidecar, epochs and data (raster array or spike-time dict)."""

    name: str
    fs: float
    chans: list[str]
    epochs: list[Epoch]
    raster: np.ndarray | None = None  # (time, channel)
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # channel -> spike times (s)

    def occurrences(self, name: str) -> list[Epoch]:
        """Every epoch with this exact name, in time order."""
        return sorted((e for e in self.epochs if e.name == name), key=lambda e: e.start)


class _Source:
    """Members of a recording, from a tar archive or a folder, looked up by file-name suffix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            self._files = {p.name: p for p in sorted(path.rglob("*")) if p.is_file()}
            self._tar = None
        else:
            self._tar = tarfile.open(path, "r:*")
            self._members = {Path(m.name).name: m for m in self._tar.getmembers() if m.isfile()}

    def names(self) -> list[str]:
        return sorted(self._files if self._tar is None else self._members)

    def find(self, suffix: str) -> str | None:
        hits = [n for n in self.names() if n.endswith(suffix)]
        plain = [n for n in hits if not _VIEW_PREFIX.match(n)]
        found = plain or hits
        return found[0] if found else None

    def read(self, name: str) -> bytes:
        if self._tar is None:
            return self._files[name].read_bytes()
        fh = self._tar.extractfile(self._members[name])
        if fh is None:  # pragma: no cover - members are regular files
            raise ValueError(f"{self.path}: cannot read {name}")
        return fh.read()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def read_epochs(text: str, where: str) -> list[Epoch]:
    """Parse an epoch CSV (header with ``start``, ``end``, ``name``)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"start", "end", "name"} <= set(reader.fieldnames):
        raise ValueError(f"{where}: epoch table needs the columns start, end, name; got {reader.fieldnames}")
    return [Epoch(float(row["start"]), float(row["end"]), row["name"].strip()) for row in reader]


def read_signal(path: str | os.PathLike[str], signal: str, *, dtype: type = np.float32) -> NemsSignal:
    """Read one signal (e.g. ``"resp"`` or ``"stim"``) of a NEMS0 recording archive or folder.

    Raises:
        FileNotFoundError: If the archive lacks the signal's sidecar, epochs or data.
        ValueError: If the sidecar, epochs or data disagree with the documented format.
    """
    path = Path(path)
    src = _Source(path)
    try:
        names = {k: src.find(f".{signal}{k}") for k in (".json", ".epoch.csv", ".csv", ".h5")}
        for key in (".json", ".epoch.csv"):
            if names[key] is None:
                raise FileNotFoundError(f"{path}: no '*.{signal}{key}' member (members: {src.names()[:12]})")
        meta = json.loads(src.read(str(names[".json"])).decode("utf-8"))
        epochs = read_epochs(src.read(str(names[".epoch.csv"])).decode("utf-8"), f"{path}:{names['.epoch.csv']}")
        out = NemsSignal(signal, float(meta["fs"]), [str(c) for c in meta.get("chans", [])], epochs)
        if "PointProcess" in str(meta.get("signal_type", "")) or names[".csv"] is None:
            if names[".h5"] is None:
                raise FileNotFoundError(f"{path}: no data member ('*.{signal}.csv' or '*.{signal}.h5')")
            h5py = require("h5py", extra="data", purpose="reading NEMS point-process signals")
            with h5py.File(io.BytesIO(src.read(str(names[".h5"]))), "r") as h5:
                out.spikes = {str(k): np.asarray(h5[k][()], dtype=np.float64).ravel() for k in h5.keys()}
        else:
            raster: np.ndarray = np.loadtxt(
                io.BytesIO(src.read(str(names[".csv"]))), delimiter=",", dtype=dtype, ndmin=2
            )
            if out.chans and raster.shape[1] != len(out.chans):
                raise ValueError(f"{path}: {signal} has {raster.shape[1]} columns but {len(out.chans)} channels")
            out.raster = raster
        return out
    finally:
        src.close()


def epoch_rows(epoch: Epoch, fs: float) -> tuple[int, int]:
    """Row range ``[round(start * fs), round(end * fs))`` of an epoch in a rasterised signal."""
    return round(epoch.start * fs), round(epoch.end * fs)


def stimulus_epochs(signal: NemsSignal, prefixes: tuple[str, ...]) -> list[Epoch]:
    """First occurrence of every epoch whose name starts with one of ``prefixes``, in time order."""
    first: dict[str, Epoch] = {}
    for e in sorted(signal.epochs, key=lambda e: e.start):
        if e.name.startswith(prefixes) and e.name not in first:
            first[e.name] = e
    return list(first.values())


def prestim_seconds(signal: NemsSignal, epoch: Epoch) -> float | None:
    """Duration of the ``PreStimSilence`` epoch that starts with ``epoch`` (``None`` if there is none)."""
    tol = 0.5 / signal.fs
    for e in signal.epochs:
        if e.name == "PreStimSilence" and abs(e.start - epoch.start) <= tol:
            return e.end - e.start
    return None


def point_process_counts(signal: NemsSignal, chan: str, name: str, n_bins: int, dt_ms: float) -> np.ndarray | None:
    """Spike counts ``(R, n_bins)`` of one channel over every occurrence of epoch ``name``.

    Spike times are rasterised at the signal rate with ``floor(t * fs)`` and each occurrence starts
    at row ``round(start * fs)``, as NEMS does; rows are then pooled into bins of ``dt_ms``.
    Returns ``None`` when the epoch never occurs.
    """
    occurrences = signal.occurrences(name)
    if not occurrences:
        return None
    samples = np.sort(np.floor(signal.spikes[chan] * signal.fs))
    block = dt_ms * signal.fs / 1000.0
    trials = []
    for epoch in occurrences:
        start = epoch_rows(epoch, signal.fs)[0]
        lo, hi = np.searchsorted(samples, [start, start + n_bins * block])
        trials.append(samples[lo:hi] - start)
    return bin_spike_times(trials, n_bins, block)
