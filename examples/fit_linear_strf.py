"""Fit a linear STRF two ways, closed-form ridge regression and gradient descent, and compare with the truth.

Simulated neurons have known STRFs. The ridge fit picks each neuron's penalty by
cross-validation over the training stimuli; the gradient-descent fit trains a ``Linear``
model with early stopping. Both are scored on held-out stimuli with noise-corrected
metrics, and their STRFs are compared with the true ones.

Writes ``strfs.png`` (true, ridge and gradient-descent STRFs), ``scores.png`` (per-neuron
scores of both fits) and ``scores.json``.

    python examples/fit_linear_strf.py [--quick] [--out DIR]
"""

from __future__ import annotations

import torch
from _common import median, parse_args, save_figure, write_json

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio import Linear
from deepSTRF.training import FitConfig, Fitter, fit_ridge
from deepSTRF.utils.plotting import plot_metric_distributions, plot_strf_grid, strf_correlation


def main() -> None:
    args = parse_args("fit_linear_strf", __doc__.splitlines()[0])
    n_neurons = 4 if args.quick else 12
    data = SimulatedDataset(
        n_neurons=n_neurons, n_stimuli=12 if args.quick else 48, duration_ms=1000.0 if args.quick else 2000.0, seed=0
    )
    n_lags = data.true_strfs.shape[-1]
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    n_val = max(2, len(train_ids) // 6)
    train, val = data.subset(stimuli=train_ids[:-n_val]), data.subset(stimuli=train_ids[-n_val:])
    test = data.subset(stimuli=test_ids)

    # 1. closed-form ridge regression, penalty per neuron by cross-validation over stimuli
    ridge = fit_ridge(data.subset(stimuli=train_ids), n_lags=n_lags, n_folds=3 if args.quick else 5)
    ridge_model = ridge.to_linear(dtype=torch.float32)

    # 2. gradient descent on a Linear model, early stopping on the validation correlation
    torch.manual_seed(0)
    gd_model = Linear(n_frequency_bands=data.F, temporal_window_size=n_lags, out_neurons=n_neurons)
    config = FitConfig(loss="mse", lr=1e-2, max_epochs=4 if args.quick else 60, patience=8, batch_size=4)
    fitter = Fitter(gd_model, config, progress=False)
    fitter.fit(train, val)

    scores = {}
    for name, model, strfs in (("ridge", ridge_model, ridge.weight), ("gd", gd_model, gd_model.STRF_weight())):
        test_scores = Fitter(model, config, progress=False).evaluate(test)
        scores[name] = {**test_scores, "strf_r": strf_correlation(strfs, data.true_strfs)}
        print(
            f"{name:>5}: median ccnorm {median(test_scores['ccnorm']):.3f}, "
            f"median r(STRF, true) {median(scores[name]['strf_r']):.3f}"
        )

    # one row per neuron, one column per STRF (true, ridge, gradient descent): the grid's
    # "neurons" are the three STRF sources and its "channels" the neurons, stacked in rows
    shown = min(n_neurons, 6)
    stacked = torch.stack(
        [data.true_strfs[:shown].float(), ridge.weight[:shown].float(), gd_model.STRF_weight()[:shown].float()]
    )
    fig = plot_strf_grid(
        stacked,
        clim="per_panel",
        dt_ms=data.dt_ms,
        freqs_hz=data.frequencies_hz,
        titles=["true", "ridge", "gradient descent"],
        channel_names=[f"(neuron {i})" for i in range(shown)],
        ncols=3,
    )
    fig.suptitle("Simulated neurons: true STRFs and the two fits (each panel in its own colour scale)")
    save_figure(fig, args.out / "strfs.png")

    fig = plot_metric_distributions(
        {
            "ccnorm (ridge)": scores["ridge"]["ccnorm"],
            "ccnorm (gradient descent)": scores["gd"]["ccnorm"],
            "STRF vs true, r (ridge)": scores["ridge"]["strf_r"],
            "STRF vs true, r (gradient descent)": scores["gd"]["strf_r"],
        },
        bins=10,
        ncols=2,
    )
    fig.suptitle("Held-out scores and STRF recovery per neuron")
    save_figure(fig, args.out / "scores.png")
    write_json(
        args.out / "scores.json",
        {"ridge_alpha": ridge.alpha, **{f"{fit}_{k}": v for fit, s in scores.items() for k, v in s.items()}},
    )


if __name__ == "__main__":
    main()
