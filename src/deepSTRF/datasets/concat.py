"""Concatenating datasets: more stimuli for the same neurons, or more neurons on the same stimuli.

Both functions record provenance in the metadata of what they concatenate: each stimulus
(:func:`concat_stimuli`) or neuron (:func:`concat_neurons`) gets ``'source'`` (the name of
the dataset it came from: ``names[i]``, else the dataset's ``name``, else ``'dataset<i>'``)
and ``'source_index'`` (its index in that dataset), overwriting earlier values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from deepSTRF.datasets.core import NeuralDataset

__all__ = ["concat_neurons", "concat_stimuli"]


def _check_compatible(datasets: Sequence[NeuralDataset], names: Sequence[str] | None) -> list[str]:
    if isinstance(datasets, NeuralDataset) or not isinstance(datasets, Sequence) or not datasets:
        raise ValueError("`datasets` must be a non-empty list of NeuralDataset")
    for i, ds in enumerate(datasets):
        if not isinstance(ds, NeuralDataset):
            raise TypeError(f"`datasets[{i}]` must be a NeuralDataset, got {type(ds).__name__}")
    ref = datasets[0]
    for i, ds in enumerate(datasets[1:], start=1):
        for attr in ("dt_ms", "waveform", "audio_fs", "F"):
            if getattr(ds, attr) != getattr(ref, attr):
                raise ValueError(
                    f"`datasets[{i}]` has {attr}={getattr(ds, attr)!r} but `datasets[0]` has {getattr(ref, attr)!r}"
                )
    if names is None:
        return [ds.name or f"dataset{i}" for i, ds in enumerate(datasets)]
    if len(names) != len(datasets) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"`names` must be {len(datasets)} strings, got {names!r}")
    return list(names)


def _order_by_key(metas: list[dict[str, Any]], ref: list[Any], key: str, what: str, i: int) -> list[int]:
    """Indices that put ``metas`` in the order of the key values ``ref``."""
    values = [m.get(key) for m in metas]
    if len(set(map(repr, values))) != len(values) or any(v is None for v in values):
        raise ValueError(f"{what} of `datasets[{i}]` do not all have a unique {key!r}")
    lookup = {repr(v): j for j, v in enumerate(values)}
    missing = [v for v in ref if repr(v) not in lookup]
    extra = sorted(set(lookup) - {repr(v) for v in ref})
    if missing or extra:
        raise ValueError(
            f"{what} of `datasets[{i}]` differ from those of `datasets[0]` by {key!r}: "
            f"missing {missing[:10]}, unexpected {extra[:10]}"
        )
    return [lookup[repr(v)] for v in ref]


def _with_source(metas: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [{**m, "source": name, "source_index": j} for j, m in enumerate(metas)]


def concat_stimuli(
    datasets: Sequence[NeuralDataset], *, neuron_key: str | None = None, names: Sequence[str] | None = None
) -> NeuralDataset:
    """Stimulus-wise concatenation of datasets recorded from the same neurons.

    Without ``neuron_key`` the datasets must have the same number of neurons with identical
    metadata, in the same order. With ``neuron_key`` (e.g. ``'cell_id'``) the neurons are
    matched by that metadata field and reordered to the first dataset's order.

    Args:
        datasets: Datasets with the same ``dt_ms``, mode (and ``F`` or ``audio_fs``).
        neuron_key: Metadata field that identifies a neuron.
        names: Provenance name of each dataset.

    Returns:
        A :class:`NeuralDataset` with the stimuli of all datasets in order, the neuron
        metadata of the first, and the union of the named ``splits`` (renumbered).

    Raises:
        TypeError, ValueError: If the datasets do not fit together (the message says how).

    Example:
        >>> import torch
        >>> a = NeuralDataset([torch.zeros(1, 2, 3)], [[torch.ones(1, 3)]], 5.0, name="day1")
        >>> b = NeuralDataset([torch.zeros(1, 2, 4)], [[torch.ones(2, 4)]], 5.0, name="day2")
        >>> both = concat_stimuli([a, b])
        >>> len(both), [m["source"] for m in both.stim_meta]
        (2, ['day1', 'day2'])
    """
    labels = _check_compatible(datasets, names)
    ref = datasets[0]
    parts = []
    for i, ds in enumerate(datasets):
        if neuron_key is not None:
            ds = ds.subset(
                neurons=_order_by_key(ds.nrn_meta, [m.get(neuron_key) for m in ref.nrn_meta], neuron_key, "neurons", i)
            )
        elif ds.n_neurons != ref.n_neurons:
            raise ValueError(f"`datasets[{i}]` has {ds.n_neurons} neurons but `datasets[0]` has {ref.n_neurons}")
        else:
            diff = [n for n, (m, r) in enumerate(zip(ds.nrn_meta, ref.nrn_meta)) if m != r]
            if diff:
                raise ValueError(
                    f"neuron {diff[0]} of `datasets[{i}]` has metadata {ds.nrn_meta[diff[0]]} but in `datasets[0]` "
                    f"{ref.nrn_meta[diff[0]]}; pass `neuron_key` to match neurons by an identifier"
                )
        parts.append(ds)
    out = NeuralDataset.from_packed(
        [x for ds in parts for x in ds.stims],
        [x.to(ref.dtype) for ds in parts for x in ds._resp],
        torch.cat([ds._n_trials for ds in parts]),
        ref.dt_ms,
        stim_meta=[m for ds, label in zip(parts, labels) for m in _with_source(ds.stim_meta, label)],
        nrn_meta=ref.nrn_meta,
        audio_fs=ref.audio_fs,
        name="+".join(labels),
        info=ref.info,
        dtype=ref.dtype,
    )
    out.F = ref.F
    offset = 0
    for ds in parts:
        for key, idx in ds.splits.items():
            out.splits.setdefault(key, []).extend(offset + s for s in idx)
        offset += len(ds)
    return out


def concat_neurons(
    datasets: Sequence[NeuralDataset],
    *,
    stimulus_key: str | None = None,
    names: Sequence[str] | None = None,
    atol: float = 1e-6,
) -> NeuralDataset:
    """Neuron-wise concatenation of datasets recorded on the same stimuli.

    Without ``stimulus_key`` the stimuli must come in the same order; with it (e.g.
    ``'name'``) they are matched by that metadata field and reordered to the first
    dataset's order. Either way, matched stimuli must have the same length and content
    (to ``atol``).

    Args:
        datasets: Datasets with the same ``dt_ms``, mode (and ``F`` or ``audio_fs``).
        stimulus_key: Metadata field that identifies a stimulus.
        names: Provenance name of each dataset.
        atol: Largest absolute difference allowed between matched stimuli.

    Returns:
        A :class:`NeuralDataset` with the neurons of all datasets in order, the stimuli,
        stimulus metadata and ``splits`` of the first.

    Raises:
        TypeError, ValueError: If the datasets do not fit together (the message says how).

    Example:
        >>> import torch
        >>> stim = [torch.ones(1, 2, 3)]
        >>> a = NeuralDataset(stim, [[torch.ones(1, 3)]], 5.0, name="site1")
        >>> b = NeuralDataset(stim, [[None, torch.ones(4, 3)]], 5.0, name="site2")
        >>> both = concat_neurons([a, b])
        >>> both.n_neurons, both.valid_mask.tolist()
        (3, [[True, False, True]])
    """
    labels = _check_compatible(datasets, names)
    ref = datasets[0]
    parts = []
    for i, ds in enumerate(datasets):
        if stimulus_key is not None:
            order = _order_by_key(
                ds.stim_meta, [m.get(stimulus_key) for m in ref.stim_meta], stimulus_key, "stimuli", i
            )
            ds = ds.subset(stimuli=order)
        elif len(ds) != len(ref):
            raise ValueError(f"`datasets[{i}]` has {len(ds)} stimuli but `datasets[0]` has {len(ref)}")
        for s, (x, y) in enumerate(zip(ds.stims, ref.stims)):
            if x.shape != y.shape:
                raise ValueError(
                    f"stimulus {s} of `datasets[{i}]` has shape {tuple(x.shape)} but in `datasets[0]` {tuple(y.shape)}"
                )
            gap = float((x.to(y.dtype) - y).abs().max()) if x.numel() else 0.0
            if gap > atol:
                raise ValueError(
                    f"stimulus {s} of `datasets[{i}]` differs from `datasets[0]` (max abs difference {gap:.3g} > "
                    f"atol={atol}); neuron-wise concatenation needs the same stimuli"
                )
        parts.append(ds)
    out = NeuralDataset.from_packed(
        ref.stims,
        [torch.cat([ds._resp[s].to(ref.dtype) for ds in parts]) for s in range(len(ref))],
        torch.cat([ds._n_trials for ds in parts], dim=1),
        ref.dt_ms,
        stim_meta=ref.stim_meta,
        nrn_meta=[m for ds, label in zip(parts, labels) for m in _with_source(ds.nrn_meta, label)],
        audio_fs=ref.audio_fs,
        name="+".join(labels),
        info=ref.info,
        dtype=ref.dtype,
    )
    out.F = ref.F
    out.splits = {k: list(v) for k, v in ref.splits.items()}
    return out
