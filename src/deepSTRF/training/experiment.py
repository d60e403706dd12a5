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

import importlib.util
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from deepSTRF._io import atomic_write_json, read_json
from deepSTRF._version import __version__
from deepSTRF.datasets.splits import random_split
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.registry import build_model
from deepSTRF.training.config import metric_mode
from deepSTRF.training.crossval import DEFAULT_METRICS, cross_validate, run_seeds, validation_split
from deepSTRF.training.data_spec import match_data_spec
from deepSTRF.training.distributed import barrier, init_distributed
from deepSTRF.training.fitter import FitResult, Fitter
from deepSTRF.training.ground_truth import effective_strfs, true_rate_scores
from deepSTRF.training.results import RunResult, listed, nan_to_none, summarise, write_scores
from deepSTRF.training.ridge import fit_ridge, ridge_to_linear
from deepSTRF.training.run_config import RUN_FORMAT, RunConfig, load_dataset, read_run
from deepSTRF.utils.plotting import plot_learned_vs_true, plot_strfs, strf_correlation

__all__ = ["ExperimentResult", "run_experiment"]


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

    Example:
        >>> import tempfile
        >>> from deepSTRF.training.run_config import RunConfig
        >>> config = RunConfig(dataset_kwargs={"n_neurons": 2, "n_stimuli": 6}, model="linear", method="ridge")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     result = run_experiment(config, f"{tmp}/run", progress=False)
        >>> result.best_seed, sorted(result.n_stimuli)
        (0, ['test', 'train', 'validation'])
    """

    run: RunResult
    ceiling: dict[str, torch.Tensor] | None
    strf_correlation: torch.Tensor | None
    best_seed: int
    model: torch.nn.Module
    n_stimuli: dict[str, int]
    is_main: bool = True


def _model_kwargs(config: RunConfig, dataset: Any) -> dict[str, Any]:
    kwargs = dict(config.model_kwargs)
    if getattr(dataset, "F", None) is not None:
        kwargs.setdefault("n_frequency_bands", int(dataset.F))
    kwargs.setdefault("out_neurons", int(dataset.n_neurons))
    true = getattr(dataset, "true_strfs", None)
    if isinstance(true, torch.Tensor):
        kwargs.setdefault("temporal_window_size", int(true.shape[-1]))
    return kwargs


def _outer_split(config: RunConfig, dataset: Any) -> tuple[list[int], list[int]]:
    if config.split == "canonical":
        splits = getattr(dataset, "splits", None) or {}
        if "train" not in splits or "test" not in splits:
            raise ValueError(f"dataset {config.dataset!r} has no canonical train/test split; use split='random'")
        return list(splits["train"]), list(splits["test"])
    parts = random_split(
        len(dataset), {"train": 1 - config.test_fraction, "test": config.test_fraction}, seed=config.split_seed
    )
    return parts["train"], parts["test"]


def _fit_ridge(
    config: RunConfig,
    dataset: Any,
    train: list[int],
    val: list[int],
    test: list[int],
    kwargs: dict[str, Any],
    out_dir: Path,
    is_main: bool,
) -> RunResult:
    """The closed-form fit, recorded as a one-seed run."""
    extra = sorted(set(kwargs) - {"n_frequency_bands", "out_neurons", "temporal_window_size"})
    if extra:
        raise ValueError(f"`method='ridge'` fits a plain linear STRF; it takes no model arguments {extra}")
    result = fit_ridge(
        Subset(dataset, train + val),
        n_lags=kwargs.get("temporal_window_size", 9),
        alphas=config.ridge_alphas,
        n_folds=config.ridge_folds,
        seed=config.split_seed,
        device=config.device,
    )
    model = ridge_to_linear(result, dtype=torch.get_default_dtype())
    match_data_spec(model, dataset, record=True)
    fitter = Fitter(model, config.fit, device=config.device, progress=False)
    seed = config.seeds[0]
    run = RunResult(seeds=[seed], per_seed={seed: fitter.evaluate(Subset(dataset, test), DEFAULT_METRICS)})
    run.fits[seed] = [FitResult(best_epoch=-1, best_score=float("nan"), epochs_run=0, stopped_early=False)]
    run.models[seed] = [model]
    run.aggregate()
    if is_main:
        folder = out_dir / "seeds" / f"seed_{seed}"
        model.save_pretrained(folder / "model", metadata={"method": "ridge", "alpha": result.alpha.tolist()})
        write_scores(folder, run.per_seed[seed], {"seed": seed, "alpha": result.alpha.tolist()})
        run.write(out_dir, n_folds=1)
    return run


def _best_seed(run: RunResult, metric: str) -> int:
    scores = {s: run.fits[s][0].best_score for s in run.seeds if math.isfinite(run.fits[s][0].best_score)}
    if not scores:
        return run.seeds[0]
    pick = max if metric_mode(metric) == "max" else min
    return pick(scores, key=lambda s: scores[s])


def _prepare_folder(out: Path, config: RunConfig, resume: bool, start_if_missing: bool) -> None:
    if out.is_file():
        raise FileExistsError(f"the run folder {out} is a file")
    if resume and not (out.is_dir() and any(out.iterdir())):
        if not start_if_missing:
            raise FileNotFoundError(
                f"cannot resume {out}: there is no run there; check the path (--out), or pass "
                "start_if_missing=True (`--start-if-missing`) to start a new run in it"
            )
        warnings.warn(f"no run to resume in {out}: starting a new run there", UserWarning, stacklevel=3)
    if out.is_dir() and any(out.iterdir()):
        if not resume:
            raise FileExistsError(f"the run folder {out} is not empty; resume it or choose another folder")
        recorded = read_run(out)["config"]
        ours = config.to_dict()
        changed = sorted(k for k in ours if k != "fit" and ours[k] != recorded.get(k))
        changed += sorted(f"fit.{k}" for k in ours["fit"] if ours["fit"][k] != recorded.get("fit", {}).get(k))
        if changed:
            raise ValueError(f"cannot resume {out}: the configuration differs in {changed}")


def run_experiment(
    config: RunConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    start_if_missing: bool = False,
) -> ExperimentResult:
    """Run a configuration end to end and write its run folder (see the module documentation).

    Args:
        config: The run configuration.
        out_dir: Run folder; it must be empty or absent unless ``resume``.
        resume: Continue an interrupted run in ``out_dir`` (its recorded configuration must match).
        progress: Show progress bars.
        start_if_missing: With ``resume``, start a new run (with a warning) when ``out_dir``
            holds none, instead of raising ``FileNotFoundError``.

    Returns:
        An :class:`ExperimentResult`.

    Raises:
        FileExistsError: If ``out_dir`` holds files and ``resume`` is False.
        FileNotFoundError: If ``resume`` is True, ``out_dir`` holds no run and not ``start_if_missing``.
        ValueError: If the configuration does not fit the dataset or the recorded run.
        TypeError: If a dataset or model argument is not accepted.

    Example:
        >>> import tempfile
        >>> from deepSTRF.training.config import FitConfig
        >>> from deepSTRF.training.run_config import RunConfig
        >>> config = RunConfig(dataset_kwargs={"n_neurons": 2, "n_stimuli": 6}, fit=FitConfig(max_epochs=1))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     result = run_experiment(config, f"{tmp}/run", progress=False)
        ...     files = sorted(p.name for p in Path(tmp, "run").iterdir())
        >>> files
        ['config.json', 'metrics.csv', 'metrics.json', 'model', 'seeds', 'strfs.png']
    """
    out = Path(out_dir)
    ctx = init_distributed(config.device)
    is_main = ctx.is_main
    _prepare_folder(out, config, resume, start_if_missing)
    barrier(ctx)  # every process checks the folder before rank 0 writes to it
    dataset = load_dataset(config.dataset, config.dataset_kwargs)
    kwargs = _model_kwargs(config, dataset)

    def build(seed: int) -> torch.nn.Module:
        return build_model(config.model, **kwargs)

    try:
        build(config.seeds[0])  # fail on bad model arguments before anything is written
    except TypeError as err:
        raise TypeError(f"model {config.model!r}: {err}") from err
    record: dict[str, Any] = {
        "format": RUN_FORMAT,
        "library_version": __version__,
        "config": config.to_dict(),
        "model_kwargs": kwargs,
    }
    common: dict[str, Any] = {
        "seeds": config.seeds,
        "config": config.fit,
        "out_dir": out,
        "device": config.device,
        "resume": resume,
        "progress": progress,
        "logger": config.logger,
    }
    if config.split in ("kfold", "loso"):
        test = list(range(len(dataset)))
        record["split"] = {"scheme": config.split, "n_folds": config.n_folds if config.split == "kfold" else len(test)}
        _write_record(out, record, is_main)
        run = cross_validate(
            dataset,
            build,
            scheme=config.split,
            n_folds=config.n_folds,
            val_fraction=config.val_fraction,
            split_seed=config.split_seed,
            **common,
        )
        n_stimuli = {"stimuli": len(test)}
    else:
        train, test = _outer_split(config, dataset)
        train, val = validation_split(len(dataset), train, config.val_fraction, config.split_seed)
        record["split"] = {"train": train, "val": val, "test": test}
        _write_record(out, record, is_main)
        n_stimuli = {"train": len(train), "validation": len(val), "test": len(test)}
        if config.method == "ridge":
            run = _fit_ridge(config, dataset, train, val, test, kwargs, out, is_main)
        else:
            run = run_seeds(dataset, build, train=train, val=val, test=test, **common)
    best = _best_seed(run, config.fit.metric)
    model = run.models[best][0]
    ceiling = true_rate_scores(dataset, test, list(run.mean))
    strfs = effective_strfs(model)
    true = getattr(dataset, "true_strfs", None)
    corr = strf_correlation(strfs, true) if strfs is not None and isinstance(true, torch.Tensor) else None
    if is_main:
        dt_ms, freqs = getattr(dataset, "dt_ms", None), getattr(dataset, "frequencies_hz", None)
        _finish_folder(out, config, run, model, best, ceiling, strfs, true, corr, dt_ms, freqs)
    return ExperimentResult(
        run=run,
        ceiling=ceiling,
        strf_correlation=corr,
        best_seed=best,
        model=model,
        n_stimuli=n_stimuli,
        is_main=is_main,
    )


def _write_record(out: Path, record: dict[str, Any], is_main: bool) -> None:
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", record)


def _finish_folder(
    out: Path,
    config: RunConfig,
    run: RunResult,
    model: torch.nn.Module,
    best: int,
    ceiling: dict[str, torch.Tensor] | None,
    strfs: torch.Tensor | None,
    true: Any,
    corr: torch.Tensor | None,
    dt_ms: float | None,
    freqs_hz: Any = None,
) -> None:
    """Add the checkpoint, the ceiling and STRF scores, and the STRF figure to a finished run folder."""
    metrics_file = out / "metrics.json"
    payload = read_json(metrics_file)
    payload["best_seed"] = best
    if ceiling is not None:
        payload["ceiling"] = {"per_neuron": {k: listed(v) for k, v in ceiling.items()}, "summary": summarise(ceiling)}
        if "ccnorm" in ceiling and "ccnorm" in run.mean:
            payload["ccnorm_over_ceiling"] = nan_to_none(run.mean["ccnorm"].nanmean() / ceiling["ccnorm"].nanmean())
    if corr is not None:
        payload["strf_correlation"] = {
            "per_neuron": listed(corr),
            "mean": nan_to_none(corr.nanmean()),
            "median": nan_to_none(corr.nanmedian()),
        }
    atomic_write_json(metrics_file, payload)
    if config.split not in ("kfold", "loso") and isinstance(model, NeuralModel):
        metadata = {
            "dataset": config.dataset,
            "dataset_kwargs": config.dataset_kwargs,
            "method": config.method,
            "seed": best,
            "test_summary": payload["summary"],
        }
        model.save_pretrained(out / "model", metadata=json.loads(json.dumps(metadata, default=str)))
    if strfs is not None:
        if importlib.util.find_spec("matplotlib") is None:
            warnings.warn(
                "strfs.png not written: matplotlib is missing (pip install 'deepSTRF[plot]'); "
                "the model and metrics are saved",
                stacklevel=2,
            )
            return
        freqs = freqs_hz if freqs_hz is not None and len(freqs_hz) == strfs.shape[-2] else None
        if isinstance(true, torch.Tensor) and true.shape[:2] == strfs.shape[:2]:
            figure = plot_learned_vs_true(strfs, true, dt_ms=dt_ms, freqs_hz=freqs, compact=True)
        else:
            figure = plot_strfs(strfs[:16], dt_ms=dt_ms, freqs_hz=freqs)
        figure.savefig(out / "strfs.png", dpi=100)
