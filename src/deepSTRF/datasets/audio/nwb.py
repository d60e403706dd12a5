"""Datasets from Neurodata Without Borders files: :func:`from_nwb` (needs the ``nwb`` extra).

What is read from each file:

- the **units** table: ``spike_times`` (seconds) of each unit; every scalar column (e.g.
  ``quality``, ``location``) goes to the neuron metadata; if the table has
  ``obs_intervals``, a presentation counts as a trial of a unit only if it lies entirely
  inside one of the unit's observation intervals;
- a **time-intervals** table of stimulus presentations (``trials`` by default, or any table of
  ``nwbfile.intervals``) with ``start_time`` and a column naming the stimulus;
- the stimuli themselves, given as ``stimuli={name: array}`` (spectrograms ``(F, T_s)`` or
  ``(1, F, T_s)``, waveforms ``(T_audio_s,)`` with ``audio_fs``), or else read from
  ``nwbfile.stimulus[name]``: a ``TimeSeries`` with time first (``(T_s, F)`` at rate
  ``1000 / dt_ms`` Hz, or ``(T_audio_s,)`` at ``audio_fs``).

Each presentation gives one trial: spikes at ``start_time + tau`` are binned with
``floor(tau / dt_ms)`` into half-open bins ``[t * dt_ms, (t + 1) * dt_ms)`` over
``[0, T_s * dt_ms)``; spikes outside are dropped and coincident spikes are all counted.
``tau`` is computed in float64 and snapped to 1 ns, so that a spike exactly on a bin edge
is not moved into the previous bin by the rounding of the subtraction. Units of several files
are concatenated; a stimulus never presented in a file is missing for that file's units.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from deepSTRF._optional import require
from deepSTRF._validation import check_positive_float
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.core import NeuralDataset, hop_samples

__all__ = ["from_nwb"]


class _Session(NamedTuple):
    spikes: list[np.ndarray]
    observed: list[np.ndarray | None]
    meta: list[dict[str, Any]]
    onsets: np.ndarray
    shown: np.ndarray


@contextmanager
def _open_nwb(pynwb: Any, path: Path) -> Iterator[Any]:
    """The NWB file object of ``path``, with unreadable files reported as ValueError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as err:  # h5py and hdmf raise many types for unreadable files
        raise ValueError(f"{path} is not a readable NWB file: {type(err).__name__}: {err}") from err
    with io:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nwb = io.read()
        except Exception as err:
            raise ValueError(f"{path} is not a readable NWB file: {type(err).__name__}: {err}") from err
        yield nwb


def _unit_table(nwb: Any, path: Path) -> tuple[list[np.ndarray], list[np.ndarray | None], list[dict[str, Any]]]:
    units = nwb.units
    if units is None or "spike_times" not in units.colnames:
        raise ValueError(f"{path}: the NWB file has no units table with spike_times")
    index = units["spike_times"]
    flat, ends = np.asarray(index.target.data[:], dtype=np.float64), np.asarray(index.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    spikes = [np.sort(flat[a:b]) for a, b in zip(starts, ends)]
    observed: list[np.ndarray | None] = [None] * len(spikes)
    if "obs_intervals" in units.colnames:
        observed = [np.asarray(units["obs_intervals"][i], dtype=np.float64).reshape(-1, 2) for i in range(len(spikes))]
    ids = np.asarray(units.id[:])
    meta = [
        {"unit_id": int(ids[i]), "nwb_file": path.name, "session_id": str(nwb.identifier)} for i in range(len(spikes))
    ]
    for col in units.colnames:
        if col in ("spike_times", "obs_intervals"):
            continue
        for i, value in enumerate(units[col][:]):
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, (str, bool, int, float)):
                meta[i][col] = value
    return spikes, observed, meta


def _presentations(nwb: Any, path: Path, intervals: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    tables = dict(nwb.intervals) if nwb.intervals is not None else {}
    if intervals not in tables:
        raise ValueError(f"{path}: no time-intervals table {intervals!r}; the file has {sorted(tables)}")
    table = tables[intervals]
    if column not in table.colnames:
        raise ValueError(
            f"{path}: table {intervals!r} has no column {column!r}; its columns are {list(table.colnames)}"
        )
    names = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in table[column][:]])
    return np.asarray(table["start_time"][:], dtype=np.float64), names


def _stimulus_from_file(nwb: Any, path: Path, name: str, dt_ms: float, audio_fs: float | None) -> np.ndarray:
    if name not in nwb.stimulus:
        raise ValueError(f"{path}: stimulus {name!r} is presented but is neither in `stimuli` nor in nwbfile.stimulus")
    series = nwb.stimulus[name]
    data = np.asarray(series.data[:], dtype=np.float64)
    rate = float(series.rate) if series.rate is not None else float("nan")
    want = audio_fs if audio_fs is not None else 1000.0 / dt_ms
    if not np.isclose(rate, want):
        raise ValueError(f"{path}: stimulus {name!r} has rate {rate} Hz but {want} Hz is expected")
    if audio_fs is not None:
        if data.ndim != 1:
            raise ValueError(f"{path}: waveform stimulus {name!r} must be 1-D, got shape {data.shape}")
        return data
    if data.ndim != 2:
        raise ValueError(f"{path}: spectrogram stimulus {name!r} must be (T, F), got shape {data.shape}")
    return data.T


