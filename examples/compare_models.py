"""Compare the model zoo on the same simulated neurons, with noise-corrected scores.

Every model is trained with the same loss, optimiser and early stopping on the same
stimuli, then scored on held-out stimuli with many repeats. The simulated neurons adapt
(their rate is divided by a running average of their own past rate), a dependence on a
longer past than the 75 ms STRF window. Which model wins depends on the data and the
training budget: run the full version and compare.

Writes ``scores.png`` (median scores per model), ``scatter.png`` (predicted against
measured responses of the best model) and ``scores.json``.

    python examples/compare_models.py [--quick] [--out DIR]
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _common import median, new_figure, parse_args, save_figure, write_json

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.registry import build_model
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.utils.plotting import plot_prediction_scatter


def zoo(quick: bool) -> dict[str, tuple[str, dict]]:
    """Models to compare: label -> (registry name, constructor arguments besides F and N)."""
    models = {
        "Linear": ("linear", {"temporal_window_size": 15}),
        "DNet": ("dnet", {"temporal_window_size": 15, "n_hidden": 8, "init_tau": 4.0}),
        "StateNet GRU": ("statenet", {"rnn_type": "GRU", "kernel_size": 6, "stride": 3, "hidden_channels": 4}),
    }
    if not quick:
        models["LN"] = ("ln", {"temporal_window_size": 15})
        models["NRF"] = ("nrf", {"temporal_window_size": 15, "n_hidden": 8})
        models["ConvNet2D"] = ("convnet2d", {"kernel_size": (3, 6), "c_hidden": 8, "n_hidden": 16})
        models["StateNet S4"] = ("statenet", {"rnn_type": "S4", "kernel_size": 6, "stride": 3, "hidden_channels": 4})
        models["Transformer"] = (
            "transformer",
            {"embedding_dim": 32, "n_heads": 4, "n_layers": 1, "context_window": 40},
        )
    return models


def main() -> None:
    args = parse_args("compare_models", __doc__.splitlines()[0])
    data = SimulatedDataset(
        n_neurons=4 if args.quick else 12,
        n_stimuli=8 if args.quick else 48,
        duration_ms=500.0 if args.quick else 2000.0,
        adaptation_tau_ms=150.0,
        adaptation_strength=1.0,
        seed=3,
    )
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    n_val = max(2, len(train_ids) // 6)
    train, val = data.subset(stimuli=train_ids[:-n_val]), data.subset(stimuli=train_ids[-n_val:])
    test = data.subset(stimuli=test_ids)
    config = FitConfig(loss="mse", lr=5e-3, max_epochs=2 if args.quick else 60, patience=6, batch_size=4)

    results, best = {}, None
    for label, (name, kwargs) in zoo(args.quick).items():
        torch.manual_seed(0)
        model = build_model(name, n_frequency_bands=data.F, out_neurons=data.n_neurons, **kwargs)
        start = time.perf_counter()
        fitter = Fitter(model, config, progress=False)
        fit = fitter.fit(train, val)
        scores = fitter.evaluate(test)
        results[label] = {
            **scores,
            "parameters": model.count_trainable_params(),
            "epochs": fit.epochs_run,
            "seconds": time.perf_counter() - start,
        }
        print(f"{label:>13}: median ccnorm {median(scores['ccnorm']):.3f}  ({results[label]['seconds']:.1f} s)")
        if best is None or median(scores["ccnorm"]) > median(results[best[0]]["ccnorm"]):
            best = (label, fitter)

    labels = list(results)
    fig = new_figure(9.0, 3.8)
    ax = fig.subplots()
    width, x = 0.38, np.arange(len(labels))
    lowest = 0.0
    for offset, metric in ((-width / 2, "cc"), (width / 2, "ccnorm")):
        values = [median(results[label][metric]) for label in labels]
        lowest = min([lowest, *values])
        ax.bar(x + offset, values, width, label=f"{metric} (median over neurons)")
    ax.set_xticks(x, labels, rotation=20)
    ax.set_ylabel("correlation with held-out PSTH")
    ax.set_ylim(lowest - 0.05, 1.05)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # beside the bars, never over them
    stimuli = "stimulus" if len(test_ids) == 1 else "stimuli"
    ax.set_title(f"Model zoo on {data.n_neurons} simulated adapting neurons ({len(test_ids)} test {stimuli})")
    save_figure(fig, args.out / "scores.png")

    label, fitter = best
    pred, responses, _ = fitter.predict(test)
    fig = plot_prediction_scatter(pred, responses)
    fig.suptitle(f"best model: {label}", fontsize=10)
    save_figure(fig, args.out / "scatter.png")
    write_json(args.out / "scores.json", {"best": label, "models": results})


if __name__ == "__main__":
    main()
