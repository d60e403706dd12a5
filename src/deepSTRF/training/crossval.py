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
    ['cc', 'ccnorm', 'feve', 'fve']
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from deepSTRF._validation import check_choice, check_int, check_positive_float
from deepSTRF.training.config import FitConfig
from deepSTRF.training.fitter import FitResult, Fitter
from deepSTRF.training.loggers import make_logger
from deepSTRF.training.objectives import pad_cat, score_split
from deepSTRF.training.seeding import seed_everything

__all__ = ["DEFAULT_METRICS", "Fold", "RunResult", "cross_validate", "run_seeds", "split_validation", "write_table"]

#: Metrics reported for test stimuli.
DEFAULT_METRICS = ("ccnorm", "cc", "feve", "fve")


@dataclass(frozen=True)
class Fold:
    """Stimulus indices of one train / validation / test partition."""

    train: list[int]
    val: list[int]
    test: list[int]


@dataclass
class RunResult:
    """Per-neuron test scores of a multi-seed run.

    Attributes:
        seeds: The seeds, in order.
        per_seed: ``{seed: {metric: (N,) tensor}}``.
        mean: ``{metric: (N,)}`` NaN-aware mean over seeds.
        std: ``{metric: (N,)}`` standard deviation over seeds (0 with one seed).
        fits: ``{seed: [FitResult per fold]}``.
        models: ``{seed: [fitted model per fold]}``.
    """

    seeds: list[int]
    per_seed: dict[int, dict[str, torch.Tensor]]
    mean: dict[str, torch.Tensor] = field(default_factory=dict)
    std: dict[str, torch.Tensor] = field(default_factory=dict)
    fits: dict[int, list[FitResult]] = field(default_factory=dict)
    models: dict[int, list[nn.Module]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and median over neurons of the seed-averaged scores, per metric."""
        return {
            name: {"mean": _nan_none(v.nanmean()), "median": _nan_none(v.nanmedian())} for name, v in self.mean.items()
        }


def _nan_none(value: torch.Tensor | float) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _listed(values: torch.Tensor) -> list[float | None]:
    return [_nan_none(v) for v in values.tolist()]


def split_validation(train: Sequence[int], val_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Set aside a random fraction of training stimuli for validation.

    Args:
        train: Training stimulus indices.
        val_fraction: Fraction in (0, 1) moved to validation (at least one stimulus, and at
            least one left for training).
        seed: Seed of the draw.

    Returns:
        ``(train, val)``, each sorted.

    Raises:
        ValueError: If the fraction is outside (0, 1) or there are fewer than 2 stimuli.

    Example:
        >>> split_validation(range(10), 0.2, seed=0)[1]
        [3, 8]
    """
    fraction = check_positive_float("val_fraction", val_fraction)
    if fraction >= 1:
        raise ValueError(f"`val_fraction` must lie in (0, 1), got {val_fraction}")
    pool = list(train)
    if len(pool) < 2:
        raise ValueError(f"need at least 2 training stimuli to set some aside for validation, got {len(pool)}")
    n_val = min(max(1, round(fraction * len(pool))), len(pool) - 1)
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(pool[i] for i in order[n_val:]), sorted(pool[i] for i in order[:n_val])


def write_table(path: str | Path, columns: dict[str, torch.Tensor | Sequence[float | None]]) -> Path:
    """Write per-neuron columns to a CSV file (one row per neuron, empty cells for NaN).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(write_table(f"{tmp}/t.csv", {"cc": torch.tensor([0.5, float("nan")])}).read_text())
        neuron,cc
        0,0.5
        1,
        <BLANKLINE>
    """
    path = Path(path)
    lists = {k: _listed(v) if isinstance(v, torch.Tensor) else list(v) for k, v in columns.items()}
    rows = max((len(v) for v in lists.values()), default=0)
    lines = [",".join(["neuron", *lists])]
    for n in range(rows):
        cells = ["" if v[n] is None else repr(float(v[n])) for v in lists.values()]  # type: ignore[arg-type]
        lines.append(",".join([str(n), *cells]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_scores(folder: Path, scores: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
    per_neuron = {name: _listed(v) for name, v in scores.items()}
    summary = {name: {"mean": _nan_none(v.nanmean()), "median": _nan_none(v.nanmedian())} for name, v in scores.items()}
    payload = {"per_neuron": per_neuron, "summary": summary, **extra}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    write_table(folder / "metrics.csv", scores)


def _aggregate(result: RunResult) -> None:
    names = list(next(iter(result.per_seed.values())))
    for name in names:
        stacked = torch.stack([result.per_seed[s][name] for s in result.seeds])  # (seeds, N)
        mean = stacked.nanmean(0)
        result.mean[name] = mean
        result.std[name] = (stacked - mean).square().nanmean(0).sqrt()


def _write_run(out_dir: Path, result: RunResult, n_folds: int) -> None:
    payload = {
        "seeds": result.seeds,
        "n_folds": n_folds,
        "summary": result.summary(),
        "per_neuron": {n: {"mean": _listed(result.mean[n]), "std": _listed(result.std[n])} for n in result.mean},
        "per_seed": {str(s): {n: _listed(v) for n, v in result.per_seed[s].items()} for s in result.seeds},
        "best_epochs": {str(s): [fit.best_epoch for fit in result.fits[s]] for s in result.seeds},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    columns: dict[str, torch.Tensor] = {}
    for name in result.mean:
        columns[f"{name}_mean"], columns[f"{name}_std"] = result.mean[name], result.std[name]
        columns.update({f"{name}_seed{s}": result.per_seed[s][name] for s in result.seeds})
    write_table(out_dir / "metrics.csv", columns)


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
    from deepSTRF.models.neural_model import NeuralModel

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
                    "best_val_score": _nan_none(fit.best_score),
                }
                model.save_pretrained(folder / "model", metadata={**info, "metric": config.metric})
        pred, resp = pad_cat(parts[0], 0.0), pad_cat(parts[1], float("nan"))
        mask = pad_cat([m.to(pred.dtype) for m in parts[2]], 0.0) > 0.5
        result.per_seed[seed] = {name: score_split(name, pred, resp, mask, config.loss).cpu() for name in metrics}
        if seed_dir is not None and is_main:
            _write_scores(seed_dir, result.per_seed[seed], {"seed": seed, "n_folds": len(folds)})
    _aggregate(result)
    if root is not None and is_main:
        _write_run(root, result, len(folds))
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
    """
    train, test = list(train), list(test)
    if val is None:
        train, val = split_validation(train, val_fraction, split_seed)
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
    """
    check_choice("scheme", scheme, ["kfold", "loso"])
    pool = list(range(len(dataset))) if stimuli is None else list(stimuli)  # type: ignore[arg-type]
    if scheme == "loso":
        held = [[s] for s in pool]
    else:
        n_folds = check_int("n_folds", n_folds, minimum=2)
        if n_folds > len(pool):
            raise ValueError(f"`n_folds` ({n_folds}) exceeds the number of stimuli ({len(pool)})")
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(split_seed))
        held = [sorted(pool[i] for i in part.tolist()) for part in torch.tensor_split(order, n_folds)]
    folds = []
    for test in held:
        train, val = split_validation([s for s in pool if s not in test], val_fraction, split_seed)
        folds.append(Fold(train=train, val=val, test=test))
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
