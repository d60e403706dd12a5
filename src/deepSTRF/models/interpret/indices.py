r"""Nonlinearity indices of dynamic STRFs: gain change, temporal hold and shape change.

Keshishian et al. (2020, eLife 9:e53445) describe three ways in which the dynamic STRFs
``D_t`` of a nonlinear model vary along a stimulus, and measure each per neuron. We follow
the definitions of the authors' published analysis code (the DSTRF repository of the
paper's lab), written anew here:

- **gain change**: the standard deviation over time of the Frobenius norms,
  :math:`\operatorname{std}_t \|D_t\|` (``K - 1`` in the denominator). It has the units of
  the dSTRF and is 0 when the size of the dSTRF never changes.
- **temporal hold**: for each shift :math:`\tau = 1, 2, \dots`, the Pearson correlation of
  :math:`D_t` with :math:`D_{t+\tau}` at equal lags, :math:`r_0(t)`, is compared with that
  of :math:`D_t` with :math:`D_{t+\tau}` moved back by :math:`\tau` lags so that both are
  aligned on stimulus time (the :math:`\tau` oldest lags dropped, zeros at the newest),
  :math:`r_1(t)`, by a one-sided Wilcoxon signed-rank test over :math:`t`
  (alternative :math:`r_0 < r_1`). The index is the number of consecutive shifts, from
  :math:`\tau = 1`, whose p-value is below ``alpha`` (0.001), in frames. A fixed filter
  has :math:`r_0 = 1` and index 0.
- **shape change**: the dSTRFs are first aligned along the lag axis (each moved, within a
  zero-padded window, to the shift that best correlates it with the mean dSTRF, repeated
  until no shift changes, then centred and cropped back to ``L`` lags), which removes the
  temporal hold. Stacked as rows of a ``K x (F*L)`` matrix with singular values
  :math:`\sigma_1 \ge \sigma_2 \ge \dots`, the index is the complexity
  :math:`\sum_i \sigma_i / \sigma_1`. Its null value is **1**: dSTRFs that share one shape,
  whatever their gains, form a rank-1 matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as tnf

from deepSTRF._optional import require
from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.interpret.dstrf import DynamicSTRFs

__all__ = ["gain_change", "nonlinearity_indices", "shape_change", "temporal_hold"]


def _check(dstrfs: object) -> torch.Tensor:
    tensor = check_tensor("dstrfs", dstrfs, ndim=4, floating=True)
    if tensor.shape[1] < 2:
        raise ValueError(f"`dstrfs` must hold at least 2 time points (N, K >= 2, F, L), got {tuple(tensor.shape)}")
    return tensor


def _default_span(n_lags: int) -> int:
    """The authors' default largest shift: ``max(L - 10, min(L, 5))``."""
    return max(n_lags - 10, min(n_lags, 5))


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the last two axes; NaN where either side is constant."""
    a = a.flatten(-2)
    b = b.flatten(-2)
    a = a - a.mean(dim=-1, keepdim=True)
    b = b - b.mean(dim=-1, keepdim=True)
    den = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    return torch.where(den > 0, (a * b).sum(dim=-1) / den.clamp_min(torch.finfo(a.dtype).tiny), torch.nan)


def gain_change(dstrfs: torch.Tensor) -> torch.Tensor:
    """Standard deviation over time of the dSTRF norms, per neuron (see the module notes).

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K time points.

    Returns:
        ``(N,)`` values >= 0, in the units of the dSTRF.

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor.
        ValueError: If it is not 4-D with K >= 2.

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> strf = torch.zeros(1, 1, 2, 2)
        >>> strf[0, 0, 0, 0] = 1.0  # a unit-norm STRF
        >>> gain_change(strf * torch.tensor([1.0, 1.0, 3.0, 3.0]).view(1, 4, 1, 1))
        tensor([1.1547])
    """
    norms = torch.linalg.vector_norm(_check(dstrfs), dim=(-2, -1))
    return norms.std(dim=1, correction=1)


def _signed_rank_pvalue(smaller: torch.Tensor, larger: torch.Tensor) -> float:
    """One-sided Wilcoxon signed-rank p-value for ``smaller < larger`` (1 when undecidable)."""
    stats = require("scipy.stats", extra="data", purpose="the signed-rank test of temporal_hold")
    keep = ~(torch.isnan(smaller) | torch.isnan(larger))
    x, y = smaller[keep].double().cpu().numpy(), larger[keep].double().cpu().numpy()
    if (x != y).sum() == 0:
        return 1.0
    return float(stats.wilcoxon(x, y, alternative="less").pvalue)


def temporal_hold(dstrfs: torch.Tensor, max_shift: int | None = None, alpha: float = 0.001) -> torch.Tensor:
    """How many frames a neuron holds on to a past feature, per neuron (see the module notes).

    Needs scipy (the signed-rank test).

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K **consecutive** time points.
        max_shift: Largest shift ``τ`` tested; defaults to ``max(L - 10, min(L, 5))``,
            capped at ``min(L, K) - 1``. The first ``K - max_shift`` time points are
            compared at every shift.
        alpha: Significance level of each test.

    Returns:
        ``(N,)`` whole numbers in ``[0, max_shift]`` (as floats).

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor or ``max_shift`` not an int.
        ValueError: If ``dstrfs`` is not 4-D with K >= 2, ``max_shift`` is not in
            ``[1, min(L, K) - 1]``, or ``alpha`` not in (0, 1).

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> held = torch.zeros(1, 120, 1, 12)  # a feature that stays in view for 6 frames
        >>> t = torch.arange(120)
        >>> held[0, t, 0, 11 - t % 6] = 1.0
        >>> temporal_hold(held, max_shift=8)
        tensor([5.])
    """
    dstrfs = _check(dstrfs)
    n_neurons, n_times, _, n_lags = dstrfs.shape
    limit = min(n_lags, n_times) - 1
    if limit < 1:
        raise ValueError(f"`dstrfs` needs L >= 2 lags and K >= 2 time points, got shape {tuple(dstrfs.shape)}")
    max_shift = min(_default_span(n_lags), limit) if max_shift is None else check_int("max_shift", max_shift)
    if not 1 <= max_shift <= limit:
        raise ValueError(f"`max_shift` must be in [1, min(L, K) - 1 = {limit}], got {max_shift}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"`alpha` must be in (0, 1), got {alpha}")
    used = n_times - max_shift
    now = dstrfs[:, :used]
    hold = dstrfs.new_zeros(n_neurons)
    still = torch.ones(n_neurons, dtype=torch.bool, device=dstrfs.device)
    for shift in range(1, max_shift + 1):  # shifts in a short loop; time points vectorised
        later = dstrfs[:, shift : shift + used]
        aligned = tnf.pad(later[..., : n_lags - shift], (shift, 0))
        same_lag, on_time = _pearson(now, later), _pearson(now, aligned)
        for n in range(n_neurons):
            if still[n]:
                still[n] = _signed_rank_pvalue(same_lag[n], on_time[n]) < alpha
        hold = hold + still.to(hold.dtype)
        if not bool(still.any()):
            break
    return hold


def _moving_average(power: torch.Tensor, span: int) -> torch.Tensor:
    """Centred moving average over the last axis, averaging only the points that exist at the edges."""
    half = span // 2
    kernel = power.new_ones(1, 1, 2 * half + 1)
    total = tnf.conv1d(power[:, None], kernel, padding=half)[:, 0]
    count = tnf.conv1d(torch.ones_like(power[:1, None]), kernel, padding=half)[:, 0]
    return total / count


def _aligned(dstrfs: torch.Tensor, n_iter: int) -> torch.Tensor:
    """The dSTRFs moved along the lag axis onto their common shape, cropped back to L lags."""
    n_neurons, _, _, n_lags = dstrfs.shape
    span = _default_span(n_lags)
    padded = tnf.pad(dstrfs, (span, span))
    width = n_lags + 2 * span
    reach = n_lags // 2 + span
    candidates = [0] + [s for k in range(1, reach + 1) for s in (-k, k)]  # ties go to the smallest shift
    shifts = torch.tensor(candidates, device=dstrfs.device)
    positions = torch.arange(width, device=dstrfs.device)
    tiny = torch.finfo(dstrfs.dtype).tiny
    for _ in range(n_iter):
        # Pearson correlation of each dSTRF moved by k with the mean, for every k at once: a move
        # changes neither the dSTRF's mean nor its norm, so only the circular cross-correlation
        # with the centred mean depends on k (computed with FFTs along the lags).
        mean = padded.mean(dim=1, keepdim=True)
        mean = mean - mean.mean(dim=(-2, -1), keepdim=True)
        cross = torch.fft.irfft(
            torch.fft.rfft(mean, dim=-1) * torch.fft.rfft(padded, dim=-1).conj(), n=width, dim=-1
        ).sum(dim=-2)  # (N, K, W): cross[..., k] = sum over f, w of D[f, w - k] * mean[f, w]
        spread = torch.linalg.vector_norm(padded - padded.mean(dim=(-2, -1), keepdim=True), dim=(-2, -1))
        scores = torch.where(
            spread[..., None] > 0, cross[..., shifts % width] / spread.clamp_min(tiny)[..., None], -2.0
        )
        best = shifts[scores.argmax(dim=-1)]  # (N, K) lags to move each dSTRF by; ties go to the smallest move
        source = (positions - best[..., None]) % width  # a circular move, as torch.roll
        padded = padded.gather(-1, source[:, :, None, :].expand_as(padded))
        power = _moving_average(padded.abs().mean(dim=(1, 2)), 9)
        centre = power.argmax(dim=-1)
        padded = torch.stack([padded[n].roll(int(width // 2 - centre[n]), dims=-1) for n in range(n_neurons)])
        if bool((best == 0).all()):
            break
    power = padded.abs().mean(dim=(1, 2))  # (N, W)
    window = power.unfold(-1, n_lags, 1).sum(dim=-1)  # (N, W - L + 1)
    start = window.argmax(dim=-1)
    return torch.stack([padded[n, ..., int(start[n]) : int(start[n]) + n_lags] for n in range(n_neurons)])


def shape_change(dstrfs: torch.Tensor, n_iter: int = 100) -> torch.Tensor:
    """Complexity of the lag-aligned dSTRFs, :math:`\\sum_i \\sigma_i / \\sigma_1`, per neuron.

    The null value is 1 (see the module notes).

    Args:
        dstrfs: ``(N, K, F, L)`` dSTRFs at K time points.
        n_iter: Most alignment rounds.

    Returns:
        ``(N,)`` values >= 1; NaN for a neuron whose dSTRFs are all zero.

    Raises:
        TypeError: If ``dstrfs`` is not a floating tensor or ``n_iter`` not an int.
        ValueError: If ``dstrfs`` is not 4-D with K >= 2, or ``n_iter < 1``.

    Shape:
        - dstrfs: ``(N, K, F, L)``
        - output: ``(N,)``

    Example:
        >>> strf = torch.randn(1, 1, 3, 4, dtype=torch.float64)
        >>> found = shape_change(strf * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64).view(1, 3, 1, 1))
        >>> abs(float(found) - 1.0) < 1e-9  # one shape with varying gain: rank 1
        True
    """
    dstrfs = _check(dstrfs)
    n_iter = check_int("n_iter", n_iter)
    singular = torch.linalg.svdvals(_aligned(dstrfs, n_iter).flatten(2))  # (N, min(K, F*L))
    top = singular[:, 0]
    ratio = (singular / top.clamp_min(torch.finfo(singular.dtype).tiny)[:, None]).sum(dim=1)
    return torch.where(top > 0, ratio, torch.nan)


def nonlinearity_indices(
    dstrfs: DynamicSTRFs | torch.Tensor, max_shift: int | None = None, alpha: float = 0.001
) -> dict[str, torch.Tensor]:
    """Gain change, temporal hold and shape change of every neuron's dSTRFs.

    Given a :class:`~deepSTRF.models.interpret.DynamicSTRFs`, only time points whose
    window lies wholly after the stimulus onset are used (earlier dSTRFs are cut short and
    would look like gain changes), and they must be consecutive.

    Args:
        dstrfs: The result of :func:`~deepSTRF.models.interpret.dynamic_strfs`, or a
            ``(N, K, F, L)`` tensor of dSTRFs at consecutive time points.
        max_shift: Passed to :func:`temporal_hold`.
        alpha: Passed to :func:`temporal_hold`.

    Returns:
        ``{'gain_change', 'temporal_hold', 'shape_change'}`` each ``(N,)``; for a linear
        model 0, 0 and 1.

    Raises:
        TypeError: If ``dstrfs`` is neither a ``DynamicSTRFs`` nor a floating tensor.
        ValueError: If the time points are not consecutive, fewer than 2 are complete, or
            a shape is wrong.

    Example:
        >>> from deepSTRF.models.audio import Linear
        >>> from deepSTRF.models.interpret import dynamic_strfs
        >>> model = Linear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
        >>> found = nonlinearity_indices(dynamic_strfs(model, torch.randn(6, 30)))
        >>> [round(float(v.abs().max()), 4) for v in found.values()]  # a linear model: the null values
        [0.0, 0.0, 1.0]
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
        "temporal_hold": temporal_hold(tensor, max_shift, alpha),
        "shape_change": shape_change(tensor),
    }
