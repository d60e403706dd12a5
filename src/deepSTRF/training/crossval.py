"""Multi-seed runs and cross-validation over stimuli, with per-neuron results written to disk.

:func:`run_seeds` fits one model per seed on a fixed split and scores the test
stimuli; :func:`cross_validate` does the same for every fold of a k-fold or
leave-one-stimulus-out partition, and scores each seed on the pooled held-out
predictions of all folds (one metric call over all stimuli). Both write, under
``out_dir``:

- ``seeds/seed_<s>/``: the model checkpoint(s) (``model/`` or ``fold_<k>/model/``), the
  resumable training state, ``metrics.json`` and ``metrics.csv`` (per neuron);
- ``metrics.json`` and ``metrics.csv``: per-neuron mean and standard deviation over
  seeds, each seed's values, and a summary (mean and median over neurons).

Example:
    >>> import tempfile
    >>> from deepSTRF.datasets import SimulatedDataset
    >>> from deepSTRF.models.audio.strf_models import Linear
    >>> data = SimulatedDataset(n_neurons=2, n_stimuli=8, seed=0)
    >>> def build(seed):
    ...     return Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = cross_validate(data, build, n_folds=2, config=FitConfig(max_epochs=1, batch_size=2),
    ...                             out_dir=tmp, progress=False)
    >>> sorted(result.per_seed[0])
    ['cc', 'ccnorm', 'feve', 'fve', 'ttrc']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.datasets.splits import kfold_split, leave_one_out_split, random_split
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.config import FitConfig
from deepSTRF.training.fitter import Fitter
from deepSTRF.training.loggers import make_logger
from deepSTRF.training.objectives import DEFAULT_METRICS, pad_cat, score_split
from deepSTRF.training.results import RunResult, nan_to_none, write_scores
from deepSTRF.training.seeding import seed_everything

__all__ = ["DEFAULT_METRICS", "Fold", "cross_validate", "fit_multi_seed", "run_seeds", "validation_split"]


@dataclass(frozen=True)
class Fold:
    """Stimulus indices of one train / validation / test partition.

    Example:
        >>> Fold(train=[0, 1], val=[2], test=[3]).test
        [3]
    """

    train: list[int]
    val: list[int]
    test: list[int]


def validation_split(
    n_stimuli: int, train: Sequence[int], val_fraction: float, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Set aside a random fraction of the training stimuli for validation.

    Args:
        n_stimuli: Number of stimuli of the dataset.
        train: Training stimulus indices.
        val_fraction: Fraction in [0, 1) moved to validation (rounded; may leave none).
        seed: Seed of the draw.

    Returns:
        ``(train, val)``, each sorted.

    Raises:
        ValueError: If the fraction is outside [0, 1).

    Example:
        >>> validation_split(10, range(10), 0.2, seed=0)
        ([0, 2, 3, 4, 5, 6, 7, 9], [1, 8])
    """
    fraction = check_positive_float("val_fraction", val_fraction, allow_zero=True)
    if fraction >= 1:
        raise ValueError(f"`val_fraction` must lie in [0, 1), got {val_fraction}")
    parts = random_split(n_stimuli, {"train": 1.0 - fraction, "val": fraction}, seed=seed, stimuli=list(train))
    return parts["train"], parts["val"]


