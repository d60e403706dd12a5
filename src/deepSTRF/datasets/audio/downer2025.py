"""Downer 2025: macaque auditory cortex multi-units, TIMIT sentences and monkey vocalisations, per session.

Zenodo record 16175377 (CC-BY-4.0), one archive ``auditory_cortex_data.zip`` of about 29 GB:

- ``sessions/<id>/<animal>_<id>_Ch<N>[suffix]_MUspk.mat``, one multi-unit per file: ``spike.spktimes``
  (s, session clock) and ``trial.{stimon, timitStimcode, mVocStimcode}`` (onset in s and the
  code of the sound of each trial; a zero or NaN code means another kind of trial);
- ``stimuli/out_sentence_details_timit_all_loudness.mat``: ``sentdet(k).{sound, soundf, befaft,
  sentId, name}``, the sentence ``k`` (code ``k``) with ``befaft`` s of silence before and after;
  ``stimon`` marks the speech onset, so that silence is trimmed;
- ``stimuli/SqMoPhys_MVOCStimcodes.mat`` (``mVocsStimCodes``, ``mVocsStimOnTimes``: the code and
  onset in s of each of the 780 slots of ``stimuli/MonkVocs_15Blocks.wav``);
- ``sessions_metadata.yml``: hemisphere lists (``*_RH_sessions``, ``*_LH_sessions``),
  ``area_wise_sessions``, ``session_coordinates``, ``bad_sessions``, ``stim_wise_num_repeats``.

Nothing here needs the 29 GB in memory or on disk. :class:`Downer2025Sessions` reads the archive
(local, extracted, or remote through HTTP range requests) one session at a time: indexing a
session reads its file list and trial table; loading it builds a
:class:`~deepSTRF.datasets.NeuralDataset` of that session's multi-units only. With
``download=True`` each session's files are fetched when first needed (CRC-32 checked).

Assumptions to check on the real files (``verify()`` reports them): stimulus code ``k`` is the
``k``-th ``sentdet`` entry (1-based, as MATLAB indexes), the published test sentences are the
codes 12, 13, 32, 43, 56, 163, 212, 218, 287, 308, and a vocalisation lasts from its slot onset
to the next slot onset in the same WAV.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepSTRF._optional import require
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._checks import add_counts
from deepSTRF.datasets.audio._frontends import log_mel_power
from deepSTRF.datasets.audio._matfile import as_float, as_str, as_vector, field, items
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, resample
from deepSTRF.datasets.catalog import dataset_folder, get_dataset_info
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.remote_zip import fetch_zip_members, list_zip_members
from deepSTRF.datasets.smoothing import hanning_kernel, smooth_trials
from deepSTRF.datasets.sources import expand_url
from deepSTRF.datasets.verify import VerificationReport

DOWNER_URL = "https://zenodo.org/records/16175377"
ARCHIVE = "auditory_cortex_data.zip"
SENTENCES = "stimuli/out_sentence_details_timit_all_loudness.mat"
MVOC_CODES = "stimuli/SqMoPhys_MVOCStimcodes.mat"
MVOC_WAV = "stimuli/MonkVocs_15Blocks.wav"
METADATA = "sessions_metadata.yml"
#: The published test stimuli (TIMIT codes at 11 repeats).
PUBLISHED_TEST_TIMIT = (12, 13, 32, 43, 56, 163, 212, 218, 287, 308)
#: Figures of the real data (DATASETS-wave2.md).
DOCUMENTED: dict[str, Any] = {
    "sessions": 41,
    "units": 1718,
    "animals": 3,
    "timit_sentences": 499,
    "timit_test": 10,
    "timit_test_repeats": 11,
    "timit_test_codes": list(PUBLISHED_TEST_TIMIT),
    "mvocs": 303,
    "mvocs_test": 11,
    "mvocs_test_repeats": 15,
}
_MUSPK = re.compile(r"^(?P<animal>[^_]+)_(?P<session>[^_]+)_Ch(?P<channel>\d+)(?P<suffix>[^_]*)_MUspk\.mat$")


def download_downer2025(
    root: str | os.PathLike[str] | None = None, *, sessions: list[str] | None = None, progress: bool = True
) -> Path:
    """Fetch Downer 2025: the stimuli, the metadata and some (or all) sessions, member by member.

    The members are read out of the remote archive with HTTP range requests (CRC-32 checked), so
    nothing is extracted and a session costs only its own files. Pass ``sessions=[]`` to fetch only
    the stimuli and the metadata. To keep the whole archive instead (29 GB, MD5 checked), download
    ``auditory_cortex_data.zip`` into the dataset folder: the loaders read it in place.

    Args:
        root: Dataset folder; default ``<cache>/downer2025``.
        sessions: Session ids to fetch; default all.
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Example:
        >>> callable(download_downer2025)
        True
    """
    folder = dataset_folder("downer2025", root)
    index = Downer2025Sessions(folder, download=True, progress=progress)
    for session in index.session_ids if sessions is None else sessions:
        index.fetch_session(session)
    return folder


class _Archive:
    """The dataset's files, from an extracted folder, a local zip, or (fetched on demand) the remote zip."""

    def __init__(self, folder: Path, download: bool, progress: bool) -> None:
        self.folder, self.download, self.progress = folder, download, progress
        local = folder / ARCHIVE
        self.zip = zipfile.ZipFile(local) if local.is_file() else None
        self.url = expand_url(get_dataset_info("downer2025").file(ARCHIVE).url)
        if self.zip is not None:
            names = [i.filename for i in self.zip.infolist() if not i.is_dir()]
        elif download:
            names = [i.filename for i in list_zip_members(self.url) if not i.is_dir()]
        else:
            names = (
                [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
            )
        meta = [n for n in names if n.endswith(METADATA)]
        if not meta:
            raise FileNotFoundError(
                f"Downer 2025: no {METADATA} in {folder} (nor in {ARCHIVE} there). Pass download=True to fetch the "
                f"files from {DOWNER_URL} session by session, or place {ARCHIVE} (or its content) in {folder}."
            )
        self.prefix = meta[0][: -len(METADATA)]
        self.names = [n[len(self.prefix) :] for n in names if n.startswith(self.prefix)]

    def read(self, name: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(self.prefix + name)
        path = self.folder / (self.prefix + name)
        if not path.is_file():
            if not self.download:
                raise FileNotFoundError(f"Downer 2025: {path} is missing (pass download=True to fetch it)")
            self.fetch(lambda n: n == self.prefix + name)
        return path.read_bytes()

    def fetch(self, select: Any) -> None:
        if self.zip is None and self.download:
            fetch_zip_members(self.url, self.folder, select, progress=self.progress)


def _loadmat(data: bytes, where: str) -> dict[str, Any]:
    sio = require("scipy.io", extra="data", purpose="reading MATLAB files")
    try:
        raw = sio.loadmat(io.BytesIO(data), simplify_cells=True)
    except (NotImplementedError, ValueError, TypeError) as err:
        raise ValueError(f"could not read {where} as a MATLAB v5/v7 file ({err})") from err
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def _codes(value: Any) -> np.ndarray:
    """Stimulus codes as integers, 0 where a trial has none (NaN or empty)."""
    v = as_vector(value)
    return np.where(np.isfinite(v), v, 0).astype(np.int64)


@dataclass
class SessionIndex:
    """What indexing a session reads: its multi-unit files and trial table (no spike times)."""

    session: str
    files: list[str]
    meta: list[dict[str, Any]]
    stimon: np.ndarray  # (n_trials,) s
    timit: np.ndarray  # (n_trials,) codes, 0 = not a TIMIT trial
    mvoc: np.ndarray  # (n_trials,) codes, 0 = not a vocalisation trial


def read_trials(mat: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(stimon, timitStimcode, mVocStimcode)`` of a MUspk file (a struct of vectors or a struct array)."""
    trial = field(mat, "trial", where)
    rows = items(trial)
    if len(rows) > 1:  # struct array, one element per trial
        get = [{k: as_float(r.get(k), 0.0) for k in ("stimon", "timitStimcode", "mVocStimcode")} for r in rows]
        stimon = np.array([g["stimon"] for g in get])
        return stimon, _codes([g["timitStimcode"] for g in get]), _codes([g["mVocStimcode"] for g in get])
    trial = rows[0]
    stimon = as_vector(field(trial, "stimon", where))
    timit = _codes(trial.get("timitStimcode"))
    mvoc = _codes(trial.get("mVocStimcode"))
    n = stimon.size
    timit = timit if timit.size == n else np.zeros(n, np.int64)
    mvoc = mvoc if mvoc.size == n else np.zeros(n, np.int64)
    return stimon, timit, mvoc


class Downer2025Sessions:
    """Session-by-session access to Downer 2025; loads nothing until a session is asked for.

    Iterating yields one :class:`~deepSTRF.datasets.NeuralDataset` per session (its multi-units on
    every stimulus of the chosen kind), so a pass over the whole set holds one session at a time.
    The stimuli (spectrograms or waveforms) are computed once and shared by every session.

    Args:
        root: Dataset folder; default ``<cache>/downer2025``.
        download: Fetch missing files from Zenodo, member by member, when first needed.
        stimuli: ``'timit'`` (sentences) or ``'mvocs'`` (monkey vocalisations).
        sessions: Only these session ids; default all.
        hemisphere: ``'LH'``, ``'RH'`` or ``None`` (both).
        include_bad: Keep the sessions listed in ``bad_sessions``.
        dt_ms: Bin width in ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz).
        n_frequency_bands: Mel bands.
        f_min_hz: Lowest mel edge.
        f_max_hz: Highest mel edge.
        window_ms: Analysis window.
        preset: ``'default'`` or ``'published'`` (per-sound z-scored bands, 21 ms smoothing).
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If the metadata or a session is missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> Downer2025Sessions.__name__
        'Downer2025Sessions'
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        stimuli: str = "timit",
        sessions: list[str] | None = None,
        hemisphere: str | None = None,
        include_bad: bool = True,
        dt_ms: float = 10.0,
        waveform: bool = False,
        audio_fs: float = 16000.0,
        n_frequency_bands: int = 80,
        f_min_hz: float = 20.0,
        f_max_hz: float = 8000.0,
        window_ms: float = 25.0,
        preset: str = "default",
        progress: bool = True,
    ) -> None:
        check_choice("stimuli", stimuli, ["timit", "mvocs"])
        check_choice("hemisphere", hemisphere, ["LH", "RH", None])
        check_choice("preset", preset, ["default", "published"])
        self.dt_ms, self.hop = check_timing(dt_ms, waveform, audio_fs)
        self.waveform, self.audio_fs, self.stimuli, self.preset = waveform, audio_fs, stimuli, preset
        self.n_frequency_bands = check_int("n_frequency_bands", n_frequency_bands)
        self.f_min_hz, self.f_max_hz = (
            check_positive_float("f_min_hz", f_min_hz),
            check_positive_float("f_max_hz", f_max_hz),
        )
        self.window_ms = check_positive_float("window_ms", window_ms)
        self.folder = dataset_folder("downer2025", root)
        self.archive = _Archive(self.folder, download, progress)
        yaml = require("yaml", extra="data", purpose="reading sessions_metadata.yml")
        self.metadata: dict[str, Any] = yaml.safe_load(self.archive.read(METADATA).decode("utf-8")) or {}
        self._hemi: dict[str, str] = {}
        for key, value in self.metadata.items():
            for side in ("LH", "RH"):
                if str(key).endswith(f"_{side}_sessions"):
                    self._hemi.update({str(s): side for s in value or []})
        self._area = {
            str(s): str(a) for a, ss in (self.metadata.get("area_wise_sessions") or {}).items() for s in ss or []
        }
        self._coords = {str(k): v for k, v in (self.metadata.get("session_coordinates") or {}).items()}
        self.bad_sessions = sorted(str(s) for s in self.metadata.get("bad_sessions") or [])
        self._files: dict[str, list[str]] = {}
        for name in self.archive.names:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "sessions" and _MUSPK.match(parts[2]):
                self._files.setdefault(parts[1], []).append(name)
        ids = sorted(self._files)
        if sessions is not None:
            unknown = sorted(set(map(str, sessions)) - set(ids))
            if unknown:
                raise ValueError(
                    f"`sessions` must be among the {len(ids)} sessions of the archive, got unknown {unknown}"
                )
            ids = [s for s in ids if s in set(map(str, sessions))]
        if hemisphere is not None:
            ids = [s for s in ids if self._hemi.get(s) == hemisphere]
        if not include_bad:
            ids = [s for s in ids if s not in self.bad_sessions]
        self.session_ids: list[str] = ids
        self._stims: list[Any] | None = None
        self.stim_meta: list[dict[str, Any]] = []
        self._codes: list[int] = []

    # ------------------------------------------------------------------ stimuli
    def _stimulus_audio(self) -> list[tuple[int, np.ndarray, float, dict[str, Any]]]:
        """``(code, audio, rate, meta)`` of every stimulus of the chosen kind."""
        out = []
        if self.stimuli == "timit":
            mat = _loadmat(self.archive.read(SENTENCES), SENTENCES)
            for k, entry in enumerate(items(field(mat, "sentdet", SENTENCES)), start=1):
                sound = as_vector(field(entry, "sound", SENTENCES))
                rate = as_float(entry.get("soundf"), 16000.0)
                before, after = ([*as_vector(entry.get("befaft")).tolist(), 0.0, 0.0])[:2]
                start, stop = round(before * rate), sound.size - round(after * rate)
                meta = {"code": k, "sent_id": as_float(entry.get("sentId")), "name": as_str(entry.get("name", ""))}
                out.append((k, sound[start:stop], rate, meta | {"trimmed_s": (before, after)}))
        else:
            mat = _loadmat(self.archive.read(MVOC_CODES), MVOC_CODES)
            codes = _codes(field(mat, "mVocsStimCodes", MVOC_CODES))
            onsets = as_vector(field(mat, "mVocsStimOnTimes", MVOC_CODES))
            audio, rate = _read_wav(self.archive.read(MVOC_WAV))
            ends = np.append(onsets[1:], audio.size / rate)
            ends = np.where(ends > onsets, ends, audio.size / rate)
            seen: set[int] = set()
            for code, t0, t1 in zip(codes, onsets, ends):
                if code <= 0 or code in seen:
                    continue
                seen.add(int(code))
                seg = audio[round(t0 * rate) : round(t1 * rate)]
                out.append(
                    (int(code), seg, rate, {"code": int(code), "onset_in_wav_s": float(t0), "name": f"mvoc{int(code)}"})
                )
            out.sort(key=lambda x: x[0])
        return out

    def stims(self) -> list[Any]:
        """The stimuli, computed on first use and shared by every session."""
        if self._stims is None:
            stims, meta, codes = [], [], []
            for code, audio, rate, m in self._stimulus_audio():
                n_bins = max(math.ceil(audio.size * 1000.0 / (rate * self.dt_ms) - 1e-9), 1)
                if self.waveform:
                    x = fit_length(resample(audio, rate, self.audio_fs), n_bins * int(self.hop or 0))
                else:
                    x = log_mel_power(
                        audio, rate, self.dt_ms, n_bins, n_bands=self.n_frequency_bands, f_min_hz=self.f_min_hz,
                        f_max_hz=min(self.f_max_hz, rate / 2.0), window_ms=self.window_ms,
                    )  # fmt: skip
                    if self.preset == "published":
                        sd = x.std(axis=1, keepdims=True)
                        x = (x - x.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
                stims.append(as_tensor(x[None]))
                meta.append(m | {"duration_s": audio.size / rate, "n_bins": n_bins})
                codes.append(code)
            self._stims, self.stim_meta, self._codes = stims, meta, codes
        return list(self._stims)

    # ------------------------------------------------------------------ sessions
    def fetch_session(self, session: str) -> None:
        """Fetch a session's files (with ``download=True``; nothing happens when they are present)."""
        wanted = {self.archive.prefix + n for n in self._files.get(str(session), [])}
        if any(not (self.folder / n).is_file() for n in wanted):
            self.archive.fetch(lambda n: n in wanted)

    def index_session(self, session: str) -> SessionIndex:
        """List a session's multi-units and read its trial table (from its first file)."""
        session = str(session)
        if session not in self._files:
            raise ValueError(f"`session` must be one of {sorted(self._files)[:8]}..., got {session!r}")
        self.fetch_session(session)
        files = sorted(self._files[session], key=_channel_order)
        first = _loadmat(self.archive.read(files[0]), files[0])
        stimon, timit, mvoc = read_trials(first, files[0])
        meta = []
        for name in files:
            m = _MUSPK.match(name.rsplit("/", 1)[1])
            assert m is not None
            meta.append(
                {
                    "unit": name.rsplit("/", 1)[1].removesuffix("_MUspk.mat"),
                    "session": session,
                    "animal": m["animal"],
                    "channel": int(m["channel"]),
                    "channel_suffix": m["suffix"],
                    "hemisphere": self._hemi.get(session),
                    "area": self._area.get(session),
                    "coordinates": self._coords.get(session),
                    "bad_session": session in self.bad_sessions,
                }
            )
        return SessionIndex(session, files, meta, stimon, timit, mvoc)

    def load_session(self, session: str) -> NeuralDataset:
        """One session as a dataset: its multi-units (neurons) on every stimulus of the chosen kind."""
        stims = self.stims()
        index = self.index_session(session)
        rows = {c: s for s, c in enumerate(self._codes)}
        lengths = [int(m["n_bins"]) for m in self.stim_meta]
        per_stim: list[list[np.ndarray]] = [[] for _ in stims]  # trials of the present units, in unit order
        n_trials = np.zeros((len(stims), len(index.files)), dtype=np.int64)
        for n, name in enumerate(index.files):
            mat = _loadmat(self.archive.read(name), name)
            spikes = np.sort(as_vector(field(field(mat, "spike", name), "spktimes", name)))
            stimon, timit, mvoc = read_trials(mat, name)
            own = timit if self.stimuli == "timit" else mvoc
            keep = np.array([int(c) in rows for c in own], dtype=bool) & (own > 0)
            trial_rows = np.array([rows[int(c)] for c in own[keep]], dtype=np.int64)
            flat, offsets = bin_trials(spikes, stimon[keep], np.asarray(lengths, np.int64)[trial_rows], self.dt_ms)
            order = np.argsort(trial_rows, kind="stable")
            for k in order:
                s = int(trial_rows[k])
                per_stim[s].append(flat[offsets[k] : offsets[k + 1]])
                n_trials[s, n] += 1
            del mat, spikes, flat
        packed = [
            as_tensor(np.stack(rows_s) if rows_s else np.zeros((0, lengths[s]))) for s, rows_s in enumerate(per_stim)
        ]
        del per_stim
        data = NeuralDataset.from_packed(
            stims,
            packed,
            torch.from_numpy(n_trials),
            self.dt_ms,
            stim_meta=self.stim_meta,
            nrn_meta=index.meta,
            audio_fs=self.audio_fs if self.waveform else None,
            name=f"Downer2025-{session}",
            info=self._info(),
        )
        if self.preset == "published":
            kernel = hanning_kernel(21.0, self.dt_ms)
            data._resp = [smooth_trials(r, kernel, causal=False) for r in data._resp]
        data.splits = self.splits()
        return data

    def __iter__(self) -> Iterator[NeuralDataset]:
        for session in self.session_ids:
            yield self.load_session(session)

    def __len__(self) -> int:
        return len(self.session_ids)

    def splits(self) -> dict[str, list[int]]:
        """``'test'``: the published test stimuli (TIMIT: the 10 documented codes; vocalisations: those
        repeated most in the metadata's ``stim_wise_num_repeats`` when given, else none); ``'val'``: a
        pinned 10 % of the others (lowest SHA-256 of the code); ``'train'``: the rest."""
        self.stims()
        if self.stimuli == "timit":
            test = [s for s, c in enumerate(self._codes) if c in PUBLISHED_TEST_TIMIT]
        else:
            test = [s for s, c in enumerate(self._codes) if c in set(self.mvoc_test_codes())]
        rest = [s for s in range(len(self._codes)) if s not in set(test)]
        ranked = sorted(rest, key=lambda s: hashlib.sha256(str(self._codes[s]).encode()).hexdigest())
        val = sorted(ranked[: round(0.1 * len(rest))])
        return {"train": [s for s in rest if s not in set(val)], "val": val, "test": test}

    def mvoc_test_codes(self) -> list[int]:
        """Vocalisation codes listed with the most repeats in ``stim_wise_num_repeats`` (the test set)."""
        reps = self.metadata.get("stim_wise_num_repeats") or {}
        table = reps.get("mVocs") or reps.get("mvocs") or {}
        if not isinstance(table, dict) or not table:
            return []
        top = max(int(v) for v in table.values())
        return sorted(int(k) for k, v in table.items() if int(v) == top)

    def _info(self) -> dict[str, Any]:
        return {
            "stimuli": self.stimuli,
            "preset": self.preset,
            "stimulus": "waveform"
            if self.waveform
            else "causal log mel power" + (", z-scored per band and sound" if self.preset == "published" else ""),
            "n_frequency_bands": self.n_frequency_bands,
            "f_min_hz": self.f_min_hz,
            "f_max_hz": self.f_max_hz,
            "window_ms": self.window_ms,
            "source": DOWNER_URL,
        }

    def observed(self) -> dict[str, Any]:
        """The figures :meth:`Downer2025Dataset.verify` compares with the documentation.

        Units and animals come from the file names; the test sets from the trial tables (one file
        per session is read): the stimuli repeated most, how often, and their codes.
        """
        self.stims()
        found: dict[str, Any] = {
            "sessions": len(self._files),
            "units": sum(len(v) for v in self._files.values()),
            "animals": len({_MUSPK.match(f.rsplit("/", 1)[1])["animal"] for v in self._files.values() for f in v}),  # type: ignore[index]
        }
        counts: dict[int, int] = {}
        for session in self.session_ids:
            idx = self.index_session(session)
            own = idx.timit if self.stimuli == "timit" else idx.mvoc
            for code, k in zip(*np.unique(own[own > 0], return_counts=True)):
                counts[int(code)] = max(counts.get(int(code), 0), int(k))
        top = max(counts.values(), default=0)
        at_top = sorted(c for c, k in counts.items() if k == top)
        if self.stimuli == "timit":
            found.update(timit_sentences=len(self._codes), timit_test=len(at_top), timit_test_repeats=top)
            found["timit_test_codes"] = at_top
        else:
            found.update(mvocs=len(self._codes), mvocs_test=len(at_top), mvocs_test_repeats=top)
        return found


def bin_trials(
    spikes_s: np.ndarray, onsets_s: np.ndarray, n_bins: np.ndarray, dt_ms: float
) -> tuple[np.ndarray, np.ndarray]:
    """Spike counts of many trials at once: trial ``k`` has ``n_bins[k]`` bins of ``dt_ms`` from ``onsets_s[k]``.

    Bin ``t`` of a trial covers ``[t dt, (t + 1) dt)`` ms after its onset (spikes before the onset or
    after the last bin are dropped), as :func:`~deepSTRF.datasets.audio._spikes.bin_spike_times` does.

    Args:
        spikes_s: Sorted spike times (s).
        onsets_s: Trial onsets (s).
        n_bins: Bins of each trial.
        dt_ms: Bin width.

    Returns:
        ``(flat, offsets)``: trial ``k`` is ``flat[offsets[k]:offsets[k + 1]]``.

    Example:
        >>> flat, off = bin_trials(np.array([0.0, 0.004, 0.011, 1.0]), np.array([0.0, 0.995]), np.array([2, 1]), 10.0)
        >>> flat.tolist(), off.tolist()
        ([2.0, 1.0, 1.0], [0, 2, 3])
    """
    n_bins = np.asarray(n_bins, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_bins)]).astype(np.int64)
    flat = np.zeros(int(offsets[-1]))
    if onsets_s.size == 0 or spikes_s.size == 0:
        return flat, offsets
    lo = np.searchsorted(spikes_s, onsets_s, "left")
    hi = np.searchsorted(spikes_s, onsets_s + n_bins * dt_ms / 1000.0, "left")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return flat, offsets
    trial = np.repeat(np.arange(onsets_s.size), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.arange(total) - starts + np.repeat(lo, counts)
    b = np.floor((spikes_s[idx] - onsets_s[trial]) * 1000.0 / dt_ms).astype(np.int64)
    ok = (b >= 0) & (b < n_bins[trial])
    flat += np.bincount(offsets[trial[ok]] + b[ok], minlength=flat.size)
    return flat, offsets


def _channel_order(name: str) -> tuple[int, str]:
    m = _MUSPK.match(name.rsplit("/", 1)[1])
    return (int(m["channel"]), m["suffix"]) if m else (10**9, name)


def _read_wav(data: bytes) -> tuple[np.ndarray, float]:
    soundfile = require("soundfile", extra="data", purpose="reading audio files")
    audio, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return audio[:, 0], float(rate)


class Downer2025Dataset(NeuralDataset):
    """Downer et al. 2025 as one dataset: the multi-units of the chosen sessions on every stimulus.

    A thin wrapper over :class:`Downer2025Sessions` (same arguments) that stacks the sessions'
    neurons. For the whole set prefer iterating over :class:`Downer2025Sessions`, which holds one
    session at a time. Stimuli: causal log mel power (80 bands, 25 ms window, up to 8 kHz) of the
    sentences with the silence before and after trimmed (``befaft``), or of the vocalisations; or
    waveforms. Responses: spike counts of every trial from the stimulus onset.

    ``preset='published'``: each sound's bands z-scored over time and the responses smoothed with
    the 21 ms Hanning window (centred), as published.

    Splits: ``'test'``, the published test stimuli; ``'val'``, a pinned 10 % of the others; ``'train'``.
    Neuron metadata: ``unit``, ``session``, ``animal``, ``channel``, ``channel_suffix``,
    ``hemisphere``, ``area``, ``coordinates``, ``bad_session``. Stimulus metadata: ``code``,
    ``name``, ``duration_s``, ``n_bins`` (sentences also ``sent_id``, ``trimmed_s``).

    Args:
        root: Dataset folder; default ``<cache>/downer2025``.
        download: Fetch missing files session by session.
        **kwargs: The keyword arguments of :class:`Downer2025Sessions` (``stimuli``, ``sessions``,
            ``hemisphere``, ``include_bad``, ``dt_ms``, ``waveform``, ``audio_fs``, ``preset``...).

    Raises:
        FileNotFoundError, ValueError: As :class:`Downer2025Sessions`.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("downer2025")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 29 GB (one archive; the loaders fetch single sessions from it)')
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, download: bool = False, **kwargs: Any) -> None:
        sessions = Downer2025Sessions(root, download, **kwargs)
        if not sessions.session_ids:
            raise ValueError("Downer 2025: the selection keeps no session")
        parts = [sessions.load_session(s) for s in sessions.session_ids]
        responses: list[list[Any]] = [[] for _ in range(parts[0].n_stimuli)]
        nrn_meta: list[dict[str, Any]] = []
        for part in parts:
            for s in range(part.n_stimuli):
                responses[s].extend(part.get_response(s, n) for n in range(part.n_neurons))
            nrn_meta.extend(part.nrn_meta)
        super().__init__(
            sessions.stims(),
            responses,
            sessions.dt_ms,
            stim_meta=sessions.stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=sessions.audio_fs if sessions.waveform else None,
            name="Downer2025",
            info=sessions._info() | {"sessions": list(sessions.session_ids)},
        )
        self.splits = sessions.splits()
        self.sessions = sessions

    @classmethod
    def verify(
        cls, root: str | os.PathLike[str] | None = None, *, expected: dict[str, Any] | None = None
    ) -> VerificationReport:
        """Re-check a copy (local zip, extracted folder) against the documented figures, without loading it.

        The archive is indexed (file names, trial tables, stimulus files), both stimulus kinds; no
        session's spikes are binned, so this takes seconds even on the 29 GB archive.

        Args:
            root: Dataset folder (default: the cache folder).
            expected: Figures to check (value or ``(low, high)``); default :data:`DOCUMENTED`.

        Returns:
            The report.

        Example:
            >>> import tempfile
            >>> Downer2025Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("downer2025")
        want = DOCUMENTED if expected is None else expected
        for kind in ("timit", "mvocs"):
            sessions = report.attempt(f"index the archive ({kind})", lambda k=kind: Downer2025Sessions(root, stimuli=k))  # type: ignore[misc]
            if sessions is None:
                break
            found = report.attempt(f"read the stimuli and trial tables ({kind})", sessions.observed)
            if found is not None:
                own = {k: v for k, v in want.items() if k in found and (kind == "timit" or not k.startswith("timit"))}
                if kind == "mvocs":
                    own = {k: v for k, v in own.items() if k.startswith("mvoc")}
                add_counts(report, found, own)
        return report
