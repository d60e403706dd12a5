"""Multi-seed k-fold cross-validation over stimuli, with per-neuron results written to disk.

Every stimulus is predicted by a model that never saw it: the stimuli are split into
folds, one model is trained per fold (with part of its training stimuli held out for
early stopping), and each seed is scored once on the pooled held-out predictions of all
folds. Repeating with several seeds shows how much the scores depend on the
initialisation.

Writes ``cv_scores.png`` (per-neuron scores, mean and spread over seeds),
``summary.json`` and, under ``run/``, the per-seed and per-fold checkpoints and metrics
that ``cross_validate`` saves.

    python examples/cross_validation.py [--quick] [--out DIR]
"""

from __future__ import annotations

import numpy as np
from _common import new_figure, parse_args, save_figure, write_json

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio import NetworkReceptiveField
from deepSTRF.training import FitConfig, cross_validate


def main() -> None:
    args = parse_args("cross_validation", __doc__.splitlines()[0])
    data = SimulatedDataset(
        n_neurons=3 if args.quick else 10,
        n_stimuli=6 if args.quick else 36,
        duration_ms=500.0 if args.quick else 1500.0,
        test_repeats=(6, 10),
        train_repeats=(6, 10),
        seed=4,
    )
    seeds = (0, 1) if args.quick else (0, 1, 2, 3)

    def build(seed: int) -> NetworkReceptiveField:
        # called after the global generators are seeded with `seed`
        return NetworkReceptiveField(data.F, temporal_window_size=15, n_hidden=6, out_neurons=data.n_neurons)

    result = cross_validate(
        data,
        build,
        scheme="kfold",
        n_folds=2 if args.quick else 5,
        seeds=seeds,
        config=FitConfig(loss="poisson", lr=1e-2, max_epochs=1 if args.quick else 40, patience=5, batch_size=4),
        out_dir=args.out / "run",
        progress=False,
    )
    print(result.summary())

    fig = new_figure(8.5, 3.6)
    ax = fig.subplots()
    neurons = np.arange(data.n_neurons)
    for k, seed in enumerate(seeds):
        jitter = (k - (len(seeds) - 1) / 2) * 0.08
        ax.plot(neurons + jitter, result.per_seed[seed]["ccnorm"].numpy(), "o", ms=4, alpha=0.6, label=f"seed {seed}")
    ax.errorbar(neurons, result.mean["ccnorm"].numpy(), yerr=result.std["ccnorm"].numpy(), fmt="_", color="k",
                ms=14, capsize=3, label="mean ± s.d. over seeds")  # fmt: skip
    ax.set_xticks(neurons)
    ax.set_xlabel("neuron")
    ax.set_ylabel("cross-validated CCnorm")
    ax.set_title("NRF model, k-fold cross-validation over stimuli", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # beside the points, never over them
    save_figure(fig, args.out / "cv_scores.png")
    write_json(args.out / "summary.json", {"seeds": list(seeds), "summary": result.summary(), "mean": result.mean,
                                           "std": result.std})  # fmt: skip


if __name__ == "__main__":
    main()
