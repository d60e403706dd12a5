"""Choosing stimuli or neurons by index, metadata attribute or predicate.

A selection is one of:

- ``None``: everything;
- an ``int``, a ``slice``, or a sequence / array / tensor of integer indices (in the order
  given; negative indices count from the end; duplicates are refused);
- a boolean mask with one entry per item;
- a ``dict`` of metadata conditions, all of which must hold: ``{key: value}`` matches items
  whose ``meta[key] == value``; a ``set``, ``list`` or ``tuple`` value matches any of its
  members; a callable value is applied to ``meta[key]``. Items without the key do not match;
  a key that no item has is an error (it is most likely a typo);
- a callable ``predicate(meta) -> bool`` on each item's metadata dict.

A filter (mask, dict or predicate) that matches nothing selects nothing and warns: it never
means "everything".
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deepSTRF.datasets._arrays import trial_rows

if TYPE_CHECKING:
    from deepSTRF.datasets.core import NeuralDataset

__all__ = ["Selection", "resolve_selection", "select"]

#: What :func:`resolve_selection` accepts.
Selection = (
    None
    | int
    | slice
    | Sequence[int]
    | Sequence[bool]
    | np.ndarray
    | torch.Tensor
    | Mapping[str, Any]
    | Callable[[Mapping[str, Any]], Any]
)


def _matches(meta: Mapping[str, Any], key: str, cond: Any) -> bool:
    if key not in meta:
        return False
    value = meta[key]
    if callable(cond):
        return bool(cond(value))
    if isinstance(cond, (set, frozenset, list, tuple)):
        return value in cond
    return bool(value == cond)


def _by_conditions(conditions: Mapping[str, Any], metas: Sequence[Mapping[str, Any]], what: str) -> list[int]:
    for key in conditions:
        if not isinstance(key, str):
            raise TypeError(f"metadata conditions on {what} must have str keys, got {key!r}")
        if metas and not any(key in m for m in metas):
            known = sorted({k for m in metas for k in m})
            raise ValueError(
                f"no {what[:-1] if what.endswith('s') else what} has metadata key {key!r}; known keys: {known}"
            )
    return [i for i, m in enumerate(metas) if all(_matches(m, k, c) for k, c in conditions.items())]


def _as_index_array(spec: Any, what: str) -> np.ndarray:
    if isinstance(spec, torch.Tensor):
        arr = spec.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(spec)
        except (ValueError, TypeError) as err:
            raise TypeError(f"cannot read the selection of {what} as indices: {err}") from err
    if arr.size == 0:
        return arr.reshape(0).astype(np.int64)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"a selection of {what} must hold ints or bools, got dtype {arr.dtype} ({spec!r})")
    if arr.ndim != 1:
        raise ValueError(f"a selection of {what} must be one-dimensional, got shape {arr.shape}")
    return arr


def resolve_selection(spec: Selection, metas: Sequence[Mapping[str, Any]], *, what: str = "items") -> list[int]:
    """Turn a selection (see the module documentation) into a list of indices.

    Args:
        spec: The selection.
        metas: The metadata dicts of the items (their number is the number of items).
        what: Name of the items, for messages (``'neurons'``, ``'stimuli'``).

    Returns:
        The selected indices, in selection order for indices and item order for filters.

    Raises:
        TypeError: If ``spec`` has an unsupported type (a bare string is refused: use a dict).
        ValueError: For a mask of the wrong length, duplicate indices, or an unknown metadata key.
        IndexError: For an index out of range.

    Warns:
        UserWarning: If a mask, dict or predicate matches nothing.

    Example:
        >>> metas = [{"area": "A1"}, {"area": "PEG"}, {"area": "A1"}]
        >>> resolve_selection({"area": "A1"}, metas)
        [0, 2]
        >>> resolve_selection(lambda m: m["area"] != "A1", metas), resolve_selection([-1, 0], metas)
        ([1], [2, 0])
    """
    n = len(metas)
    if spec is None:
        return list(range(n))
    if isinstance(spec, (str, bytes)):
        raise TypeError(f"cannot select {what} by the string {spec!r}: pass a dict of metadata conditions instead")
    is_filter = False
    if isinstance(spec, Mapping):
        chosen, is_filter = _by_conditions(spec, metas, what), True
    elif callable(spec):
        chosen, is_filter = [i for i, m in enumerate(metas) if spec(m)], True
    elif isinstance(spec, slice):
        chosen = list(range(n))[spec]
    elif isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        chosen = _check_indices(np.array([int(spec)]), n, what)
    else:
        arr = _as_index_array(spec, what)
        if arr.dtype == bool:
            if arr.shape[0] != n:
                raise ValueError(f"a boolean mask over {what} must have length {n}, got {arr.shape[0]}")
            chosen, is_filter = np.flatnonzero(arr).tolist(), True
        else:
            chosen = _check_indices(arr, n, what)
    if is_filter and not chosen and n:
        warnings.warn(f"the selection of {what} matched nothing; selecting no {what}", UserWarning, stacklevel=3)
    return chosen


def _check_indices(arr: np.ndarray, n: int, what: str) -> list[int]:
    bad = arr[(arr < -n) | (arr >= n)]
    if bad.size:
        raise IndexError(f"{what} indices {bad.tolist()} out of range for {n} {what}")
    idx = (arr % max(n, 1)).astype(np.int64).tolist()
    if len(set(idx)) != len(idx):
        dup = sorted({i for i in idx if idx.count(i) > 1})
        raise ValueError(f"{what} indices must be unique, got {dup} more than once")
    return idx


def select(dataset: NeuralDataset, stimuli: Selection = None, neurons: Selection = None) -> NeuralDataset:
    """The dataset restricted to the chosen stimuli and neurons; see :meth:`NeuralDataset.subset`.

    Example:
        >>> import torch
        >>> from deepSTRF.datasets import NeuralDataset
        >>> ds = NeuralDataset([torch.zeros(1, 2, 3)] * 2, [[torch.ones(1, 3), None]] * 2, 5.0)
        >>> select(ds, neurons=[1]).valid_mask.tolist()
        [[False], [False]]
    """
    s_idx = resolve_selection(stimuli, dataset.stim_meta, what="stimuli")
    n_idx = resolve_selection(neurons, dataset.nrn_meta, what="neurons")
    counts = dataset.n_trials
    every_neuron = n_idx == list(range(dataset.n_neurons))
    packed = [dataset._resp[s] if every_neuron else dataset._resp[s][trial_rows(counts[s], n_idx)] for s in s_idx]
    out = dataset._evolve(
        stims=[dataset.stims[s] for s in s_idx], packed=packed, nrn_meta=[dataset.nrn_meta[n] for n in n_idx]
    )
    out._n_trials = counts[s_idx][:, n_idx] if s_idx else torch.zeros(0, len(n_idx), dtype=torch.long)
    out._lengths = [dataset.lengths[s] for s in s_idx]
    out.stim_meta = [dict(dataset.stim_meta[s]) for s in s_idx]
    where = {s: i for i, s in enumerate(s_idx)}
    out.splits = {k: [where[s] for s in v if s in where] for k, v in dataset.splits.items()}
    return out
