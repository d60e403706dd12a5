"""Ridge and banded-ridge STRF/TRF estimators that compose with scikit-learn.

:class:`RidgeSTRF` fits one linear filter per output on lagged stimulus features,
``y[t, n] = b_n + sum_{f, j} w[n, f, j] x[t - lag_j, f]``, with the penalty of each output
chosen by cross-validation over trials. :class:`BandedRidgeSTRF` gives each band of
features (e.g. spectrogram, envelope, onsets) its own penalty. Both take trials in
the shapes MNE, mTRFpy and scikit-learn users already have, are clonable and
searchable (``GridSearchCV``, ``Pipeline``, ``cross_val_score`` with trial groups),
and expose the fitted STRF (``coef_``), the chosen penalties and :meth:`~RidgeSTRF.to_model`.
:func:`cross_validate_ridge` runs nested cross-validation in one call.

Penalties are searched on a grid ``alphas``, either ``'relative'`` (multiples of the
mean eigenvalue of the training set's centred ``X^T X``, so one grid suits any
stimulus scale; the convention of :func:`~deepSTRF.training.fit_ridge`) or
``'absolute'`` (added to the diagonal of the centred ``X^T X`` of summed, not averaged,
bins, as scikit-learn's ``Ridge(alpha)``). ``penalty_`` always reports the absolute value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as nnf

from deepSTRF.estimators._cv import Candidates, cv_choose, fit_all
from deepSTRF.estimators._inputs import LAYOUTS, as_trials, lag_range, restore_layout
from deepSTRF.estimators._solver import limit_threads, solver_threads
from deepSTRF.estimators.moments import TrialMoments
from deepSTRF.training.ridge import DEFAULT_ALPHAS, RidgeResult, ridge_to_linear

try:
    from sklearn.base import BaseEstimator, RegressorMixin
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "'sklearn' is needed for deepSTRF.estimators but is not installed; "
        "install it with `pip install 'deepSTRF[sklearn]'`"
    ) from err

__all__ = ["DEFAULT_BAND_RATIOS", "RidgeSTRF"]

#: Default per-band penalty ratios searched by :class:`BandedRidgeSTRF` (relative to the first band).
DEFAULT_BAND_RATIOS: tuple[float, ...] = tuple(float(r) for r in np.logspace(-2, 2, 5))


def _device(device: Any) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _align(x: torch.Tensor, y: torch.Tensor | None, lag_min: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stimulus and responses such that lags ``lag_min ..`` become causal lags ``0 ..`` of a new stimulus.

    With ``lag_min >= 0`` the stimulus is delayed by ``lag_min`` bins. With ``lag_min < 0``
    it gains ``-lag_min`` zeros at the end and the responses are delayed by as many bins
    (zeros first): the first ``-lag_min`` rows then only pad (see ``TrialMoments(head=...)``).
    """
    if lag_min >= 0:
        keep = max(x.shape[0] - lag_min, 0)
        shifted = torch.cat([x.new_zeros(x.shape[0] - keep, x.shape[1]), x[:keep]])
        return shifted, y
    lead = -lag_min
    x_ext = torch.cat([x, x.new_zeros(lead, x.shape[1])])
    y_ext = None if y is None else torch.cat([y.new_zeros(lead, y.shape[1]), y])
    return x_ext, y_ext


def _folds(n_trials: int, cv: Any) -> list[list[int]]:
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if not 2 <= cv <= n_trials:
            raise ValueError(f"`cv` must lie in [2, {n_trials}] (the number of trials), got {cv}")
        return [part.tolist() for part in torch.tensor_split(torch.arange(n_trials), int(cv))]
    folds = [list(map(int, fold)) for fold in cv]
    if len(folds) < 2 or any(not 0 <= s < n_trials for fold in folds for s in fold):
        raise ValueError(f"`cv` must be an int or at least 2 lists of trial indices in [0, {n_trials}), got {cv!r}")
    flat = [s for fold in folds for s in fold]
    if len(flat) != len(set(flat)):
        raise ValueError(f"a trial appears in more than one fold of `cv`, got {cv!r}")
    return folds


