"""Per-neuron recording quality (SNR and CCmax) written into the neuron metadata."""

from __future__ import annotations

from typing import Any

import torch

from deepSTRF import metrics
from deepSTRF.datasets.collate import neural_collate
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.selection import resolve_selection

__all__ = ["compute_neuron_quality"]


def compute_neuron_quality(dataset: NeuralDataset, stimuli: Any = None, *, method: str = "schoppe") -> NeuralDataset:
    """Add each neuron's signal-to-noise ratio and CCmax to its metadata.

    ``snr`` is the Sahani–Linden signal power over noise power
    (:func:`deepSTRF.metrics.snr`) and ``cc_max`` the highest correlation a perfect model can
    reach with the recorded PSTH (:func:`deepSTRF.metrics.cc_max`), both pooled over the
    valid (stimulus, time) positions of the chosen stimuli. They need repeated trials: a
    neuron without two trials of any chosen stimulus gets NaN.

    Args:
        dataset: The dataset.
        stimuli: Stimuli to use (any selection, e.g. ``dataset.splits['test']``); by default
            every stimulus that has at least two trials for some neuron.
        method: CCmax estimator, ``'schoppe'`` or ``'hsu'`` (see :func:`deepSTRF.metrics.cc_max`).

    Returns:
        A copy of ``dataset`` whose ``nrn_meta`` dicts have ``'snr'`` and ``'cc_max'`` (floats)
        and whose ``info['quality']`` records the stimuli and method used.

    Raises:
        TypeError, ValueError: For an invalid dataset, selection or method.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> rate = torch.rand(2, 1, 200, generator=g) * 4
        >>> trials = torch.poisson(rate.expand(2, 10, 200), generator=g)
        >>> ds = NeuralDataset([torch.zeros(1, 1, 200)], [list(trials)], 5.0)
        >>> meta = compute_neuron_quality(ds).nrn_meta
        >>> all(0 < m["cc_max"] <= 1 for m in meta)
        True
    """
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    if method not in ("schoppe", "hsu"):
        raise ValueError(f"`method` must be one of ['schoppe', 'hsu'], got {method!r}")
    if stimuli is None:
        most = dataset.n_trials.amax(dim=1) if dataset.n_neurons else torch.zeros(len(dataset), dtype=torch.long)
        chosen = torch.nonzero(most >= 2).flatten().tolist()
    else:
        chosen = resolve_selection(stimuli, dataset.stim_meta, what="stimuli")
    out = dataset._evolve()
    out.info["quality"] = {"stimuli": chosen, "method": method}
    if not chosen or not dataset.n_neurons:
        snr = cc = [float("nan")] * dataset.n_neurons
    else:
        responses = neural_collate([dataset[s] for s in chosen])["responses"].double()
        snr = metrics.snr(responses, reduction="none").tolist()
        cc = metrics.cc_max(responses, method=method, reduction="none").tolist()
    for meta, s, c in zip(out.nrn_meta, snr, cc):
        meta["snr"], meta["cc_max"] = float(s), float(c)
    return out
