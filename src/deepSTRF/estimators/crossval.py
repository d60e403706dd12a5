"""Nested cross-validation of a ridge or banded-ridge STRF in one call.

The outer loop holds out trials to score; inside, the penalties are chosen by
cross-validation over the remaining trials only, so the reported scores are
honest estimates for new trials. Per-trial sums are computed once and reused by
every inner and outer fold (see :mod:`deepSTRF.estimators._cv`).

Example:
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal((300, 3)) for _ in range(5)]
    >>> y = [np.stack([x[:, 0], x[:, 1]], 1) + 0.5 * rng.standard_normal((300, 2)) for x in X]
    >>> res = cross_validate_ridge(X, y, n_lags=3, alphas=[0.01, 1.0, 100.0])
    >>> res.scores.shape, res.alpha.shape, res.score() > 0.8     # per trial x output; per outer fold x output
    ((5, 2), (5, 2), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepSTRF.estimators._cv import nested
from deepSTRF.estimators._solver import limit_threads, solver_threads
from deepSTRF.estimators.moments import TrialMoments
from deepSTRF.estimators.ridge import RidgeSTRF, _align, _device, _folds

__all__ = ["RidgeCVResult", "cross_validate_ridge"]


@dataclass
class RidgeCVResult:
    """Scores and chosen penalties of a nested cross-validation.

    Attributes:
        scores: ``(S, N)`` Pearson r of each trial's held-out prediction, per output.
        mse: ``(S, N)`` mean squared error of the same predictions.
        alpha: ``(K, N)`` penalty chosen in outer fold ``k`` (units of ``alphas``); ``penalty``: absolute.
        band_penalties: ``(K, N, B)`` per-band absolute penalties (banded ridge), else ``None``.
        outer_folds: The ``K`` held-out folds (trial indices).
        inner_mse: ``(K, A, N)`` (``(K, C, A, N)`` banded) inner held-out error per penalty.
        coef: ``(K, N, F, L)`` the filters of each outer fold; ``intercept``: ``(K, N)``.
    """

    scores: np.ndarray
    mse: np.ndarray
    alpha: np.ndarray
    penalty: np.ndarray
    band_penalties: np.ndarray | None
    outer_folds: list[list[int]]
    inner_mse: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def score(self) -> float:
        """Mean r over trials and outputs."""
        return float(np.nanmean(self.scores))

    def per_output(self) -> np.ndarray:
        """``(N,)`` mean r of each output over trials."""
        return np.nanmean(self.scores, axis=0)


def cross_validate_ridge(
    X: Any,
    y: Any = None,
    *,
    estimator: RidgeSTRF | None = None,
    outer: int | Sequence[Sequence[int]] | None = None,
    inner: int | None = None,
    trials: Any = None,
    **params: Any,
) -> RidgeCVResult:
    """Nested cross-validation over trials: penalties chosen inside, scores measured outside.

    Args:
        X: Stimulus trials as for :meth:`RidgeSTRF.fit <deepSTRF.estimators.RidgeSTRF.fit>` (at least 3).
        y: Responses.
        estimator: A :class:`~deepSTRF.estimators.RidgeSTRF` or
            :class:`~deepSTRF.estimators.BandedRidgeSTRF` giving the settings (lags, grid,
            units, bands, layout, device); built from ``params`` when ``None``.
        outer: Outer folds: ``None`` (leave one trial out), a number of contiguous folds, or lists of trials.
        inner: Inner folds among each outer training set: ``None`` (leave one trial out) or a number.
        trials: With one recording: trial labels per bin.
        **params: Settings of a :class:`~deepSTRF.estimators.RidgeSTRF` when ``estimator`` is ``None``.

    Returns:
        A :class:`RidgeCVResult`.

    Raises:
        ValueError: On fewer than 3 trials, bad folds or bad settings.
    """
    est = RidgeSTRF(**params) if estimator is None else estimator
    if estimator is not None and params:
        raise ValueError(f"give either `estimator` or its settings, got both (settings {sorted(params)})")
    device = _device(est.device)
    xs, ys, _ = est._prepare(X, y, trials)
    n_trials = len(xs)
    if n_trials < 3:
        raise ValueError(f"nested cross-validation needs at least 3 trials, got {n_trials}")
    outer_folds = [[s] for s in range(n_trials)] if outer is None else _folds(n_trials, outer)
    inner_folds = []
    for held in outer_folds:
        rest = [s for s in range(n_trials) if s not in held]
        if inner is None:
            inner_folds.append([[s] for s in rest])
        else:
            inner_folds.append([[rest[i] for i in part] for part in _folds(len(rest), inner)])
    pairs = [_align(x.to(device), v.to(device), est.lag_min_) for x, v in zip(xs, ys)]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[misc]
    n_lags = len(est.lags_)
    with limit_threads(solver_threads(est.n_threads)):
        moments = TrialMoments(xs, ys, n_lags, head=max(-est.lag_min_, 0))
        cands = est._candidates(int(xs[0].shape[1]), n_lags, device)
        raw = nested(moments, outer_folds, inner_folds, cands)
    n_out = int(ys[0].shape[1])
    counts = raw.counts.cpu().numpy()
    ratios = getattr(est, "band_ratios_", None)
    band = None if ratios is None else raw.penalty.cpu().numpy()[..., None] * ratios[raw.scale_index.cpu().numpy()]
    inner_mse = raw.inner_mse.cpu().numpy()
    weights = raw.weights.cpu().numpy()
    return RidgeCVResult(
        scores=raw.scores.cpu().numpy(),
        mse=raw.sse.cpu().numpy() / counts[:, None],
        alpha=cands.alphas.cpu().numpy()[raw.alpha_index.cpu().numpy()],
        penalty=raw.penalty.cpu().numpy(),
        band_penalties=band,
        outer_folds=outer_folds,
        inner_mse=inner_mse[:, 0] if cands.scales is None else inner_mse,
        coef=weights[:, :-1].transpose(0, 2, 1).reshape(len(outer_folds), n_out, xs[0].shape[1], n_lags),
        intercept=weights[:, -1],
    )
