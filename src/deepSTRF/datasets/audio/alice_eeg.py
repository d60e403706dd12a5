"""Alice EEG: human EEG (33 subjects, 61 channels) while listening to *Alice in Wonderland*, chapter one.

Data of Bhattasali S, Brennan J, Luh W-M, Franzluebbers B, Hale J (2020), "The Alice Datasets:
fMRI & EEG observations of natural language comprehension", LREC 2020, as redistributed in
the University of Maryland repository (DRUM, handle 1903/27591, doi:10.13016/pulf-lndn, open)
with Brodbeck C et al. (2023), "Eelbrain, a Python toolkit for time-continuous analysis with
temporal response functions", eLife 12:e85012. Files: ``eeg.{0,1,2}.zip`` →
``eeg.N/eeg/Sxx/Sxx_alice-raw.fif`` (MNE ``.fif``, one per subject) and ``stimuli.zip`` →
``stimuli/{1..12}.wav`` (the 12 story segments, 44.1 kHz) and ``AliceChapterOne-EEG.csv``.

In each recording the segments start at the annotations ``'1'`` ... ``'12'``; bad channels are
listed in ``info['bads']`` and artefacts are ``BAD_*`` annotations. MNE stores annotation onsets on
the recording's clock, which starts at ``first_samp / sfreq``; the sample of an onset in the data
array is ``round((onset - first_time) * sfreq)``. Reading ``onset * sfreq`` instead would shift every
segment by the recording's first sample.
"""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._optional import require
from deepSTRF._validation import check_choice
from deepSTRF.datasets.audio._checks import add_counts
from deepSTRF.datasets.audio._frontends import erb_band_power
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample
from deepSTRF.datasets.catalog import dataset_folder, fetch, get_dataset_info
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.verify import VerificationReport

ALICE_URL = "https://doi.org/10.13016/pulf-lndn"
N_SEGMENTS = 12
#: Figures of the real data (DATASETS-wave2.md).
DOCUMENTED: dict[str, Any] = {
    "subjects": 33,
    "channels": 61,
    "segments": 12,
    "story_minutes": (12.0, 12.8),
    "audio_rate": 44100.0,
}


def alice_files(parts: tuple[int, ...] = (0, 1, 2)) -> list[str]:
    """The DRUM files: the stimuli and the chosen EEG archives (each holds a third of the subjects).

    The files themselves (URLs, published checksums) are declared in :mod:`deepSTRF.datasets.catalog`.

    Example:
        >>> alice_files((1,))
        ['stimuli.zip', 'eeg.1.zip']
    """
    out = ["stimuli.zip"]
    for k in parts:
        if k not in (0, 1, 2):
            raise ValueError(f"`parts` must hold 0, 1 or 2 (eeg.0.zip ... eeg.2.zip), got {k!r}")
        out.append(f"eeg.{k}.zip")
    return out


def subject_files(folder: Path) -> dict[str, Path]:
    """``{subject: .fif path}`` for every ``Sxx_alice-raw.fif`` below ``folder``."""
    out: dict[str, Path] = {}
    for p in sorted(folder.rglob("*_alice-raw.fif")):
        out.setdefault(p.name.split("_")[0], p)
    return out


def segment_onsets(raw: Any) -> dict[int, int]:
    """Sample index (in the data array) of each segment annotation ``'1'`` ... ``'12'``."""
    out: dict[int, int] = {}
    for onset, desc in zip(raw.annotations.onset, raw.annotations.description):
        if re.fullmatch(r"\d+", str(desc).strip()):
            out.setdefault(int(desc), round((onset - raw.first_time) * raw.info["sfreq"]))
    return out


def bad_windows(raw: Any) -> list[tuple[int, int]]:
    """``[start, stop)`` samples of every ``BAD_*`` annotation (``BAD`` alone included)."""
    sf = raw.info["sfreq"]
    return [
        (round((o - raw.first_time) * sf), round((o - raw.first_time + d) * sf))
        for o, d, desc in zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description)
        if str(desc).upper().startswith("BAD")
    ]


