"""Pooled moments and the one Pearson correlation of the library.

:func:`pooled_moments` gives the count, means, unbiased variances and covariance of two
tensors over the positions where a boolean ``weight`` is True, pooled over chosen axes.
Every correlation in deepSTRF (the metrics, STRF similarity, the scores shown in plots)
comes from :func:`correlation` of these moments, so constant signals, missing values and
large offsets are treated the same way everywhere.

Nothing here synchronises with the device: invalid positions are zeroed with
:func:`torch.where` and counted with sums.

Example:
    >>> x = torch.tensor([[1.0, 2.0, 3.0, float("nan")]])
    >>> pearson(x, 2 * x + 1, dim=-1)
    tensor([1.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

__all__ = ["Moments", "correlation", "pearson", "pooled_moments", "safe_divide", "squared_error"]


def safe_divide(num: torch.Tensor, den: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``ok``, NaN elsewhere (never divides by zero).

    Example:
        >>> safe_divide(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0]), torch.tensor([True, False]))
        tensor([0.5000,    nan])
    """
    nan = torch.full((), float("nan"), dtype=num.dtype, device=num.device)
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), nan)


class Moments(NamedTuple):
    """Moments over the pooled positions, each of the shape left after pooling.

    Variances and the covariance are unbiased (divided by ``n − 1``); they are NaN when
    ``n < 2`` and means are NaN when ``n = 0``.
    """

    n: torch.Tensor
    mean_x: torch.Tensor
    var_x: torch.Tensor
    mean_y: torch.Tensor
    var_y: torch.Tensor
    cov: torch.Tensor


def _centred(
    x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, n: torch.Tensor, clean: bool, dims: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over ``dims`` (kept as size-1 axes) and deviations from it, zero outside ``weight``.

    ``scale`` is the 0/1 float copy of ``weight`` and ``n`` its count over ``dims``. ``clean``
    values are NaN only outside ``weight`` (cheap to zero); other values may hold anything
    there. The data are first shifted by a reference: the largest value, or the smallest if
    the largest is 0 (with excluded positions read as 0). For a signal that is constant on
    the valid positions the reference is that constant, so its deviations are exactly zero,
    its variance exactly 0 and correlations with it NaN instead of rounding noise. The shift
    changes no moment.
    """
    if clean:
        filled = x.nan_to_num(0.0) * scale
    else:
        filled = torch.where(weight, x, torch.zeros((), dtype=x.dtype, device=x.device))
    high, low = filled.detach().amax(dim=dims, keepdim=True), filled.detach().amin(dim=dims, keepdim=True)
    ref = torch.where(high != 0, high, low)
    shifted = (filled - ref) * scale
    mean_shifted = safe_divide(shifted.sum(dims, keepdim=True), n, n > 0)
    return mean_shifted + ref, (shifted - mean_shifted) * scale


def pooled_moments(
    x: torch.Tensor, y: torch.Tensor | None, weight: torch.Tensor, dims: Sequence[int] = (-1,)
) -> Moments:
    """Means, variances and covariance over the positions where ``weight`` is True, pooled over ``dims``.

    Args:
        x: Values computed from the data, NaN only outside ``weight``.
        y: Values of the same shape that may hold anything outside ``weight`` (a prediction),
            or None (then the ``y`` fields repeat ``x``). NaN at a valid position propagates.
        weight: Boolean tensor of the same shape, True on the positions to pool.
        dims: Axes pooled together.

    Returns:
        :class:`Moments` with ``dims`` removed, from shifted two-pass sums (stable for large offsets).

    Shape:
        ``x``, ``y``, ``weight``: any common shape; every field of the result drops ``dims``.

    Example:
        >>> x = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
        >>> m = pooled_moments(x, None, torch.ones_like(x, dtype=torch.bool), dims=(1,))
        >>> m.mean_x.tolist(), m.var_x.tolist()
        ([2.0, 5.0], [1.0, 0.0])
    """
    axes = tuple(d % x.dim() for d in dims)
    scale = weight.to(x.dtype)
    n = scale.sum(axes, keepdim=True)
    mean_x, dev_x = _centred(x, weight, scale, n, True, axes)
    has_two = n > 1
    var_x = safe_divide(dev_x.square().sum(axes, keepdim=True), n - 1, has_two)
    if y is None:
        fields = (n, mean_x, var_x, mean_x, var_x, var_x)
    else:
        n_y = n.to(y.dtype)
        mean_y, dev_y = _centred(y, weight, scale.to(y.dtype), n_y, False, axes)
        var_y = safe_divide(dev_y.square().sum(axes, keepdim=True), n_y - 1, has_two)
        cov = safe_divide((dev_x * dev_y).sum(axes, keepdim=True), n_y - 1, has_two)
        fields = (n, mean_x, var_x, mean_y, var_y, cov)
    return Moments(*(f.squeeze(axes) for f in fields))


def squared_error(m: Moments) -> torch.Tensor:
    """``Σ_p (x_p − y_p)²`` over the pooled positions, from :class:`Moments` (NaN if ``n < 2``)."""
    return (m.n - 1) * (m.var_x + m.var_y - 2 * m.cov) + m.n * (m.mean_x - m.mean_y).square()


def correlation(m: Moments) -> torch.Tensor:
    """Pearson correlation from :class:`Moments`; NaN where either variance is zero."""
    ok = (m.var_x > 0) & (m.var_y > 0)
    return safe_divide(m.cov, torch.sqrt(m.var_x * m.var_y), ok).clamp(-1.0, 1.0)


def pearson(x: torch.Tensor, y: torch.Tensor, dim: int | Sequence[int] = -1) -> torch.Tensor:
    """Pearson correlation of ``x`` and ``y`` along ``dim``, over the positions where both are finite.

    Args:
        x: Values.
        y: Values of the same shape.
        dim: Axis or axes pooled.

    Returns:
        The correlations, with ``dim`` removed; NaN where either is constant or fewer than two
        positions are finite.

    Raises:
        ValueError: If the shapes differ.

    Example:
        >>> pearson(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 2.0, 3.0]))
        tensor(0.9820)
    """
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    valid = torch.isfinite(x) & torch.isfinite(y)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return correlation(pooled_moments(torch.where(valid, x, torch.nan), y, valid, dims))
