"""Splits of a dataset by stimulus: named fixed lists, random, k-fold, leave-one-stimulus-out.

A split is a dict ``{part name: list of stimulus indices}`` whose parts never share a
stimulus. Cross-validation functions return one such dict per fold, with parts
``'train'`` and ``'test'``. With ``group_by`` (a stimulus metadata key, or one label per
stimulus) stimuli of one group always land in the same part, so several presentations or
excerpts of one sound cannot leak between training and testing. With ``stimuli`` only
that pool is split (e.g. cross-validation inside the training part, the test part left
out). :func:`split_subsets` turns a split into datasets.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence, Sized
from typing import Any

import numpy as np

from deepSTRF._validation import check_int
from deepSTRF.datasets.core import NeuralDataset

__all__ = ["check_no_leakage", "fixed_split", "kfold_split", "leave_one_out_split", "random_split", "split_subsets"]

Split = dict[str, list[int]]


def _n_items(data: Sized | int) -> int:
    if isinstance(data, bool):
        raise TypeError("`data` must be a dataset or a number of stimuli, got a bool")
    if isinstance(data, (int, np.integer)):
        return check_int("data", int(data), minimum=0)
    if isinstance(data, (str, bytes)) or not isinstance(data, Sized):
        raise TypeError(f"`data` must be a dataset or a number of stimuli, got {type(data).__name__}")
    return len(data)


def check_no_leakage(split: Mapping[str, Sequence[int]]) -> None:
    """Raise if two parts of a split share a stimulus, or a part repeats one.

    Raises:
        ValueError: Naming the parts and the shared stimuli.

    Example:
        >>> check_no_leakage({"train": [0, 1], "test": [1]})
        Traceback (most recent call last):
        ...
        ValueError: split parts 'train' and 'test' share stimuli [1]
    """
    seen: dict[int, str] = {}
    for part, idx in split.items():
        if len(set(idx)) != len(idx):
            raise ValueError(f"split part {part!r} lists a stimulus more than once")
        shared: dict[str, list[int]] = {}
        for s in idx:
            if s in seen:
                shared.setdefault(seen[s], []).append(s)
            seen[s] = part
        for other, items in shared.items():
            raise ValueError(f"split parts {other!r} and {part!r} share stimuli {sorted(items)}")


def fixed_split(split: Mapping[str, Sequence[int]], data: Sized | int) -> Split:
    """Check a split given as named lists and return it as plain lists.

    Args:
        split: ``{part: stimulus indices}``, e.g. ``dataset.splits`` or a published split.
        data: The dataset (or its number of stimuli).

    Returns:
        ``{part: list of int}``.

    Raises:
        TypeError: If an index is not an int.
        ValueError: If an index is out of range or two parts share a stimulus.

    Example:
        >>> fixed_split({"train": [0, 1, 2], "test": [3]}, 4)
        {'train': [0, 1, 2], 'test': [3]}
    """
    n = _n_items(data)
    if not isinstance(split, Mapping):
        raise TypeError(f"`split` must be a dict of part name -> stimulus indices, got {type(split).__name__}")
    out: Split = {}
    for part, idx in split.items():
        values = []
        for s in idx:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
                raise TypeError(f"split part {part!r} must hold int stimulus indices, got {s!r}")
            if not 0 <= s < n:
                raise ValueError(f"split part {part!r} holds stimulus {s}, out of range for {n} stimuli")
            values.append(int(s))
        out[str(part)] = values
    check_no_leakage(out)
    return out


def _groups(data: Sized | int, group_by: str | Sequence[Hashable] | None, pool: list[int]) -> list[list[int]]:
    """The pool's stimuli gathered by group label (each stimulus alone when ``group_by`` is None)."""
    if group_by is None:
        return [[s] for s in pool]
    if isinstance(group_by, str):
        if not isinstance(data, NeuralDataset):
            raise TypeError("`group_by` can name a metadata key only when `data` is a NeuralDataset")
        labels: Sequence[Any] = [m.get(group_by) for m in data.stim_meta]
        if any(lab is None for lab in labels):
            raise ValueError(f"some stimuli have no metadata key {group_by!r} to group by")
    else:
        labels = group_by
        if len(labels) != _n_items(data):
            raise ValueError(f"`group_by` must hold one label per stimulus ({_n_items(data)}), got {len(labels)}")
    out: dict[Any, list[int]] = {}
    for s in pool:
        out.setdefault(labels[s], []).append(s)
    return list(out.values())


def _pool(data: Sized | int, stimuli: Sequence[int] | None) -> list[int]:
    n = _n_items(data)
    if stimuli is None:
        return list(range(n))
    return fixed_split({"stimuli": stimuli}, n)["stimuli"]


