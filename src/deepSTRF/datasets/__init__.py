"""Neural datasets: the ragged container, batching, selection, splits, transforms, loaders.

- :class:`NeuralDataset`: ``S`` stimuli of their own lengths, ``N`` neurons, trials per
  (stimulus, neuron) pair or a missing marker; :func:`neural_collate` pads items into
  ``(B, N, R_max, T_max)`` batches for a ``torch.utils.data.DataLoader``.
- Selection (``dataset.subset``, :func:`resolve_selection`), concatenation
  (:func:`concat_stimuli`, :func:`concat_neurons`), splits by stimulus
  (:mod:`deepSTRF.datasets.splits`), leak-free normalisation
  (:mod:`deepSTRF.datasets.transforms`), PSTH smoothing
  (:mod:`deepSTRF.datasets.smoothing`) and neuron quality (:func:`compute_neuron_quality`).
- Sources: :class:`SimulatedDataset`, :func:`from_arrays`, :func:`load_hdf5` /
  :func:`save_hdf5`, :func:`from_nwb`, and the public datasets of
  :mod:`deepSTRF.datasets.audio` (``NS1Dataset`` and others, imported on first use).

Example:
    >>> from torch.utils.data import DataLoader
    >>> from deepSTRF.datasets import SimulatedDataset, neural_collate
    >>> data = SimulatedDataset(n_neurons=3, n_stimuli=4, duration_ms=(200.0, 400.0))
    >>> batch = next(iter(DataLoader(data, batch_size=4, collate_fn=neural_collate)))
    >>> batch["stims"].shape[:3], batch["responses"].shape[:2]
    (torch.Size([4, 1, 32]), torch.Size([4, 3]))
"""

from __future__ import annotations

from typing import Any

from deepSTRF.datasets import audio
from deepSTRF.datasets.audio import SimulatedDataset, from_arrays, from_nwb, load_hdf5, save_hdf5
from deepSTRF.datasets.collate import neural_collate
from deepSTRF.datasets.concat import concat_neurons, concat_stimuli
from deepSTRF.datasets.core import NeuralDataset, hop_samples
from deepSTRF.datasets.quality import compute_neuron_quality
from deepSTRF.datasets.selection import resolve_selection
from deepSTRF.datasets.smoothing import (
    hanning_kernel,
    published_hanning_kernel,
    published_smooth_trials,
    smooth_published,
    smooth_responses,
    smooth_trials,
)
from deepSTRF.datasets.splits import (
    check_no_leakage,
    fixed_split,
    kfold_split,
    leave_one_out_split,
    random_split,
    split_subsets,
)
from deepSTRF.datasets.transforms import (
    ResponseNormalizer,
    StimulusStandardizer,
    normalize_responses,
    standardize_stimuli,
)

__all__ = [
    "NeuralDataset",
    "ResponseNormalizer",
    "SimulatedDataset",
    "StimulusStandardizer",
    "check_no_leakage",
    "compute_neuron_quality",
    "concat_neurons",
    "concat_stimuli",
    "fixed_split",
    "from_arrays",
    "from_nwb",
    "hanning_kernel",
    "hop_samples",
    "kfold_split",
    "leave_one_out_split",
    "load_hdf5",
    "neural_collate",
    "normalize_responses",
    "published_hanning_kernel",
    "published_smooth_trials",
    "random_split",
    "resolve_selection",
    "save_hdf5",
    "smooth_published",
    "smooth_responses",
    "smooth_trials",
    "split_subsets",
    "standardize_stimuli",
]


def __getattr__(name: str) -> Any:
    if name in audio.PUBLIC_LOADERS:
        return getattr(audio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
