"""Banded ridge: one penalty per band of features, chosen per output by cross-validation.

With bands ``b`` of features (e.g. 32 spectrogram channels, 1 envelope, 1 onset
channel), the penalty on every lag of every feature of band ``b`` is
``alpha * ratio_b`` (``ratio`` of the first band is 1). Each candidate ratio vector is
one rescaling of the features, so a whole grid of ``alpha`` still costs one
factorisation per candidate and fold. A band that carries nothing but noise ends up
with a large penalty, which shrinks it away without shrinking the informative bands.

Example:
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal((400, 4)) for _ in range(4)]
    >>> y = [x[:, 0] + 0.3 * rng.standard_normal(400) for x in X]    # only band 0 matters
    >>> est = BandedRidgeSTRF(n_lags=2, bands=[2, 2], cv=4).fit(X, y)
    >>> bool(est.band_penalties_[0, 1] > est.band_penalties_[0, 0])
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from deepSTRF.estimators._cv import Candidates
from deepSTRF.estimators.ridge import DEFAULT_BAND_RATIOS, RidgeSTRF

__all__ = ["BandedRidgeSTRF"]


class BandedRidgeSTRF(RidgeSTRF):
    """Ridge STRF with one penalty per feature band, chosen per output.

    Args:
        n_lags: Lags in bins, as for :class:`~deepSTRF.estimators.RidgeSTRF`.
        bands: Band sizes (consecutive features; they must sum to ``F``) or one band label per feature.
        band_ratios: Ratios to the first band's penalty searched for every other band.
        max_candidates: Most ratio vectors tried; when the full grid is larger, that many are
            drawn at random (``random_state``) and the all-ones vector is always kept.
        random_state: Seed of that draw.
        tmin: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        tmax: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        sfreq: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        alphas: Grid of the first band's penalty (the others are ``alphas`` times their ratio).
        penalty: ``'relative'`` or ``'absolute'`` units of ``alphas``.
        cv: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        layout: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        device: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        n_threads: As for :class:`~deepSTRF.estimators.RidgeSTRF`.
        solver: As for :class:`~deepSTRF.estimators.RidgeSTRF`.

    Attributes:
        band_penalties_: ``(N, B)`` absolute penalty of each band; ``band_alphas_``: in the units of ``alphas``.
        band_ratios_: ``(C, B)`` ratio vectors searched; ``cv_mse_``: ``(C, A, N)``.
        (and those of :class:`~deepSTRF.estimators.RidgeSTRF`; ``alpha_`` is the first band's.)
    """

    def __init__(
        self,
        n_lags: int | None = None,
        *,
        bands: Sequence[int] | None = None,
        band_ratios: Sequence[float] | None = None,
        max_candidates: int = 125,
        random_state: int = 0,
        tmin: float | None = None,
        tmax: float | None = None,
        sfreq: float | None = None,
        alphas: Sequence[float] | None = None,
        penalty: str = "relative",
        cv: int | Sequence[Sequence[int]] = 5,
        layout: str = "tf",
        device: str | None = None,
        n_threads: int | str = "auto",
        solver: str = "auto",
    ) -> None:
        super().__init__(
            n_lags,
            tmin=tmin,
            tmax=tmax,
            sfreq=sfreq,
            alphas=alphas,
            penalty=penalty,
            cv=cv,
            layout=layout,
            device=device,
            n_threads=n_threads,
            solver=solver,
        )
        self.bands = bands
        self.band_ratios = band_ratios
        self.max_candidates = max_candidates
        self.random_state = random_state

    def _band_of_feature(self, n_features: int) -> np.ndarray:
        if self.bands is None:
            raise ValueError("`bands` must be given: band sizes, or one band label per feature")
        spec = np.asarray(self.bands)
        if spec.ndim != 1 or spec.size == 0:
            raise ValueError(f"`bands` must be a 1-D sequence, got {self.bands!r}")
        is_sizes = spec.dtype.kind in "iu" and spec.sum() == n_features
        if spec.size == n_features and not is_sizes:  # one label per feature; bands in order of appearance
            _, first, labels = np.unique(spec, return_index=True, return_inverse=True)
            return np.argsort(np.argsort(first))[labels]
        if spec.dtype.kind not in "iu" or np.any(spec < 1) or spec.sum() != n_features:
            raise ValueError(
                f"`bands` must be positive band sizes summing to the {n_features} features, or {n_features} "
                f"labels, got {self.bands!r}"
            )
        return np.repeat(np.arange(spec.size), spec)

    def _scales(self, n_features: int, n_lags: int) -> torch.Tensor:
        band = self._band_of_feature(n_features)
        n_bands = int(band.max()) + 1
        ratios = np.asarray(DEFAULT_BAND_RATIOS if self.band_ratios is None else self.band_ratios, dtype=float)
        if ratios.ndim != 1 or ratios.size == 0 or np.any(ratios <= 0):
            raise ValueError(f"`band_ratios` must hold positive ratios, got {self.band_ratios!r}")
        grid = [np.ones(n_bands)]
        grid += [np.array((1.0, *combo)) for combo in itertools.product(ratios, repeat=n_bands - 1)]
        unique = np.unique(np.stack(grid), axis=0)
        if len(unique) > self.max_candidates:
            rng = np.random.default_rng(self.random_state)
            keep = rng.choice(len(unique), size=self.max_candidates - 1, replace=False)
            unique = np.concatenate([np.ones((1, n_bands)), unique[keep]])
            unique = np.unique(unique, axis=0)
        self.band_ratios_ = unique
        self._band = band
        per_feature = unique[:, band]  # (C, F)
        return torch.as_tensor(np.repeat(per_feature, n_lags, axis=1))  # (C, F * L), feature-major like the design

    def _set_solution(
        self, full: torch.Tensor, pen: torch.Tensor, cands: Candidates, c_idx: torch.Tensor, a_idx: torch.Tensor
    ) -> None:
        super()._set_solution(full, pen, cands, c_idx, a_idx)
        ratios = self.band_ratios_[self._scale_index]  # (N, B)
        self.band_penalties_ = self.penalty_[:, None] * ratios
        self.band_alphas_ = self.alpha_[:, None] * ratios
