"""Padding dataset items into a batch: :func:`neural_collate`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["neural_collate"]

_KEYS = ("stims", "responses", "valid_mask", "stim_meta")


def _check_items(items: Sequence[Mapping[str, Any]]) -> None:
    if isinstance(items, Mapping) or not isinstance(items, Sequence) or not items:
        raise ValueError(f"`items` must be a non-empty list of dataset items, got {type(items).__name__}")
    first = items[0]
    for b, item in enumerate(items):
        if not isinstance(item, Mapping) or any(k not in item for k in _KEYS):
            raise TypeError(f"item {b} must be a dict with keys {list(_KEYS)}, got {type(item).__name__}")
        stim, resp, mask = item["stims"], item["responses"], item["valid_mask"]
        if not isinstance(stim, torch.Tensor) or stim.dim() not in (2, 3) or stim.shape[0] != 1:
            raise ValueError(f"item {b}: 'stims' must be (1, F, T) or (1, T_audio), got {getattr(stim, 'shape', stim)}")
        if not isinstance(resp, torch.Tensor) or resp.dim() != 3:
            raise ValueError(f"item {b}: 'responses' must be (N, R, T), got {getattr(resp, 'shape', resp)}")
        if stim.dim() != first["stims"].dim() or stim.shape[1:-1] != first["stims"].shape[1:-1]:
            raise ValueError(
                f"item {b}: stimulus shape {tuple(stim.shape)} does not match item 0's {tuple(first['stims'].shape)}"
                " (all items must be spectrograms with the same F, or all waveforms)"
            )
        if resp.shape[0] != first["responses"].shape[0]:
            raise ValueError(f"item {b} has {resp.shape[0]} neurons but item 0 has {first['responses'].shape[0]}")
        if not isinstance(mask, torch.Tensor) or mask.shape != (resp.shape[0],):
            raise ValueError(f"item {b}: 'valid_mask' must be ({resp.shape[0]},), got {getattr(mask, 'shape', mask)}")
        if stim.dim() == 3 and stim.shape[-1] != resp.shape[-1]:
            raise ValueError(f"item {b}: stimulus has {stim.shape[-1]} frames but responses have {resp.shape[-1]} bins")


def neural_collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pad dataset items of different lengths and trial counts into one batch.

    Stimuli are zero-padded at the end of time, responses NaN-padded in trials and time;
    ``lengths`` keeps each item's true length ``T_s`` in response bins.

    Args:
        items: Items of a :class:`~deepSTRF.datasets.NeuralDataset` (all spectrograms with
            the same ``F``, or all waveforms, and the same neurons).

    Returns:
        A dict with ``'stims'``, ``'responses'``, ``'valid_mask'``, ``'lengths'`` and
        ``'stim_meta'`` (a list of dicts).

    Raises:
        TypeError, ValueError: If ``items`` is empty or the items do not fit together.

    Shape:
        - ``'stims'``: ``(B, 1, F, T_max)``, or ``(B, 1, T_audio_max)`` for waveforms
        - ``'responses'``: ``(B, N, R_max, T_max)``, NaN where missing or padded
        - ``'valid_mask'``: ``(B, N)`` bool
        - ``'lengths'``: ``(B,)`` long

    Example:
        >>> import torch
        >>> a = {"stims": torch.ones(1, 2, 3), "responses": torch.ones(1, 1, 3),
        ...      "valid_mask": torch.tensor([True]), "stim_meta": {}}
        >>> b = {"stims": torch.ones(1, 2, 5), "responses": torch.ones(1, 2, 5),
        ...      "valid_mask": torch.tensor([True]), "stim_meta": {}}
        >>> batch = neural_collate([a, b])
        >>> batch["stims"].shape, batch["responses"].shape, batch["lengths"].tolist()
        (torch.Size([2, 1, 2, 5]), torch.Size([2, 1, 2, 5]), [3, 5])
    """
    _check_items(items)
    resp = [item["responses"] for item in items]
    stims = [item["stims"] for item in items]
    n_neurons = resp[0].shape[0]
    t_max = max(r.shape[-1] for r in resp)
    r_max = max(r.shape[1] for r in resp)
    dtype = resp[0].dtype
    out_resp = torch.full((len(items), n_neurons, r_max, t_max), math.nan, dtype=dtype)
    audio_max = max(x.shape[-1] for x in stims)
    out_stim = stims[0].new_zeros((len(items), *stims[0].shape[:-1], audio_max))
    for b, (x, r) in enumerate(zip(stims, resp)):  # one copy per item; the work is in the copies
        out_stim[b, ..., : x.shape[-1]] = x
        out_resp[b, :, : r.shape[1], : r.shape[2]] = r
    return {
        "stims": out_stim,
        "responses": out_resp,
        "valid_mask": torch.stack([item["valid_mask"] for item in items]),
        "lengths": torch.tensor([r.shape[-1] for r in resp], dtype=torch.long),
        "stim_meta": [dict(item["stim_meta"]) for item in items],
    }
