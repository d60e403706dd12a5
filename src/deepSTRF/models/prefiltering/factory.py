"""One-call construction of an adaptation prefilter from a spectrogram's frequency axis and frame width."""

from __future__ import annotations

import math

import torch
from torch import nn

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.models.prefiltering.adaptation import AdapTrans, ICAdaptation
from deepSTRF.models.prefiltering.time_constants import freq_to_tau, get_CFs, tau_to_a

__all__ = ["MAX_KERNEL_SIZE", "N_TIME_CONSTANTS", "make_prefiltering"]

#: ``make_prefiltering`` kernels cover this many time constants of the slowest band ...
N_TIME_CONSTANTS = 3.0
#: ... but never more frames than this by default.
MAX_KERNEL_SIZE = 512


def make_prefiltering(
    kind: str,
    n_frequency_bands: int,
    dt: float,
    min_freq: float = 500.0,
    max_freq: float = 20000.0,
    scale: str = "mel",
    learnable: bool = True,
    init_w: float = 0.75,
    max_kernel_size: int = MAX_KERNEL_SIZE,
) -> nn.Module:
    """Build an adaptation prefilter for a spectrogram from its frequency axis and frame width.

    Band centre frequencies come from :func:`get_CFs`, time constants from
    :func:`freq_to_tau` and decay factors from :func:`tau_to_a` with ``dt``. The
    kernel length is counted in frames: enough to cover ``3`` time constants of the
    slowest (lowest) band, ``K = 1 + ceil(3 tau_max / dt)``, capped at
    ``max_kernel_size`` (the exponential average is renormalised over the frames
    kept) and at least 2. For 500 Hz to 20 kHz, ``tau_max`` is 217 ms, so ``K`` is 131
    frames at ``dt = 5`` ms and 41 frames at ``dt = 16`` ms.

    Args:
        kind: ``'adaptrans'``, ``'icadaptation'`` or its alias ``'willmore'`` (case-insensitive).
        n_frequency_bands: Number ``F`` of bands of the spectrogram.
        dt: Frame width in ms (``dataset.dt_ms``).
        min_freq: Centre frequency of the lowest band in Hz.
        max_freq: Centre frequency of the highest band in Hz.
        scale: Spacing of the bands: ``'mel'``, ``'erb'`` or ``'greenwood'``.
        learnable: AdapTrans only: learn its parameters (ICAdaptation is always fixed).
        init_w: AdapTrans only: initial weight ``w`` of the past average, in ``(0, 1)``.
        max_kernel_size: Largest kernel length in frames.

    Returns:
        An :class:`AdapTrans` or :class:`ICAdaptation` (``out_channels`` 2 or 1).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``kind`` or ``scale`` is unknown, or a value is out of range.

    Example:
        >>> pre = make_prefiltering("adaptrans", n_frequency_bands=34, dt=5.0)
        >>> pre.out_channels, pre.K
        (2, 131)
    """
    if not isinstance(kind, str):
        raise TypeError(f"`kind` must be a str, got {type(kind).__name__}")
    name = str(check_choice("kind", kind.lower(), ("adaptrans", "icadaptation", "willmore")))
    step = check_positive_float("dt", dt)
    cap = check_int("max_kernel_size", max_kernel_size, minimum=2)
    if not 0 < check_positive_float("init_w", init_w) < 1:
        raise ValueError(f"`init_w` must lie strictly between 0 and 1, got {init_w}")
    cfs = get_CFs(min_freq, max_freq, check_int("n_frequency_bands", n_frequency_bands), scale).double()
    tau = torch.as_tensor(freq_to_tau(cfs))
    a = torch.as_tensor(tau_to_a(tau, dt=step))
    kernel_size = min(cap, max(2, 1 + math.ceil(N_TIME_CONSTANTS * float(tau.max()) / step)))
    if name == "adaptrans":
        return AdapTrans(a, torch.full_like(a, init_w), kernel_size=kernel_size, learnable=learnable)
    return ICAdaptation(a, kernel_size=kernel_size)
