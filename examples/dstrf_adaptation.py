"""Dynamic STRFs of a deep model fitted to adapting neurons, and what a static STRF misses.

The simulated neurons adapt: their rate is divided by a running average of their own past
rate. A linear model has one STRF for the whole stimulus, so its dynamic STRFs (the
model's locally linear receptive field at every time bin) never change and its
nonlinearity indices sit at their null values (gain change 0, temporal hold 0, shape
change 1). The true neurons' dSTRFs, computed the same way from
their own equations, change size (gain change) and shape as they adapt. A StateNet fitted
to the same neurons is a nonlinear model whose dSTRFs change too: compare its indices with
the ground truth (run the full version; the quick one trains for two epochs only).

Writes ``dstrf_strip.png`` (dSTRFs of one neuron along a test stimulus), ``indices.png``
(gain change, temporal hold and shape change per neuron for each model) and ``indices.json``.

    python examples/dstrf_adaptation.py [--quick] [--out DIR]
"""

from __future__ import annotations

import torch
from _common import parse_args, save_figure, write_json
from torch import nn

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.datasets.audio.lnp import adapt, lnp_rate
from deepSTRF.models.audio import AudioEncodingModel, Linear, StateNet
from deepSTRF.models.interpret import dynamic_strfs, nonlinearity_indices
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.utils.plotting import plot_dstrf_strip, plot_nonlinearity_indices

TAU_MS, STRENGTH = 50.0, 2.0


class TrueNeurons(AudioEncodingModel):
    """The simulated neurons' own equations (LN, then divisive adaptation) as a differentiable model."""

    def __init__(self, data: SimulatedDataset) -> None:
        super().__init__(data.F, data.true_strfs.shape[-1], data.n_neurons)
        self.readout = nn.Identity()
        self.register_buffer("strfs", data.true_strfs.clone())
        self.register_buffer("bias", data.true_bias.clone())
        self.nonlinearity, self.tau_bins = data.nonlinearity, TAU_MS / data.dt_ms
        # the adaptation is normalised by the mean rate before adaptation (here over the dataset's stimuli)
        stims = [data[s]["stims"].double()[0] for s in range(len(data))]
        rates = torch.cat(lnp_rate(stims, self.strfs, self.bias, self.nonlinearity), 1)
        self.register_buffer("mean_rate", rates.mean(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rates = torch.stack(lnp_rate(list(x[:, 0]), self.strfs, self.bias, self.nonlinearity))  # (B, N, T)
        mean = self.mean_rate.repeat(x.shape[0])
        adapted = adapt(rates.flatten(0, 1), self.tau_bins, STRENGTH, mean).view(rates.shape)
        return adapted[:, :, None]


def main() -> None:
    args = parse_args("dstrf_adaptation", __doc__.splitlines()[0])
    data = SimulatedDataset(
        n_neurons=3 if args.quick else 8,
        n_stimuli=8 if args.quick else 40,
        duration_ms=400.0 if args.quick else 2000.0,
        adaptation_tau_ms=TAU_MS,
        adaptation_strength=STRENGTH,
        seed=1,
    )
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    train, val = data.subset(stimuli=train_ids[:-2]), data.subset(stimuli=train_ids[-2:])
    config = FitConfig(loss="mse", lr=5e-3, max_epochs=2 if args.quick else 60, patience=6, batch_size=4)
    models: dict[str, AudioEncodingModel] = {
        "Linear (static STRF)": Linear(data.F, 15, out_neurons=data.n_neurons),
        "StateNet": StateNet(data.F, out_neurons=data.n_neurons, kernel_size=6, stride=3, hidden_channels=4),
    }
    for label, model in models.items():
        torch.manual_seed(0)
        fitter = Fitter(model, config, progress=False)
        fitter.fit(train, val)
        scores = fitter.evaluate(data.subset(stimuli=test_ids))
        print(f"{label}: median test ccnorm {float(scores['ccnorm'].nanmedian()):.3f}")
    models["ground truth"] = TrueNeurons(data).double()

    stimulus = data[test_ids[0]]["stims"]
    frames = stimulus.shape[-1] if not args.quick else min(stimulus.shape[-1], 80)
    window = 30  # 150 ms: the STRF (75 ms) and the recent past the adaptation acts on
    results, indices = {}, {}
    for label, model in models.items():
        found = dynamic_strfs(model, stimulus.to(model._reference().dtype), window=window, times=range(frames))
        results[label] = found
        indices[label] = nonlinearity_indices(found)
        medians = ", ".join(f"{k} {float(v.nanmedian()):.3f}" for k, v in indices[label].items())
        print(f"{label:>22}: {medians}")

    freqs = data.frequencies_hz
    fig = plot_dstrf_strip(results["StateNet"], 0, n_panels=6 if args.quick else 8, dt_ms=data.dt_ms, freqs_hz=freqs)
    save_figure(fig, args.out / "dstrf_strip.png")
    fig = plot_nonlinearity_indices(indices)
    fig.suptitle(f"{data.n_neurons} simulated adapting neurons, one test stimulus", fontsize=10)
    save_figure(fig, args.out / "indices.png")
    write_json(
        args.out / "indices.json",
        {"window": window, "frames": frames, "indices": {label: dict(v) for label, v in indices.items()}},
    )


if __name__ == "__main__":
    main()
