"""Fitting encoding models: gradient descent, closed-form ridge STRFs, cross-validation, runs.

- :class:`Fitter` and :class:`FitConfig`: the training loop (early stopping on a whole-split
  validation score, best-checkpoint restore, per-neuron best readout, schedules, clipping,
  mixed precision, NaN guard, resumable state, data-parallel training under ``torchrun``);
- :func:`fit_ridge` and :func:`ridge_to_linear`: ridge STRFs with a per-neuron penalty chosen
  by cross-validation over stimuli, loadable into a ``Linear`` model;
- :func:`run_seeds` and :func:`cross_validate`: multi-seed and cross-validated runs with
  per-neuron results written to disk; :func:`run_experiment`: what ``deepstrf fit`` does;
- :func:`seed_everything`, :mod:`~deepSTRF.training.distributed` and
  :mod:`~deepSTRF.training.loggers` (TensorBoard, Weights & Biases).

Example:
    >>> from deepSTRF.training import FitConfig
    >>> FitConfig(max_epochs=5).max_epochs
    5
"""

from deepSTRF.training.config import FitConfig
from deepSTRF.training.crossval import cross_validate, fit_multi_seed, run_seeds
from deepSTRF.training.experiment import ExperimentResult, run_experiment
from deepSTRF.training.fitter import FitResult, Fitter, NonFiniteLossError
from deepSTRF.training.loggers import TensorBoardLogger, TrainingLogger, WandbLogger, make_logger
from deepSTRF.training.results import RunResult
from deepSTRF.training.ridge import RidgeResult, fit_ridge, ridge_to_linear
from deepSTRF.training.run_config import RunConfig
from deepSTRF.training.seeding import seed_everything, set_random_seed

__all__ = [
    "ExperimentResult",
    "FitConfig",
    "FitResult",
    "Fitter",
    "NonFiniteLossError",
    "RidgeResult",
    "RunConfig",
    "RunResult",
    "TensorBoardLogger",
    "TrainingLogger",
    "WandbLogger",
    "cross_validate",
    "fit_multi_seed",
    "fit_ridge",
    "make_logger",
    "ridge_to_linear",
    "run_experiment",
    "run_seeds",
    "seed_everything",
    "set_random_seed",
]
