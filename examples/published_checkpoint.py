"""Load a checkpoint saved by the published deepSTRF 0.1.0, evaluate it and plot its STRFs.

A notebook in script form (``# %%`` cells): the checkpoint is one of the test fixtures
written with the published wheel (``tools/make_legacy_fixtures.py``), a Linear model with a
separable STRF kernel, 8 bands, 2 neurons, whose weights are random (a test fixture, not
a fitted model: expect scores near or below zero; a lab's own checkpoint goes here). It
loads with no conversion step, reproduces the published library's own output, is converted
once to this library's format with ``deepstrf convert``, scored on a simulated dataset of
the same geometry and its STRFs are
plotted.

Writes ``strfs.png``, ``converted/`` (the checkpoint in this library's format) and
``scores.json``.

    python examples/published_checkpoint.py [--quick] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

# %% Imports
import safetensors.torch
import torch
from _common import median, new_figure, parse_args, save_figure, write_json

from deepSTRF.cli import main as deepstrf
from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models import NeuralModel
from deepSTRF.training import Fitter
from deepSTRF.utils.hub import read_config

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "models" / "legacy_fixtures" / "linear_separable"


def main() -> None:
    args = parse_args("published_checkpoint", __doc__.splitlines()[0])

    # %% The 0.1.0 checkpoint loads as it is: its config and weights are converted on load
    config = read_config(FIXTURE)
    print(
        f"{config['model_class']} ({config['converted_from']}), kernel {config['init_kwargs']['kernel']['__module__']}"
    )
    model = NeuralModel.from_pretrained(FIXTURE)

    # %% It reproduces the published library's output on the input saved with the fixture
    saved = safetensors.torch.load_file(str(FIXTURE / "io.safetensors"))
    with torch.no_grad():
        gap = float((model(saved["input"]) - saved["output"]).abs().max())
    print(f"largest difference from deepSTRF 0.1.0's output: {gap:.2e}")

    # %% Convert it once to this library's format
    converted = args.out / "converted"
    deepstrf(["convert", str(FIXTURE), str(converted)])
    model = NeuralModel.from_pretrained(converted)

    # %% Score it on simulated neurons of the same geometry (8 bands, 2 neurons, 5 ms frames)
    data = SimulatedDataset(
        n_neurons=model.O, n_stimuli=6 if args.quick else 24, n_frequency_bands=model.F, duration_ms=800.0, seed=1
    )
    scores = Fitter(model, progress=False).evaluate(data.subset(stimuli=data.splits["test"]))
    print({name: round(median(values), 3) for name, values in scores.items()})

    # %% Plot its STRFs: the separable kernel's outer products, one per neuron
    strfs = model.readout.STRF_weight()  # (N, C_in, F, T)
    fig = new_figure(2.6 * model.O, 2.4)
    for n, ax in enumerate(fig.subplots(1, model.O, squeeze=False)[0]):
        limit = float(strfs[n, 0].abs().max())
        image = ax.imshow(strfs[n, 0], origin="lower", aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set(title=f"neuron {n}", xlabel="lag (frames)", ylabel="band")
        fig.colorbar(image, ax=ax)
    save_figure(fig, args.out / "strfs.png")

    write_json(
        args.out / "scores.json",
        {
            "fixture": FIXTURE.name,
            "model_class": type(model).__name__,
            "max_abs_difference_from_published": gap,
            "test_scores_median": {name: median(values) for name, values in scores.items()},
        },
    )


if __name__ == "__main__":
    main()
