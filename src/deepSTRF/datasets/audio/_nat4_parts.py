"""NAT4 file pieces: cell ids, auditory flags, per-site trials, pooling, normalisation statistics, splits."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF.datasets.audio._nems import Epoch, NemsSignal, point_process_counts, read_signal

_CELL = re.compile(r"^(?P<site>[A-Za-z0-9]+)-(?P<electrode>\d+)-(?P<unit>\d+)$")


def cell_key(cell_id: str) -> tuple[str, int, int] | str:
    """``(site, electrode, unit)`` parsed from ``SITE-EE-U`` (zero-padding ignored), else the raw id.

    Example:
        >>> cell_key("TNC015a-007-1") == cell_key("TNC015a-07-1")
        True
    """
    m = _CELL.match(cell_id.strip())
    return (m["site"], int(m["electrode"]), int(m["unit"])) if m else cell_id.strip()


def read_auditory_flags(path: str | os.PathLike[str]) -> dict[str, bool]:
    """``{cellid: sig_auditory}`` from ``<area>_pred_correlation.csv`` (matched by id, not by row)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"cellid", "sig_auditory"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns cellid and sig_auditory, got {reader.fieldnames}")
        return {row["cellid"].strip(): row["sig_auditory"].strip().lower() in ("true", "1") for row in reader}


def find_dir(root: Path, name: str) -> Path | None:
    """A sub-folder of ``root`` named ``name``, compared case-insensitively."""
    hits = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() == name.lower())
    return hits[0] if hits else None


def read_site_index(folder: Path) -> dict[Any, tuple[str, NemsSignal, str]]:
    """Index the per-site recordings of a folder: ``{cell key: (file name, resp signal, channel)}``."""
    index: dict[Any, tuple[str, NemsSignal, str]] = {}
    for path in sorted(folder.glob("*.tgz")):
        resp = read_signal(path, "resp")
        for chan in resp.spikes:
            index[cell_key(chan)] = (path.name, resp, chan)
    return index


def pool(x: np.ndarray, k: int, how: str) -> np.ndarray:
    """Pool the last axis in blocks of ``k`` (sum or mean), dropping an incomplete last block."""
    blocks = x[..., : (x.shape[-1] // k) * k].reshape(*x.shape[:-1], x.shape[-1] // k, k)
    return blocks.sum(-1) if how == "sum" else blocks.mean(-1)


def minmax(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware per-column min and range of ``x[rows]``; a zero or undefined range becomes 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        lo, hi = np.nanmin(x[rows], axis=0), np.nanmax(x[rows], axis=0)
    span = hi - lo
    return np.nan_to_num(lo), np.where(np.isfinite(span) & (span > 0), span, 1.0)


def nat4_splits(names: list[str], est: list[int], test: list[int]) -> dict[str, list[int]]:
    """Test = validation sounds; a pinned 10 % of estimation sounds (lowest SHA-256 of the name) = val."""
    ranked = sorted(est, key=lambda s: hashlib.sha256(names[s].encode()).hexdigest())
    val = set(ranked[: round(0.1 * len(est))])
    return {"train": [s for s in est if s not in val], "val": sorted(val), "test": list(test)}


def stim_meta(epoch: Epoch, prestim: float | None, n_repeats: int) -> dict[str, Any]:
    category, rec = re.search(r"cat(\d+)", epoch.name), re.search(r"_rec(\d+)", epoch.name)
    return {
        "name": epoch.name,
        "subset": "val" if epoch.name.startswith("STIM_00cat") else "est",
        "n_repeats": n_repeats,
        "category_id": int(category[1]) if category else None,
        "rec": int(rec[1]) if rec else None,
        "wav_file": "wav/" + epoch.name.removeprefix("STIM_"),
        "prestim_s": prestim,
    }


def nrn_meta(cell: str, area: str, flags: dict[str, bool], site: tuple[str, Any, Any] | None) -> dict[str, Any]:
    key = cell_key(cell)
    parsed = isinstance(key, tuple)
    return {
        "cell_id": cell,
        "site": key[0] if parsed else cell.split("-")[0],
        "animal": re.match(r"[A-Za-z]*", cell)[0],  # type: ignore[index]
        "electrode": key[1] if parsed else None,
        "unit": key[2] if parsed else None,
        "area": area,
        "auditory": flags.get(cell),
        "per_site_file": site[0] if site else None,
    }


def site_counts(hit: tuple[str, NemsSignal, str] | None, epoch: Epoch, rows: tuple[int, int]) -> np.ndarray | None:
    """Single-trial 10 ms counts ``(R, T10)`` of a cell for one sound, from its per-site file."""
    if hit is None:
        return None
    return point_process_counts(hit[1], hit[2], epoch.name, rows[1] - rows[0], 10.0)