def _trials(spikes: np.ndarray, observed: np.ndarray | None, onsets: np.ndarray, window_s: float) -> list[np.ndarray]:
    """Spike times (ms, snapped to 1 ns) relative to each onset, for the onsets the unit observed."""
    if observed is not None:
        inside = (observed[None, :, 0] <= onsets[:, None]) & (onsets[:, None] + window_s <= observed[None, :, 1])
        onsets = onsets[inside.any(axis=1)]
    lo = np.searchsorted(spikes, onsets, side="left")
    hi = np.searchsorted(spikes, onsets + window_s, side="right")
    return [np.round((spikes[a:b] - t0) * 1000.0, 6) for a, b, t0 in zip(lo, hi, onsets)]


def from_nwb(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    dt_ms: float,
    *,
    stimuli: Mapping[str, Any] | None = None,
    intervals: str = "trials",
    stimulus_column: str = "stimulus_name",
    audio_fs: float | None = None,
    name: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> NeuralDataset:
    """Build a dataset from the units and stimulus presentations of NWB files.

    Args:
        paths: One NWB file or several (their units are concatenated).
        dt_ms: Bin width in ms.
        stimuli: ``{name: spectrogram or waveform}``; its order is the dataset's stimulus order
            and presentations of other names are ignored (with a warning). ``None`` reads every
            presented stimulus from ``nwbfile.stimulus``, in order of first presentation.
        intervals: Name of the presentation table in ``nwbfile.intervals``.
        stimulus_column: Column of that table holding the stimulus name.
        audio_fs: Sample rate of waveform stimuli (waveform mode).
        name: Name of the dataset.
        dtype: Floating dtype of the dataset.

    Returns:
        A :class:`~deepSTRF.datasets.NeuralDataset`; ``stim_meta`` has ``name`` and
        ``n_presentations``, ``nrn_meta`` has ``unit_id``, ``nwb_file``, ``session_id`` and the
        units table's scalar columns.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If a file is not a readable NWB file or lacks the tables, columns or
            stimuli described above (the message names the file and what is missing).
        ImportError: If pynwb is missing (extra ``nwb``).

    Example:
        >>> from_nwb("missing.nwb", dt_ms=5.0)
        Traceback (most recent call last):
        ...
        FileNotFoundError: no NWB file at missing.nwb
    """
    files = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    dt_ms = check_positive_float("dt_ms", dt_ms)
    hop = hop_samples(check_positive_float("audio_fs", audio_fs), dt_ms) if audio_fs is not None else 1
    for p in files:
        if not p.is_file():
            raise FileNotFoundError(f"no NWB file at {p}")
    if not files:
        raise ValueError("`paths` must name at least one NWB file")
    pynwb = require("pynwb", extra="nwb", purpose="reading NWB files")
    content: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in (stimuli or {}).items()}
    sessions = []
    for path in files:
        with _open_nwb(pynwb, path) as nwb:
            spikes, observed, meta = _unit_table(nwb, path)
            onsets, shown = _presentations(nwb, path, intervals, stimulus_column)
            if stimuli is None:
                for stim in dict.fromkeys(shown.tolist()):
                    if stim not in content:
                        content[stim] = _stimulus_from_file(nwb, path, stim, dt_ms, audio_fs)
        sessions.append(_Session(spikes, observed, meta, onsets, shown))
    ignored = sorted({s for sess in sessions for s in sess.shown.tolist()} - set(content))
    if ignored:
        warnings.warn(f"presentations of stimuli not in `stimuli` are ignored: {ignored}", UserWarning, stacklevel=2)
    names = list(content)
    lengths = [int(np.shape(content[k])[-1]) // hop for k in names]
    responses: list[list[np.ndarray | None]] = [[] for _ in names]
    for sess in sessions:
        for s, stim in enumerate(names):
            starts = sess.onsets[sess.shown == stim]
            for u in range(len(sess.spikes)):
                trials = _trials(sess.spikes[u], sess.observed[u], starts, lengths[s] * dt_ms / 1000.0)
                responses[s].append(bin_spike_times(trials, lengths[s], dt_ms) if trials else None)
    stim_meta = [{"name": k, "n_presentations": int(sum((x.shown == k).sum() for x in sessions))} for k in names]
    return NeuralDataset(
        [content[k] for k in names],
        responses,
        dt_ms,
        stim_meta=stim_meta,
        nrn_meta=[m for sess in sessions for m in sess.meta],
        audio_fs=audio_fs,
        name=name,
        dtype=dtype,
    )
