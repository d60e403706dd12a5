"""PSTH smoothing with a unit-gain Hanning kernel, centred or causal.

The kernel is the Hanning window of ``L`` bins, the odd number closest to
``width_ms / dt_ms`` (at least 1), without its zero end points (so every tap counts),
divided by its sum: it has a gain of exactly 1 at every ``dt_ms`` (the 21 ms window of
Hsu, Borst & Theunissen 2004 is 21 bins at 1 ms, 5 bins at 5 ms, 3 bins at 10 ms).

- ``causal=False`` centres the kernel on each bin: the smoothed response at ``t`` uses bins
  ``t - (L-1)/2 .. t + (L-1)/2`` of the raw response (non-causal in the target).
- ``causal=True`` uses bins ``t - (L-1) .. t`` only, which delays the response by
  ``(L-1)/2`` bins.

Smoothing is NaN-aware and keeps unit gain at the edges and next to missing bins: the
weighted sum is divided by the sum of the weights that fell on valid bins. Missing bins
stay missing. Smoothing each trial and then averaging equals smoothing the PSTH.

:func:`smooth_published` reproduces the published pipelines' smoothing instead (the
``preset="published"`` of the spike-count loaders): ``K = floor(width_ms / dt_ms)`` taps,
plus one when even, of the Hanning window *with* its zero end points, **not** normalised
(a gain of about 2 at 5 ms, about 10 at 1 ms, and no smoothing at 10 ms, where the kernel
is ``[0, 1, 0]``), centred, with zeros beyond both ends (edge bins are attenuated). A
trial holding a missing bin is left as it is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deepSTRF._validation import check_positive_float, check_tensor
from deepSTRF.datasets.core import NeuralDataset

__all__ = [
    "hanning_kernel",
    "published_hanning_kernel",
    "published_smooth_trials",
    "smooth_published",
    "smooth_responses",
    "smooth_trials",
]


def hanning_kernel(width_ms: float = 21.0, dt_ms: float = 5.0, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A symmetric Hanning kernel of about ``width_ms`` that sums to 1.

    Args:
        width_ms: Full width of the window in ms.
        dt_ms: Bin width in ms.
        dtype: Floating dtype of the kernel.

    Returns:
        The ``(L,)`` kernel, ``L`` odd (``L = 1`` when the window is narrower than two bins).

    Raises:
        TypeError, ValueError: If a width is not a positive number.

    Example:
        >>> hanning_kernel(21.0, 5.0)
        tensor([0.0833, 0.2500, 0.3333, 0.2500, 0.0833], dtype=torch.float64)
    """
    width_ms = check_positive_float("width_ms", width_ms)
    dt_ms = check_positive_float("dt_ms", dt_ms)
    half = max(0, math.floor((width_ms / dt_ms - 1) / 2 + 0.5))
    k = torch.arange(-half, half + 1, dtype=dtype)
    window = 0.5 * (1 + torch.cos(math.pi * k / (half + 1)))
    return window / window.sum()


