r"""Magnitude-squared coherence between prediction and PSTH (Welch's method, masked).

.. math::
    C_{xy}(f) = \frac{|P_{xy}(f)|^2}{P_{xx}(f)\,P_{yy}(f)}

The time axis of every (stimulus, neuron) pair is cut into Hann-windowed segments of
``nperseg`` bins overlapping by ``noverlap``, each with its mean removed, as in
:func:`scipy.signal.coherence`. A segment takes part only if all of its bins are valid
(target present, ``mask`` True), so NaN tails and masked bins never leak into a
spectrum. The cross- and auto-spectra are averaged over the valid segments of all
stimuli of a neuron before the ratio is taken. On a single fully valid stimulus the
result equals :func:`scipy.signal.coherence` with the same settings.
"""

from __future__ import annotations

import warnings

import torch

from deepSTRF._deprecation import accepts_old_names
from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.metrics._masked import (
    check_pred,
    check_reduction,
    check_target,
    reduce_neurons,
    resolve_mask,
    restrict,
    safe_divide,
    trial_stats,
)

__all__ = ["coherence"]


def _segment_spectra(x: torch.Tensor, nperseg: int, step: int, window: torch.Tensor) -> torch.Tensor:
    """Spectra ``(B, N, 1, S, F)`` of the windowed, mean-removed segments of ``x``."""
    segments = x.unfold(-1, nperseg, step)
    segments = segments - segments[..., :1]  # exact zeros for a constant segment
    segments = segments - segments.mean(dim=-1, keepdim=True)
    return torch.fft.rfft(segments * window, dim=-1)


@accepts_old_names(gt="target")
def coherence(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    *,
    dt_ms: float | None = None,
    nperseg: int = 256,
    noverlap: int | None = None,
    fs: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coherence between the prediction and the target's PSTH, per neuron and frequency.

    Args:
        pred: Predictions.
        target: Trials (reduced to their mean) or a PSTH, NaN where missing.
            ``gt``, its deepSTRF 0.1.0 name, is still accepted and warns.
        mask: Optional bool tensor broadcastable to ``(B, N, 1, T)``; False excludes a bin
            (and every segment that contains it).
        reduction: ``'none'`` (per neuron), ``'mean'``, ``'median'`` (NaN-aware, over
            neurons, per frequency) or ``'sum'``.
        dt_ms: Bin width in ms: frequencies are then in Hz; ``None`` gives them in cycles per bin.
        nperseg: Segment length in bins.
        noverlap: Overlap of consecutive segments in bins; ``nperseg // 2`` if None.
        fs: Deprecated (warns): the bin rate, ``1000 / dt_ms``; pass ``dt_ms`` instead.

    Returns:
        ``(frequencies, coherence)``: ``(F,)`` frequencies with ``F = nperseg // 2 + 1``
        and coherences in [0, 1], ``(N, F)`` for ``'none'`` else ``(F,)``. NaN where a
        neuron has no valid segment or zero power at that frequency.

    Raises:
        TypeError: If a tensor is not floating point, ``mask`` is not bool, or an integer
            argument is not an int.
        ValueError: If shapes disagree, ``reduction`` is unknown, ``dt_ms <= 0``,
            ``nperseg`` exceeds ``T`` or ``noverlap`` is not in ``[0, nperseg)``.

    Shape:
        - pred: ``(B, N, 1, T)``
        - target: ``(B, N, R, T)``
        - output: ``(F,)`` and ``(N, F)`` or ``(F,)``

    Example:
        >>> t = torch.arange(64.0)
        >>> pred = torch.sin(t / 3).view(1, 1, 1, 64)
        >>> freqs, coh = coherence(pred, 2 * pred + 1, nperseg=16, reduction="none")
        >>> freqs.shape, coh.shape, bool(torch.allclose(coh, torch.ones_like(coh)))
        (torch.Size([9]), torch.Size([1, 9]), True)
    """
    pred = check_pred(pred)
    target = check_target(target, pred)
    reduction = check_reduction(reduction)
    if fs is not None:
        if dt_ms is not None:
            raise TypeError("coherence() got both `fs` (deprecated) and `dt_ms`; pass only `dt_ms`")
        warnings.warn("coherence(): `fs` is deprecated, use `dt_ms` (= 1000 / fs)", DeprecationWarning, stacklevel=2)
        dt_ms = 1000.0 / check_positive_float("fs", fs)
    bin_s = 1.0 if dt_ms is None else check_positive_float("dt_ms", dt_ms) / 1000.0
    nperseg = check_int("nperseg", nperseg)
    if nperseg > pred.shape[3]:
        raise ValueError(f"`nperseg` must be <= the number of time bins T = {pred.shape[3]}, got {nperseg}")
    noverlap = nperseg // 2 if noverlap is None else check_int("noverlap", noverlap, minimum=0)
    if noverlap >= nperseg:
        raise ValueError(f"`noverlap` must be < `nperseg` = {nperseg}, got {noverlap}")
    step = nperseg - noverlap

    stats = trial_stats(target, noise=False)
    valid = restrict(stats.trials > 0, resolve_mask(mask, pred))
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    window = torch.hann_window(nperseg, periodic=True, dtype=pred.dtype, device=pred.device)
    spec_x = _segment_spectra(torch.where(valid, pred, zero), nperseg, step, window)
    spec_y = _segment_spectra(torch.where(valid, stats.psth, zero), nperseg, step, window)
    seg_ok = valid.unfold(-1, nperseg, step).all(dim=-1).unsqueeze(-1).to(pred.dtype)  # (B, N, 1, S, 1)

    dims = (0, 2, 3)
    cross = (spec_x.conj() * spec_y * seg_ok).sum(dim=dims)  # (N, F)
    power_x = (spec_x.abs().square() * seg_ok).sum(dim=dims)
    power_y = (spec_y.abs().square() * seg_ok).sum(dim=dims)
    denom = power_x * power_y
    coh = safe_divide(cross.abs().square(), denom, denom > 0).clamp(max=1.0)
    freqs = torch.fft.rfftfreq(nperseg, d=bin_s, dtype=pred.dtype, device=pred.device)
    return freqs, reduce_neurons(coh, reduction)
