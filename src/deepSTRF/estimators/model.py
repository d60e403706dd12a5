"""Any deepSTRF model trained by the :class:`~deepSTRF.training.Fitter`, behind the scikit-learn interface.

:class:`ModelEstimator` takes the same trials as :class:`~deepSTRF.estimators.RidgeSTRF`
and trains a zoo model (by name) or any model built by a callable. Long trials are
cut into windows before training: with a few long trials, one trial per batch
would give a handful of optimiser steps per epoch and the fit would stop long
before convergence. Each window starts ``context`` bins early, and the responses
of those bins are masked, so every bin is fitted once with its past in view.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal((400, 4)) for _ in range(3)]
    >>> y = [np.r_[0.0, x[:-1, 0]] for x in X]                        # y[t] = x[t - 1, 0]
    >>> est = ModelEstimator("linear", model_params={"temporal_window_size": 3}, window=100, context=2,
    ...                      fit_params={"max_epochs": 3, "lr": 1e-2}, device="cpu").fit(X, y)
    >>> est.predict(X)[0].shape, est.epochs_run_
    ((400,), 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from deepSTRF.datasets.audio.arrays import from_arrays
from deepSTRF.estimators._inputs import LAYOUTS, as_trials, restore_layout
from deepSTRF.estimators.ridge import BaseEstimator, RegressorMixin, _device, _pearson
from deepSTRF.models.registry import build_model
from deepSTRF.training.config import FitConfig
from deepSTRF.training.fitter import Fitter
from deepSTRF.training.windows import window_trial

__all__ = ["ModelEstimator"]


class ModelEstimator(RegressorMixin, BaseEstimator):
    """A deepSTRF encoding model fitted by gradient descent, usable in scikit-learn.

    Args:
        model: A zoo name (``'linear'``, ``'ln'``, ``'statenet'``, ... see
            :data:`~deepSTRF.models.registry.MODELS`), built with ``n_frequency_bands=F``,
            ``out_neurons=N`` and ``model_params``; or a callable ``(F, N) -> nn.Module``.
        model_params: Further constructor arguments of a zoo model.
        fit_params: :class:`~deepSTRF.training.FitConfig` fields (e.g. ``{"lr": 1e-2, "max_epochs": 50}``);
            the Fitter's own windowing is off (``window=None``) unless set here.
        window: Training window in bins (trials are cut into windows); ``None`` keeps whole trials.
        context: Bins of stimulus before each window that the model sees but is not fitted on
            (at least its receptive field; 0 for a memoryless model).
        val_fraction: Share of windows held out for early stopping (0: none).
        sfreq: Sampling rate of the bins in Hz (sets the dataset's ``dt_ms``).
        layout: ``'tf'`` or ``'ft'`` trials, as for :class:`~deepSTRF.estimators.RidgeSTRF`.
        device: Device of the fit; CUDA when available by default.
        random_state: Seed of the model's initialisation and of the validation windows.

    Attributes:
        model_: The trained model (eval mode); ``history_``, ``epochs_run_``: from the Fitter.
    """

    def __init__(
        self,
        model: str | Callable[[int, int], nn.Module] = "linear",
        *,
        model_params: Mapping[str, Any] | None = None,
        fit_params: Mapping[str, Any] | None = None,
        window: int | None = 500,
        context: int = 50,
        val_fraction: float = 0.2,
        sfreq: float = 100.0,
        layout: str = "tf",
        device: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.fit_params = fit_params
        self.window = window
        self.context = context
        self.val_fraction = val_fraction
        self.sfreq = sfreq
        self.layout = layout
        self.device = device
        self.random_state = random_state

    def _build(self, n_features: int, n_outputs: int) -> nn.Module:
        if isinstance(self.model, str):
            return build_model(
                self.model, n_frequency_bands=n_features, out_neurons=n_outputs, **dict(self.model_params or {})
            )
        if callable(self.model):
            built = self.model(n_features, n_outputs)
            if not isinstance(built, nn.Module):
                raise TypeError(f"`model` must return an nn.Module, got {type(built).__name__}")
            return built
        raise TypeError(
            f"`model` must be a zoo name or a callable (F, N) -> nn.Module, got {type(self.model).__name__}"
        )

    def fit(self, X: Any, y: Any = None, trials: Any = None) -> ModelEstimator:
        """Train the model on the trials (see :meth:`RidgeSTRF.fit <deepSTRF.estimators.RidgeSTRF.fit>`)."""
        if self.layout not in LAYOUTS:
            raise ValueError(f"`layout` must be 'tf' or 'ft', got {self.layout!r}")
        if self.window is not None and (not isinstance(self.window, int) or self.window < 1):
            raise ValueError(f"`window` must be a positive int or None, got {self.window!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"`val_fraction` must lie in [0, 1), got {self.val_fraction}")
        xs, ys, info = as_trials(X, y, layout=self.layout, trials=trials)
        assert ys is not None
        self.n_features_in_, self.n_outputs_ = int(xs[0].shape[1]), int(ys[0].shape[1])
        self._squeeze = info.squeeze_outputs
        pieces = []
        for x, v in zip(xs, ys):
            if self.window is None:
                pieces.append((x.T, v.T[:, None, :]))
            else:
                pieces.extend(window_trial(x, v, self.window, self.context))
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(pieces))
        n_val = round(self.val_fraction * len(pieces)) if len(pieces) > 1 else 0
        val_idx, train_idx = sorted(order[:n_val].tolist()), sorted(order[n_val:].tolist())
        data = from_arrays([p[0] for p in pieces], [p[1] for p in pieces], dt_ms=1000.0 / float(self.sfreq))
        torch.manual_seed(self.random_state)
        net = self._build(self.n_features_in_, self.n_outputs_)
        config = FitConfig(**{"window": None, **dict(self.fit_params or {})})  # windows cut here already
        fitter = Fitter(net, config, device=_device(self.device), progress=False)
        result = fitter.fit(data.subset(stimuli=train_idx), data.subset(stimuli=val_idx) if val_idx else None)
        self.model_ = fitter.model.eval()
        self.history_ = result.history
        self.epochs_run_ = result.epochs_run
        return self

    def _predict_trials(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        param = next(self.model_.parameters())
        with torch.no_grad():
            return [self.model_(x.T[None, None].to(param))[0, :, 0].T.double() for x in xs]

    def predict(self, X: Any, trials: Any = None) -> Any:
        """Predicted responses in the form of ``X``.

        See :meth:`RidgeSTRF.predict <deepSTRF.estimators.RidgeSTRF.predict>`.
        """
        if not hasattr(self, "model_"):
            raise ValueError("this ModelEstimator is not fitted yet; call fit first")
        xs, _, info = as_trials(X, layout=self.layout, trials=trials, n_features=self.n_features_in_)
        info.squeeze_outputs = self._squeeze
        return restore_layout(self._predict_trials(xs), info)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, trials: Any = None) -> float:
        """Mean over outputs of the Pearson r between predictions and responses (trials pooled)."""
        if sample_weight is not None:
            raise ValueError("`sample_weight` is not supported by score()")
        if not hasattr(self, "model_"):
            raise ValueError("this ModelEstimator is not fitted yet; call fit first")
        xs, ys, _ = as_trials(X, y, layout=self.layout, trials=trials, n_features=self.n_features_in_)
        assert ys is not None
        preds = torch.cat(self._predict_trials(xs)).cpu()
        return float(_pearson(preds, torch.cat(ys)).nanmean())