def smooth_trials(x: torch.Tensor, kernel: torch.Tensor, *, causal: bool = False) -> torch.Tensor:
    """Smooth along the last axis with a unit-gain, NaN-aware kernel.

    Args:
        x: Responses ``(..., T)``; NaN marks missing bins.
        kernel: ``(L,)`` weights (``L`` odd when centred); they are normalised to sum to 1.
        causal: Use only past and present bins (see the module documentation).

    Returns:
        Smoothed responses of the same shape and dtype, NaN where ``x`` is NaN.

    Raises:
        TypeError, ValueError: For a non-floating input, a kernel that is not 1-D, has an
            even length when centred, or does not have a positive sum.

    Shape:
        - x: ``(..., T)``
        - output: ``(..., T)``

    Example:
        >>> smooth_trials(torch.ones(1, 4), torch.tensor([1.0, 2.0, 1.0]))
        tensor([[1., 1., 1., 1.]])
    """
    check_tensor("x", x, floating=True)
    check_tensor("kernel", kernel, ndim=1, floating=True)
    length = kernel.shape[0]
    if length == 0 or not float(kernel.sum()) > 0:
        raise ValueError(f"`kernel` must be non-empty with a positive sum, got {kernel.tolist()}")
    if not causal and length % 2 == 0:
        raise ValueError(f"a centred `kernel` must have an odd length, got {length}")
    if x.dim() == 0:
        raise ValueError("`x` must have a time axis, got a 0-d tensor")
    w = (kernel / kernel.sum()).to(x.dtype).flip(0).reshape(1, 1, length)
    pad = (length - 1, 0) if causal else ((length - 1) // 2, (length - 1) // 2)
    flat = x.reshape(-1, 1, x.shape[-1])
    valid = ~torch.isnan(flat)
    num = F.conv1d(F.pad(torch.where(valid, flat, torch.zeros((), dtype=x.dtype)), pad), w)
    den = F.conv1d(F.pad(valid.to(x.dtype), pad), w)
    out = torch.where(valid, num / den.clamp_min(torch.finfo(x.dtype).tiny), torch.full_like(num, math.nan))
    return out.reshape(x.shape)


def smooth_responses(dataset: NeuralDataset, width_ms: float = 21.0, *, causal: bool = False) -> NeuralDataset:
    """A copy of ``dataset`` whose every trial is smoothed with :func:`hanning_kernel`.

    Args:
        dataset: The dataset.
        width_ms: Full width of the Hanning window in ms.
        causal: Causal instead of centred smoothing (see the module documentation).

    Returns:
        A :class:`NeuralDataset` with smoothed responses (``info['smoothing']`` records the kernel).

    Raises:
        TypeError, ValueError: For an invalid dataset or width.

    Example:
        >>> ds = NeuralDataset([torch.zeros(1, 1, 9)], [[torch.tensor([[0.0, 0, 0, 0, 3, 0, 0, 0, 0]])]], 5.0)
        >>> smooth_responses(ds, 21.0)[0]["responses"].flatten().tolist()[2:7]
        [0.25, 0.75, 1.0, 0.75, 0.25]
    """
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    kernel = hanning_kernel(width_ms, dataset.dt_ms)
    out = dataset._evolve(packed=[smooth_trials(rows, kernel, causal=causal) for rows in dataset._resp])
    out.info["smoothing"] = {"kernel": "hanning", "width_ms": width_ms, "taps": kernel.numel(), "causal": causal}
    return out


def published_hanning_kernel(
    width_ms: float = 21.0, dt_ms: float = 5.0, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The published pipelines' unnormalised Hanning kernel (see the module documentation).

    Args:
        width_ms: Full width of the window in ms.
        dt_ms: Bin width in ms.
        dtype: Floating dtype of the kernel.

    Returns:
        The ``(K,)`` kernel: ``K = floor(width_ms / dt_ms)`` (at least 1), plus one when even;
        taps ``0.5 - 0.5 cos(2 pi k / (K - 1))``, end points included, not normalised.

    Raises:
        TypeError, ValueError: If a width is not a positive number.

    Example:
        >>> published_hanning_kernel(21.0, 5.0)
        tensor([0.0000, 0.5000, 1.0000, 0.5000, 0.0000], dtype=torch.float64)
    """
    width_ms = check_positive_float("width_ms", width_ms)
    dt_ms = check_positive_float("dt_ms", dt_ms)
    taps = max(1, math.floor(width_ms / dt_ms))
    taps += 1 - taps % 2
    if taps == 1:
        return torch.ones(1, dtype=dtype)
    k = torch.arange(taps, dtype=dtype)
    return 0.5 - 0.5 * torch.cos(2 * math.pi * k / (taps - 1))


def published_smooth_trials(x: torch.Tensor, width_ms: float, dt_ms: float) -> torch.Tensor:
    """Smooth each trial along the last axis as the published pipelines do (see the module documentation).

    Args:
        x: Responses ``(..., T)``; a trial (last-axis row) holding a NaN is returned unchanged.
        width_ms: Full width of the Hanning window in ms.
        dt_ms: Bin width in ms.

    Returns:
        Smoothed responses of the same shape and dtype.

    Raises:
        TypeError, ValueError: For a non-floating input or an invalid width.

    Shape:
        - x: ``(..., T)``
        - output: ``(..., T)``

    Example:
        >>> published_smooth_trials(torch.tensor([[0.0, 0, 2, 0, 1]]), 21.0, 5.0).tolist()
        [[0.0, 1.0, 2.0, 1.5, 1.0]]
    """
    check_tensor("x", x, floating=True)
    kernel = published_hanning_kernel(width_ms, dt_ms, dtype=x.dtype)
    if x.dim() == 0:
        raise ValueError("`x` must have a time axis, got a 0-d tensor")
    if x.numel() == 0:
        return x.clone()
    half = (kernel.numel() - 1) // 2
    flat = x.reshape(-1, 1, x.shape[-1])
    out = F.conv1d(F.pad(flat, (half, half)), kernel.reshape(1, 1, -1)).reshape(x.shape)
    return torch.where(torch.isnan(x).any(dim=-1, keepdim=True), x, out)


def smooth_published(dataset: NeuralDataset, width_ms: float = 21.0) -> NeuralDataset:
    """A copy of ``dataset`` smoothed as the published pipelines smooth (see the module documentation).

    Args:
        dataset: The dataset.
        width_ms: Full width of the Hanning window in ms.

    Returns:
        A :class:`NeuralDataset` whose every trial without a missing bin is convolved with
        :func:`published_hanning_kernel`, zero-padded and centred (``info['smoothing']`` records it).

    Raises:
        TypeError, ValueError: For an invalid dataset or width.

    Example:
        >>> ds = NeuralDataset([torch.zeros(1, 1, 5)], [[torch.tensor([[0.0, 0, 2, 0, 1]])]], 5.0)
        >>> smooth_published(ds)[0]["responses"].flatten().tolist()
        [0.0, 1.0, 2.0, 1.5, 1.0]
    """
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    out = dataset._evolve()
    apply_published_smoothing(out, width_ms)
    return out


PUBLISHED_WIDTH_MS = 21.0
"""Window of the published pipelines' response smoothing (Hsu, Borst & Theunissen 2004)."""


def apply_published_smoothing(dataset: NeuralDataset, width_ms: float = PUBLISHED_WIDTH_MS) -> None:
    """Smooth a freshly built loader's trials in place with :func:`published_smooth_trials`.

    Used by the loaders' ``preset="published"``; records the kernel in ``info['smoothing']``.

    Args:
        dataset: The dataset, modified in place.
        width_ms: Full width of the Hanning window in ms.
    """
    dataset._resp = [published_smooth_trials(rows, width_ms, dataset.dt_ms) for rows in dataset._resp]
    dataset.info["smoothing"] = {
        "kernel": "hanning (published: unnormalised, zero-padded)",
        "width_ms": width_ms,
        "taps": published_hanning_kernel(width_ms, dataset.dt_ms).numel(),
        "causal": False,
    }
