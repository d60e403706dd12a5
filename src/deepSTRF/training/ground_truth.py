"""Comparisons with the ground truth of simulated data: the true-rate ceiling and the true STRFs.

Example:
    >>> from deepSTRF.datasets import SimulatedDataset
    >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)
    >>> ceiling = true_rate_scores(data, [2, 3], ["cc"])
    >>> ceiling["cc"].shape
    torch.Size([2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch

from deepSTRF.datasets import neural_collate
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training.objectives import batch_mask, pad_cat, score_split

__all__ = ["effective_strfs", "true_rate_scores"]


def true_rate_scores(dataset: Any, stimuli: Sequence[int], metrics: Sequence[str]) -> dict[str, torch.Tensor] | None:
    """Scores of the noiseless true rate on some stimuli: the ceiling any model can reach there.

    Args:
        dataset: A dataset with a ``true_rates`` list of ``(N, T_s)`` rates (e.g.
            :class:`~deepSTRF.datasets.SimulatedDataset`); others give ``None``.
        stimuli: Stimulus indices.
        metrics: Metric names (see :meth:`~deepSTRF.training.fitter.Fitter.evaluate`; ``'loss'``
            is skipped).

    Returns:
        ``{metric: (N,) float64 scores}``, computed exactly as a model's are, or ``None``.

    Example:
        >>> from deepSTRF.datasets import SimulatedDataset
        >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)
        >>> bool((true_rate_scores(data, [3], ["ccnorm"])["ccnorm"] > 0.9).all())
        True
    """
    rates = getattr(dataset, "true_rates", None)
    if rates is None:
        return None
    batch = neural_collate([dataset[s] for s in stimuli])
    responses = batch["responses"].double()
    mask = batch_mask(batch, responses.shape[-1])
    pred = pad_cat([torch.as_tensor(rates[s], dtype=torch.float64)[None, :, None] for s in stimuli], 0.0)
    pred = pred.masked_fill(~mask, 0.0)
    return {name: score_split(name, pred, responses, mask) for name in metrics if name != "loss"}


def effective_strfs(model: torch.nn.Module) -> torch.Tensor | None:
    """The STRFs a ``Linear`` / ``LinearNonlinear`` model applies in eval mode, ``(N, F, T)``.

    The readout's kernel is scaled by each neuron's eval-mode BatchNorm gain
    ``weight / sqrt(running_var + eps)``, so the sign and relative size of the STRFs
    are those of the model's actual linear filter (ON channel).

    Args:
        model: Any model; only ``Linear`` and its subclasses have STRFs here.

    Returns:
        The STRFs on CPU, or ``None`` for other models.

    Example:
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> effective_strfs(Linear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2)).shape
        torch.Size([2, 4, 3])
    """
    if not isinstance(model, Linear):
        return None
    norm = cast(torch.nn.BatchNorm1d, model.readout.bn)
    gain = (norm.weight / torch.sqrt(cast(torch.Tensor, norm.running_var) + norm.eps)).detach().cpu()
    return model.STRF_weight("ON") * gain[:, None, None]