class RidgeSTRF(RegressorMixin, BaseEstimator):
    """Ridge STRF/TRF with each output's penalty chosen by cross-validation over trials.

    Args:
        n_lags: Lags ``0 .. n_lags - 1`` in bins (or give ``tmin``, ``tmax`` and ``sfreq``).
        tmin: First lag in seconds (may be negative for a non-causal TRF).
        tmax: Last lag in seconds (included): ``tmin=0, tmax=0.3, sfreq=100`` is 31 lags.
        sfreq: Sampling rate of the bins in Hz.
        alphas: Penalty grid; :data:`~deepSTRF.training.ridge.DEFAULT_ALPHAS` by default. One
            value: no cross-validation.
        penalty: ``'relative'`` or ``'absolute'`` units of ``alphas`` (see the module).
        cv: Number of contiguous folds of trials (at most one per trial), or explicit held-out folds (lists of trial
            indices). A single recording is cut into ``cv`` contiguous blocks.
        layout: ``'tf'`` (time x features, default) or ``'ft'`` (features x time) trials.
        device: Device of the fit; CUDA when available by default.
        n_threads: CPU threads, or ``'auto'`` (the cores the machine's load leaves idle).
        solver: ``'auto'``, ``'tridiagonal'`` (CPU, SciPy) or ``'eigh'``.

    Attributes:
        coef_: ``(N, F, L)`` filters, lags increasing (``lags_``).
        intercept_: ``(N,)``.
        alpha_: ``(N,)`` chosen penalty in the units of ``alphas``; ``penalty_``: ``(N,)`` absolute.
        cv_mse_: ``(A, N)`` held-out mean squared error per penalty (NaN without CV).
        lags_: ``(L,)`` lags in bins; ``times_``: in seconds (when ``sfreq`` is given).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = [rng.standard_normal((300, 4)) for _ in range(4)]                   # 4 trials, (T, F)
        >>> y = [np.convolve(x[:, 0], [0.0, 1.0, 0.5])[:300] + 0.1 * rng.standard_normal(300) for x in X]
        >>> est = RidgeSTRF(tmin=0.0, tmax=0.02, sfreq=100.0, cv=4).fit(X, y)
        >>> est.coef_.shape, (est.coef_[0, 0].round(1) + 0.0).tolist(), est.score(X, y) > 0.9
        ((1, 4, 3), [0.0, 1.0, 0.5], True)
    """

    def __init__(
        self,
        n_lags: int | None = None,
        *,
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
        self.n_lags = n_lags
        self.tmin = tmin
        self.tmax = tmax
        self.sfreq = sfreq
        self.alphas = alphas
        self.penalty = penalty
        self.cv = cv
        self.layout = layout
        self.device = device
        self.n_threads = n_threads
        self.solver = solver

    # -- the pieces shared with BandedRidgeSTRF ------------------------------------------------------------
    def _scales(self, n_features: int, n_lags: int) -> torch.Tensor | None:
        return None

    def _candidates(self, n_features: int, n_lags: int, device: torch.device) -> Candidates:
        if self.penalty not in ("relative", "absolute"):
            raise ValueError(f"`penalty` must be 'relative' or 'absolute', got {self.penalty!r}")
        grid = np.asarray(DEFAULT_ALPHAS if self.alphas is None else self.alphas, dtype=np.float64).ravel()
        if grid.size == 0 or not np.all(grid > 0):
            raise ValueError(f"`alphas` must hold positive penalties, got {self.alphas!r}")
        scales = self._scales(n_features, n_lags)
        return Candidates(
            torch.as_tensor(np.sort(grid), device=device),
            self.penalty == "relative",
            None if scales is None else scales.to(device),
            self.solver,
        )

    def _prepare(self, X: Any, y: Any, trials: Any) -> tuple[list[torch.Tensor], list[torch.Tensor], Any]:
        if self.layout not in LAYOUTS:
            raise ValueError(f"`layout` must be 'tf' or 'ft', got {self.layout!r}")
        self.lag_min_, lag_max = lag_range(self.n_lags, self.tmin, self.tmax, self.sfreq)
        self.lags_ = np.arange(self.lag_min_, lag_max + 1)
        xs, ys, info = as_trials(X, y, layout=self.layout, trials=trials)
        assert ys is not None
        return xs, ys, info

    def fit(self, X: Any, y: Any = None, trials: Any = None) -> RidgeSTRF:
        """Fit the filters and choose each output's penalty.

        Args:
            X: Stimulus trials: a list of ``(T_s, F)`` arrays (``(F, T_s)`` with ``layout='ft'``),
                a stacked ``(S, T, F)`` array, one ``(T, F)`` recording, or a deepSTRF dataset.
            y: Responses in the same form, ``(T_s, N)`` or ``(T_s,)`` per trial (``None`` with a dataset).
            trials: With one recording: a trial label per bin (contiguous runs form trials).

        Returns:
            ``self``.

        Raises:
            ValueError, TypeError: On inputs of the wrong shape or type, or bad settings.
        """
        device = _device(self.device)
        xs, ys, info = self._prepare(X, y, trials)
        if len(xs) == 1 and not (self.alphas is not None and len(np.ravel(self.alphas)) == 1):
            n_blocks = self.cv if isinstance(self.cv, (int, np.integer)) else 5
            xs, ys = list(torch.tensor_split(xs[0], n_blocks)), list(torch.tensor_split(ys[0], n_blocks))
        n_lags = len(self.lags_)
        pairs = [_align(x.to(device), v.to(device), self.lag_min_) for x, v in zip(xs, ys)]
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]  # type: ignore[misc]
        self.n_features_in_, self.n_outputs_ = int(xs[0].shape[1]), int(ys[0].shape[1])
        self._squeeze = info.squeeze_outputs
        with limit_threads(solver_threads(self.n_threads)):
            cands = self._candidates(self.n_features_in_, n_lags, device)
            searched = cands.alphas.numel() * cands.n_scales > 1
            cv = min(int(self.cv), len(xs)) if isinstance(self.cv, (int, np.integer)) else self.cv
            trial_folds = _folds(len(xs), cv) if searched else []
            listed = {s for fold in trial_folds for s in fold}
            rest = [s for s in range(len(xs)) if s not in listed]
            # one Gram matrix per fold (not per trial): memory set by the folds, not the trial count
            groups = [*trial_folds, *([rest] if rest else [])]
            moments = TrialMoments(xs, ys, n_lags, head=max(-self.lag_min_, 0), groups=groups)
            if searched:
                folds = [[k] for k in range(len(trial_folds))]
                err, c_idx, a_idx = cv_choose(moments, folds, cands)
                held = sum(float(moments.grams[s][-1, -1]) for fold in folds for s in fold)
                self.cv_mse_ = (err / held).cpu().numpy()
            else:
                c_idx = a_idx = torch.zeros(self.n_outputs_, dtype=torch.long, device=device)
                self.cv_mse_ = np.full((1, 1, self.n_outputs_), np.nan)
            full, pen = fit_all(moments, [], cands, c_idx, a_idx)
        self._set_solution(full, pen, cands, c_idx, a_idx)
        return self

    def _set_solution(
        self, full: torch.Tensor, pen: torch.Tensor, cands: Candidates, c_idx: torch.Tensor, a_idx: torch.Tensor
    ) -> None:
        n_lags = len(self.lags_)
        self._weight = full[:-1].T.reshape(self.n_outputs_, self.n_features_in_, n_lags)
        self._bias = full[-1]
        self.coef_ = self._weight.cpu().numpy()
        self.intercept_ = self._bias.cpu().numpy()
        self.alpha_ = cands.alphas[a_idx].cpu().numpy()
        self.penalty_ = pen.cpu().numpy()
        self.alphas_ = cands.alphas.cpu().numpy()
        if self.cv_mse_.ndim == 3 and self.cv_mse_.shape[0] == 1:
            self.cv_mse_ = self.cv_mse_[0]
        self._scale_index = c_idx.cpu().numpy()
        self.times_ = None if self.sfreq is None else self.lags_ / float(self.sfreq)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _predict_trials(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        kernel = self._weight.flip(-1)
        out = []
        for x in xs:
            shifted, _ = _align(x.to(kernel), None, self.lag_min_)
            padded = nnf.pad(shifted.T[None], (kernel.shape[-1] - 1, 0))
            out.append(nnf.conv1d(padded, kernel, self._bias)[0].T[max(-self.lag_min_, 0) :])
        return out

    def predict(self, X: Any, trials: Any = None) -> Any:
        """Predicted responses, in the form of ``X`` (list, stacked array or one recording; NumPy).

        Args:
            X: Stimulus trials as in :meth:`fit`.
            trials: With one recording: trial labels per bin.

        Returns:
            Predictions ``(T_s, N)`` per trial (``(T_s,)`` if ``y`` was 1-D; time last with ``layout='ft'``).

        Raises:
            ValueError: If not fitted, or ``X`` has the wrong number of features (with a transposition hint).
        """
        self._check_fitted()
        xs, _, info = as_trials(X, layout=self.layout, trials=trials, n_features=self.n_features_in_)
        info.squeeze_outputs = self._squeeze
        return restore_layout(self._predict_trials(xs), info)

    def score_trials(self, X: Any, y: Any = None, trials: Any = None) -> np.ndarray:
        """Pearson r ``(S, N)`` between predictions and responses, trial by trial and output by output."""
        self._check_fitted()
        xs, ys, _ = as_trials(X, y, layout=self.layout, trials=trials, n_features=self.n_features_in_)
        assert ys is not None
        preds = self._predict_trials(xs)
        return np.stack([_pearson(p, v.to(p)).cpu().numpy() for p, v in zip(preds, ys)])

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, trials: Any = None) -> float:
        """Mean over outputs of the Pearson r between predictions and responses (all trials pooled).

        This is the score ``GridSearchCV`` and ``cross_val_score`` maximise; scikit-learn's
        usual R^2 is available as ``sklearn.metrics.r2_score``. ``sample_weight`` is not supported.
        """
        if sample_weight is not None:
            raise ValueError("`sample_weight` is not supported by score()")
        self._check_fitted()
        xs, ys, _ = as_trials(X, y, layout=self.layout, trials=trials, n_features=self.n_features_in_)
        assert ys is not None
        preds = torch.cat(self._predict_trials(xs))
        return float(_pearson(preds, torch.cat(ys).to(preds)).nanmean())

    def to_result(self) -> RidgeResult:
        """The fit as a :class:`~deepSTRF.training.ridge.RidgeResult` (causal lags only, ``tmin >= 0``)."""
        self._check_fitted()
        if self.lag_min_ < 0:
            raise ValueError(f"only causal filters convert to a model; this one starts at lag {self.lag_min_} bins")
        n_total = int(self.lags_[-1]) + 1
        weight = self._weight.new_zeros(self.n_outputs_, self.n_features_in_, n_total)
        weight[..., self.lag_min_ :] = self._weight
        weight = weight.flip(-1)  # Linear layout: the last column is the present bin
        alpha = torch.as_tensor(self.alpha_, dtype=weight.dtype, device=weight.device)
        penalty = torch.as_tensor(self.penalty_, dtype=weight.dtype, device=weight.device)
        cv_mse = torch.as_tensor(np.asarray(self.cv_mse_).reshape(-1, self.n_outputs_), device=weight.device)
        alphas = torch.as_tensor(self.alphas_, dtype=weight.dtype, device=weight.device)
        return RidgeResult(weight, self._bias.clone(), alpha, penalty, alphas, cv_mse)

    def to_model(self, dtype: torch.dtype | None = None) -> torch.nn.Module:
        """The equivalent :class:`~deepSTRF.models.audio.strf_models.Linear` model (eval mode).

        It takes spectrograms ``(B, 1, F, T)`` and returns ``(B, N, 1, T)`` equal to :meth:`predict`.
        """
        return ridge_to_linear(self.to_result(), dtype=dtype)


def _pearson(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-column Pearson r of ``(T, N)`` arrays (NaN for a constant column)."""
    p = pred - pred.mean(0)
    t = target - target.mean(0)
    return (p * t).sum(0) / (p.square().sum(0) * t.square().sum(0)).sqrt()
