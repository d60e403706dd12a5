"""CRCNS AA1 files: spike text files, stimulus/spike pairing, folder layout, split, compression, metadata."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_CELL = re.compile(r"^(?P<bird>[^_]+)_(?P<seq>\d+)(?:_(?P<rig>[A-Za-z]))?$")


def read_aa1_spike_file(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """One float64 array of spike times (ms) per line; empty lines are trials without spikes.

    Tokens are split on any whitespace, so a last spike without a trailing space is kept.

    Args:
        path: A ``spikeK`` file.

    Returns:
        One array per trial.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "spike1"
        ...     _ = p.write_text("1.5 -3 \\n\\n7")
        ...     [t.tolist() for t in read_aa1_spike_file(p)]
        [[1.5, -3.0], [], [7.0]]
    """
    lines = Path(path).read_text().replace("\r\n", "\n").split("\n")
    if lines and lines[-1].strip() == "":
        lines = lines[:-1]  # the terminator of the last trial
    return [np.array([float(tok) for tok in line.split()], dtype=np.float64) for line in lines]


def read_aa1_cell(folder: Path, stim_type: str) -> dict[str, list[np.ndarray]]:
    """``{wav name: trials}`` of one cell and stimulus type, pairing ``stimK`` with ``spikeK`` by K.

    A ``stimK`` without its ``spikeK`` is skipped (the pair is missing); two files naming the same
    WAV have their trials concatenated.

    Args:
        folder: ``<area>_cells/<cell>/<type>``.
        stim_type: The type (for messages).

    Returns:
        The trials of each WAV the cell heard.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "stim1").write_text("AB.wav")
        ...     _ = (Path(d) / "spike1").write_text("1 2\\n3\\n")
        ...     _ = (Path(d) / "stim2").write_text("CD.wav\\n")
        ...     {k: len(v) for k, v in read_aa1_cell(Path(d), "flatrip").items()}
        {'AB.wav': 2}
    """
    out: dict[str, list[np.ndarray]] = {}
    for stim in sorted(folder.glob("stim*")):
        m = re.fullmatch(r"stim(\d+)", stim.name)
        spike = folder / f"spike{m[1]}" if m else None
        if spike is None or not spike.exists():
            continue  # a stimulus without its spike file: missing
        out.setdefault(stim.read_text().strip(), []).extend(read_aa1_spike_file(spike))
    return out


def find_base(root: Path) -> Path:
    """The folder holding ``all_stims`` (the dataset folder itself or one folder below).

    Args:
        root: The dataset folder.

    Returns:
        ``root`` or its sub-folder that holds ``all_stims``.

    Raises:
        FileNotFoundError: If neither holds it.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     (Path(d) / "crcns-aa1" / "all_stims").mkdir(parents=True)
        ...     find_base(Path(d)).name
        'crcns-aa1'
    """
    for candidate in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (candidate / "all_stims").is_dir():
            return candidate
    raise FileNotFoundError(f"CRCNS AA1: no 'all_stims' folder in {root} or its sub-folders")


def stratified_split(types: Sequence[str], names: Sequence[str]) -> dict[str, list[int]]:
    """Per type, sorted by name: the last 20 % test, the 10 % before them val, the rest train.

    Args:
        types: Type of each stimulus.
        names: Name of each stimulus (the MD5 of the WAV for AA1, so the order is arbitrary but fixed).

    Returns:
        ``{'train', 'val', 'test'}`` lists of stimulus indices, sorted.

    Example:
        >>> stratified_split(["song"] * 10, [f"{i:02d}" for i in range(10)])
        {'train': [0, 1, 2, 3, 4, 5, 6], 'val': [7], 'test': [8, 9]}
    """
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for t in dict.fromkeys(types):
        idx = sorted((i for i, ti in enumerate(types) if ti == t), key=lambda i: names[i])
        n_test, n_val = round(0.2 * len(idx)), round(0.1 * len(idx))
        out["test"] += idx[len(idx) - n_test :]
        out["val"] += idx[len(idx) - n_test - n_val : len(idx) - n_test]
        out["train"] += idx[: len(idx) - n_test - n_val]
    return {k: sorted(v) for k, v in out.items()}


def compress(power: np.ndarray, compression: str) -> np.ndarray:
    """Cube root, natural log of power + 1e-6, or nothing."""
    if compression == "cube_root":
        return np.cbrt(power)
    return np.log(power + 1e-6) if compression == "log" else power


def cell_meta(name: str, area: str) -> dict[str, Any]:
    m = _CELL.match(name)
    return {
        "cell_id": name,
        "animal_id": name.split("_")[0],
        "area": area,
        "cell_seq": int(m["seq"]) if m else None,
        "rig": m["rig"] if m else None,
    }
