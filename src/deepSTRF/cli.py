"""The ``deepstrf`` command line: fit, evaluate and inspect encoding models, list and fetch datasets.

Subcommands:

- ``deepstrf fit``: fit a zoo model to a dataset and write a run folder (see
  :func:`deepSTRF.training.experiment.run_experiment`); with no option it fits an LN
  model to the simulated dataset.
- ``deepstrf evaluate RUN_OR_CHECKPOINT``: per-neuron test metrics of a fitted model.
- ``deepstrf datasets``: the public datasets, with sizes and citations.
- ``deepstrf download NAME``: download a public dataset into the cache.
- ``deepstrf info RUN_OR_CHECKPOINT``: what a checkpoint holds, without building the model.
- ``deepstrf convert SRC DST``: write a deepSTRF 0.1.0 checkpoint (folder or Hub id) in this
  library's format (0.1.0 checkpoints also load directly, converted on the fly).
- ``deepstrf dstrf RUN_OR_CHECKPOINT``: dynamic STRFs and nonlinearity indices of a fitted
  model for one stimulus.

A user's mistake or a problem of the machine (a bad option, a missing or unwritable
file, a corrupt JSON file, a failed download, no GPU) ends with one line on stderr that
says what to do, and exit status 2; ``--debug`` (anywhere on the line, or
``DEEPSTRF_DEBUG=1``) shows the full traceback instead. An unexpected failure ends
with exit status 1 and the same one-line form.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    deepstrf ...
    0
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from deepSTRF._io import atomic_write_json, read_json
from deepSTRF._version import __version__

__all__ = ["build_parser", "main", "run_config_from_args"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), without the usage block.

    Options must be spelled out: an abbreviation (``--epoch`` for ``--epochs``) is an error, so a
    typo never silently selects another option.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            known = self._all_options()
            hints = {
                word: close[0]
                for word in message.split(":", 1)[1].split()
                if word.startswith("--") and (close := difflib.get_close_matches(word.split("=")[0], known, n=1))
            }
            message += "".join(f"; did you mean {right} for {wrong}?" for wrong, right in hints.items())
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def _all_options(self) -> list[str]:
        """Every long option of this parser and of its sub-commands."""
        options = [o for action in self._actions for o in action.option_strings if o.startswith("--")]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    options += sub._all_options() if isinstance(sub, _Parser) else []
        return sorted(set(options))


class _UsageError(Exception):
    """A bad option value found after parsing."""


def _key_value(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; the value is read as JSON when it parses (numbers, booleans, lists), else kept as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python identifier, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _optional_int(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {text!r}")
    return value


def _optional_float(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from err


def _device(text: str) -> str | None:
    return None if text == "auto" else text


def _none_or_text(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _add_data_options(parser: argparse.ArgumentParser, *, default_dataset: str | None) -> None:
    group = parser.add_argument_group("data")
    shown = default_dataset or "the run's, else simulated"
    group.add_argument(
        "--dataset",
        default=default_dataset,
        metavar="NAME",
        help=f"'simulated' or a name listed by `deepstrf datasets` (default: {shown})",
    )
    group.add_argument(
        "--dataset-arg",
        dest="dataset_kwargs",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="dataset constructor argument, repeatable; VALUE is read as JSON "
        "when possible (e.g. --dataset-arg n_neurons=8 --dataset-arg root=/data/ns1)",
    )


# (flag, RunConfig or FitConfig field, argparse keywords, help); defaults come from RunConfig(), and the
# choices of a field from the lists of training.config and training.run_config (see `_choices`)
_SPLIT_OPTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "--split",
        "split",
        {},
        "canonical: the dataset's train/test split; random: --test-fraction of the stimuli for test; "
        "kfold/loso: cross-validation",
    ),
    ("--test-fraction", "test_fraction", {"type": float, "metavar": "F"}, "test fraction of a random split"),
    (
        "--val-fraction",
        "val_fraction",
        {"type": float, "metavar": "F"},
        "fraction of the training stimuli used for early stopping",
    ),
    ("--folds", "n_folds", {"type": int, "metavar": "K"}, "number of folds of --split kfold"),
    ("--split-seed", "split_seed", {"type": int, "metavar": "S"}, "seed of the random splits"),
]
_MODEL_OPTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "--method",
        "method",
        {},
        "gd: gradient descent; ridge: closed-form ridge STRF of a linear model",
    ),
    (
        "--ridge-alphas",
        "ridge_alphas",
        {"type": float, "nargs": "+", "metavar": "A"},
        "relative ridge penalties to search (none: 13 values from 1e-3 to 1e3)",
    ),
    ("--ridge-folds", "ridge_folds", {"type": int, "metavar": "K"}, "cross-validation folds of the ridge penalty"),
]
_TRAINING_OPTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    ("--loss", "loss", {}, "training loss"),
    ("--target", "target", {}, "fit the trial mean (psth) or every trial"),
    ("--optimizer", "optimizer", {}, "optimiser"),
    ("--lr", "lr", {"type": float}, "learning rate"),
    ("--weight-decay", "weight_decay", {"type": float}, "weight decay"),
    ("--momentum", "momentum", {"type": float}, "SGD momentum"),
    ("--scheduler", "scheduler", {"type": _none_or_text}, "learning-rate schedule"),
    ("--epochs", "max_epochs", {"type": int, "metavar": "N"}, "maximum number of epochs"),
    (
        "--patience",
        "patience",
        {"type": _optional_int, "metavar": "N"},
        "epochs without validation improvement before stopping, or 'none'",
    ),
    ("--metric", "metric", {}, "validation metric"),
    ("--min-delta", "min_delta", {"type": float}, "smallest validation improvement that counts"),
    ("--batch-size", "batch_size", {"type": int, "metavar": "B"}, "stimuli per step, over all processes"),
    ("--grad-clip", "grad_clip", {"type": _optional_float, "metavar": "NORM"}, "clip the gradient norm, or 'none'"),
    ("--num-workers", "num_workers", {"type": int, "metavar": "N"}, "data-loading worker processes"),
]
_TRAINING_FLAGS = [
    ("--amp", "amp", "mixed precision (CUDA only)"),
    ("--per-neuron-best", "per_neuron_best", "keep each neuron's readout from its best epoch"),
]


def _choices() -> dict[str, tuple[Any, ...]]:
    """The accepted values of each field with a fixed set, from the one list the configuration checks."""
    from deepSTRF.training.config import LOSSES, OPTIMIZERS, SCHEDULERS, TARGETS, VALIDATION_METRICS
    from deepSTRF.training.run_config import METHODS, SPLITS

    return {
        "split": SPLITS,
        "method": METHODS,
        "loss": LOSSES,
        "target": TARGETS,
        "optimizer": OPTIMIZERS,
        "scheduler": (None, *SCHEDULERS),
        "metric": VALIDATION_METRICS,
    }


def _add_table(group: Any, table: list[tuple[str, str, dict[str, Any], str]], defaults: Any) -> None:
    choices = _choices()
    for flag, field, keywords, text in table:
        default = getattr(defaults, field)
        shown = "none" if default is None else default
        if field in choices:
            keywords = {**keywords, "choices": choices[field]}
            if None in choices[field]:
                keywords["metavar"] = "{" + ",".join("none" if c is None else c for c in choices[field]) + "}"
        group.add_argument(flag, dest=field, default=default, help=f"{text} (default: {shown})", **keywords)


def _add_fit_parser(commands: Any) -> None:
    from deepSTRF.models.registry import MODELS
    from deepSTRF.training.run_config import RunConfig

    run = RunConfig()
    p = commands.add_parser(
        "fit",
        help="fit a model to a dataset and write a run folder",
        description="Fit a zoo model to a dataset, score it on held-out stimuli and write a run folder "
        "(config.json, model/, metrics.json, metrics.csv, strfs.png, seeds/). With no option, fits an LN "
        "model to the simulated dataset.",
    )
    _add_data_options(p, default_dataset=run.dataset)
    _add_table(p.add_argument_group("split (by stimulus)"), _SPLIT_OPTIONS, run)
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        choices=sorted(MODELS),
        default=None,
        help=f"zoo model (default: {run.model}; linear with --method ridge)",
    )
    g.add_argument(
        "--model-arg",
        dest="model_kwargs",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="model constructor argument, repeatable, e.g. --model-arg "
        "temporal_window_size=12 (n_frequency_bands and out_neurons come from the dataset)",
    )
    _add_table(g, _MODEL_OPTIONS, run)
    g = p.add_argument_group("training (gradient descent)")
    _add_table(g, _TRAINING_OPTIONS, run.fit)
    for flag, field, text in _TRAINING_FLAGS:
        g.add_argument(flag, dest=field, action="store_true", help=text)
    g = p.add_argument_group("run")
    g.add_argument(
        "--seeds", type=int, nargs="+", default=run.seeds, metavar="S", help=f"one fit per seed (default: {run.seeds})"
    )
    g.add_argument(
        "--device",
        type=_device,
        default=None,
        help="cpu, cuda, cuda:1, ... or auto: CUDA when available (default: auto)",
    )
    g.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="run folder, which must not exist unless --resume (default: runs/<time>-<model>-<dataset>)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out; an error if --out holds no run (see --start-if-missing)",
    )
    g.add_argument(
        "--start-if-missing",
        action="store_true",
        help="with --resume: start a new run when --out does not exist yet, instead of an error",
    )
    g.add_argument(
        "--logger",
        type=_none_or_text,
        choices=(None, "tensorboard", "wandb"),
        default=None,
        metavar="{none,tensorboard,wandb}",
        help="experiment logger, files in the run folder (default: none)",
    )
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=_cmd_fit)


def _add_other_parsers(commands: Any) -> None:
    from deepSTRF.training.config import VALIDATION_METRICS
    from deepSTRF.training.objectives import DEFAULT_METRICS

    p = commands.add_parser(
        "evaluate",
        help="score a fitted model on a dataset",
        description="Per-neuron metrics of a fitted model. Given a run folder, the run's "
        "dataset and test stimuli are used unless overridden.",
    )
    p.add_argument("checkpoint", help="run folder, checkpoint folder or Hugging Face Hub id")
    _add_data_options(p, default_dataset=None)
    p.add_argument(
        "--part",
        choices=["test", "all"],
        default="test",
        help="test: the run's test stimuli (or the dataset's canonical test split); all: every stimulus "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        choices=VALIDATION_METRICS,
        default=list(DEFAULT_METRICS),
        help="metrics to compute (default: %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=8, metavar="B", help="stimuli per batch (default: %(default)s)")
    p.add_argument("--device", type=_device, default=None, help="device, or auto (default: auto)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the metrics to a JSON file")
    p.set_defaults(handler=_cmd_evaluate)

    p = commands.add_parser(
        "datasets",
        help="list the public datasets",
        description="List the datasets with their sizes, access, parts, sources and citations; with --verify, "
        "re-check a downloaded copy against the structure and counts its loader assumes.",
    )
    p.add_argument("--verify", default=None, metavar="NAME", help="verify the downloaded copy of this dataset")
    p.add_argument("--root", type=Path, default=None, metavar="DIR", help="dataset folder for --verify")
    p.set_defaults(handler=_cmd_datasets)

    p = commands.add_parser(
        "download",
        help="download a public dataset",
        description="Download a public dataset (see `deepstrf datasets`). Hosts that need an "
        "account read CRCNS_USERNAME and CRCNS_PASSWORD from the environment.",
    )
    p.add_argument("name", help="dataset name")
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="destination folder (default: <DEEPSTRF_DATA_DIR or the platform cache>/<name>)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--part",
        action="append",
        default=None,
        metavar="PART",
        help="download only this part (an area, an animal; repeat for several; see `deepstrf datasets`)",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be fetched and its size, fetch nothing")
    p.set_defaults(handler=_cmd_download)

    p = commands.add_parser(
        "info",
        help="describe a checkpoint or run folder",
        description="Print what a checkpoint holds (class, arguments, dtype, metadata) without building the model.",
    )
    p.add_argument("checkpoint", help="run folder, checkpoint folder or Hugging Face Hub id")
    p.set_defaults(handler=_cmd_info)

    p = commands.add_parser(
        "convert",
        help="convert a deepSTRF 0.1.0 checkpoint",
        description="Write a checkpoint saved by deepSTRF 0.1.0 (folder or Hugging Face Hub id) to DST in this "
        "library's format. A 0.1.0 model built with a prefilter or waveform front-end module does not record "
        "it: convert those in Python with deepSTRF.utils.hub.convert_checkpoint(..., extra_kwargs=...).",
    )
    p.add_argument("src", help="deepSTRF 0.1.0 checkpoint folder or Hugging Face Hub id")
    p.add_argument("dst", type=Path, help="destination folder")
    p.set_defaults(handler=_cmd_convert)


def _add_dstrf_parser(commands: Any) -> None:
    p = commands.add_parser(
        "dstrf",
        help="dynamic STRFs and nonlinearity indices of a fitted model for one stimulus",
        description="Compute the dynamic STRFs (the model's locally linear receptive field at every time "
        "bin) of a fitted model for one stimulus of its dataset, and the gain change, temporal hold and "
        "shape change indices of each neuron. Writes dstrfs.safetensors, indices.json and, with the plot "
        "extra, dstrf_strip.png and indices.png.",
    )
    p.add_argument("checkpoint", help="run folder, checkpoint folder or Hugging Face Hub id")
    _add_data_options(p, default_dataset=None)
    p.add_argument(
        "--stimulus",
        default=None,
        metavar="S",
        help="stimulus index or name (default: the first test stimulus of the run or dataset)",
    )
    p.add_argument("--window", type=int, default=None, metavar="L", help="lags per dSTRF (default: the model's T)")
    p.add_argument("--neurons", type=int, nargs="+", default=None, metavar="N", help="neuron indices (default: all)")
    p.add_argument("--start", type=int, default=0, metavar="T", help="first time bin (default: %(default)s)")
    p.add_argument("--stop", type=int, default=None, metavar="T", help="one past the last time bin (default: the end)")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=32,
        metavar="C",
        help="(neuron, time) pairs per batched pass; memory grows with it (default: %(default)s)",
    )
    p.add_argument("--device", type=_device, default=None, help="device (default: cpu)")
    p.add_argument("--out", type=Path, default=Path("dstrfs"), metavar="DIR", help="output folder (default: dstrfs)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    p.set_defaults(handler=_cmd_dstrf)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``deepstrf`` command.

    Example:
        >>> build_parser().parse_args(["fit", "--epochs", "3"]).max_epochs
        3
    """
    parser = _Parser(prog="deepstrf", description="Fit and evaluate encoding models of auditory neurons.")
    parser.add_argument("--version", action="version", version=f"deepstrf {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (also DEEPSTRF_DEBUG=1)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_fit_parser(commands)
    _add_other_parsers(commands)
    _add_dstrf_parser(commands)
    return parser


# ---------------------------------------------------------------------------- output helpers
def _table(rows: Sequence[Sequence[object]]) -> str:
    cells = [[f"{v:.3f}" if isinstance(v, float) else ("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(max(len(r) for r in cells))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


# ---------------------------------------------------------------------------- commands
def run_config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~deepSTRF.training.run_config.RunConfig` described by parsed ``deepstrf fit`` options.

    Example:
        >>> config = run_config_from_args(build_parser().parse_args(["fit", "--lr", "0.1", "--seeds", "1", "2"]))
        >>> config.fit.lr, config.seeds
        (0.1, [1, 2])
    """
    from deepSTRF.training.config import FitConfig
    from deepSTRF.training.run_config import RunConfig

    fields = [option[1] for option in _TRAINING_OPTIONS] + [flag[1] for flag in _TRAINING_FLAGS]
    fit = FitConfig(**{field: getattr(args, field) for field in fields})
    run_fields = [option[1] for option in (*_SPLIT_OPTIONS, *_MODEL_OPTIONS)]
    return RunConfig(
        dataset=args.dataset,
        dataset_kwargs=dict(args.dataset_kwargs),
        model=args.model or ("linear" if args.method == "ridge" else RunConfig().model),
        model_kwargs=dict(args.model_kwargs),
        fit=fit,
        seeds=list(args.seeds),
        device=args.device,
        logger=args.logger,
        **{field: getattr(args, field) for field in run_fields},
    )


def _cmd_fit(args: argparse.Namespace) -> int:
    from deepSTRF.training.experiment import run_experiment

    config = run_config_from_args(args)
    model = config.model
    out = args.out or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{model}-{args.dataset}"
    result = run_experiment(
        config, out, resume=args.resume, progress=not args.no_progress, start_if_missing=args.start_if_missing
    )
    if not result.is_main:
        return 0
    counts = ", ".join(f"{n} {part}" for part, n in result.n_stimuli.items())
    print(f"{type(result.model).__name__} on {config.dataset} ({counts} stimuli; seeds {config.seeds})")
    summary = result.run.summary()
    rows: list[list[object]] = [["test metric", "mean", "median"]]
    rows += [[name, s["mean"], s["median"]] for name, s in summary.items()]
    if result.ceiling is not None:
        for name, values in result.ceiling.items():
            rows.append([f"{name} of the true rate (ceiling)", float(values.nanmean()), float(values.nanmedian())])
        achieved = summary.get("ccnorm", {}).get("mean")
        if "ccnorm" in result.ceiling and achieved is not None:
            rows.append(["ccnorm / ceiling", achieved / float(result.ceiling["ccnorm"].nanmean())])
    if result.strf_correlation is not None:
        corr = result.strf_correlation
        rows.append(["STRF correlation, learned vs true", float(corr.nanmean()), float(corr.nanmedian())])
    print(_table(rows))
    print(f"run folder: {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from deepSTRF.training.evaluation import evaluate_checkpoint
    from deepSTRF.training.results import listed

    result = evaluate_checkpoint(
        args.checkpoint,
        dataset=args.dataset,
        dataset_kwargs=dict(args.dataset_kwargs),
        part=args.part,
        metrics=args.metrics,
        batch_size=args.batch_size,
        device=args.device,
    )
    model, stimuli = result.model, result.stimuli
    print(f"{type(model).__name__} on {result.dataset}: {len(stimuli)} stimuli, {model.O} neurons")
    rows: list[list[object]] = [["metric", "mean", "median"]]
    print(_table(rows + [[k, float(v.nanmean()), float(v.nanmedian())] for k, v in result.scores.items()]))
    if args.json is not None:
        payload = {
            "checkpoint": result.checkpoint,
            "dataset": result.dataset,
            "dataset_kwargs": result.dataset_kwargs,
            "stimuli": stimuli,
            "per_neuron": {k: listed(v) for k, v in result.scores.items()},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, payload)
        print(f"metrics written to {args.json}")
    return 0


def _size_text(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _cmd_datasets(args: argparse.Namespace) -> int:
    from deepSTRF.datasets.catalog import get_loader, list_datasets

    if args.verify is not None:
        loader = get_loader(args.verify)
        verify = getattr(loader, "verify", None)
        if verify is None:
            raise _UsageError(f"{args.verify} has no verify(); nothing to check")
        report = verify(args.root)
        print(report)
        return 0 if report.ok else 1
    print("simulated: embedded, generated on the fly (no download)")
    print("  neurons with known STRFs, Poisson trials; the default of `deepstrf fit`")
    for info in list_datasets():
        account = "; free CRCNS account needed" if info.needs_account else "; open access"
        print(f"{info.name}: {info.size}{account}")
        print(f"  {info.description}")
        print(f"  {info.url} ({info.licence})")
        if info.parts:
            print(f"  parts: {', '.join(info.part_names)}")
        for citation in info.citations:
            print(f"  cite: {citation}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from deepSTRF.datasets import catalog

    if args.name.lower() == "simulated":
        raise _UsageError("the simulated dataset is generated on the fly; there is nothing to download")
    if args.dry_run:
        entry = catalog.get_dataset_info(args.name)
        folder = catalog.dataset_folder(args.name, args.root)
        plan = catalog.plan_download(args.name, args.root, parts=args.part)
        print(f"{entry.name} ({entry.access} access) into {folder}: {len(plan)} file(s) to fetch")
        for f in plan:
            size = f.size if f.size is not None else f.approx_size
            approx = "" if f.size is not None else "about "
            part = f" [{f.part}]" if f.part else ""
            print(f"  {f.filename}{part}: {approx}{_size_text(size)} from {f.url}")
        total = sum((f.size if f.size is not None else f.approx_size) or 0 for f in plan)
        print(f"total: about {_size_text(total)}")
        return 0
    if args.part:
        folder = catalog.download_dataset(args.name, args.root, parts=args.part, progress=not args.no_progress)
    else:
        folder = catalog.download_dataset(args.name, args.root, progress=not args.no_progress)
    print(f"{args.name} is in {folder}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from deepSTRF.training.evaluation import resolve_run
    from deepSTRF.training.run_config import read_run
    from deepSTRF.utils.hub import METADATA_NAME, read_config

    folder = Path(args.checkpoint)
    if (folder / "config.json").is_file() and not (folder / "model").is_dir():
        try:
            record = read_run(folder)["config"]
        except ValueError:
            record = None
        if record is not None:
            print(
                f"cross-validation run folder {folder}: {record['model']} on {record['dataset']}, "
                "no single model checkpoint (see seeds/seed_<s>/fold_<k>/model)"
            )
            return 0
    checkpoint, run = resolve_run(args.checkpoint)
    if run:
        recorded = run["config"]
        print(f"run folder {folder}: {recorded['model']} fitted by {recorded['method']} on {recorded['dataset']}")
        summary = read_json(folder / "metrics.json").get("summary", {})
        rows: list[list[object]] = [["test metric", "mean", "median"]]
        print(_table(rows + [[k, v["mean"], v["median"]] for k, v in summary.items()]))
    config = read_config(checkpoint)
    print(f"checkpoint: {checkpoint}")
    print(f"model class: {config['model_class']}")
    saved_by = config.get("converted_from", f"deepSTRF {config['library_version']}")
    converted = " (converted on load)" if "converted_from" in config else ""
    print(f"dtype: {config['dtype']}; saved by {saved_by}{converted}")
    print(f"arguments: {json.dumps(config['init_kwargs'], sort_keys=True)}")
    if config.get("data"):
        print("data: " + ", ".join(f"{key}={value:g}" for key, value in config["data"].items()))
    metadata = Path(checkpoint) / METADATA_NAME
    if metadata.is_file():
        print(f"metadata: {json.dumps(read_json(metadata), sort_keys=True)}")
    return 0


def _cmd_dstrf(args: argparse.Namespace) -> int:
    from deepSTRF.training.interpret_run import run_dstrfs, write_dstrfs

    found = run_dstrfs(
        args.checkpoint,
        dataset=args.dataset,
        dataset_kwargs=dict(args.dataset_kwargs),
        stimulus=args.stimulus,
        window=args.window,
        neurons=args.neurons,
        start=args.start,
        stop=args.stop,
        chunk_size=args.chunk_size,
        device=args.device,
    )
    shape = tuple(found.result.dstrfs.shape)
    print(f"dSTRFs of {found.dataset} stimulus {found.stimulus} ({found.stimulus_name}): {shape} (N, T, F, L)")
    print("index          median")
    for name, values in found.indices.items():
        print(f"{name:<14} {float(values.nanmedian()):.3f}")
    for path in write_dstrfs(found, args.out, plots=not args.no_plots):
        print(f"wrote {path}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from deepSTRF.utils.hub import convert_checkpoint, read_config

    folder = convert_checkpoint(args.src, args.dst)
    config = read_config(folder)
    print(f"{config['model_class']} converted from deepSTRF 0.1.0 ({args.src}) to {folder}")
    return 0


def _one_line(err: BaseException) -> str:
    """The error's message on one line, credentials in URLs masked."""
    from deepSTRF.datasets.download import redact

    return redact(" ".join(str(err).split()) or type(err).__name__)


def _os_error_line(err: OSError) -> str:
    """An ``OSError`` as one line naming the file and what to do."""
    target = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
    reason = err.strerror or _one_line(err)
    if isinstance(err, PermissionError):
        where = target or "a file"
        return f"cannot access {where}: {reason}; choose a folder you can write (--out, --root) or fix its permissions"
    if err.strerror is None or not target:
        return _one_line(err)
    if isinstance(err, (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)):
        return f"{target}: {reason}; check the path"
    return f"{target}: {reason} (a problem of the file system or the machine; free space or check the device)"


def _passive_thread_wait() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless ``OMP_WAIT_POLICY`` is already set.

    PyTorch's CPU operators run on OpenMP threads, which by default spin for a while after
    each parallel region. When the machine is busy with other work (more runnable
    processes than cores), a spinning thread takes the core from the one thread that has
    work to do, and the small tensors of a typical fit make that wait dominate: the default
    ``deepstrf fit`` took 17 s instead of 5 s on a 2-core machine with a load of 5 (see
    ``benchmarks/README.md``). The setting is read when OpenMP starts, so it only has an
    effect when this runs before torch is imported, as in the ``deepstrf`` command.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepstrf`` command; returns the exit status.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        0 on success; 2 for a user's mistake or a problem of the machine (bad option or
        input, missing, unwritable or corrupt file, failed download), with one line on
        stderr; 1 when a fit fails or for an unexpected error; 130 when interrupted.

    Example:
        >>> main(["fit", "--epochs", "0"])
        2
    """
    _passive_thread_wait()
    from deepSTRF.datasets.download import DownloadError
    from deepSTRF.training.fitter import NonFiniteLossError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("DEEPSTRF_DEBUG", "").strip() not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a parse error already printed
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    prog = f"deepstrf {args.command}"
    try:
        if args.command in ("fit", "evaluate"):
            from deepSTRF.utils.performance import tune_allocator

            tune_allocator()  # the command owns its process: let malloc reuse large blocks
        return int(args.handler(args))
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        hint = " (rerun with --debug for the traceback)"
        if isinstance(err, NonFiniteLossError):
            print(f"{prog}: fit failed: {_one_line(err)}", file=sys.stderr)
            return 1
        if type(err).__name__ == "OutOfMemoryError":  # torch's, raised by CUDA and MPS
            line = f"out of device memory ({_one_line(err)[:200]}); lower --batch-size or use --device cpu"
        elif isinstance(err, OSError):
            line = _os_error_line(err)
        elif isinstance(err, DownloadError):
            line = _one_line(err)
        elif isinstance(err, (_UsageError, ValueError, TypeError, KeyError, ImportError)):
            line = _one_line(err)
        else:
            print(f"{prog}: unexpected error: {type(err).__name__}: {_one_line(err)}{hint}", file=sys.stderr)
            return 1
        print(f"{prog}: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
