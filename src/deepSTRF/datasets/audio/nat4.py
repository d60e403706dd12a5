"""NAT4: ferret A1 (849 units) and PEG (398 units) responses to 593 natural sounds, 10 ms bins.

Data of Pennington & David (2023, PLoS Comput Biol 19:e1011110), Zenodo record 8044773
(CC-BY-4.0). The population file holds the 18-band log-spaced spectrogram ("ozgf") and the
responses of every unit at 100 Hz: 575 estimation sounds heard once, and the 18 validation
sounds averaged over their 20 repeats. The per-site files hold the single trials of the
validation sounds (spike times at 1 kHz); this loader takes the test set from them, so that
train and test responses are both raw spike counts per bin.

Facts not yet checked against the real files (implemented as documented; the loader's
errors name the file if they differ): the ``PreStimSilence`` duration (read from the epoch
table, 0.25 s expected), the cell-id pattern ``<SITE>-<electrode>-<unit>`` (matched on the
parsed integers, so ``TNC015a-07-1`` and ``TNC015a-007-1`` are one cell), and the internal
frame alignment of the ozgf spectrogram, used as published (frame ``t`` with bin ``t``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepSTRF._validation import check_choice
from deepSTRF.datasets.audio._nat4_parts import (
    cell_key,
    find_dir,
    minmax,
    nat4_splits,
    nrn_meta,
    pool,
    read_auditory_flags,
    read_site_index,
    site_counts,
    stim_meta,
)
from deepSTRF.datasets.audio._nems import Epoch, NemsSignal, epoch_rows, prestim_seconds, read_signal, stimulus_epochs
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.audio._spectro import fit_length, read_audio, resample
from deepSTRF.datasets.catalog import download_dataset, fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.verify import VerificationReport

NAT4_RECORD = 8044773
NAT4_URL = "https://zenodo.org/records/8044773"


def nat4_files(area: str, *, per_site: bool = True, waveform: bool = False) -> list[str]:
    """The names of the NAT4 files one area needs (population file, auditory flags, per-site trials, WAVs).

    The files themselves (URLs, checksums) are declared in :mod:`deepSTRF.datasets.catalog`.

    Args:
        area: ``'A1'`` or ``'PEG'``.
        per_site: Include the per-site archive (single trials of the test sounds).
        waveform: Include the WAV archive.

    Returns:
        File names, population file first.

    Raises:
        ValueError: If ``area`` is unknown.

    Example:
        >>> nat4_files("PEG", per_site=False)
        ['PEG_NAT4_ozgf.fs100.ch18.tgz', 'PEG_pred_correlation.csv']
    """
    check_choice("area", area, ["A1", "PEG"])
    files = [f"{area}_NAT4_ozgf.fs100.ch18.tgz", f"{area}_pred_correlation.csv"]
    if per_site:
        files.append(f"{area}_single_sites.zip")
    if waveform:
        files.append("wav.zip")
    return files


def download_nat4(root: str | os.PathLike[str] | None = None, *, progress: bool = True) -> Path:
    """Deprecated: use ``deepSTRF.datasets.catalog.download_dataset("nat4", root)``.

    Example:
        >>> callable(download_nat4)
        True
    """
    warnings.warn(
        'download_nat4 is deprecated; use deepSTRF.datasets.catalog.download_dataset("nat4", root)',
        DeprecationWarning,
        stacklevel=2,
    )
    return download_dataset("nat4", root, progress=progress)


EXPECTED = {"units_A1": 849, "auditory_A1": 777, "units_PEG": 398, "auditory_PEG": 339, "stimuli_est": 575,
            "stimuli_val": 18, "repeats_val": 20, "bands": 18, "bins": 150}  # fmt: skip


class NAT4Dataset(NeuralDataset):
    """NAT4 (Pennington & David 2023): ferret A1 or PEG, 575 estimation + 18 validation natural sounds.

    Each stimulus is a 1.5 s epoch (pre-stimulus silence, 1 s of sound, post-stimulus silence), 150
    bins at 10 ms. Estimation sounds have one trial, from the population file (a unit not recorded
    for a sound is missing there). Validation sounds have their single trials (R = 20), from the
    per-site files; a unit found in no per-site file is missing there and listed in
    ``missing_test_cells``. Responses are raw spike counts per bin by default.

    Stimuli: the 18-band ozgf spectrogram as published (linear values), averaged over blocks when
    ``dt_ms`` is a multiple of 10; or, with ``waveform=True``, the 44.1 kHz WAV placed at the
    pre-stimulus-silence offset in a silent buffer of ``T * hop`` samples (resampled to ``audio_fs``).

    ``normalize`` (off with the default preset): ``'paper'`` and ``'train'`` follow the NEMS recipe of
    the source paper, ``log((x + 0.1) / 0.1)`` then per-band min-max for the spectrogram (values below
    1e-6 set to 0) and per-unit min-max of the 10 ms counts for the responses; ``'paper'`` takes the
    statistics from the whole recording, test sounds included (a leak, warned about), ``'train'`` from
    the ``'train'`` split only. ``'published'`` (the default of ``preset="published"``) is the published
    library's variant: ``log(1 + x)`` then one global min-max over every band and frame of the
    recording for the spectrogram, one global min-max over the whole population raster (all units) for
    the responses read from the population file, and raw counts for the per-site test trials (also a
    leak, warned about).

    Splits (``splits``): ``'test'``, the 18 validation sounds (what NEMS calls "val"); ``'val'``, a
    pinned early-stopping subset of 10 % of the estimation sounds (those whose name has the lowest
    SHA-256); ``'train'``, the other estimation sounds. Valid units: ``nrn_meta[n]['auditory']``.

    Neuron metadata: ``cell_id``, ``site``, ``animal``, ``electrode``, ``unit``, ``area``, ``auditory``,
    ``per_site_file``, ``has_test_trials``. Stimulus metadata: ``name``, ``subset`` (``est``/``val``),
    ``n_repeats``, ``category_id``, ``rec``, ``wav_file``, ``prestim_s``.

    Args:
        root: Dataset folder; default ``<cache>/nat4``.
        download: Download missing files from Zenodo (no account needed).
        area: ``'A1'`` or ``'PEG'``.
        dt_ms: Bin width, a multiple of 10 ms.
        waveform: Return waveforms instead of spectrograms.
        audio_fs: Waveform sample rate (Hz); ``audio_fs * dt_ms / 1000`` must be an integer.
        test_trials: ``'per_site'`` (single trials) or ``'population'`` (the trial-averaged block, R = 1).
        normalize: ``'none'``, ``'train'``, ``'paper'`` or ``'published'`` (see above); default ``'none'``
            with ``preset="deepstrf"`` and ``'published'`` with ``preset="published"``.
        preset: ``"deepstrf"`` (validation sounds first, then estimation sounds; raw values) or
            ``"published"`` (the published library's order, estimation sounds first so stimulus indices
            match its code, and its normalisation; an explicit ``normalize`` overrides it).
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("nat4")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 220 MB (both areas and the WAV files)')
        >>> info.part_names  # pieces that can be fetched alone (``deepstrf download --part``)
        ['A1', 'PEG', 'wav']
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        area: str = "A1",
        dt_ms: float = 10.0,
        waveform: bool = False,
        audio_fs: float = 44100.0,
        test_trials: str = "per_site",
        normalize: str | None = None,
        preset: str = "deepstrf",
        progress: bool = True,
    ) -> None:
        check_choice("preset", preset, ["deepstrf", "published"])
        check_choice("area", area, ["A1", "PEG"])
        check_choice("test_trials", test_trials, ["per_site", "population"])
        normalize = normalize if normalize is not None else ("published" if preset == "published" else "none")
        check_choice("normalize", normalize, ["none", "train", "paper", "published"])
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        if abs(dt_ms / 10.0 - round(dt_ms / 10.0)) > 1e-9:
            raise ValueError(f"`dt_ms` must be a multiple of 10 (the published 100 Hz bins), got {dt_ms}")
        k = round(dt_ms / 10.0)
        files = nat4_files(area, per_site=test_trials == "per_site", waveform=waveform)
        folder = fetch("nat4", root, files=files, download=download, progress=progress)
        pop = folder / files[0]
        pop = pop if pop.exists() else folder / files[0].removesuffix(".tgz")

        resp = read_signal(pop, "resp")
        found = stimulus_epochs(resp, ("STIM_00cat", "STIM_cat"))
        epochs = [e for e in found if e.name.startswith("STIM_00cat")] + [
            e for e in found if e.name.startswith("STIM_cat")
        ]
        if not epochs or resp.raster is None:
            raise ValueError(f"{pop}: expected a rasterised resp signal with 'STIM_00cat…'/'STIM_cat…' epochs")
        n_val = sum(e.name.startswith("STIM_00cat") for e in epochs)
        splits = nat4_splits([e.name for e in epochs], list(range(n_val, len(epochs))), list(range(n_val)))
        rows = [epoch_rows(e, resp.fs) for e in epochs]
        if normalize in ("paper", "published"):
            warnings.warn(
                f"NAT4 normalize={normalize!r} takes statistics from the test sounds too", UserWarning, stacklevel=2
            )
            stat_rows = np.arange(resp.raster.shape[0])
        else:
            stat_rows = np.concatenate([np.arange(*rows[s]) for s in splits["train"]] + [np.zeros(0, int)])

        raster = resp.raster
        n_cells = raster.shape[1]
        lo, span = minmax(raster, stat_rows) if normalize != "none" else (np.zeros(n_cells), np.ones(n_cells))
        site_lo, site_span = lo, span
        if normalize == "published":  # one min and max over the whole population raster; per-site counts stay raw
            g_lo, g_span = minmax(raster.reshape(-1, 1), np.arange(raster.size))
            lo, span = np.full(n_cells, g_lo[0]), np.full(n_cells, g_span[0])
            site_lo, site_span = np.zeros(n_cells), np.ones(n_cells)
        site_index: dict[Any, tuple[str, NemsSignal, str]] = {}
        if test_trials == "per_site":
            site_dir = find_dir(folder, f"{area}_single_sites")
            site_index = read_site_index(site_dir) if site_dir is not None else {}
        responses: list[list[Any]] = []
        for s, epoch in enumerate(epochs):
            if s < n_val and test_trials == "per_site":
                counts = [site_counts(site_index.get(cell_key(c)), epoch, rows[s]) for c in resp.chans]
                scaled = [None if x is None else (x - site_lo[n]) / site_span[n] for n, x in enumerate(counts)]
                responses.append([None if x is None else as_tensor(pool(x, k, "sum")) for x in scaled])
            else:
                block = raster[rows[s][0] : rows[s][1]].astype(np.float64)
                pooled = pool(((block - lo) / span).T, k, "sum")  # (N, T)
                responses.append([None if np.all(np.isnan(x)) else as_tensor(x[None]) for x in pooled])
        cells = resp.chans
        has_test = [any(responses[s][n] is not None for s in range(n_val)) for n in range(len(cells))]
        self.missing_test_cells = [c for c, ok in zip(cells, has_test) if n_val and not ok]
        if self.missing_test_cells:
            warnings.warn(f"NAT4: {len(self.missing_test_cells)} units have no test trials", UserWarning, stacklevel=2)

        prestim = [prestim_seconds(resp, e) for e in epochs]
        lengths = [(r1 - r0) // k for r0, r1 in rows]
        if waveform:
            stims = self._waveforms(folder, epochs, lengths, int(hop or 0), audio_fs, prestim)
        else:
            stims = self._spectrograms(pop, rows, k, normalize, stat_rows)
        flags_path = folder / files[1]
        flags = read_auditory_flags(flags_path) if flags_path.exists() else {}
        neuron_meta = [
            nrn_meta(c, area, flags, site_index.get(cell_key(c))) | {"has_test_trials": ok}
            for c, ok in zip(cells, has_test)
        ]
        n_rep = [max([r.shape[0] for r in row if r is not None] or [0]) for row in responses]
        metas = [stim_meta(e, prestim[s], n_rep[s]) for s, e in enumerate(epochs)]
        if preset == "published":  # the published order: estimation sounds first, then validation sounds
            order = list(range(n_val, len(epochs))) + list(range(n_val))
            where = {old: new for new, old in enumerate(order)}
            stims, responses = [stims[i] for i in order], [responses[i] for i in order]
            metas = [metas[i] for i in order]
            splits = {name: sorted(where[i] for i in idx) for name, idx in splits.items()}
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=metas,
            nrn_meta=neuron_meta,
            audio_fs=audio_fs if waveform else None,
            name=f"NAT4-{area}",
            info={
                "area": area,
                "test_trials": test_trials,
                "normalize": normalize,
                "preset": preset,
                "normalize_statistics_from": {
                    "none": None,
                    "train": "train split",
                    "paper": "whole recording",
                    "published": "whole recording (one global min and max per signal)",
                }[normalize],
                "source": NAT4_URL,
            },
        )
        self.splits = splits

    @staticmethod
    def _spectrograms(
        pop: Path, rows: list[tuple[int, int]], k: int, normalize: str, stat_rows: np.ndarray
    ) -> list[torch.Tensor]:
        """The ozgf spectrogram of each epoch, ``(1, 18, T)``, optionally log-compressed and min-maxed."""
        stim = read_signal(pop, "stim")
        if stim.raster is None:
            raise ValueError(f"{pop}: the stim signal must be rasterised (a '*.stim.csv' member)")
        x = stim.raster.astype(np.float64)
        if normalize == "published":  # log1p, then one min and max over every band and frame of the recording
            x = np.log1p(x)
            g_lo, g_span = minmax(x.reshape(-1, 1), np.arange(x.size))
            x = (x - g_lo[0]) / g_span[0]
        elif normalize != "none":
            x = np.log((x + 0.1) / 0.1)
            lo, span = minmax(x, stat_rows)
            x = (x - lo) / span
            x[x < 1e-6] = 0.0
        return [as_tensor(pool(x[r0:r1].T, k, "mean")[None]) for r0, r1 in rows]

    @staticmethod
    def _waveforms(
        folder: Path, epochs: list[Epoch], lengths: list[int], hop: int, audio_fs: float, prestim: list[float | None]
    ) -> list[torch.Tensor]:
        """Each epoch's WAV in a silent ``(1, T * hop)`` buffer, starting at the pre-stimulus offset."""
        wav_dir = find_dir(folder, "wav")
        by_name = {p.name.lower(): p for p in wav_dir.iterdir()} if wav_dir is not None else {}
        out = []
        for epoch, n_bins, pre in zip(epochs, lengths, prestim):
            path = by_name.get(epoch.name.removeprefix("STIM_").lower())
            if path is None:
                raise FileNotFoundError(f"NAT4: no WAV for {epoch.name} in {folder / 'wav'}")
            if pre is None:
                raise ValueError(f"NAT4: no PreStimSilence epoch starts with {epoch.name}; cannot place its sound")
            audio, fs = read_audio(str(path))
            buffer = np.zeros(n_bins * hop)
            start = round(pre * audio_fs)
            sound = fit_length(resample(audio, fs, audio_fs), max(n_bins * hop - start, 0))
            buffer[start : start + sound.size] = sound
            out.append(as_tensor(buffer[None]))
        return out

    @classmethod
    def verify(cls, root: str | os.PathLike[str] | None = None) -> VerificationReport:
        """Re-check a downloaded copy of both areas against the documented structure and counts
        (A1 849 units, 777 auditory; PEG 398, 339 auditory; 575 estimation + 18 validation sounds,
        20 repeats; 18 bands, 150 bins).

        Example:
            >>> import tempfile
            >>> NAT4Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("nat4")
        for area in ("A1", "PEG"):
            ds = report.load(lambda area=area: cls(root, area=area))  # type: ignore[misc]
            if ds is None:
                continue
            observed = {
                f"units_{area}": ds.n_neurons,
                f"auditory_{area}": sum(bool(m.get("auditory")) for m in ds.nrn_meta),
                "stimuli_est": sum(m["subset"] == "est" for m in ds.stim_meta),
                "stimuli_val": sum(m["subset"] == "val" for m in ds.stim_meta),
                "repeats_val": max(m["n_repeats"] for m in ds.stim_meta),
                "bands": ds.F,
                "bins": int(ds[0]["responses"].shape[-1]),
            }
            report.counts(observed, {k: v for k, v in EXPECTED.items() if k in observed})
        return report
