"""Le 2025: zebra finch auditory responses to intact, gapped and noise-filled song motifs (restoration).

Figshare article 29203457 (open access), one archive ``zebf-auditory-restoration-1.zip``:
``metadata/{recordings,song-birds,ephys-birds}.csv``; per stimulus set a folder of WAVs
(``nat8a-stimuli`` at 40 kHz, ``nat8b-stimuli`` at 48 kHz, ``synth8b-stimuli`` at 44.1 kHz) and
one or two folders of units (``nat8a-alpha-responses``, ``nat8a-beta-responses``,
``nat8b-responses``, ``synth8b-responses``), one pprox JSON file per unit
(``<bird>_<pen>_<site>_c<n>.pprox``).

Two pprox schemas occur. The legacy one (``spec:2/pprox``, first cohort): each trial has
``stimulus`` (a name), ``condition``, ``event`` (spike times in ms from the trial start) and
``stim_on`` (the stimulus onset in the trial, taken in ms like the events: an assumption to
check on the real files). The ``spec:2/stimtrial`` one: ``stimulus`` is an object with a ``name``
and ``events`` are spike times in s from the stimulus onset.

Stimulus names: ``ep_<motif>_<condition>[_g<gap>][_snr<n>]`` with condition one of C, G, N,
GB, CB, GM, CM; the nat8a set writes ``<motif>_<condition>``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.audio._checks import add_counts
from deepSTRF.datasets.audio._frontends import erb_band_power
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.catalog import fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.smoothing import hanning_kernel, smooth_trials
from deepSTRF.datasets.verify import VerificationReport

LE_URL = "https://doi.org/10.6084/m9.figshare.29203457"
ARCHIVE = "zebf-auditory-restoration-1.zip"
#: stimulus set -> (response folders, documented sample rate in Hz)
STIMULUS_SETS = {
    "nat8a": (("nat8a-alpha-responses", "nat8a-beta-responses"), 40000.0),
    "nat8b": (("nat8b-responses",), 48000.0),
    "synth8b": (("synth8b-responses",), 44100.0),
}
CONDITIONS = ("C", "G", "N", "GB", "CB", "GM", "CM")
#: Figures of the real data (DATASETS-wave2.md), per stimulus set.
DOCUMENTED: dict[str, dict[str, Any]] = {
    "nat8a": {
        "units_nat8a-alpha-responses": 407,
        "units_nat8a-beta-responses": 387,
        "repeats": (4, 10),
        "sample_rate": 40000.0,
    },
    "nat8b": {"units_nat8b-responses": 445, "repeats": (4, 10), "sample_rate": 48000.0},
    "synth8b": {"units_synth8b-responses": 476, "repeats": (4, 10), "sample_rate": 44100.0},
}
_STEM = re.compile(
    r"^(?:ep_)?(?P<motif>.+?)_(?P<condition>GB|CB|GM|CM|C|G|N)(?:_g(?P<gap>\d+))?(?:_snr(?P<snr>-?\d+(?:\.\d+)?))?$"
)
_UNIT = re.compile(r"^(?P<bird>[^_]+)_(?P<pen>[^_]+)_(?P<site>[^_]+)_c(?P<cluster>\d+)$")


def parse_stimulus(name: str) -> dict[str, Any]:
    """Motif, condition, gap index and SNR of a stimulus name (``None`` for what it lacks).

    Example:
        >>> parse_stimulus("ep_9ex2k0dy_G_g2_snr-5")
        {'motif': '9ex2k0dy', 'condition': 'G', 'gap': 2, 'snr': -5.0}
        >>> parse_stimulus("igmi8fxa_CB")["condition"], parse_stimulus("odd")["motif"]
        ('CB', 'odd')
    """
    stem = Path(name).stem if name.lower().endswith(".wav") else name
    m = _STEM.match(stem)
    if m is None:
        return {"motif": stem, "condition": None, "gap": None, "snr": None}
    return {
        "motif": m["motif"],
        "condition": m["condition"],
        "gap": int(m["gap"]) if m["gap"] else None,
        "snr": float(m["snr"]) if m["snr"] else None,
    }


def parse_unit(stem: str) -> dict[str, Any]:
    """Bird, pen, site and cluster of a unit file stem ``<bird>_<pen>_<site>_c<n>``.

    Example:
        >>> parse_unit("C104_3_1_c12")
        {'bird': 'C104', 'pen': '3', 'site': '1', 'cluster': 12}
    """
    m = _UNIT.match(stem)
    if m is None:
        return {"bird": stem.split("_")[0], "pen": None, "site": None, "cluster": None}
    return {"bird": m["bird"], "pen": m["pen"], "site": m["site"], "cluster": int(m["cluster"])}


@dataclass(frozen=True)
class PproxTrial:
    """One trial of a pprox file: stimulus name, condition (legacy schema) and spike times (ms from onset)."""

    stimulus: str
    condition: str | None
    spikes_ms: np.ndarray


def read_pprox(path: str | os.PathLike[str]) -> tuple[str, list[PproxTrial]]:
    """Read a pprox file of either schema; return ``('legacy' | 'stimtrial', trials)``.

    Raises:
        ValueError: If the file has no ``pprox`` list or a trial lacks its stimulus or events.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("pprox"), list):
        raise ValueError(f"{path}: expected a JSON object with a 'pprox' list of trials")
    schema = str(doc.get("$schema", ""))
    trials = []
    for i, t in enumerate(doc["pprox"]):
        stim = t.get("stimulus")
        events = t.get("events", t.get("event"))
        if stim is None or events is None:
            raise ValueError(f"{path}: trial {i} lacks 'stimulus' or 'event(s)' (keys: {sorted(t)})")
        if isinstance(stim, dict) or "stimtrial" in schema:
            name = stim["name"] if isinstance(stim, dict) else str(stim)
            spikes = np.asarray(events, dtype=np.float64).ravel() * 1000.0
            trials.append(PproxTrial(name, t.get("condition"), spikes))
        else:
            if "stim_on" not in t:
                raise ValueError(f"{path}: legacy trial {i} lacks 'stim_on'")
            spikes = np.asarray(events, dtype=np.float64).ravel() - float(t["stim_on"])
            trials.append(PproxTrial(str(stim), t.get("condition"), spikes))
    kind = (
        "stimtrial"
        if "stimtrial" in schema or any(isinstance(t.get("stimulus"), dict) for t in doc["pprox"])
        else "legacy"
    )
    return kind, trials


