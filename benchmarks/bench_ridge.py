"""Closed-form ridge STRF against Adam on the same Linear model, on the simulated dataset.

All fits give a :class:`~deepSTRF.models.audio.strf_models.Linear` model with the
true STRF length, fitted to the training stimuli of ``SimulatedDataset`` (default
settings unless ``--neurons`` / ``--stimuli`` say otherwise):

- ridge: :func:`deepSTRF.training.fit_ridge` on the training stimuli (penalty per neuron
  from 13 relative penalties by 5-fold cross-validation over stimuli), in float64 (the
  default) and in float32, loaded into a ``Linear`` model with
  :func:`deepSTRF.training.ridge_to_linear` (included in the time);
- Adam, library defaults: :class:`deepSTRF.training.Fitter` with ``FitConfig()`` (learning
  rate 1e-3, no weight decay, batches of 8, early stopping on the validation correlation
  with patience 10, at most 100 epochs), 20 % of the training stimuli for validation;
- Adam, ``deepstrf fit`` defaults: the same with learning rate 1e-2 and weight decay 1e-2,
  which converges in fewer epochs.

For each we report the wall-clock fitting time, the correlation of the learned STRFs
with the true ones (mean over neurons; eval-mode BatchNorm gain folded in), and the
test CCnorm relative to the CCnorm of the true rate on the same test stimuli. The
claim checked: ridge (float64) recovers the STRFs at least as well as Adam and is at
least 10x faster than Adam with the library defaults; the speed-up against the faster
``deepstrf fit`` settings is printed too.

Usage::

    python benchmarks/bench_ridge.py
    python benchmarks/bench_ridge.py --threads 2 --neurons 64 --device cpu --json ridge.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import Subset

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training import FitConfig, Fitter, fit_ridge, ridge_to_linear
from deepSTRF.training.crossval import validation_split
from deepSTRF.training.ground_truth import effective_strfs, true_rate_scores
from deepSTRF.utils.plotting import strf_correlation


def _scores(model: torch.nn.Module, data: SimulatedDataset, test: list[int], device: str) -> tuple[float, float]:
    fitter = Fitter(model, FitConfig(), device=device, progress=False)
    ccnorm = float(fitter.evaluate(Subset(data, test), metrics=("ccnorm",))["ccnorm"].nanmean())
    strf = float(strf_correlation(effective_strfs(model), data.true_strfs).nanmean())
    return strf, ccnorm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: %(default)s)")
    parser.add_argument("--neurons", type=int, default=16, help="simulated neurons (default: %(default)s)")
    parser.add_argument("--stimuli", type=int, default=48, help="simulated stimuli (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="device of both fits (default: %(default)s)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = SimulatedDataset(n_neurons=args.neurons, n_stimuli=args.stimuli, seed=0)
    train_all, test = data.splits["train"], data.splits["test"]
    n_lags = int(data.true_strfs.shape[-1])
    ceiling = float(true_rate_scores(data, test, ["ccnorm"])["ccnorm"].nanmean())  # type: ignore[index]

    def timed(fn):  # (result, seconds)
        start = time.perf_counter()
        out = fn()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return out, time.perf_counter() - start

    def ridge(dtype: torch.dtype) -> Linear:
        result = fit_ridge(Subset(data, train_all), n_lags=n_lags, n_folds=5, device=args.device, dtype=dtype)
        return ridge_to_linear(result, dtype=torch.float32)

    train, val = validation_split(len(data), train_all, 0.2, seed=0)

    def adam(config: FitConfig) -> tuple[Linear, int]:
        torch.manual_seed(0)
        model = Linear(n_frequency_bands=data.F, temporal_window_size=n_lags, out_neurons=data.n_neurons)
        fit = Fitter(model, config, device=args.device, progress=False).fit(Subset(data, train), Subset(data, val))
        return model, fit.epochs_run

    ridge(torch.float64)  # warm-up: first calls of the linear-algebra kernels
    runs = {
        "ridge float64": (*timed(lambda: ridge(torch.float64)), None),
        "ridge float32": (*timed(lambda: ridge(torch.float32)), None),
    }
    for name, config in (
        ("adam library defaults", FitConfig()),
        ("adam deepstrf fit defaults", FitConfig(lr=1e-2, weight_decay=1e-2)),
    ):
        (model, epochs), seconds = timed(lambda config=config: adam(config))
        runs[name] = (model, seconds, epochs)

    rows = {}
    for name, (model, seconds, epochs) in runs.items():
        strf, ccnorm = _scores(model, data, test, args.device)
        rows[name] = {
            "seconds": seconds,
            "epochs": epochs,
            "strf_corr": strf,
            "test_ccnorm": ccnorm,
            "ccnorm_over_ceiling": ccnorm / ceiling,
        }

    print(
        f"simulated: {data.n_neurons} neurons, {len(train_all)} training / {len(test)} test stimuli, "
        f"F = {data.F}, L = {n_lags}; {args.threads} thread(s) on {args.device}; true-rate CCnorm {ceiling:.3f}"
    )
    print(f"{'method':28} {'time (s)':>9} {'epochs':>7} {'STRF corr':>10} {'test CCnorm':>12} {'/ ceiling':>10}")
    for name, row in rows.items():
        epochs = "-" if row["epochs"] is None else str(row["epochs"])
        print(
            f"{name:28} {row['seconds']:9.2f} {epochs:>7} {row['strf_corr']:10.3f} {row['test_ccnorm']:12.3f} "
            f"{row['ccnorm_over_ceiling']:10.3f}"
        )
    ref = rows["ridge float64"]
    for name in ("adam library defaults", "adam deepstrf fit defaults"):
        print(
            f"ridge float64 vs {name}: {rows[name]['seconds'] / ref['seconds']:.1f}x faster, "
            f"STRF correlation {ref['strf_corr']:.3f} vs {rows[name]['strf_corr']:.3f}"
        )
    default = rows["adam library defaults"]
    speedup = default["seconds"] / ref["seconds"]
    holds = speedup >= 10 and ref["strf_corr"] >= default["strf_corr"]
    print(
        f"claim (ridge >= 10x faster than default Adam and recovers the STRFs at least as well): "
        f"{'holds' if holds else 'FAILS'}"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "speedup_vs_default_adam": speedup, "ceiling": ceiling}, handle, indent=2)


if __name__ == "__main__":
    main()
