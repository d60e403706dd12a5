r"""Nonlinearity indices of dynamic STRFs: gain change, temporal hold and shape change.

Keshishian et al. (2020, eLife 9:e53445) describe three ways in which the dynamic STRFs
``D_t`` of a nonlinear model vary over a stimulus. We measure each with a number that is
exactly 0 for a linear model (whose dSTRFs never change), computed per neuron from the
dSTRFs at consecutive time points:

- **gain change**: the dSTRF keeps its shape but its size varies. Coefficient of
  variation of the dSTRF norms, :math:`\operatorname{std}_t \|D_t\| / \operatorname{mean}_t \|D_t\|`
  (Frobenius norms; population standard deviation).
- **temporal hold**: the neuron keeps responding to a feature that has already passed,
  so the dSTRF at ``t + τ`` is the one at ``t`` moved ``τ`` lags later. For each shift
  :math:`\tau = 1..\tau_{max}`, the mean cosine similarity of the overlapping parts of
  ``D_t`` and ``D_{t+τ}`` once aligned on absolute stimulus time,
  :math:`s_\text{shift}(\tau)`, is compared with that at equal lags,
  :math:`s_\text{lag}(\tau)`; the index is :math:`\sum_\tau \max(0, s_\text{shift} - s_\text{lag})`,
  in frames. A fixed filter has :math:`s_\text{lag} = 1` and index 0.
- **shape change**: the dSTRF changes its pattern. With every non-zero dSTRF scaled to
  unit norm (which removes gain changes) and stacked as rows of a ``K × (F·L)`` matrix
  with singular values :math:`\sigma_i`, the index is
  :math:`1 - \sigma_1^2 / \sum_i \sigma_i^2`: the fraction of the dSTRFs' energy that no
  single shape explains (0 when they all share one shape, up to a sign).

These are our operational versions of the three notions; the paper's own statistics
(e.g. jackknife significance masks) are not reproduced. Zero dSTRFs (a rectified unit
that is silent) count as zero gain in the gain change and are left out of the other two.
"""

from __future__ import annotations

import torch

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.interpret.dstrf import DynamicSTRFs

__all__ = ["gain_change", "nonlinearity_indices", "shape_change", "temporal_hold"]

_ACTIVE_RTOL = 1e-6  # a dSTRF smaller than this fraction of the neuron's largest counts as zero


def _check(dstrfs: object) -> torch.Tensor:
    tensor = check_tensor("dstrfs", dstrfs, ndim=4, floating=True)
    if tensor.shape[1] < 2:
        raise ValueError(f"`dstrfs` must hold at least 2 time points (N, K >= 2, F, L), got {tuple(tensor.shape)}")
    return tensor


def _norms(dstrfs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Frobenius norms ``(N, K)`` and the mask of non-zero dSTRFs."""
    norms = torch.linalg.vector_norm(dstrfs, dim=(-2, -1))
    active = norms > _ACTIVE_RTOL * norms.amax(dim=1, keepdim=True)
    return norms, active


def gain_change(dstrfs: torch.Tensor) -> torch.Tensor:
    """Coefficient of variation of the dSTRF norms over time, per neuron (see the module notes).

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K time points.

    Returns:
        ``(N,)``; NaN for a neuron whose dSTRFs are all zero.

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor.
        ValueError: If it is not 4-D with K >= 2.

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> strf = torch.randn(1, 1, 3, 4)
        >>> gain_change(strf * torch.tensor([1.0, 1.0, 3.0, 3.0]).view(1, 4, 1, 1))
        tensor([0.5000])
    """
    norms, _ = _norms(_check(dstrfs))
    mean = norms.mean(dim=1)
    std = norms.std(dim=1, correction=0)
    return torch.where(mean > 0, std / mean.clamp_min(torch.finfo(norms.dtype).tiny), torch.nan)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity over the last two axes; NaN where either side is zero."""
    num = (a * b).sum(dim=(-2, -1))
    den = torch.linalg.vector_norm(a, dim=(-2, -1)) * torch.linalg.vector_norm(b, dim=(-2, -1))
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(a.dtype).tiny), torch.nan)