def find_base(folder: Path) -> Path:
    """The folder holding ``metadata/`` (the dataset folder or its single top folder)."""
    for cand in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())] if folder.is_dir() else []:
        if (cand / "metadata").is_dir():
            return cand
    raise FileNotFoundError(f"Le 2025: no metadata/ folder in {folder} or one level below")


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a metadata CSV (header row; empty list when the file is absent)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh)]


def motif_split(motifs: list[str]) -> dict[str, list[str]]:
    """The 6/1/1 split of 8 motifs (in general: 1 test, 1 val, the rest train), ranked by SHA-256.

    Example:
        >>> s = motif_split(list("abcdefgh"))
        >>> len(s["train"]), len(s["val"]), len(s["test"])
        (6, 1, 1)
    """
    ranked = sorted(set(motifs), key=lambda m: hashlib.sha256(m.encode()).hexdigest())
    return {"test": ranked[:1], "val": ranked[1:2], "train": ranked[2:]}


class Le2025Dataset(NeuralDataset):
    """Le et al. 2025: zebra finch auditory units, song motifs intact, with gaps, or with gaps filled by noise.

    One stimulus set per dataset (``'nat8a'``, ``'nat8b'`` or ``'synth8b'``; nat8a merges its two
    response folders). Each WAV is a stimulus of ``ceil(duration / dt)`` bins; responses are the
    spike counts of every trial from stimulus onset (bin ``t`` covers ``[t dt, (t + 1) dt)``).
    A unit that never heard a stimulus is missing for it.

    Stimuli: a causal spectrogram of ``n_frequency_bands`` ERB-spaced Gaussian bands (a gammatone
    stand-in) from ``f_min_hz`` to ``f_max_hz``, ``log(1 + power)``; or, with ``waveform=True``, the
    WAV resampled to ``audio_fs``.

    ``preset='published'``: the published evaluation, the nat8b set restricted to the intact (C)
    variants, 50 bands from 1 to 8 kHz with a 2.5 ms window, 5 ms bins and the 21 ms Hanning
    smoothing of the responses (centred).

    Splits group stimuli by motif so no motif is in two splits: of the motifs ranked by the
    SHA-256 of their name, the first is ``'test'``, the second ``'val'``, the rest ``'train'``
    (6/1/1 for the 8 motifs; which motifs the published work held out was not retrieved).

    Neuron metadata: ``unit``, ``bird``, ``pen``, ``site``, ``cluster``, ``folder``, ``schema``, and the
    ``metadata/ephys-birds.csv`` row of the bird (columns prefixed ``bird_``). Stimulus metadata:
    ``name``, ``motif``, ``condition``, ``gap``, ``snr``, ``sample_rate``, ``n_repeats``.

    Args:
        root: Dataset folder; default ``<cache>/le2025``.
        download: Download the archive from figshare if missing.
        stimulus_set: ``'nat8a'``, ``'nat8b'`` or ``'synth8b'``.
        conditions: Keep only these conditions (e.g. ``['C']``); default all.
        dt_ms: Bin width in ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz).
        n_frequency_bands: Number of bands.
        f_min_hz: Lowest band centre.
        f_max_hz: Highest band centre.
        window_ms: Analysis window.
        preset: ``'default'`` or ``'published'``.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("le2025")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 105 MB (720 MB unpacked)')
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        stimulus_set: str = "nat8b",
        conditions: list[str] | None = None,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 48000.0,
        n_frequency_bands: int = 50,
        f_min_hz: float = 1000.0,
        f_max_hz: float = 8000.0,
        window_ms: float = 10.0,
        preset: str = "default",
        progress: bool = True,
    ) -> None:
        check_choice("preset", preset, ["default", "published"])
        if preset == "published":
            stimulus_set, conditions, dt_ms = "nat8b", ["C"], 5.0
            n_frequency_bands, f_min_hz, f_max_hz, window_ms = 50, 1000.0, 8000.0, 2.5
        check_choice("stimulus_set", stimulus_set, list(STIMULUS_SETS))
        if conditions is not None:
            for c in conditions:
                check_choice("conditions", c, list(CONDITIONS))
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        n_frequency_bands = check_int("n_frequency_bands", n_frequency_bands)
        f_min_hz, f_max_hz = check_positive_float("f_min_hz", f_min_hz), check_positive_float("f_max_hz", f_max_hz)
        window_ms = check_positive_float("window_ms", window_ms)
        if f_min_hz >= f_max_hz:
            raise ValueError(f"`f_min_hz` must be below `f_max_hz`, got {f_min_hz} and {f_max_hz}")
        folder = fetch("le2025", root, download=download, progress=progress)
        base = find_base(folder)
        wav_dir = base / f"{stimulus_set}-stimuli"
        wavs = {p.stem: p for p in sorted(wav_dir.glob("*")) if p.suffix.lower() == ".wav"} if wav_dir.is_dir() else {}
        if not wavs:
            raise FileNotFoundError(f"Le 2025: no WAV files in {wav_dir}")

        units: list[tuple[str, str, str, list[PproxTrial]]] = []  # (folder, stem, schema, trials)
        for resp_dir in STIMULUS_SETS[stimulus_set][0]:
            for path in sorted((base / resp_dir).glob("*.pprox")) if (base / resp_dir).is_dir() else []:
                schema, trials = read_pprox(path)
                units.append((resp_dir, path.stem, schema, trials))
        if not units:
            raise FileNotFoundError(f"Le 2025: no pprox files for {stimulus_set} under {base}")

        def wav_of(trial: PproxTrial) -> str | None:
            stem = Path(trial.stimulus).stem if trial.stimulus.lower().endswith(".wav") else trial.stimulus
            if stem in wavs:
                return stem
            joined = f"{stem}_{trial.condition}" if trial.condition else None
            return joined if joined in wavs else None

        names = [n for n in wavs if conditions is None or parse_stimulus(n)["condition"] in conditions]
        index = {n: s for s, n in enumerate(names)}
        stims, lengths, stim_meta = [], [], []
        for name in names:
            audio, sr = read_audio(str(wavs[name]))
            n_bins = math.ceil(audio.size * 1000.0 / (sr * dt_ms) - 1e-9)
            if waveform:
                x = fit_length(resample(audio, sr, audio_fs), n_bins * int(hop or 0))
            else:
                power = erb_band_power(
                    audio, sr, dt_ms, n_bins, n_bands=n_frequency_bands, f_min_hz=f_min_hz, f_max_hz=f_max_hz,
                    window_ms=window_ms,
                )  # fmt: skip
                x = np.log1p(power)
            stims.append(as_tensor(x[None]))
            lengths.append(n_bins)
            stim_meta.append({"name": name, **parse_stimulus(name), "sample_rate": sr, "duration_s": audio.size / sr})

        birds = {row.get("bird", ""): row for row in read_table(base / "metadata" / "ephys-birds.csv")}
        responses: list[list[Any]] = [[None] * len(units) for _ in names]
        nrn_meta: list[dict[str, Any]] = []
        unknown: set[str] = set()
        for n, (resp_dir, stem, schema, trials) in enumerate(units):
            by_stim: dict[int, list[np.ndarray]] = {}
            for t in trials:
                wav = wav_of(t)
                if wav is None:
                    unknown.add(t.stimulus)
                elif wav in index:
                    by_stim.setdefault(index[wav], []).append(t.spikes_ms)
            for s, spikes in by_stim.items():
                responses[s][n] = as_tensor(bin_spike_times(spikes, lengths[s], dt_ms))
            info = parse_unit(stem)
            extra = {f"bird_{k}": v for k, v in birds.get(str(info["bird"]), {}).items() if k != "bird"}
            nrn_meta.append({"unit": stem, **info, "folder": resp_dir, "schema": schema, **extra})
        if unknown:
            raise ValueError(f"Le 2025: trials refer to stimuli with no WAV in {wav_dir}: {sorted(unknown)[:5]}")
        for s, meta in enumerate(stim_meta):
            meta["n_repeats"] = max((r.shape[0] for r in responses[s] if r is not None), default=0)
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=nrn_meta,
            audio_fs=audio_fs if waveform else None,
            name=f"Le2025-{stimulus_set}",
            info={
                "stimulus_set": stimulus_set,
                "conditions": conditions,
                "preset": preset,
                "stimulus": "waveform" if waveform else "causal ERB-band spectrogram, log(1 + power)",
                "n_frequency_bands": n_frequency_bands,
                "f_min_hz": f_min_hz,
                "f_max_hz": f_max_hz,
                "window_ms": window_ms,
                "source": LE_URL,
            },
        )
        if preset == "published":
            kernel = hanning_kernel(21.0, dt_ms)
            self._resp = [smooth_trials(rows, kernel, causal=False) for rows in self._resp]
            self.info["smoothing"] = {"kernel": "hanning", "width_ms": 21.0, "causal": False}
        groups = motif_split([str(m["motif"]) for m in stim_meta])
        self.splits = {k: [s for s, m in enumerate(stim_meta) if m["motif"] in v] for k, v in groups.items()}

    def observed(self) -> dict[str, Any]:
        """The figures :meth:`verify` compares with the documentation (units per folder, repeats, rate)."""
        folders = [m["folder"] for m in self.nrn_meta]
        reps = self.n_trials[self.n_trials > 0]
        found: dict[str, Any] = {f"units_{f}": folders.count(f) for f in STIMULUS_SETS[self.info["stimulus_set"]][0]}
        found["repeats"] = int(reps.min()) if reps.numel() else None
        found["repeats_max"] = int(reps.max()) if reps.numel() else None
        rates = {m["sample_rate"] for m in self.stim_meta}
        found["sample_rate"] = rates.pop() if len(rates) == 1 else sorted(rates)
        return found

    @classmethod
    def verify(
        cls, root: str | os.PathLike[str] | None = None, *, expected: dict[str, dict[str, Any]] | None = None
    ) -> VerificationReport:
        """Re-check a downloaded copy of every stimulus set against the documented figures.

        Args:
            root: Dataset folder (default: the cache folder).
            expected: ``{stimulus set: {figure: value or (low, high)}}``; default :data:`DOCUMENTED`.

        Returns:
            The report: per set, the loader's errors and warnings, the pprox schemas met, the counts.

        Example:
            >>> import tempfile
            >>> Le2025Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("le2025")
        for stimulus_set, want in (DOCUMENTED if expected is None else expected).items():
            ds = report.load(lambda s=stimulus_set: cls(root, stimulus_set=s, progress=False))  # type: ignore[misc]
            if ds is None:
                continue
            schemas = sorted({m["schema"] for m in ds.nrn_meta})
            report.check(f"{stimulus_set} pprox schemas known", set(schemas) <= {"legacy", "stimtrial"}, str(schemas))
            add_counts(report, ds.observed(), want, prefix=f"{stimulus_set} ")
        return report