def _run(
    dataset: Dataset,
    build_model: Callable[[int], nn.Module],
    folds: list[Fold],
    *,
    seeds: Sequence[int],
    config: FitConfig | None,
    metrics: Sequence[str],
    out_dir: str | Path | None,
    device: str | torch.device | None,
    resume: bool,
    progress: bool,
    logger: str | None,
) -> RunResult:
    config = FitConfig() if config is None else config
    seeds = [check_int("seeds", s, minimum=0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be a non-empty list of distinct ints, got {seeds}")
    if logger is not None and out_dir is None:
        raise ValueError("a `logger` needs an `out_dir` for its files")
    root = None if out_dir is None else Path(out_dir)
    result = RunResult(seeds=seeds, per_seed={})
    is_main = True
    for seed in seeds:
        seed_dir = None if root is None else root / "seeds" / f"seed_{seed}"
        parts: list[list[torch.Tensor]] = [[], [], []]
        result.fits[seed], result.models[seed] = [], []
        for k, fold in enumerate(folds):
            folder = seed_dir if seed_dir is None or len(folds) == 1 else seed_dir / f"fold_{k}"
            seed_everything(seed)
            model = build_model(seed)
            log = None if folder is None else make_logger(logger, folder / "logs")
            fitter = Fitter(
                model,
                dataclasses.replace(config, seed=seed),
                device=device,
                checkpoint_dir=None if folder is None else folder / "state",
                resume=resume,
                logger=log,
                progress=progress,
            )
            is_main = fitter.ctx.is_main
            try:
                fit = fitter.fit(Subset(dataset, fold.train), Subset(dataset, fold.val) if fold.val else None)
            finally:
                if log is not None:
                    log.close()
            for part, tensor in zip(parts, fitter.predict(Subset(dataset, fold.test))):
                part.append(tensor)
            result.fits[seed].append(fit)
            result.models[seed].append(model)
            if folder is not None and is_main and isinstance(model, NeuralModel):
                info = {
                    "seed": seed,
                    "fold": k,
                    "best_epoch": fit.best_epoch,
                    "best_val_score": nan_to_none(fit.best_score),
                }
                model.save_pretrained(folder / "model", metadata={**info, "metric": config.metric})
        pred, resp = pad_cat(parts[0], 0.0), pad_cat(parts[1], float("nan"))
        mask = pad_cat([m.to(pred.dtype) for m in parts[2]], 0.0) > 0.5
        result.per_seed[seed] = {name: score_split(name, pred, resp, mask, config.loss).cpu() for name in metrics}
        if seed_dir is not None and is_main:
            write_scores(seed_dir, result.per_seed[seed], {"seed": seed, "n_folds": len(folds)})
    result.aggregate()
    if root is not None and is_main:
        result.write(root, len(folds))
    return result


def run_seeds(
    dataset: Dataset,
    build_model: Callable[[int], nn.Module],
    *,
    train: Sequence[int],
    test: Sequence[int],
    val: Sequence[int] | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    seeds: Sequence[int] = (0,),
    config: FitConfig | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    resume: bool = True,
    progress: bool = True,
    logger: str | None = None,
) -> RunResult:
    """Fit one model per seed on a fixed split and score the test stimuli.

    Args:
        dataset: The data (items as in :class:`~deepSTRF.datasets.NeuralDataset`).
        build_model: ``seed -> model``; called after the global generators are seeded with ``seed``.
        train: Training stimulus indices.
        test: Test stimulus indices.
        val: Validation stimulus indices; when ``None``, ``val_fraction`` of ``train`` is set aside.
        val_fraction: Fraction of ``train`` used for validation when ``val`` is ``None``.
        split_seed: Seed of that draw (the same split for every seed).
        seeds: Seeds, one fit each.
        config: Fit hyperparameters (its ``seed`` is replaced by each seed).
        metrics: Test metrics (see :meth:`~deepSTRF.training.fitter.Fitter.evaluate`).
        out_dir: Run folder; nothing is written when ``None``.
        device: Device of the fits.
        resume: Resume interrupted fits from their state in ``out_dir``.
        progress: Show progress bars.
        logger: ``'tensorboard'``, ``'wandb'`` or ``None``; its files go to each fit's folder.

    Returns:
        A :class:`RunResult`.

    Raises:
        ValueError: If the split overlaps or is empty, or the seeds are invalid.

    Example:
        >>> from deepSTRF.datasets import SimulatedDataset
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> data = SimulatedDataset(n_neurons=2, n_stimuli=6, seed=0)
        >>> def build(seed):
        ...     return Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=2)
        >>> result = run_seeds(data, build, train=[0, 1, 2], val=[3], test=[4, 5], seeds=[0, 1],
        ...                    config=FitConfig(max_epochs=1, batch_size=2), progress=False)
        >>> result.mean["cc"].shape
        torch.Size([2])
    """
    train, test = list(train), list(test)
    if val is None:
        train, val = validation_split(len(dataset), train, val_fraction, split_seed)  # type: ignore[arg-type]
    val = list(val)
    if not train or not test:
        raise ValueError(f"`train` and `test` must be non-empty, got {len(train)} and {len(test)} stimuli")
    overlap = (set(train) & set(val)) | (set(train) & set(test)) | (set(val) & set(test))
    if overlap:
        raise ValueError(f"train, validation and test stimuli must not overlap; shared: {sorted(overlap)}")
    folds = [Fold(train=train, val=val, test=test)]
    return _run(
        dataset,
        build_model,
        folds,
        seeds=seeds,
        config=config,
        metrics=metrics,
        out_dir=out_dir,
        device=device,
        resume=resume,
        progress=progress,
        logger=logger,
    )


def cross_validate(
    dataset: Dataset,
    build_model: Callable[[int], nn.Module],
    *,
    scheme: str = "kfold",
    n_folds: int = 5,
    stimuli: Sequence[int] | None = None,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    seeds: Sequence[int] = (0,),
    config: FitConfig | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    out_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    resume: bool = True,
    progress: bool = True,
    logger: str | None = None,
) -> RunResult:
    """Cross-validate over stimuli: every stimulus is predicted by a model that never saw it.

    Each fold's training stimuli lose ``val_fraction`` to a validation set for early
    stopping. A seed's scores are computed once on the held-out predictions of all
    folds together.

    Args:
        dataset: The data.
        build_model: ``seed -> model`` (called once per seed and fold).
        scheme: ``'kfold'`` (random folds) or ``'loso'`` (leave one stimulus out).
        n_folds: Number of folds for ``'kfold'``.
        stimuli: Stimuli taking part (all by default).
        val_fraction: Validation fraction of each fold's training stimuli.
        split_seed: Seed of the folds and validation draws.
        seeds: Seeds, one fit per seed and fold.
        config: Fit hyperparameters.
        metrics: Metrics of the pooled held-out predictions.
        out_dir: Run folder; nothing is written when ``None``.
        device: Device of the fits.
        resume: Resume interrupted fits from their state in ``out_dir``.
        progress: Show progress bars.
        logger: ``'tensorboard'``, ``'wandb'`` or ``None``.

    Returns:
        A :class:`RunResult`.

    Raises:
        ValueError: If the scheme is unknown or there are too few stimuli for the folds.

    Example:
        >>> from deepSTRF.datasets import SimulatedDataset
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)
        >>> result = cross_validate(data, lambda seed: Linear(n_frequency_bands=data.F, temporal_window_size=5,
        ...                         out_neurons=2), scheme="loso", config=FitConfig(max_epochs=1, batch_size=2),
        ...                         progress=False)
        >>> len(result.models[0])  # one model per left-out stimulus
        4
    """
    check_choice("scheme", scheme, ["kfold", "loso"])
    n_stimuli = len(dataset)  # type: ignore[arg-type]
    if scheme == "loso":
        outer = leave_one_out_split(n_stimuli, stimuli=stimuli)
    else:
        outer = kfold_split(n_stimuli, n_folds, seed=split_seed, stimuli=stimuli)
    folds = []
    for part in outer:
        train, val = validation_split(n_stimuli, part["train"], val_fraction, split_seed)
        folds.append(Fold(train=train, val=val, test=part["test"]))
    return _run(
        dataset,
        build_model,
        folds,
        seeds=seeds,
        config=config,
        metrics=metrics,
        out_dir=out_dir,
        device=device,
        resume=resume,
        progress=progress,
        logger=logger,
    )


#: deepSTRF 0.1.0's name for :func:`run_seeds`, which takes a dataset and a model builder
#: (0.1.0's ``(model_factory, loader_factory)`` form is gone, see the migration page).
fit_multi_seed = run_seeds
