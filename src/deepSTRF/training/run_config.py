"""The plain, JSON-serialisable description of a run, and the run-folder record.

:class:`RunConfig` mirrors the options of ``deepstrf fit``; :func:`load_dataset`
builds a dataset from its name; :func:`read_run` reads the ``config.json`` that
:func:`~deepSTRF.training.experiment.run_experiment` writes in a run folder.

Example:
    >>> config = RunConfig(model="linear", method="ridge", seeds=[0])
    >>> RunConfig.from_dict(config.to_dict()) == config
    True
    >>> RunConfig(method="ridge")
    Traceback (most recent call last):
    ...
    ValueError: `method='ridge'` fits a 'linear' model, got model='ln'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from deepSTRF._io import read_json
from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets import NeuralDataset, SimulatedDataset
from deepSTRF.datasets.catalog import get_loader, list_datasets
from deepSTRF.training.config import FitConfig

__all__ = ["METHODS", "RUN_FORMAT", "SPLITS", "RunConfig", "load_dataset", "read_run"]

#: Value of the ``format`` field of a run folder's ``config.json``.
RUN_FORMAT = "deepSTRF-run"
#: Fitting methods: gradient descent, closed-form ridge.
METHODS = ("gd", "ridge")
#: Ways to split stimuli into training and test data.
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
        fit: Gradient-descent hyperparameters; the default differs from ``FitConfig()`` in
            ``lr=1e-2`` and ``weight_decay=1e-2``, which fit STRF models quickly and smoothly.
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

    Example:
        >>> RunConfig(model="nrf", seeds=[0, 1]).fit.lr
        0.01
    """

    dataset: str = "simulated"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    model: str = "ln"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = "gd"
    fit: FitConfig = field(default_factory=lambda: FitConfig(lr=1e-2, weight_decay=1e-2))
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
        for name in ("dataset", "model"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"`{name}` must be a str, got {type(getattr(self, name)).__name__}")
        for name in ("dataset_kwargs", "model_kwargs"):
            value = getattr(self, name)
            if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
                raise TypeError(f"`{name}` must be a dict with str keys, got {value!r}")
        if not isinstance(self.fit, FitConfig):
            raise TypeError(f"`fit` must be a FitConfig, got {type(self.fit).__name__}")
        check_choice("method", self.method, METHODS)
        check_choice("split", self.split, SPLITS)
        if self.method == "ridge" and self.model != "linear":
            raise ValueError(f"`method='ridge'` fits a 'linear' model, got model={self.model!r}")
        if self.method == "ridge" and self.split in ("kfold", "loso"):
            raise ValueError(f"`method='ridge'` needs a 'canonical' or 'random' split, got {self.split!r}")
        if not isinstance(self.seeds, list) or not self.seeds:
            raise ValueError(f"`seeds` must be a non-empty list of ints, got {self.seeds!r}")
        self.seeds = [check_int("seeds", s, minimum=0) for s in self.seeds]
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"`seeds` must be distinct, got {self.seeds}")
        if not 0 < check_positive_float("test_fraction", self.test_fraction) < 1:
            raise ValueError(f"`test_fraction` must lie in (0, 1), got {self.test_fraction}")
        if not 0 <= check_positive_float("val_fraction", self.val_fraction, allow_zero=True) < 1:
            raise ValueError(f"`val_fraction` must lie in [0, 1), got {self.val_fraction}")
        self.n_folds = check_int("n_folds", self.n_folds, minimum=2)
        self.ridge_folds = check_int("ridge_folds", self.ridge_folds, minimum=2)
        self.split_seed = check_int("split_seed", self.split_seed, minimum=0)
        if self.ridge_alphas is not None:
            self.ridge_alphas = [check_positive_float("ridge_alphas", a) for a in self.ridge_alphas]
        if self.device is not None and not isinstance(self.device, str):
            raise TypeError(f"`device` must be a str or None, got {type(self.device).__name__}")
        if self.logger is not None:
            check_choice("logger", self.logger, ["tensorboard", "wandb"])

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


def load_dataset(name: str, kwargs: dict[str, Any] | None = None) -> NeuralDataset:
    """Build a dataset by name: ``'simulated'`` or a public dataset of the catalogue.

    Args:
        name: ``'simulated'`` or a name of :func:`deepSTRF.datasets.catalog.list_datasets`.
        kwargs: Constructor arguments of the dataset class.

    Returns:
        The dataset.

    Raises:
        ValueError: If the name is unknown.
        TypeError: If an argument is not accepted by the dataset class.

    Example:
        >>> load_dataset("simulated", {"n_neurons": 2, "n_stimuli": 3}).n_neurons
        2
    """
    kwargs = dict(kwargs or {})
    known = ["simulated", *(info.name for info in list_datasets())]
    if not isinstance(name, str) or name.strip().lower().replace("_", "-") not in known:
        raise ValueError(f"`dataset` must be one of {known}, got {name!r}")
    cls = SimulatedDataset if name == "simulated" else get_loader(name)
    try:
        return cast(NeuralDataset, cls(**kwargs))
    except TypeError as err:
        raise TypeError(f"dataset {name!r}: {err}") from err


def read_run(folder: str | Path) -> dict[str, Any]:
    """Read the ``config.json`` record of a run folder.

    Returns:
        ``{"format", "library_version", "config": RunConfig dict, "model_kwargs", "split"}``.

    Raises:
        FileNotFoundError: If the folder has no ``config.json``.
        ValueError: If it is not a run record.

    Example:
        >>> read_run("/no/such/run")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /no/such/run has no config.json: not a run folder
    """
    file = Path(folder) / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{folder} has no config.json: not a run folder")
    record = read_json(file)
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise ValueError(f"{file} is not a deepSTRF run record")
    return record