def temporal_hold(dstrfs: torch.Tensor, max_shift: int | None = None) -> torch.Tensor:
    """How long a neuron holds on to a past feature, in frames, per neuron (see the module notes).

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K **consecutive** time points.
        max_shift: Largest shift ``τ`` compared; defaults to ``min(L, K) // 2``.

    Returns:
        ``(N,)`` indices >= 0; NaN for a neuron with no pair of non-zero dSTRFs.

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor or ``max_shift`` not an int.
        ValueError: If ``dstrfs`` is not 4-D with K >= 2, or ``max_shift`` is not in
            ``[1, min(L, K) - 1]``.

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> held = torch.zeros(1, 8, 1, 12)  # one click whose dSTRF moves one lag later per frame
        >>> held[0, torch.arange(8), 0, 11 - torch.arange(8)] = 1.0
        >>> temporal_hold(held)
        tensor([4.])
    """
    dstrfs = _check(dstrfs)
    n_times, n_lags = dstrfs.shape[1], dstrfs.shape[-1]
    limit = min(n_lags, n_times) - 1
    if limit < 1:
        raise ValueError(f"`dstrfs` needs L >= 2 lags and K >= 2 time points, got shape {tuple(dstrfs.shape)}")
    max_shift = max(1, (limit + 1) // 2) if max_shift is None else check_int("max_shift", max_shift)
    if max_shift > limit:
        raise ValueError(f"`max_shift` must be <= min(L, K) - 1 = {limit}, got {max_shift}")
    _, active = _norms(dstrfs)
    kept = dstrfs * active[..., None, None]
    total = dstrfs.new_zeros(dstrfs.shape[0])
    seen = torch.zeros(dstrfs.shape[0], dtype=torch.bool, device=dstrfs.device)
    for shift in range(1, max_shift + 1):  # a short loop over shifts; time points are vectorised
        now, later = kept[:, :-shift, :, shift:], kept[:, shift:]
        aligned = _cosine(now, later[..., : n_lags - shift]).nanmean(dim=1)
        same_lag = _cosine(now, later[..., shift:]).nanmean(dim=1)
        gap = aligned - same_lag
        seen |= ~torch.isnan(gap)
        total = total + gap.nan_to_num(0.0).clamp_min(0.0)
    return torch.where(seen, total, torch.nan)


def shape_change(dstrfs: torch.Tensor) -> torch.Tensor:
    """Fraction of the unit-norm dSTRFs' energy outside their best single shape, per neuron.

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K time points.

    Returns:
        ``(N,)`` values in ``[0, 1)``; NaN for a neuron with fewer than 2 non-zero dSTRFs.

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor.
        ValueError: If it is not 4-D with K >= 2.

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> strf = torch.randn(1, 1, 3, 4)
        >>> float(shape_change(strf * torch.tensor([1.0, -2.0, 0.5]).view(1, 3, 1, 1)).abs()) < 1e-6
        True
    """
    dstrfs = _check(dstrfs)
    norms, active = _norms(dstrfs)
    unit = dstrfs / norms.clamp_min(torch.finfo(dstrfs.dtype).tiny)[..., None, None]
    unit = (unit * active[..., None, None]).flatten(2)  # (N, K, F*L)
    energy = torch.linalg.svdvals(unit).square()
    count = active.sum(dim=1)
    return torch.where(count >= 2, 1 - energy[:, 0] / count.clamp_min(1).to(energy.dtype), torch.nan).clamp_min(0.0)


def nonlinearity_indices(dstrfs: DynamicSTRFs | torch.Tensor, max_shift: int | None = None) -> dict[str, torch.Tensor]:
    """Gain change, temporal hold and shape change of every neuron's dSTRFs.

    Given a :class:`~deepSTRF.models.interpret.DynamicSTRFs`, only time points whose
    window lies wholly after the stimulus onset are used (earlier dSTRFs are cut short and
    would look like gain changes), and they must be consecutive.

    Args:
        dstrfs: The result of :func:`~deepSTRF.models.interpret.dynamic_strfs`, or a
            ``(N, K, F, L)`` tensor of dSTRFs at consecutive time points.
        max_shift: Passed to :func:`temporal_hold`.

    Returns:
        ``{'gain_change', 'temporal_hold', 'shape_change'}`` each ``(N,)``.

    Raises:
        TypeError: If ``dstrfs`` is neither a ``DynamicSTRFs`` nor a floating tensor.
        ValueError: If the time points are not consecutive, fewer than 2 are complete, or
            a shape is wrong.

    Example:
        >>> from deepSTRF.models.audio import Linear
        >>> from deepSTRF.models.interpret import dynamic_strfs
        >>> model = Linear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
        >>> found = nonlinearity_indices(dynamic_strfs(model, torch.randn(6, 30)))
        >>> [round(float(v.abs().max()), 6) for v in found.values()]  # a linear model: all zero
        [0.0, 0.0, 0.0]
    """
    if isinstance(dstrfs, DynamicSTRFs):
        times = dstrfs.times[dstrfs.complete]
        if times.numel() < 2:
            raise ValueError(
                f"`dstrfs` must have >= 2 time points at or after window - 1 = {dstrfs.window - 1}, "
                f"got times {dstrfs.times.tolist()[:8]}..."
            )
        if bool((times.diff() != 1).any()):
            raise ValueError("`dstrfs` must be taken at consecutive, increasing time points for the indices")
        tensor = dstrfs.dstrfs[:, dstrfs.complete.to(dstrfs.dstrfs.device)]
    else:
        tensor = _check(dstrfs)
    return {
        "gain_change": gain_change(tensor),
        "temporal_hold": temporal_hold(tensor, max_shift),
        "shape_change": shape_change(tensor),
    }
