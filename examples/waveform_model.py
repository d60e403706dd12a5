"""A waveform model: an LN model trained end to end on audio through a learnable SincNet front-end.

The simulated dataset synthesises audio (16 kHz) from its level spectrograms, so the
model sees raw waveforms ``(B, 1, T_audio)`` with ``T_audio = T * hop`` (hop = 80 samples
per 5 ms bin). The SincNet front-end learns the cut-off frequencies of its band-pass
filters together with the STRFs.

Writes ``filterbank_before.png`` and ``filterbank_after.png`` (frequency responses of the
front-end), ``responses.png`` (waveform, spike raster, PSTH and prediction of one
neuron) and ``scores.json``.

    python examples/waveform_model.py [--quick] [--out DIR]
"""

from __future__ import annotations

import torch
from _common import median, parse_args, save_figure, write_json

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio import LinearNonlinear
from deepSTRF.models.wav2spec import SincNet
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.utils.plotting import plot_filterbank, plot_responses


def main() -> None:
    args = parse_args("waveform_model", __doc__.splitlines()[0])
    audio_fs, n_bands = 16000, 16
    data = SimulatedDataset(
        n_neurons=3 if args.quick else 8,
        n_stimuli=6 if args.quick else 36,
        duration_ms=500.0 if args.quick else 1500.0,
        n_frequency_bands=n_bands,
        audio_fs=audio_fs,
        seed=2,
    )
    print(data)
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    n_val = max(1, len(train_ids) // 6)
    train, val = data.subset(stimuli=train_ids[:-n_val]), data.subset(stimuli=train_ids[-n_val:])
    test = data.subset(stimuli=test_ids)

    torch.manual_seed(0)
    front_end = SincNet(
        audio_fs, n_filters=n_bands, kernel_size=161, dt_ms=data.dt_ms, init="erb", envelope=True, activation="symlog"
    )
    model = LinearNonlinear(n_frequency_bands=n_bands, temporal_window_size=15, out_neurons=data.n_neurons,
                            wav2spec=front_end)  # fmt: skip
    fig = plot_filterbank(front_end, floor_db=-40.0)
    fig.suptitle("SincNet front-end before training (ERB-spaced initialisation)", fontsize=10)
    save_figure(fig, args.out / "filterbank_before.png")

    config = FitConfig(loss="poisson", lr=1e-2, max_epochs=2 if args.quick else 40, patience=6, batch_size=4)
    fitter = Fitter(model, config, progress=False)
    fit = fitter.fit(train, val)
    scores = fitter.evaluate(test)
    print(f"median ccnorm {median(scores['ccnorm']):.3f}, median cc {median(scores['cc']):.3f}")

    fig = plot_filterbank(front_end, floor_db=-40.0)
    fig.suptitle(f"SincNet front-end after training ({fit.epochs_run} epochs)", fontsize=10)
    save_figure(fig, args.out / "filterbank_after.png")

    item = test[0]
    with torch.no_grad():
        prediction = model.eval()(item["stims"][None])
    fig = plot_responses(
        item["stims"], item["responses"], prediction, dt_ms=data.dt_ms, audio_fs=audio_fs, neuron=0,
        title="waveform LN model, neuron 0, first test stimulus",
    )  # fmt: skip
    save_figure(fig, args.out / "responses.png")
    low, high = front_end.cutoffs()
    write_json(args.out / "scores.json", {**scores, "cutoffs_low_hz": low.detach(), "cutoffs_high_hz": high.detach()})


if __name__ == "__main__":
    main()