def read_words(path: Path) -> dict[int, int]:
    """Number of words per segment in ``AliceChapterOne-EEG.csv`` (a ``Segment`` column is expected)."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        key = next((k for k in reader.fieldnames or [] if k.strip().lower() == "segment"), None)
        if key is None:
            return {}
        counts: dict[int, int] = {}
        for row in reader:
            try:
                seg = int(float(row[key]))
            except (TypeError, ValueError):
                continue
            counts[seg] = counts.get(seg, 0) + 1
    return counts


class AliceEEGDataset(NeuralDataset):
    """Alice EEG (Bhattasali et al. 2020; Brodbeck et al. 2023): 33 listeners, 61 EEG channels, 12 story segments.

    Each of the 12 segments is a stimulus of ``floor(duration / dt)`` bins. The EEG of each subject
    is filtered (``band_hz``; zero-phase, from MNE), resampled to ``1000 / dt_ms`` Hz and cut from each
    segment's onset annotation. Bad channels and ``BAD_*`` windows become missing data: with
    ``mode='neurons'`` (each subject × channel is a neuron, one trial) a bad channel is a missing
    pair and a bad window NaN bins; with ``mode='repeats'`` (each channel is a neuron, the subjects
    are its trials) a bad channel or window is NaN in that subject's trial.

    Stimuli: ``stimulus='spectrogram'``, the log power of 8 ERB-spaced Gaussian bands from 80 Hz to
    ``f_max_hz`` (a causal version of the published front-end); ``'envelope'``, the log of their summed
    power (F = 1); or, with ``waveform=True``, the audio resampled to ``audio_fs``.

    ``preset='published'``: the published preprocessing, a 1 Hz high-pass and no low-pass (the
    dataset's own documentation says 0.5-20 Hz, the default here), bands up to half the audio rate.

    Splits: by segment, ``'test'`` = segment 12, ``'val'`` = segment 11, ``'train'`` = 1-10 (a pinned
    choice; the published TRFs were cross-validated over segments).

    Neuron metadata: ``subject``, ``channel`` (neurons mode) or ``channel`` and ``bad_in`` (the
    subjects where it is bad, repeats mode). Stimulus metadata: ``segment``, ``duration_s``,
    ``n_words``.

    Args:
        root: Dataset folder; default ``<cache>/alice-eeg``.
        download: Download missing archives from DRUM.
        subjects: Subject ids to load (e.g. ``['S01', 'S03']``); default every subject found.
        parts: Which EEG archives to download (0, 1, 2); loading uses whatever subjects are present.
        mode: ``'neurons'`` or ``'repeats'``.
        stimulus: ``'spectrogram'`` or ``'envelope'``.
        dt_ms: Bin width in ms (the EEG is resampled to ``1000 / dt_ms`` Hz).
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz).
        band_hz: ``(low, high)`` filter edges in Hz (``None`` for no edge).
        n_frequency_bands: Number of ERB bands.
        f_min_hz: Lowest band centre.
        f_max_hz: Highest band centre (default: half the audio rate).
        window_ms: Analysis window of the spectrogram.
        preset: ``'default'`` or ``'published'``.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("alice-eeg")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 2.5 GiB (three EEG archives and the stimuli)')
        >>> info.part_names  # pieces that can be fetched alone (``deepstrf download --part``)
        ['eeg0', 'eeg1', 'eeg2']
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        subjects: list[str] | None = None,
        parts: tuple[int, ...] = (0, 1, 2),
        mode: str = "neurons",
        stimulus: str = "spectrogram",
        dt_ms: float = 10.0,
        waveform: bool = False,
        audio_fs: float = 16000.0,
        band_hz: tuple[float | None, float | None] = (0.5, 20.0),
        n_frequency_bands: int = 8,
        f_min_hz: float = 80.0,
        f_max_hz: float | None = None,
        window_ms: float = 25.0,
        preset: str = "default",
        progress: bool = True,
    ) -> None:
        check_choice("mode", mode, ["neurons", "repeats"])
        check_choice("stimulus", stimulus, ["spectrogram", "envelope"])
        check_choice("preset", preset, ["default", "published"])
        if preset == "published":
            band_hz, f_max_hz, n_frequency_bands, f_min_hz = (1.0, None), None, 8, 80.0
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        mne = require("mne", extra="eeg", purpose="reading the Alice EEG .fif files")
        folder = dataset_folder("alice-eeg", root)
        files = alice_files(parts)
        if not download and subject_files(folder):  # some subjects present: do not ask for every archive
            entry = get_dataset_info("alice-eeg")
            files = [f for f in files if f == "stimuli.zip" or entry.file(f).present(folder)]
        fetch("alice-eeg", folder, files=files, download=download, progress=progress)
        found = subject_files(folder)
        if subjects is not None:
            missing = sorted(set(subjects) - set(found))
            if missing:
                raise ValueError(f"`subjects` must be among those present in {folder} ({sorted(found)}), got {missing}")
            found = {s: found[s] for s in subjects}
        if not found:
            raise FileNotFoundError(f"Alice EEG: no *_alice-raw.fif file below {folder}")
        stim_dir = next((p.parent for p in folder.rglob("1.wav") if p.parent.name == "stimuli"), folder / "stimuli")
        words = read_words(stim_dir / "AliceChapterOne-EEG.csv")
        fs_eeg = 1000.0 / dt_ms
        stims, lengths, stim_meta, audio_rates = [], [], [], []
        for seg in range(1, N_SEGMENTS + 1):
            path = stim_dir / f"{seg}.wav"
            if not path.is_file():
                raise FileNotFoundError(f"Alice EEG: missing stimulus {path}")
            audio, sr = read_audio(str(path))
            n_bins = math.floor(audio.size * 1000.0 / (sr * dt_ms))
            if waveform:
                x = fit_length(resample(audio, sr, audio_fs), n_bins * int(hop or 0))[None]
            else:
                top = sr / 2.0 if f_max_hz is None else min(f_max_hz, sr / 2.0)
                power = erb_band_power(
                    audio, sr, dt_ms, n_bins, n_bands=n_frequency_bands, f_min_hz=f_min_hz, f_max_hz=top * 0.999,
                    window_ms=window_ms,
                )  # fmt: skip
                x = np.log(power.sum(0, keepdims=True) + 1e-10) if stimulus == "envelope" else np.log(power + 1e-10)
            stims.append(as_tensor(x[None] if not waveform else x))
            lengths.append(n_bins)
            audio_rates.append(sr)
            stim_meta.append({"segment": seg, "duration_s": audio.size / sr, "n_words": words.get(seg)})

        channels: list[str] = []
        segments_missing: list[str] = []
        per_subject: dict[str, tuple[list[str], list[str], dict[int, np.ndarray]]] = {}
        for subject, path in found.items():
            raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
            raw.pick("eeg", exclude=())
            names, bads = list(raw.ch_names), list(raw.info["bads"])
            if any(b is not None for b in band_hz):
                raw.filter(band_hz[0], band_hz[1], picks="all", verbose="error")
            if abs(raw.info["sfreq"] - fs_eeg) > 1e-9:
                raw.resample(fs_eeg, verbose="error")
            data = raw.get_data().astype(np.float64) * 1e6  # µV
            onsets = segment_onsets(raw)
            mask = np.zeros(data.shape[1], dtype=bool)
            for a, b in bad_windows(raw):
                mask[max(a, 0) : max(b, 0)] = True
            data[:, mask] = np.nan
            segs = {}
            for seg in range(1, N_SEGMENTS + 1):
                if seg not in onsets:
                    continue
                start, n = onsets[seg], lengths[seg - 1]
                cut = np.full((data.shape[0], n), np.nan)
                piece = data[:, max(start, 0) : start + n]
                cut[:, : piece.shape[1]] = piece
                segs[seg] = cut
            per_subject[subject] = (names, bads, segs)
            segments_missing += [f"{subject}:{seg}" for seg in range(1, N_SEGMENTS + 1) if seg not in onsets]
            channels += [c for c in names if c not in channels]
            del raw, data

        responses: list[list[Any]] = []
        nrn_meta: list[dict[str, Any]] = []
        if mode == "neurons":
            for subject, (names, bads, _) in per_subject.items():
                nrn_meta += [{"subject": subject, "channel": c, "bad": c in bads} for c in names]
            for seg in range(1, N_SEGMENTS + 1):
                row: list[Any] = []
                for _subject, (names, bads, segs) in per_subject.items():
                    got = segs.get(seg)
                    for i, c in enumerate(names):
                        row.append(None if got is None or c in bads else as_tensor(got[i : i + 1]))
                responses.append(row)
        else:
            for c in channels:
                nrn_meta.append({"channel": c, "bad_in": [s for s, (_, bads, _) in per_subject.items() if c in bads]})
            for seg in range(1, N_SEGMENTS + 1):
                row = []
                for c in channels:
                    trials = []
                    for names, bads, segs in per_subject.values():
                        got = segs.get(seg)
                        bad = got is None or c not in names or c in bads
                        trials.append(np.full(lengths[seg - 1], np.nan) if got is None or bad else got[names.index(c)])
                    block = np.stack(trials)
                    row.append(None if np.all(np.isnan(block)) else as_tensor(block))
                responses.append(row)
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=audio_fs if waveform else None,
            name="AliceEEG",
            info={
                "mode": mode,
                "stimulus": "waveform" if waveform else stimulus,
                "band_hz": tuple(band_hz),
                "preset": preset,
                "subjects": list(per_subject),
                "channels": channels,
                "segments_missing": segments_missing,
                "audio_rates": sorted(set(audio_rates)),
                "units": "µV",
                "source": ALICE_URL,
            },
        )
        self.splits = {"train": list(range(10)), "val": [10], "test": [11]}

    def observed(self) -> dict[str, Any]:
        """The figures :meth:`verify` compares with the documentation (subjects, channels, segments...)."""
        rates = self.info["audio_rates"]
        return {
            "subjects": len(self.info["subjects"]),
            "channels": len(self.info["channels"]),
            "segments": self.n_stimuli,
            "story_minutes": round(sum(m["duration_s"] for m in self.stim_meta) / 60.0, 3),
            "audio_rate": rates[0] if len(rates) == 1 else rates,
        }

    @classmethod
    def verify(
        cls, root: str | os.PathLike[str] | None = None, *, expected: dict[str, Any] | None = None
    ) -> VerificationReport:
        """Re-check a downloaded copy against the documented figures (subjects, channels, segments, duration).

        Besides the counts, every recording must carry the 12 segment annotations (a segment without
        one is missing data for that subject).

        Args:
            root: Dataset folder (default: the cache folder).
            expected: Figures to check (value or ``(low, high)``); default :data:`DOCUMENTED`.

        Returns:
            The report.

        Example:
            >>> import tempfile
            >>> AliceEEGDataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("alice-eeg")
        ds = report.load(lambda: cls(root, mode="repeats", band_hz=(None, None), progress=False))
        if ds is not None:
            lacking = ds.info["segments_missing"]
            report.check("every recording has the annotations '1'...'12'", not lacking, f"missing: {lacking}")
            add_counts(report, ds.observed(), DOCUMENTED if expected is None else expected)
        return report
