"""One complete fitting run from a plain configuration: what ``deepstrf fit`` does.

:func:`run_experiment` loads a dataset by name, splits it by stimulus, fits a zoo
model (by gradient descent for each seed, or as a closed-form ridge STRF), scores
the test stimuli and writes a run folder:

- ``config.json``: the resolved :class:`RunConfig` (``"format": "deepSTRF-run"``);
- ``model/``: the checkpoint of the seed with the best validation score
  (``NeuralModel.from_pretrained(out_dir / "model")``), except for cross-validation
  runs, whose models stay in their fold folders;
- ``metrics.json`` / ``metrics.csv``: per-neuron test scores per seed and over seeds,
  with, on simulated data, the ceiling (the scores of the true rate on the same
  stimuli) and the correlation of learned and true STRFs;
- ``strfs.png``: learned STRFs (against the true ones on simulated data) for
  STRF models;
- ``seeds/``: one folder per seed (see :mod:`deepSTRF.training.crossval`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from deepSTRF._validation import check_choice, check_positive_float
from deepSTRF._version import __version__
from deepSTRF.training.config import FitConfig
from deepSTRF.training.crossval import RunResult, _listed, cross_validate, run_seeds, split_validation
from deepSTRF.training.datasets import load_dataset, true_rate_predictions
from deepSTRF.training.fitter import Fitter
from deepSTRF.training.objectives import score_split
from deepSTRF.training.ridge import fit_ridge, ridge_to_linear

__all__ = ["RUN_FORMAT", "ExperimentResult", "RunConfig", "run_experiment"]

RUN_FORMAT = "deepSTRF-run"
METHODS = ("gd", "ridge")
SPLITS = ("canonical", "random", "kfold", "loso")


@dataclass
class RunConfig:
    """Everything that defines a run; every field is JSON data.

    Args:
        dataset: Dataset name (``'simulated'`` or a name of ``deepstrf datasets``).
        dataset_kwargs: Constructor arguments of the dataset.
        model: Zoo model name (see :data:`deepSTRF.models.registry.MODELS`).
        model_kwargs: Model arguments; ``n_frequency_bands`` and ``out_neurons`` default to
            the dataset's, and ``temporal_window_size`` to the true STRFs' on simulated data.
        method: ``'gd'`` (gradient descent with :class:`~deepSTRF.training.fitter.Fitter`) or
            ``'ridge'`` (closed-form ridge STRF, a ``linear`` model).
        fit: Gradient-descent hyperparameters.
        seeds: One fit per seed (``'gd'``).
        split: ``'canonical'`` (the dataset's own train/test split), ``'random'``
            (``test_fraction`` of the stimuli for test), ``'kfold'`` or ``'loso'``
            (cross-validation).
        test_fraction: Test fraction of a ``'random'`` split.
        val_fraction: Fraction of the training stimuli used for validation.
        n_folds: Folds of ``'kfold'``.
        split_seed: Seed of the random splits.
        ridge_alphas: Relative ridge penalties (``None``: the default grid).
        ridge_folds: Cross-validation folds of the ridge penalty search.
        device: ``'cpu'``, ``'cuda'`` or ``None`` (CUDA when available).
        logger: ``'tensorboard'``, ``'wandb'`` or ``None``.

    Raises:
        ValueError: If a field is invalid.
    """

    dataset: str = "simulated"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    model: str = "ln"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = "gd"
    fit: FitConfig = field(default_factory=FitConfig)
    seeds: list[int] = field(default_factory=lambda: [0])
    split: str = "canonical"
    test_fraction: float = 0.2
    val_fraction: float = 0.2
    n_folds: int = 5
    split_seed: int = 0
    ridge_alphas: list[float] | None = None
    ridge_folds: int = 5
    device: str | None = None
    logger: str | None = None

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("split", self.split, SPLITS)
        if self.method == "ridge" and self.model != "linear":
            raise ValueError(f"`method='ridge'` fits a 'linear' model, got model={self.model!r}")
        if self.method == "ridge" and self.split in ("kfold", "loso"):
            raise ValueError(f"`method='ridge'` needs a 'canonical' or 'random' split, got {self.split!r}")
        for name in ("test_fraction", "val_fraction"):
            if not 0 < check_positive_float(name, getattr(self, name)) < 1:
                raise ValueError(f"`{name}` must lie in (0, 1), got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (``fit`` nested)."""
        values = dataclasses.asdict(self)
        values["fit"] = self.fit.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown}; valid fields are {sorted(names)}")
        values = dict(values)
        if "fit" in values:
            values["fit"] = FitConfig.from_dict(values["fit"])
        return cls(**values)


@dataclass
class ExperimentResult:
    """Outcome of :func:`run_experiment`.

    Attributes:
        run: Per-seed and seed-averaged test scores.
        ceiling: ``{metric: (N,)}`` scores of the true rate on the test stimuli (simulated data).
        strf_correlation: ``(N,)`` correlation of learned and true STRFs, or ``None``.
        best_seed: Seed whose model was saved in ``model/``.
        model: That model.
        n_stimuli: ``{'train', 'val', 'test'}`` counts (CV: per fold on average).
    """

    run: RunResult
    ceiling: dict[str, torch.Tensor] | None
    strf_correlation: torch.Tensor | None
    best_seed: int
    model: torch.nn.Module
    n_stimuli: dict[str, int]
