"""Espejo 2019: ferret A1 single units, natural sounds (NAT) and vocalisation-modulated noise (VMN).

Data of Espejo ML, Schwartz ZP, David SV (2019), "Spectral tuning of adaptation supports coding of
sensory context in auditory cortex", PLoS Comput Biol 15:e1007430; Zenodo record 3445557 (open
access). Two archives, one per experiment, each holding one NEMS0 recording per site
(``A1_natural_sounds/NAT/<site>_<hash>.tgz``, ``A1_voc_mod_noise/VMN/...``): spike times
(``resp.h5``, or a rasterised ``resp.csv`` at three VMN sites), the stimulus as a tiled
spectrogram at 100 Hz (``stim.h5``, ``STIM_<name>`` → ``(F, T)``: 18 log-spaced bands for NAT,
2 envelopes for VMN) and the epoch table.

Documented figures (checked by ``Espejo2019Dataset.verify``): NAT 540 units, 35 sites,
6 ferrets, F = 18; VMN 200 units, 103 sites, 5 ferrets, F = 2, 75 sounds. A few units were
recorded in several archives (13 ``por*`` units in NAT); their repeats are concatenated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF._validation import check_choice
from deepSTRF.datasets.audio._checks import add_counts
from deepSTRF.datasets.audio._nat4_parts import nat4_splits, pool
from deepSTRF.datasets.audio._nems_sites import merge_sites, placed_waveform, read_site, site_of, wav_index
from deepSTRF.datasets.audio._public import as_tensor, check_timing
from deepSTRF.datasets.catalog import fetch
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.verify import VerificationReport

ESPEJO_URL = "https://zenodo.org/records/3445557"
#: experiment -> (outer archive stem, folder of site recordings inside it)
EXPERIMENTS = {"NAT": ("A1_natural_sounds", "NAT"), "VMN": ("A1_voc_mod_noise", "VMN")}
#: Figures of the real data (DATASETS-wave2.md), per experiment.
DOCUMENTED: dict[str, dict[str, Any]] = {
    "NAT": {"units": 540, "sites": 35, "animals": 6, "bands": 18, "test_repeats": (10, 30)},
    "VMN": {"units": 200, "sites": 103, "animals": 5, "bands": 2, "sounds": 75},
}


def espejo_files(experiment: str) -> list[str]:
    """The archive one experiment needs (declared in :mod:`deepSTRF.datasets.catalog`).

    Example:
        >>> espejo_files("VMN")
        ['A1_voc_mod_noise.tgz']
    """
    check_choice("experiment", experiment, list(EXPERIMENTS))
    return [f"{EXPERIMENTS[experiment][0]}.tgz"]


def site_archives(folder: Path, experiment: str) -> list[Path]:
    """The site recordings of one experiment under ``folder`` (``<outer>/<EXP>/*.tgz`` or folders)."""
    outer, inner = EXPERIMENTS[experiment]
    found = sorted(p for p in folder.glob(f"**/{inner}/*") if p.name.endswith((".tgz", ".tar.gz")) or p.is_dir())
    return [p for p in found if outer in p.as_posix() or p.parent.name == inner]


class Espejo2019Dataset(NeuralDataset):
    """Espejo et al. 2019: ferret A1 single units, natural sounds (NAT) or vocalisation-modulated noise (VMN).

    Each sound is one epoch of the recording (pre-stimulus silence, sound, post-stimulus silence;
    NAT: 0.5 + 3 + 0.5 s = 400 bins at 10 ms). Stimuli are the tiled spectrograms of the files
    (linear values, as published); with ``dt_ms`` a multiple of 10 ms, blocks of frames are
    averaged and spike counts summed. Responses are raw spike counts, every trial kept; a unit
    recorded in several archives has the repeats of all of them. A unit never played a sound is
    missing for it.

    Splits (``splits``): ``'test'``, the sounds at a site's maximum repeat count (10-30 repeats; the
    published test set); ``'val'``, a pinned 10 % of the other (estimation) sounds, those whose name
    has the lowest SHA-256; ``'train'``, the rest.

    ``preset='published'`` reproduces the published pipeline: 10 ms bins, no normalisation (the
    default already does this; the preset only refuses another ``dt_ms``).

    Waveform mode: the Zenodo record holds no audio. Pass ``wav_dir``, a folder with the WAV of
    each sound named as its epoch without ``STIM_`` (matched case-insensitively); each is placed at
    its pre-stimulus offset in a silent buffer of ``T * hop`` samples.

    Neuron metadata: ``cell_id``, ``site``, ``animal`` (the letters of the site id), ``archives``,
    ``n_archives``. Stimulus metadata: ``name``, ``subset`` (``est``/``test``), ``n_repeats``,
    ``prestim_s``, ``experiment``.

    Args:
        root: Dataset folder; default ``<cache>/espejo2019``.
        download: Download the experiment's archive from Zenodo if missing.
        experiment: ``'NAT'`` or ``'VMN'``.
        dt_ms: Bin width, a multiple of 10 ms.
        waveform: Return waveforms (needs ``wav_dir``).
        audio_fs: Waveform sample rate (Hz).
        wav_dir: Folder with the sounds' WAV files (waveform mode only).
        sites: Load only these sites (e.g. ``['por012a']``); default all.
        preset: ``'default'`` or ``'published'``.
        progress: Show download progress bars.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false.
        ValueError: For invalid arguments or files that differ from the documented format.

    Example:
        >>> from deepSTRF.datasets.catalog import get_dataset_info
        >>> info = get_dataset_info("espejo2019")  # what `download=True` fetches, before fetching it
        >>> info.needs_account, info.size
        (False, 'about 660 MB (natural sounds 638 MB, modulated noise 25 MB)')
        >>> info.part_names  # pieces that can be fetched alone (``deepstrf download --part``)
        ['NAT', 'VMN']
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        download: bool = False,
        *,
        experiment: str = "NAT",
        dt_ms: float = 10.0,
        waveform: bool = False,
        audio_fs: float = 44100.0,
        wav_dir: str | os.PathLike[str] | None = None,
        sites: list[str] | None = None,
        preset: str = "default",
        progress: bool = True,
    ) -> None:
        check_choice("experiment", experiment, list(EXPERIMENTS))
        check_choice("preset", preset, ["default", "published"])
        if preset == "published" and dt_ms != 10.0:
            raise ValueError(f"`dt_ms` must be 10 with preset='published' (the published bins), got {dt_ms}")
        dt_ms, hop = check_timing(dt_ms, waveform, audio_fs)
        if abs(dt_ms / 10.0 - round(dt_ms / 10.0)) > 1e-9:
            raise ValueError(f"`dt_ms` must be a multiple of 10 (the recordings' 100 Hz raster), got {dt_ms}")
        if waveform and wav_dir is None:
            raise ValueError("`wav_dir` is required with waveform=True: the Espejo 2019 record holds no audio")
        k = round(dt_ms / 10.0)
        folder = fetch("espejo2019", root, files=espejo_files(experiment), download=download, progress=progress)
        paths = site_archives(folder, experiment)
        if sites is not None:
            wanted = {str(s) for s in sites}
            paths = [p for p in paths if site_of(p) in wanted]
        if not paths:
            raise FileNotFoundError(f"Espejo 2019: no {experiment} site recordings under {folder}")
        recs = [read_site(p) for p in paths]
        merged = merge_sites(recs)
        names = merged.names
        is_test = [any(merged.site_max[n]) for n in names]
        test = [s for s, t in enumerate(is_test) if t]
        est = [s for s, t in enumerate(is_test) if not t]
        units = list(merged.trials)
        responses = []
        for name in names:
            row = []
            for unit in units:
                parts = merged.trials[unit].get(name)
                row.append(None if not parts else as_tensor(pool(np.concatenate(parts), k, "sum")))
            responses.append(row)
        lengths = [merged.spectrograms[n].shape[1] // k for n in names]
        if waveform:
            wavs = wav_index(Path(wav_dir))  # type: ignore[arg-type]
            stims = []
            for name, n_bins in zip(names, lengths):
                path = wavs.get(name.removeprefix("STIM_").lower())
                if path is None:
                    raise FileNotFoundError(f"Espejo 2019: no WAV for {name} in {wav_dir}")
                stims.append(
                    as_tensor(placed_waveform(path, n_bins, int(hop or 0), audio_fs, merged.prestim[name])[None])
                )
        else:
            stims = [as_tensor(pool(merged.spectrograms[n], k, "mean")[None]) for n in names]
        site_ids = {u: sorted({site_of(a) for a in merged.archives[u]}) for u in units}
        super().__init__(
            stims,
            responses,
            dt_ms,
            stim_meta=[
                {
                    "name": n,
                    "subset": "test" if t else "est",
                    "n_repeats": int(sum(merged.repeats[n])),
                    "prestim_s": merged.prestim[n],
                    "experiment": experiment,
                }
                for n, t in zip(names, is_test)
            ],
            nrn_meta=[
                {
                    "cell_id": u,
                    "site": site_ids[u][0],
                    "animal": re.match(r"[A-Za-z]*", site_ids[u][0])[0],  # type: ignore[index]
                    "archives": list(merged.archives[u]),
                    "n_archives": len(merged.archives[u]),
                }
                for u in units
            ],
            audio_fs=audio_fs if waveform else None,
            name=f"Espejo2019-{experiment}",
            info={
                "experiment": experiment,
                "preset": preset,
                "sites": sorted({r.site for r in recs}),
                "stimfmt": sorted({str(r.meta.get("stimfmt")) for r in recs}),
                "source": ESPEJO_URL,
            },
        )
        self.splits = nat4_splits(names, est, test)

    def observed(self) -> dict[str, Any]:
        """The figures :meth:`verify` compares with the documentation (units, sites, animals, bands...)."""
        test_reps = [self.stim_meta[s]["n_repeats"] for s in self.splits["test"]]
        return {
            "units": self.n_neurons,
            "sites": len(self.info["sites"]),
            "animals": len({m["animal"] for m in self.nrn_meta}),
            "bands": self.F,
            "sounds": self.n_stimuli,
            "test_repeats": min(test_reps) if test_reps else None,
        }

    @classmethod
    def verify(
        cls, root: str | os.PathLike[str] | None = None, *, expected: dict[str, dict[str, Any]] | None = None
    ) -> VerificationReport:
        """Re-check a downloaded copy of both experiments against the documented figures.

        Args:
            root: Dataset folder (default: the cache folder).
            expected: ``{experiment: {figure: value or (low, high)}}``; default :data:`DOCUMENTED`.

        Returns:
            The report: the loader's errors and warnings, then one check per figure.

        Example:
            >>> import tempfile
            >>> Espejo2019Dataset.verify(tempfile.mkdtemp()).ok
            False
        """
        report = VerificationReport("espejo2019")
        for experiment, want in (DOCUMENTED if expected is None else expected).items():
            ds = report.load(lambda e=experiment: cls(root, experiment=e, progress=False))  # type: ignore[misc]
            if ds is not None:
                add_counts(report, ds.observed(), want, prefix=f"{experiment} ")
        return report
