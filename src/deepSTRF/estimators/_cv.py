"""Cross-validated choice of ridge penalties over trials, plain or nested, from per-trial sums.

Every training set of a cross-validation is "all trials but a few", so its sums are
the totals less the held-out trials' sums (:class:`~deepSTRF.estimators.moments.TrialMoments`):
the data are read once. Each distinct training set is factorised once
(:class:`~deepSTRF.estimators._solver.PenaltyPath`) and serves every penalty and
every fold that trains on it; in nested leave-one-trial-out CV, inner fold ``j`` of
outer fold ``k`` and inner fold ``k`` of outer fold ``j`` train on the same trials,
so about half of the factorisations are shared. Held-out errors and correlations
follow from the held-out trials' own sums, without predicting them bin by bin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from deepSTRF.estimators._solver import PenaltyPath
from deepSTRF.estimators.moments import TrialMoments

__all__ = ["Candidates", "choose", "fit_all", "heldout_r", "heldout_sse", "nested"]


@dataclass
class Candidates:
    """The penalties searched: ``alphas`` ``(A,)`` times, per feature, each of ``scales`` ``(C, D)`` (or none)."""

    alphas: torch.Tensor
    relative: bool
    scales: torch.Tensor | None = None
    method: str = "auto"

    @property
    def n_scales(self) -> int:
        return 1 if self.scales is None else int(self.scales.shape[0])

    def path(self, gram: torch.Tensor, c: int) -> PenaltyPath:
        return PenaltyPath(gram, None if self.scales is None else self.scales[c], self.method)

    def absolute(self, path: PenaltyPath) -> torch.Tensor:
        return self.alphas * path.mean_eigenvalue if self.relative else self.alphas


def heldout_sse(full: torch.Tensor, gram: torch.Tensor, cross: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """Squared error ``(A, N)`` of solutions ``full`` ``(A, D + 1, N)`` on trials with these sums."""
    n_pen, dim, n_out = full.shape
    flat = full.permute(1, 0, 2).reshape(dim, n_pen * n_out)  # one matrix product for every penalty
    quad = (flat * (gram @ flat)).sum(0).reshape(n_pen, n_out)
    return y_sq - 2 * (full * cross).sum(1) + quad


def heldout_r(full: torch.Tensor, gram: torch.Tensor, cross: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """Pearson r ``(N,)`` between the predictions of ``full`` ``(D + 1, N)`` and the responses of one trial."""
    n = gram[-1, -1]
    s_p = full.T @ gram[:, -1]
    s_pp = (full * (gram @ full)).sum(0)
    s_py = (full * cross).sum(0)
    s_y = cross[-1]
    cov = s_py - s_p * s_y / n
    var_p = (s_pp - s_p.square() / n).clamp_min(0)
    var_y = (y_sq - s_y.square() / n).clamp_min(0)
    return cov / (var_p * var_y).sqrt()


def _errors(
    moments: TrialMoments, jobs: dict[frozenset[int], list[tuple[int, list[int]]]], cands: Candidates, n_keys: int
) -> torch.Tensor:
    """Held-out SSE ``(n_keys, C, A, N)``: for each training set (trials left out), its jobs ``(key, held trials)``."""
    n_out = moments.cross.shape[-1]
    err = moments.cross.new_zeros(n_keys, cands.n_scales, cands.alphas.numel(), n_out)
    for left_out, items in jobs.items():
        gram, cross = moments.excluding(sorted(left_out))
        for c in range(cands.n_scales):
            path = cands.path(gram, c)
            full = path.solve(cross, cands.absolute(path))
            for key, held in items:
                g_h, c_h = moments.total(held)
                err[key, c] += heldout_sse(full, g_h, c_h, moments.y_sq[held].sum(0))
    return err


def choose(err: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best (scale, alpha) index of each output from pooled errors ``(C, A, N)``: ``(N,)`` and ``(N,)``."""
    n_alpha = err.shape[1]
    flat = torch.nan_to_num(err, nan=torch.inf).reshape(-1, err.shape[-1]).argmin(0)
    return flat // n_alpha, flat % n_alpha


