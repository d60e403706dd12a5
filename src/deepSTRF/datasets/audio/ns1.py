"""NS1: ferret primary auditory cortex, 119 units, 20 natural sounds × 20 repeats, 5 ms bins.

Data of Harper et al. (2016) as used by Rahman et al. (2019, 2020): spike times and sound
waveforms from the OSF project ``ayw2p``, and the 5 ms cochleagrams (34 bands, 500 Hz to
22.6 kHz) published with the DNet code of Rahman et al. 2019 (``test_data_5ms.mat``).

Facts not yet checked against the real files, implemented as documented and reported
clearly if the files differ: the cochleagram frame ``t`` most likely covers audio
``[5t, 5t + 10)`` ms, one frame beyond response bin ``t``, so by default the spectrogram is
delayed by ``stim_delay_frames=1`` (frame ``t - 1`` is paired with bin ``t``; the first frame
is filled with the stimulus' minimum value); spike set ``k`` is the ``k``-th cochleagram;
which of the two published validity criteria selects the 73 "valid" units.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._validation import check_choice, check_int
from deepSTRF.datasets.audio._ns1_files import (
    delay_frames,
    ns1_cochleagram,
    ns1_wav_name,
    read_ns1_cochleagrams,
    read_ns1_metadata,
    read_ns1_spike_file,
)
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.catalog import download_dataset, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.smoothing import apply_published_smoothing
from deepSTRF.datasets.verify import VerificationReport

__all__ = [
    "NS1Dataset",
    "delay_frames",
    "download_ns1",
    "ns1_cochleagram",
    "ns1_wav_name",
    "read_ns1_cochleagrams",
    "read_ns1_metadata",
    "read_ns1_spike_file",
]

NS1_URL = "https://osf.io/ayw2p/"
NS1_WINDOW_MS = 4995.0
NS1_AUDIO_FS = 48828.125  # TDT rate; the WAV headers say 48828
N_NATURAL = 20
METADATA = "MetadataSHEnCneurons.mat"
SPIKES = "spikesandwav.zip"
COCHLEAGRAMS = "test_data_5ms.mat"
SPLITS = {
    "rahman2020": {"train": [0, 1, 2, 4, 5, 7, 8, *range(10, 19)], "test": [3, 6, 9, 19]},
    "dnet": {"train": list(range(16)), "test": [16, 17, 18, 19]},
    "deepstrf": {"train": list(range(14)), "val": [14, 15, 16], "test": [17, 18, 19]},
}
_TYPES = {0: "water_sounds", 19: "water_sounds", 3: "ferret_vocalization", 6: "insects_buzzing"}
_TYPES |= {s: "human_speech" for s in range(8, 12)}


def download_ns1(root: str | os.PathLike[str] | None = None, *, progress: bool = True) -> Path:
    """Deprecated: use ``deepSTRF.datasets.catalog.download_dataset("ns1", root)``.

    Example:
        >>> callable(download_ns1)
        True
    """
    warnings.warn(
        'download_ns1 is deprecated; use deepSTRF.datasets.catalog.download_dataset("ns1", root)',
        DeprecationWarning,
        stacklevel=2,
    )
    return download_dataset("ns1", root, progress=progress)


EXPECTED = {"units": 119, "valid_noise_ratio": 73, "valid_single_depth": 73, "stimuli": 20, "repeats": 20,
            "bands": 34, "bins": 999}  # fmt: skip


class NS1Dataset(NeuralDataset):
    """NS1 (ferret A1, Harper et al. 2016): 119 units × 20 natural sounds × 20 repeats.

    Responses are raw spike counts per bin (no smoothing, no normalisation); every unit heard
    every sound, so nothing is missing. Stimuli, by mode:

    - spectrogram at ``dt_ms=5`` (default): the published 34-band cochleagrams ``X_nfht``,
      delayed by ``stim_delay_frames`` (see the module notes), ``T = 999`` bins (4.995 s);
    - spectrogram at another ``dt_ms`` (or ``recompute_spectrogram=True``): a causal cochleagram
      computed from the waveforms by :func:`ns1_cochleagram`;
    - ``waveform=True``: the waveforms resampled from 48,828.125 Hz to ``audio_fs`` and cropped to
      ``T * hop`` samples, ``T = floor(min(4995, duration) / dt_ms)``.

    Neuron metadata: ``cell_id``, ``area``, ``depth_um``, ``noise_ratio`` (Sahani–Linden normalised
    noise power: lower is cleaner), ``single_n``, ``single_t``, ``n_electrodes``, ``electrode_number``,
    ``spike_file``, ``used_fallback_name`` and the two published validity criteria
    ``valid_noise_ratio`` (noise ratio < 40) and ``valid_single_depth`` (``single_t`` in Yes/Maybe and
    depth >= 0). Stimulus metadata: ``name``, ``index``, ``wav_file``, ``type``, ``duration_ms``.
    Units whose spike file is missing are dropped with a warning and listed in ``dropped_neurons``.

    Splits (``split_schemes``; ``splits`` is the one chosen by ``split``): ``'rahman2020'``
    (train ``[0,1,2,4,5,7,8,10..18]``, test ``[3,6,9,19]``), ``'dnet'`` (first 16 / last 4) and
    ``'deepstrf'`` (train 0-13, val 14-16, test 17-19, the published deepSTRF checkpoint).

    Args:
        root: Dataset folder; default ``<cache>/ns1``.
        download: Download missing files (OSF and GitHub, no account needed).
        dt_ms: Bin width in ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz) in waveform mode; ``audio_fs * dt_ms / 1000`` must be an integer.
        stim_delay_frames: Frames by which the published cochleagrams are delayed (causal alignment);
            default 1 with ``preset="deepstrf"``, 0 with ``preset="published"``.
        recompute_spectrogram: Compute the cochleagram from the waveforms even at 5 ms.
        split: Name of the split scheme exposed as ``splits``.
        preset: ``"deepstrf"`` (causal: the cochleagram delayed one frame; spike counts from the exact
            times) or ``"published"`` (the published pipeline: no delay, spike times rounded to whole ms
            with at most one spike per ms, then summed per bin; responses smoothed, see ``smooth``).
        smooth: Smooth every trial as the published pipeline does (a 21 ms Hanning window of
            ``floor(21 / dt_ms)`` taps, made odd, not normalised, zero-padded and centred; see
            :func:`deepSTRF.datasets.smoothing.published_smooth_trials`); default ``True`` with
            ``preset="published"``, ``False`` otherwise.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false (the message says where to put them).
        ValueError: For invalid arguments, or if a file does not have the documented structure.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("ns1")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 160 MB')
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 48000.0,
        stim_delay_frames: int | None = None,
        recompute_spectrogram: bool = False,
        split: str = "deepstrf",
        preset: str = "deepstrf",
        smooth: bool | None = None,
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        check_choice("preset", preset, ["deepstrf", "published"])
        if stim_delay_frames is None:
            stim_delay_frames = 0 if preset == "published" else 1
        stim_delay_frames = check_int("stim_delay_frames", stim_delay_frames, minimum=0)
        check_choice("split", split, list(SPLITS))
        precomputed = not waveform and dt_ms == 5.0 and not recompute_spectrogram
        needed = [METADATA, SPIKES] + ([COCHLEAGRAMS] if precomputed else [])
        folder = fetch("ns1", root, files=needed, download=download, progress=progress)
        base = folder / "spikesandwav"

        if precomputed:
            cochleagrams = read_ns1_cochleagrams(folder / COCHLEAGRAMS)
            stims = [delay_frames(c, stim_delay_frames) for c in cochleagrams]
            lengths = [c.shape[-1] for c in cochleagrams]
        else:
            stims, lengths = self._from_waveforms(base, dt_ms, hop, audio_fs if waveform else None)
        n_stim = len(stims)

        units = read_ns1_metadata(folder / METADATA)
        responses: list[list[Any]] = [[] for _ in range(n_stim)]
        kept, self.dropped_neurons = [], []
        for unit in units:
            path = base / unit["spike_file"]
            fallback = path.with_name(path.stem + "_1" + path.suffix)
            unit["used_fallback_name"] = not path.exists() and fallback.exists()
            if unit["used_fallback_name"]:
                path, unit["spike_file"] = fallback, str(Path(unit["spike_file"]).with_name(fallback.name))
            if not path.exists():
                self.dropped_neurons.append(unit["cell_id"])
                continue
            sets = read_ns1_spike_file(path)
            if len(sets) < n_stim:
                raise ValueError(f"{path}: {len(sets)} stimulus sets, but {n_stim} natural sounds were found")
            for s in range(n_stim):
                trials = sets[s] if preset == "deepstrf" else [np.unique(np.round(t)) for t in sets[s]]
                responses[s].append(as_tensor(bin_spike_times(trials, lengths[s], dt_ms)))
            kept.append(unit)
        if self.dropped_neurons:
            warnings.warn(f"NS1: no spike file for units {self.dropped_neurons}; dropped", UserWarning, stacklevel=2)
        fallbacks = [u["cell_id"] for u in kept if u["used_fallback_name"]]
        if fallbacks:
            warnings.warn(f"NS1: spike files of {fallbacks} found under their '_1' name", UserWarning, stacklevel=2)

        stim_meta = [
            {
                "name": f"nat{s + 1:02d}",
                "index": s,
                "wav_file": f"spikesandwav/SH.En.C/{ns1_wav_name(s)}",
                "type": _TYPES.get(s, "unknown"),
                "duration_ms": lengths[s] * dt_ms,
            }
            for s in range(n_stim)
        ]
        super().__init__(
            [as_tensor(x[None]) for x in stims],
            responses,
            dt_ms,
            stim_meta=stim_meta,
            nrn_meta=kept,
            audio_fs=audio_fs if waveform else None,
            name="NS1",
            info={
                "stimulus": "waveform"
                if waveform
                else ("published cochleagram" if precomputed else "computed cochleagram"),
                "stim_delay_frames": stim_delay_frames if precomputed else 0,
                "preset": preset,
                "band_range_hz": None if waveform else (500.0, 22627.0),
                "source": NS1_URL,
            },
        )
        if smooth is None:
            smooth = preset == "published"
        elif not isinstance(smooth, bool):
            raise TypeError(f"`smooth` must be a bool or None, got {type(smooth).__name__}")
        if smooth:
            apply_published_smoothing(self)
        if n_stim == N_NATURAL:
            self.split_schemes = {k: {p: list(v) for p, v in d.items()} for k, d in SPLITS.items()}
        else:
            warnings.warn(f"NS1: {n_stim} stimuli instead of 20; no canonical split", UserWarning, stacklevel=2)
            self.split_schemes = {}
        self.splits = self.split_schemes.get(split, {})

    @staticmethod
    def _from_waveforms(
        base: Path, dt_ms: float, hop: int | None, audio_fs: float | None
    ) -> tuple[list[np.ndarray], list[int]]:
        """Waveforms (``(T * hop,)``) or computed cochleagrams (``(34, T)``) of the natural sounds found."""
        stims, lengths = [], []
        for s in range(N_NATURAL):
            path = base / "SH.En.C" / ns1_wav_name(s)
            if not path.exists():
                path = path.with_name(path.name + ".wav")
            if not path.exists():
                break
            audio, header_fs = read_audio(str(path))
            sf = NS1_AUDIO_FS if round(header_fs) == 48828 else header_fs
            n_bins = int(np.floor(min(NS1_WINDOW_MS, 1000.0 * audio.shape[0] / sf) / dt_ms + 1e-9))
            if hop is None or audio_fs is None:
                stims.append(ns1_cochleagram(audio, sf, dt_ms, n_bins))
            else:
                stims.append(fit_length(resample(audio, sf, audio_fs), n_bins * hop))
            lengths.append(n_bins)
        if not stims:
            raise FileNotFoundError(f"NS1: no waveform found in {base / 'SH.En.C'} (expected {ns1_wav_name(0)})")
        return stims, lengths

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy against the documented structure and counts (119 units, 73 valid,
        20 sounds x 20 repeats, 34 x 999 cochleagrams).

        Example:
            >>> import tempfile
            >>> NS1Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("ns1")
        ds = report.load(lambda: cls(root))
        if ds is None:
            return report
        observed = {
            "units": ds.n_neurons + len(ds.dropped_neurons),
            "valid_noise_ratio": sum(m["valid_noise_ratio"] for m in ds.nrn_meta),
            "valid_single_depth": sum(m["valid_single_depth"] for m in ds.nrn_meta),
            "stimuli": len(ds),
            "repeats": max(int(ds[s]["responses"].shape[1]) for s in range(len(ds))),
            "bands": ds.F,
            "bins": int(ds[0]["responses"].shape[-1]),
        }
        report.counts(observed, EXPECTED)
        return report