def random_split(
    data: Sized | int,
    fractions: Mapping[str, float] | None = None,
    *,
    seed: int = 0,
    group_by: str | Sequence[Hashable] | None = None,
    stimuli: Sequence[int] | None = None,
) -> Split:
    """Split stimuli (or groups of stimuli) at random into named parts.

    Args:
        data: The dataset (or its number of stimuli).
        fractions: ``{part: fraction}`` summing to 1 (default ``{'train': 0.8, 'test': 0.2}``).
            Part sizes are rounded by largest remainder, in numbers of groups.
        seed: Seed of the permutation (the same seed gives the same split).
        group_by: Keep stimuli with the same label together (metadata key or labels).
        stimuli: Split only these stimuli.

    Returns:
        ``{part: sorted stimulus indices}``.

    Raises:
        ValueError: If the fractions are negative or do not sum to 1.

    Example:
        >>> parts = random_split(10, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=1)
        >>> {k: len(v) for k, v in parts.items()}
        {'train': 7, 'val': 1, 'test': 2}
    """
    fractions = dict(fractions or {"train": 0.8, "test": 0.2})
    if not fractions or any(not isinstance(f, (int, float)) or f < 0 for f in fractions.values()):
        raise ValueError(f"`fractions` must map part names to non-negative numbers, got {fractions}")
    if not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"`fractions` must sum to 1, got {sum(fractions.values()):.6g} ({fractions})")
    groups = _groups(data, group_by, _pool(data, stimuli))
    exact = np.array(list(fractions.values())) * len(groups)
    sizes = np.floor(exact).astype(int)
    for j in np.argsort(-(exact - sizes), kind="stable")[: len(groups) - sizes.sum()]:
        sizes[j] += 1
    order = np.random.default_rng(seed).permutation(len(groups))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return {
        part: sorted(s for g in order[bounds[j] : bounds[j + 1]] for s in groups[g]) for j, part in enumerate(fractions)
    }


def kfold_split(
    data: Sized | int,
    n_folds: int = 5,
    *,
    seed: int | None = 0,
    group_by: str | Sequence[Hashable] | None = None,
    stimuli: Sequence[int] | None = None,
) -> list[Split]:
    """K-fold cross-validation over stimuli (or groups): each stimulus is tested exactly once.

    Args:
        data: The dataset (or its number of stimuli).
        n_folds: Number of folds (at most the number of groups).
        seed: Seed of the shuffle; ``None`` keeps the stimulus order (contiguous folds).
        group_by: Keep stimuli with the same label in one fold (metadata key or labels).
        stimuli: Cross-validate only these stimuli.

    Returns:
        ``n_folds`` dicts ``{'train': [...], 'test': [...]}`` of sorted indices.

    Raises:
        ValueError: If there are fewer groups than folds, or ``n_folds < 2``.

    Example:
        >>> [f["test"] for f in kfold_split(6, 3, seed=None)]
        [[0, 1], [2, 3], [4, 5]]
    """
    n_folds = check_int("n_folds", n_folds, minimum=2)
    groups = _groups(data, group_by, _pool(data, stimuli))
    if len(groups) < n_folds:
        raise ValueError(f"`n_folds`={n_folds} needs at least as many stimuli (or groups), got {len(groups)}")
    order = np.arange(len(groups)) if seed is None else np.random.default_rng(seed).permutation(len(groups))
    folds = np.array_split(order, n_folds)
    out = []
    for k in range(n_folds):
        test = sorted(s for g in folds[k] for s in groups[g])
        train = sorted(s for j in range(n_folds) if j != k for g in folds[j] for s in groups[g])
        out.append({"train": train, "test": test})
    return out


def leave_one_out_split(
    data: Sized | int,
    *,
    group_by: str | Sequence[Hashable] | None = None,
    stimuli: Sequence[int] | None = None,
) -> list[Split]:
    """Leave-one-stimulus-out (or leave-one-group-out) cross-validation.

    Args:
        data: The dataset (or its number of stimuli).
        group_by: Leave out all stimuli of one label together (metadata key or labels).
        stimuli: Cross-validate only these stimuli.

    Returns:
        One dict ``{'train': [...], 'test': [...]}`` per stimulus (or group), in order.

    Raises:
        ValueError: If there are fewer than two stimuli (or groups).

    Example:
        >>> leave_one_out_split(3)[1]
        {'train': [0, 2], 'test': [1]}
    """
    groups = _groups(data, group_by, _pool(data, stimuli))
    if len(groups) < 2:
        raise ValueError(f"leave-one-out needs at least 2 stimuli (or groups), got {len(groups)}")
    return kfold_split(data, len(groups), seed=None, group_by=group_by, stimuli=stimuli)


def split_subsets(dataset: NeuralDataset, split: Mapping[str, Sequence[int]]) -> dict[str, NeuralDataset]:
    """The datasets of each part of a split (checked for leakage first).

    Args:
        dataset: The dataset to split.
        split: ``{part: stimulus indices}``.

    Returns:
        ``{part: dataset.subset(stimuli=indices)}``.

    Raises:
        TypeError, ValueError: As :func:`fixed_split`.

    Example:
        >>> import torch
        >>> ds = NeuralDataset([torch.zeros(1, 2, 3)] * 4, [[torch.ones(1, 3)]] * 4, 5.0)
        >>> {k: len(v) for k, v in split_subsets(ds, {"train": [0, 1, 2], "test": [3]}).items()}
        {'train': 3, 'test': 1}
    """
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    return {part: dataset.subset(stimuli=idx) for part, idx in fixed_split(split, dataset).items()}
