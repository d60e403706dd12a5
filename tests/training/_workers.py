"""Subprocess entry points of the resume and data-parallel tests.

Run as ``python _workers.py resume CKPT_DIR OUT_FILE SLEEP`` or, under torchrun,
``python _workers.py ddp OUT_FILE``. Importing this module does nothing.
"""

import os
import sys
import time

import torch

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.registry import build_model
from deepSTRF.training import FitConfig, Fitter, TrainingLogger


def small_data(duration_ms: float | tuple[float, float] = 400.0) -> SimulatedDataset:
    return SimulatedDataset(
        n_neurons=3,
        n_stimuli=12,
        n_test_stimuli=2,
        n_frequency_bands=8,
        duration_ms=duration_ms,
        temporal_window_size=5,
        seed=0,
    )


class _Pause(TrainingLogger):
    """Sleeps after each epoch so that a test can kill the process mid-fit."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def log_config(self, config):
        pass

    def log_scalars(self, values, step):
        time.sleep(self.seconds)

    def close(self):
        pass


def resume(checkpoint_dir: str, out_file: str, pause: float) -> None:
    data = small_data()
    torch.manual_seed(0)
    model = build_model("ln", n_frequency_bands=8, temporal_window_size=5, out_neurons=3)
    config = FitConfig(max_epochs=6, batch_size=2, lr=1e-2, patience=None, scheduler="cosine")
    fitter = Fitter(model, config, device="cpu", checkpoint_dir=checkpoint_dir, logger=_Pause(pause), progress=False)
    fitter.fit(data.subset(stimuli=list(range(8))), data.subset(stimuli=[8, 9]))
    torch.save(model.state_dict(), out_file)


def ddp(out_file: str) -> None:
    """Fit a BatchNorm-free model on stimuli of different lengths; rank 0 saves weights, history and scores."""
    data = small_data(duration_ms=(200.0, 500.0))
    torch.manual_seed(0)
    model = build_model("nrf", n_frequency_bands=8, temporal_window_size=5, n_hidden=4, out_neurons=3).double()
    fitter = Fitter(model, FitConfig(max_epochs=2, batch_size=4, lr=1e-2), device="cpu", progress=False)
    result = fitter.fit(data.subset(stimuli=list(range(8))), data.subset(stimuli=[8, 9, 10]))
    scores = fitter.evaluate(data.subset(stimuli=[8, 9, 10]), metrics=("cc",))
    if fitter.ctx.is_main:
        payload = {"state": model.state_dict(), "history": result.history, "cc": scores["cc"]}
        torch.save({**payload, "world_size": fitter.ctx.world_size}, out_file)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "resume":
        resume(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        ddp(sys.argv[2])
        # Leave without running C++ static destructors: on a loaded machine, tearing down
        # torch's gloo threads at interpreter exit aborts now and then ("terminate called
        # without an active exception") after all the work is done and saved.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
