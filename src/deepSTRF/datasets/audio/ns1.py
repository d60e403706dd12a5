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
from deepSTRF.datasets.audio._public import as_tensor, check_timing, dataset_root, with_published_checksums
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample
from deepSTRF.datasets.audio._spikes import bin_spike_times
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.sources import RemoteFile, ensure_files, osf_file

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
_DNET = "https://raw.githubusercontent.com/monzilur/DNet/master/"
_OSF_GUIDS = {"MetadataSHEnCneurons.mat": "gdwyd", "spikesandwav.zip": "5nxga", "ReadMe.rtf": "f3rtm"}
METADATA = RemoteFile("MetadataSHEnCneurons.mat", "https://osf.io/download/gdwyd/", description="neuron metadata")
SPIKES = RemoteFile(
    "spikesandwav.zip",
    "https://osf.io/download/5nxga/",
    extract=True,
    markers=("spikesandwav",),
    description="spike times and sound waveforms",
)
README = RemoteFile("ReadMe.rtf", "https://osf.io/download/f3rtm/", description="dataset README")
COCHLEAGRAMS = RemoteFile(
    "test_data_5ms.mat",
    _DNET + "test_data_5ms.mat",
    checksum="gitsha1:70179b2d34a90c6436955363c802280a89c0cc0f",
    description="5 ms cochleagrams of the 20 natural sounds (DNet repository)",
)
SPLITS = {
    "rahman2020": {"train": [0, 1, 2, 4, 5, 7, 8, *range(10, 19)], "test": [3, 6, 9, 19]},
    "dnet": {"train": list(range(16)), "test": [16, 17, 18, 19]},
    "deepstrf": {"train": list(range(14)), "val": [14, 15, 16], "test": [17, 18, 19]},
}
_TYPES = {0: "water_sounds", 19: "water_sounds", 3: "ferret_vocalization", 6: "insects_buzzing"}
_TYPES |= {s: "human_speech" for s in range(8, 12)}


def _resolve(files: list[RemoteFile], opener: Any) -> list[RemoteFile]:
    return with_published_checksums(files, lambda f: osf_file(_OSF_GUIDS[f.filename]))


def download_ns1(root: str | os.PathLike[str] | None = None, *, progress: bool = True) -> Path:
    """Download every NS1 file (metadata, spikes and waveforms, README, cochleagrams) into ``root``.

    Files already present are kept; the spike archive is extracted. OSF files are checked against
    the SHA-256 the OSF API publishes, the cochleagrams against their pinned git blob hash.

    Args:
        root: Dataset folder; default ``<cache>/ns1``.
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Raises:
        DownloadError: If a download fails or does not match its checksum.

    Example:
        >>> callable(download_ns1)
        True
    """
    files = [METADATA, SPIKES, README, COCHLEAGRAMS]
    return ensure_files(
        dataset_root(root, "ns1"), files, download=True, dataset="NS1", resolve=_resolve, progress=progress
    )


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
        stim_delay_frames: Frames by which the published cochleagrams are delayed (causal alignment).
        recompute_spectrogram: Compute the cochleagram from the waveforms even at 5 ms.
        split: Name of the split scheme exposed as ``splits``.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false (the message says where to put them).
        ValueError: For invalid arguments, or if a file does not have the documented structure.

    Example:
        >>> NS1Dataset.__name__
        'NS1Dataset'
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        dt_ms: float = 5.0,
        waveform: bool = False,
        audio_fs: float = 48000.0,
        stim_delay_frames: int = 1,
        recompute_spectrogram: bool = False,
        split: str = "deepstrf",
        progress: bool = True,
    ) -> None:
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        stim_delay_frames = check_int("stim_delay_frames", stim_delay_frames, minimum=0)
        check_choice("split", split, list(SPLITS))
        precomputed = not waveform and dt_ms == 5.0 and not recompute_spectrogram
        folder = dataset_root(root, "ns1")
        needed = [METADATA, SPIKES] + ([COCHLEAGRAMS] if precomputed else [])
        ensure_files(folder, needed, download=download, dataset="NS1", resolve=_resolve, progress=progress)
        base = folder / "spikesandwav"

        if precomputed:
            cochleagrams = read_ns1_cochleagrams(folder / COCHLEAGRAMS.filename)
            stims = [delay_frames(c, stim_delay_frames) for c in cochleagrams]
            lengths = [c.shape[-1] for c in cochleagrams]
        else:
            stims, lengths = self._from_waveforms(base, dt_ms, hop, audio_fs if waveform else None)
        n_stim = len(stims)

        units = read_ns1_metadata(folder / METADATA.filename)
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
                responses[s].append(as_tensor(bin_spike_times(sets[s], lengths[s], dt_ms)))
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
                "band_range_hz": None if waveform else (500.0, 22627.0),
                "source": NS1_URL,
            },
        )
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
