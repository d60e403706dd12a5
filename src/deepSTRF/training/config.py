"""The hyperparameters of a gradient-descent fit, as one JSON-friendly dataclass.

Example:
    >>> config = FitConfig(lr=3e-3, max_epochs=20)
    >>> FitConfig.from_dict(config.to_dict()) == config
    True
    >>> FitConfig(loss="l1")
    Traceback (most recent call last):
    ...
    ValueError: `loss` must be one of ['mse', 'poisson', 'poisson_log'], got 'l1'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from deepSTRF import metrics
from deepSTRF._validation import check_choice, check_int, check_positive_float

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULERS",
    "TARGETS",
    "VALIDATION_METRICS",
    "FitConfig",
    "build_optimizer",
    "build_scheduler",
    "metric_mode",
]

#: Training losses, as registered in :data:`deepSTRF.metrics.LOSSES`.
LOSSES = tuple(metrics.LOSSES)
#: What the loss compares the prediction with: the trial mean, or every trial.
TARGETS = ("psth", "trials")
#: Optimisers accepted by ``FitConfig.optimizer``.
OPTIMIZERS = ("adam", "adamw", "sgd")
#: Learning-rate schedules accepted by ``FitConfig.scheduler`` (or ``None``).
SCHEDULERS = ("plateau", "cosine")
#: Validation metrics for early stopping (all per neuron, averaged over neurons): the registered
#: :data:`deepSTRF.metrics.METRICS`, or ``'loss'``, the training loss (minimised).
VALIDATION_METRICS = (*metrics.METRICS, "loss")


def metric_mode(metric: str) -> Literal["min", "max"]:
    """``'max'`` if a larger validation score is better, ``'min'`` otherwise (``'loss'``).

    Raises:
        ValueError: If ``metric`` is not one of :data:`VALIDATION_METRICS`.

    Example:
        >>> metric_mode("cc"), metric_mode("loss")
        ('max', 'min')
    """
    check_choice("metric", metric, VALIDATION_METRICS)
    return "min" if metric == "loss" else metrics.METRICS[metric].mode


@dataclass
class FitConfig:
    """Hyperparameters of :class:`~deepSTRF.training.fitter.Fitter`.

    Args:
        loss: One of :data:`LOSSES`. ``'poisson'`` expects non-negative rate predictions
            (e.g. a softplus output), ``'poisson_log'`` log-rates.
        target: ``'psth'`` fits the trial mean; ``'trials'`` fits every trial (same
            optimum for MSE, trials weighted by their number).
        optimizer: One of :data:`OPTIMIZERS`.
        lr: Learning rate.
        weight_decay: Weight decay (L2 penalty; decoupled for ``'adamw'``).
        momentum: Momentum of ``'sgd'`` (ignored by the other optimisers).
        scheduler: ``None``, ``'plateau'`` (halve the rate when the validation score has not
            improved by ``min_delta`` for more than ``max(1, patience // 3)`` epochs) or
            ``'cosine'`` (cosine decay over ``max_epochs``).
        max_epochs: Maximum number of epochs.
        patience: Epochs without improvement of the validation score before stopping;
            ``None`` never stops early.
        metric: Validation metric, one of :data:`VALIDATION_METRICS`, computed once over the
            whole validation split and averaged over neurons.
        min_delta: Smallest change of the validation score that counts as an improvement.
        batch_size: Stimuli per optimisation step, summed over all processes.
        grad_clip: Maximum global gradient norm; ``None`` does not clip.
        amp: Mixed precision (float16 autocast with gradient scaling) on CUDA; has no
            effect on other devices.
        per_neuron_best: Keep, for each neuron, the readout parameters of the epoch where
            its validation score was best (readout tensors must have the neuron axis first).
        seed: Seed of the global generators and of the shuffling.
        num_workers: ``DataLoader`` worker processes.
        window: Cut the training stimuli into windows of this many bins (see
            :mod:`deepSTRF.training.windows`); ``None`` keeps whole stimuli; ``'auto'`` (the
            default) cuts them only when the training set has fewer stimuli than
            ``batch_size`` (otherwise one step per epoch would underfit), into windows giving
            about 16 full batches per epoch and at least ``2 * window_context`` bins long.
            Validation and test data are never cut.
        window_context: Bins of stimulus history in front of each window that the model
            sees but is not fitted on; at least the model's receptive field.

    Raises:
        TypeError: If a field has the wrong type.
        ValueError: If a field has an invalid value.

    Example:
        >>> FitConfig(loss="poisson", patience=None).to_dict()["loss"]
        'poisson'
    """

    loss: str = "mse"
    target: str = "psth"
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    scheduler: str | None = None
    max_epochs: int = 100
    patience: int | None = 10
    metric: str = "cc"
    min_delta: float = 0.0
    batch_size: int = 8
    grad_clip: float | None = None
    amp: bool = False
    per_neuron_best: bool = False
    seed: int = 0
    num_workers: int = 0
    window: int | str | None = "auto"
    window_context: int = 50

    def __post_init__(self) -> None:
        check_choice("loss", self.loss, LOSSES)
        check_choice("target", self.target, TARGETS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.scheduler is not None:
            check_choice("scheduler", self.scheduler, SCHEDULERS)
        check_choice("metric", self.metric, VALIDATION_METRICS)
        self.lr = check_positive_float("lr", self.lr)
        self.weight_decay = check_positive_float("weight_decay", self.weight_decay, allow_zero=True)
        self.momentum = check_positive_float("momentum", self.momentum, allow_zero=True)
        self.min_delta = check_positive_float("min_delta", self.min_delta, allow_zero=True)
        self.max_epochs = check_int("max_epochs", self.max_epochs)
        self.batch_size = check_int("batch_size", self.batch_size)
        self.seed = check_int("seed", self.seed, minimum=0)
        self.num_workers = check_int("num_workers", self.num_workers, minimum=0)
        if self.patience is not None:
            self.patience = check_int("patience", self.patience)
        if isinstance(self.window, str):
            check_choice("window", self.window, ("auto",))
        elif self.window is not None:
            self.window = check_int("window", self.window)
        self.window_context = check_int("window_context", self.window_context, minimum=0)
        if self.grad_clip is not None:
            self.grad_clip = check_positive_float("grad_clip", self.grad_clip)
        for name in ("amp", "per_neuron_best"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool, got {type(getattr(self, name)).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-compatible dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitConfig:
        """Build from a dict, rejecting unknown keys.

        Raises:
            ValueError: If a key is not a field.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"unknown FitConfig fields {unknown}; valid fields are {sorted(fields)}")
        return cls(**values)


def build_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """The optimiser a configuration names, over the model's trainable parameters.

    Example:
        >>> type(build_optimizer(nn.Linear(2, 1), FitConfig(optimizer="adamw"))).__name__
        'AdamW'
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig) -> Any:
    """The learning-rate scheduler a configuration names (``None`` for a constant rate).

    Stepped once per epoch; ``'plateau'`` with the validation score.

    Example:
        >>> opt = build_optimizer(nn.Linear(2, 1), FitConfig())
        >>> type(build_scheduler(opt, FitConfig(scheduler="cosine"))).__name__
        'CosineAnnealingLR'
    """
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=metric_mode(config.metric),
            factor=0.5,
            patience=max(1, (config.patience or 3) // 3),
            threshold=config.min_delta,
            threshold_mode="abs",
        )
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.max_epochs)
    return None
