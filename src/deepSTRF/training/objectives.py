"""Training losses on NaN-padded responses, and per-neuron scores of whole splits.

Batches follow :func:`~deepSTRF.datasets.neural_collate`: responses ``(B, N, R, T)``
with NaN for missing trials, bins, pairs and padding; predictions ``(B, N, 1, T)``.
Missing positions contribute nothing to a loss and never produce NaN gradients:
they are replaced by zeros and masked out before the loss is computed.

Example:
    >>> import torch
    >>> pred = torch.zeros(1, 2, 1, 3, requires_grad=True)
    >>> resp = torch.tensor([[[[1.0, float("nan"), 1.0]], [[float("nan")] * 3]]])
    >>> total, count = summed_loss(pred, resp, "mse")
    >>> total.backward()
    >>> float(total.detach()), int(count), bool(torch.isfinite(pred.grad).all())
    (2.0, 2, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from deepSTRF import metrics
from deepSTRF._validation import check_choice
from deepSTRF.metrics.registry import get_loss
from deepSTRF.training.config import LOSSES, TARGETS, VALIDATION_METRICS

__all__ = ["DEFAULT_METRICS", "SCORES", "batch_mask", "batch_target", "pad_cat", "score_split", "summed_loss"]

#: Per-neuron scores of a prediction against trials (or a PSTH): the functions of
#: :data:`deepSTRF.metrics.METRICS` (all higher is better).
SCORES: dict[str, Callable[..., torch.Tensor]] = {name: info.function for name, info in metrics.METRICS.items()}
#: Metrics reported for held-out stimuli: every registered metric.
DEFAULT_METRICS: tuple[str, ...] = tuple(metrics.METRICS)


def _loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, loss: str, reduction: str) -> torch.Tensor:
    return get_loss(loss).function(pred, target, mask=mask, reduction=reduction)


def batch_mask(batch: dict[str, Any], n_bins: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Real (stimulus, neuron, time) positions of a collated batch: inside each stimulus, pair present.

    Args:
        batch: A :func:`~deepSTRF.datasets.neural_collate` batch (``'lengths'`` and ``'valid_mask'`` are used).
        n_bins: Number of time bins ``T`` of the batch's responses.
        device: Device of the mask.

    Returns:
        ``(B, N, 1, T)`` bool mask.

    Example:
        >>> batch = {"lengths": torch.tensor([2, 3]), "valid_mask": torch.tensor([[True], [False]])}
        >>> batch_mask(batch, 3)[:, 0, 0].tolist()
        [[True, True, False], [False, False, False]]
    """
    lengths, pairs = batch["lengths"].to(device), batch["valid_mask"].to(device)
    inside = torch.arange(n_bins, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)
    return inside[:, None, None, :] & pairs[:, :, None, None]


def batch_target(responses: torch.Tensor, target: str) -> torch.Tensor:
    """What the loss compares with: the trial mean ``(B, N, 1, T)`` or the trials ``(B, N, R, T)``.

    Example:
        >>> batch_target(torch.tensor([[[[1.0, 2.0], [3.0, float("nan")]]]]), "psth")
        tensor([[[[2., 2.]]]])
    """
    check_choice("target", target, TARGETS)
    if target == "trials":
        return responses
    return responses.nanmean(dim=2, keepdim=True)


def summed_loss(pred: torch.Tensor, target: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of a loss over the valid (finite) positions of ``target``, and their number.

    Args:
        pred: Predictions ``(B, N, 1, T)``.
        target: ``(B, N, R, T)`` with NaN where missing; with ``R > 1`` every trial is
            compared with the prediction.
        loss: One of :data:`~deepSTRF.training.config.LOSSES`.

    Returns:
        ``(total, count)``: the summed loss (a scalar with gradient) and the number of
        valid positions (a scalar tensor).

    Raises:
        ValueError: If the shapes disagree or ``loss`` is unknown.

    Example:
        >>> trials = torch.tensor([[[[1.0, 3.0], [1.0, float("nan")]]]])  # (B, N, R, T) = (1, 1, 2, 2)
        >>> total, count = summed_loss(torch.zeros(1, 1, 1, 2), trials, "mse")
        >>> float(total), int(count)  # (0-1)^2 + (0-3)^2 + (0-1)^2 over the 3 finite trial values
        (11.0, 3)
    """
    check_choice("loss", loss, LOSSES)
    if (
        pred.dim() != 4
        or target.dim() != 4
        or pred.shape[2] != 1
        or pred.shape[:2] + pred.shape[3:] != (target.shape[:2] + target.shape[3:])
    ):
        raise ValueError(
            f"`pred` must be (B, N, 1, T) and `target` (B, N, R, T) with the same B, N, T; "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    valid = torch.isfinite(target)
    filled = torch.where(valid, target, torch.zeros((), dtype=target.dtype, device=target.device))
    b, n, r, t = target.shape
    if r > 1:  # compare every trial: move trials into the batch axis
        pred = pred.expand(b, n, r, t).transpose(1, 2).reshape(b * r, n, 1, t)
        filled = filled.transpose(1, 2).reshape(b * r, n, 1, t)
        valid = valid.transpose(1, 2).reshape(b * r, n, 1, t)
    total = _loss(pred, filled, valid, loss, "sum")
    return total, valid.sum()


def pad_cat(parts: Sequence[torch.Tensor], fill: float) -> torch.Tensor:
    """Concatenate ``(B_i, N, R_i, T_i)`` tensors along the batch axis, padding ``R`` and ``T`` with ``fill``.

    Example:
        >>> pad_cat([torch.ones(1, 2, 1, 3), torch.ones(2, 2, 2, 1)], fill=0.0).shape
        torch.Size([3, 2, 2, 3])
    """
    if not parts:
        raise ValueError("`parts` must hold at least one tensor")
    rows, trials, steps = (max(int(p.shape[i]) for p in parts) for i in (1, 2, 3))
    out = parts[0].new_full((sum(int(p.shape[0]) for p in parts), rows, trials, steps), fill)
    start = 0
    for part in parts:
        out[start : start + part.shape[0], :, : part.shape[2], : part.shape[3]] = part
        start += part.shape[0]
    return out


def score_split(
    name: str, pred: torch.Tensor, responses: torch.Tensor, mask: torch.Tensor, loss: str = "mse"
) -> torch.Tensor:
    """Per-neuron score of a whole split (one metric call over all its stimuli).

    Args:
        name: A key of :data:`SCORES`, or ``'loss'`` (the per-neuron mean training loss
            against the trial mean, to be minimised).
        pred: ``(S, N, 1, T)`` predictions (any value where ``mask`` is False).
        responses: ``(S, N, R, T)`` responses, NaN where missing.
        mask: ``(S, N, 1, T)`` bool, True on real (stimulus, neuron, time) positions.
        loss: The training loss, used when ``name == 'loss'``.

    Returns:
        ``(N,)`` scores; NaN for a neuron the metric cannot score.

    Raises:
        ValueError: If ``name`` is unknown.

    Example:
        >>> pred = torch.tensor([[[[1.0, 2.0, 3.0]]]])
        >>> score_split("cc", pred, 2 * pred, torch.ones(1, 1, 1, 3, dtype=torch.bool))
        tensor([1.])
    """
    check_choice("name", name, VALIDATION_METRICS)
    if name != "loss":
        return SCORES[name](pred, responses, mask=mask, reduction="none")
    return _loss(pred, batch_target(responses, "psth"), mask, loss, "none")
