"""Adaptation prefiltering: an LN model with and without a learnable AdapTrans front stage.

The simulated neurons adapt: their rate is divided by a running average of their own
past rate (150 ms time constant). An AdapTrans prefilter splits the spectrogram into ON
(level increase) and OFF (level decrease) channels with learnable, frequency-dependent
adaptation; the LN model then has one STRF per channel. Both models are trained the
same way and scored on the same held-out stimuli, so the scores show what the
prefilter adds on these neurons.

Writes ``on_off_strfs.png`` (the ON and OFF STRFs), ``kernels.png`` (the learned
adaptation kernels) and ``scores.json``.

    python examples/adaptrans_prefilter.py [--quick] [--out DIR]
"""

from __future__ import annotations

import torch
from _common import median, parse_args, save_figure, write_json

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio import LinearNonlinear
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.utils.plotting import plot_adaptation_kernels, plot_strf_grid


def main() -> None:
    args = parse_args("adaptrans_prefilter", __doc__.splitlines()[0])
    data = SimulatedDataset(
        n_neurons=3 if args.quick else 8,
        n_stimuli=8 if args.quick else 48,
        duration_ms=600.0 if args.quick else 2000.0,
        adaptation_tau_ms=150.0,
        adaptation_strength=1.5,
        seed=1,
    )
    freqs = data.frequencies_hz
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    n_val = max(2, len(train_ids) // 6)
    train, val = data.subset(stimuli=train_ids[:-n_val]), data.subset(stimuli=train_ids[-n_val:])
    test = data.subset(stimuli=test_ids)
    config = FitConfig(loss="poisson", lr=1e-2, max_epochs=2 if args.quick else 60, patience=8, batch_size=4)

    models = {}
    for label in ("LN", "LN + AdapTrans"):
        torch.manual_seed(0)
        prefilter = None
        if label != "LN":
            prefilter = make_prefiltering(
                "adaptrans",
                n_frequency_bands=data.F,
                dt=data.dt_ms,
                min_freq=float(freqs[0]),
                max_freq=float(freqs[-1]),
                scale="erb",
                max_kernel_size=40 if args.quick else 512,
            )
        model = LinearNonlinear(data.F, 15, out_neurons=data.n_neurons, prefiltering=prefilter)
        fitter = Fitter(model, config, progress=False)
        fitter.fit(train, val)
        models[label] = (model, fitter.evaluate(test))
        print(f"{label:>15}: median ccnorm {median(models[label][1]['ccnorm']):.3f}")

    model = models["LN + AdapTrans"][0]
    fig = plot_strf_grid(model.readout.conv.STRF_weight(), clim="per_panel", dt_ms=data.dt_ms, freqs_hz=freqs)
    fig.suptitle("LN + AdapTrans: STRFs on the ON and OFF channels")
    save_figure(fig, args.out / "on_off_strfs.png")
    fig = plot_adaptation_kernels(model.prefiltering, dt_ms=data.dt_ms, freqs_hz=freqs)
    fig.suptitle("Learned AdapTrans kernels")
    save_figure(fig, args.out / "kernels.png")
    write_json(
        args.out / "scores.json",
        {
            **{f"{label}: {k}": v for label, (_, scores) in models.items() for k, v in scores.items()},
            "adaptrans_w": model.prefiltering.w.detach(),
            "adaptrans_a": model.prefiltering.a.detach(),
        },
    )


if __name__ == "__main__":
    main()
