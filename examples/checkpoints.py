"""Save a fitted model as a checkpoint, reload it without any config, and inspect it.

A checkpoint is a folder with ``config.json`` (the model class and its constructor
arguments, nested modules included) and ``model.safetensors`` (the weights). The model
here has an AdapTrans prefilter passed as a constructor argument, which the checkpoint
records as a nested config, so ``NeuralModel.from_pretrained`` rebuilds everything by
itself.

Writes the checkpoint folder ``ln_adaptrans/`` and ``reloaded.json`` (class, metadata,
recorded arguments, whether the reloaded model's predictions are bit-identical, and the
output of ``deepstrf info``).

    python examples/checkpoints.py [--quick] [--out DIR]
"""

from __future__ import annotations

import contextlib
import io

import torch
from _common import median, parse_args, write_json

from deepSTRF.cli import main as deepstrf
from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models import NeuralModel
from deepSTRF.models.audio import LinearNonlinear
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.utils.hub import read_config


def main() -> None:
    args = parse_args("checkpoints", __doc__.splitlines()[0])
    data = SimulatedDataset(n_neurons=3, n_stimuli=8 if args.quick else 24, duration_ms=600.0, seed=5)
    train_ids, test_ids = data.splits["train"], data.splits["test"]
    torch.manual_seed(0)
    prefilter = make_prefiltering("adaptrans", n_frequency_bands=data.F, dt=data.dt_ms, max_kernel_size=60)
    model = LinearNonlinear(data.F, 12, out_neurons=data.n_neurons, prefiltering=prefilter)
    fitter = Fitter(model, FitConfig(loss="poisson", lr=1e-2, max_epochs=2 if args.quick else 30), progress=False)
    fitter.fit(data.subset(stimuli=train_ids[:-2]), data.subset(stimuli=train_ids[-2:]))
    scores = fitter.evaluate(data.subset(stimuli=test_ids))

    folder = model.save_pretrained(
        args.out / "ln_adaptrans",
        metadata={"dataset": "simulated", "seed": 5, "test_ccnorm_median": median(scores["ccnorm"])},
    )
    print(f"saved {sorted(p.name for p in folder.iterdir())} to {folder}")

    reloaded, metadata = NeuralModel.from_pretrained(folder, return_metadata=True)
    stimulus = data[test_ids[0]]["stims"][None]
    with torch.no_grad():
        identical = torch.equal(model.eval()(stimulus), reloaded(stimulus))
    print(f"reloaded a {type(reloaded).__name__}; identical predictions: {identical}")

    config = read_config(folder)
    info = io.StringIO()
    with contextlib.redirect_stdout(info):
        deepstrf(["info", str(folder)])
    write_json(
        args.out / "reloaded.json",
        {
            "model_class": type(reloaded).__name__,
            "prefilter_class": type(reloaded.prefiltering).__name__,
            "identical_predictions": identical,
            "metadata": metadata,
            "recorded_arguments": config["init_kwargs"],
            "deepstrf_info": info.getvalue().splitlines(),
        },
    )


if __name__ == "__main__":
    main()
