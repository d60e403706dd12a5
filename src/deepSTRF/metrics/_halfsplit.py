r"""Split-half reliability of trials and the Hsu et al. (2004) ceiling ``CCmax``.

The trials of each (stimulus, neuron) pair are split at random into two halves; the
correlation between the two half-PSTHs, averaged over ``n_splits`` seeded random
splits, is :math:`\rho_{1/2}`. With halves of :math:`R/2` trials each, Hsu, Borst and
Theunissen (2004) extrapolate it (Spearman–Brown) to the correlation between the
PSTH of all :math:`R` trials and the noise-free response:

.. math::
    \mathrm{CC}_{\max} = \sqrt{\frac{2\rho_{1/2}}{1 + \rho_{1/2}}}
                      = \sqrt{\frac{2}{1 + 1/\rho_{1/2}}}.

**Odd and ragged trial counts.** The same model (a signal of variance :math:`S` plus
independent noise of variance :math:`\sigma^2` per trial) is solved exactly for any
half sizes. A pair with :math:`R_p` recorded trials gives halves of
:math:`\lfloor R_p/2 \rfloor` and :math:`\lceil R_p/2 \rceil` trials. Averaging over
the positions used, let :math:`u = \langle 1/\lfloor R_p/2\rfloor \rangle`,
:math:`w = \langle 1/\lceil R_p/2\rceil \rangle` and :math:`z = \langle 1/R_p \rangle`.
With :math:`a = \sigma^2/S` the half-split correlation is
:math:`\rho_{1/2}^{-2} = (1 + a u)(1 + a w)`, so with :math:`q = \rho_{1/2}^{-2} - 1`,

.. math::
    a = \frac{2q}{(u + w) + \sqrt{(u + w)^2 + 4uwq}}, \qquad
    \mathrm{CC}_{\max} = (1 + a z)^{-1/2},

which is the formula above when every pair has the same even :math:`R`. A
non-positive :math:`\rho_{1/2}` leaves no detectable signal: ``CCmax`` is NaN.

**Positions and cost.** A trial is recorded for a pair if it has any non-NaN bin; a
position enters if every recorded trial of its pair is present there, the pair has at
least two recorded trials and ``mask`` allows it. The splits are drawn once, as
``n_splits`` random orderings of the ``R`` trial slots (a seeded generator, so results
are reproducible and identical on every device); each pair's recorded trials are split
in that order. Every split is scored from the pair's ``R × R`` trial Gram matrix, so
the cost is one batched matrix product over the data plus ``O(n_splits · R²)`` per
pair: 30 trials cost little more than 6, and the ``C(R, R/2)`` possible splits are
never enumerated.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from deepSTRF.metrics._masked import (
    Moments,
    pooled_moments,
    resolve_mask,
    restrict,
    safe_divide,
    trial_stats,
    warn_one_trial,
)


class HalfSplits(NamedTuple):
    """Result of :func:`split_half` (per-neuron fields are ``(N,)``).

    Attributes:
        moments: Moments of the PSTH (``x``) and of the prediction (``y``, if given).
        cc_max: The ceiling ``CCmax``.
    """

    moments: Moments
    cc_max: torch.Tensor


def _split_weights(recorded: torch.Tensor, n_splits: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Averaging weights of the two halves, each ``(B, N, S, R)``; rows sum to 1 (or 0 without trials).

    ``recorded`` is the ``(B, N, R)`` 0/1 float indicator of recorded trial slots. Split
    ``s`` orders the slots by random keys; a recorded slot goes to the first half when
    fewer than ``floor(R_p / 2)`` recorded slots precede it. These ranks come from one
    matrix product with the ``(S, R, R)`` "precedes" indicator.
    """
    b, n, r = recorded.shape
    keys = torch.rand(n_splits, r, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    precedes = keys.unsqueeze(2) < keys.unsqueeze(1)  # [s, j, k]: slot j comes before slot k
    # drawn on the CPU so every device gets the same splits; a non-blocking copy does not wait on the device
    precedes = precedes.to(device=recorded.device, dtype=recorded.dtype, non_blocking=True)
    rank = (recorded.view(b * n, r) @ precedes.transpose(0, 1).reshape(r, n_splits * r)).view(b, n, n_splits, r)
    n_rec = recorded.sum(dim=-1).view(b, n, 1, 1)
    first_size = torch.floor(n_rec / 2)
    slots = recorded.unsqueeze(2)
    first = (rank < first_size).to(recorded) * slots
    return first / first_size.clamp_min(1), (slots - first) / (n_rec - first_size).clamp_min(1)


def _ceiling(rho: torch.Tensor, u: torch.Tensor, w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``CCmax`` from the half-split correlation and the mean inverse half and full trial counts."""
    ok = rho > 0
    q = 1 / torch.where(ok, rho, torch.ones_like(rho)).square() - 1
    a = 2 * q / ((u + w) + torch.sqrt((u + w).square() + 4 * u * w * q))
    return safe_divide(torch.ones_like(rho), torch.sqrt(1 + a * z), ok)


def split_half(
    responses: torch.Tensor, mask: object, pred: torch.Tensor | None, n_splits: int, seed: int
) -> HalfSplits:
    """Split-half reliability and ``CCmax`` of ``responses`` (validated by the caller)."""
    b, n = responses.shape[:2]
    warn_one_trial(responses)
    dtype = responses.dtype
    missing = torch.isnan(responses)
    stats = trial_stats(responses, noise=False, missing=missing)
    recorded = (missing.view(torch.uint8).amin(dim=-1) == 0).to(dtype)  # (B, N, R): slots with any data
    n_rec = recorded.sum(dim=-1).view(b, n, 1, 1)
    weight = restrict((stats.trials == n_rec) & (n_rec >= 2), resolve_mask(mask, responses))
    moments = pooled_moments(stats.psth, pred, weight)

    # Trials centred on the neuron's mean PSTH, zero where a trial or position is out.
    centre = torch.where(torch.isfinite(moments.mean_x), moments.mean_x, torch.zeros_like(moments.mean_x))
    data = (responses.detach() - centre.detach().view(1, n, 1, 1)).nan_to_num_(0.0)
    data.mul_(weight.to(dtype))
    gram = data @ data.transpose(-1, -2)  # (B, N, R, R)
    sums = data.sum(dim=-1).unsqueeze(-1)  # (B, N, R, 1)
    first, second = _split_weights(recorded, n_splits, seed)

    # Sums over positions of the half-PSTHs, their squares and product, pooled over stimuli.
    g1, g2 = first @ gram, second @ gram
    s11, s12, s22 = ((g1 * first).sum(-1), (g1 * second).sum(-1), (g2 * second).sum(-1))
    s1, s2 = (first @ sums).squeeze(-1), (second @ sums).squeeze(-1)
    s11, s12, s22, s1, s2 = (s.sum(dim=0) for s in (s11, s12, s22, s1, s2))  # (N, S)
    count = moments.n.unsqueeze(-1)
    ok = count > 1
    cov = s12 - s1 * s2 / count
    var1, var2 = s11 - s1.square() / count, s22 - s2.square() / count
    corr = safe_divide(cov, torch.sqrt(var1 * var2), ok & (var1 > 0) & (var2 > 0))
    rho = corr.nanmean(dim=-1)

    positions = weight.to(dtype).sum(dim=(2, 3))  # (B, N) positions per pair
    n_rec = n_rec.view(b, n)
    half = torch.floor(n_rec / 2)

    def mean_inverse(trials: torch.Tensor) -> torch.Tensor:
        return safe_divide((positions / trials.clamp_min(1)).sum(dim=0), moments.n, moments.n > 0)

    cc_max = _ceiling(rho, mean_inverse(half), mean_inverse(n_rec - half), mean_inverse(n_rec))
    return HalfSplits(moments, cc_max)