def fit_all(
    moments: TrialMoments, left_out: Sequence[int], cands: Candidates, c_idx: torch.Tensor, a_idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solution ``(D + 1, N)`` and absolute penalty ``(N,)`` of each output, trained on all trials but ``left_out``."""
    gram, cross = moments.excluding(list(left_out))
    n_out = cross.shape[1]
    full = cross.new_empty(cross.shape[0], n_out)
    penalty = cross.new_empty(n_out)
    for c in torch.unique(c_idx).tolist():
        idx = torch.nonzero(c_idx == c).flatten()
        path = cands.path(gram, c)
        pen = cands.absolute(path)[a_idx[idx]]
        full[:, idx] = path.solve(cross[:, idx], pen[None])[0]
        penalty[idx] = pen
    return full, penalty


def cv_choose(moments: TrialMoments, folds: Sequence[Sequence[int]], cands: Candidates) -> tuple[torch.Tensor, ...]:
    """Plain CV: pooled held-out SSE ``(C, A, N)`` over ``folds`` and the chosen indices."""
    jobs: dict[frozenset[int], list[tuple[int, list[int]]]] = {}
    for fold in folds:
        jobs.setdefault(frozenset(fold), []).append((0, list(fold)))
    err = _errors(moments, jobs, cands, 1)[0]
    c_idx, a_idx = choose(err)
    return err, c_idx, a_idx


@dataclass
class NestedResult:
    """Raw output of :func:`nested` (see :class:`~deepSTRF.estimators.RidgeCVResult` for the public form)."""

    scores: torch.Tensor  # (S, N) r of each trial when held out
    sse: torch.Tensor  # (S, N)
    counts: torch.Tensor  # (S,)
    scale_index: torch.Tensor  # (K, N)
    alpha_index: torch.Tensor  # (K, N)
    penalty: torch.Tensor  # (K, N)
    inner_mse: torch.Tensor  # (K, C, A, N)
    weights: torch.Tensor  # (K, D + 1, N)


def nested(
    moments: TrialMoments, outer: Sequence[Sequence[int]], inner: Sequence[Sequence[Sequence[int]]], cands: Candidates
) -> NestedResult:
    """Nested CV: for outer fold ``k``, penalties chosen by CV over ``inner[k]``, then scored on ``outer[k]``."""
    jobs: dict[frozenset[int], list[tuple[int, list[int]]]] = {}
    for k, (held, folds) in enumerate(zip(outer, inner)):
        for fold in folds:
            jobs.setdefault(frozenset(held) | frozenset(fold), []).append((k, list(fold)))
    err = _errors(moments, jobs, cands, len(outer))
    n_trials, n_out = len(moments), moments.cross.shape[-1]
    scores = moments.cross.new_full((n_trials, n_out), float("nan"))
    sse = moments.cross.new_full((n_trials, n_out), float("nan"))
    counts = moments.cross.new_zeros(n_trials)
    c_all, a_all, pens, weights, inner_mse = [], [], [], [], []
    for k, (held, folds) in enumerate(zip(outer, inner)):
        c_idx, a_idx = choose(err[k])
        full, pen = fit_all(moments, held, cands, c_idx, a_idx)
        for s in held:
            g_s, x_s, sq_s = moments.grams[s], moments.cross[s], moments.y_sq[s]
            scores[s] = heldout_r(full, g_s, x_s, sq_s)
            sse[s] = heldout_sse(full[None], g_s, x_s, sq_s)[0]
            counts[s] = g_s[-1, -1]
        n_inner = sum(float(moments.grams[f][-1, -1]) for fold in folds for f in fold)
        c_all.append(c_idx)
        a_all.append(a_idx)
        pens.append(pen)
        weights.append(full)
        inner_mse.append(err[k] / n_inner)
    return NestedResult(
        scores,
        sse,
        counts,
        torch.stack(c_all),
        torch.stack(a_all),
        torch.stack(pens),
        torch.stack(inner_mse),
        torch.stack(weights),
    )
