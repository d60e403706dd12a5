"""The Fitter records the training data's dt_ms; evaluation refuses data on another time base."""

import pytest
from torch.utils.data import DataLoader, Subset

from deepSTRF.datasets import SimulatedDataset, neural_collate
from deepSTRF.metrics import METRICS
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training.config import FitConfig
from deepSTRF.training.data_spec import data_spec_of
from deepSTRF.training.evaluation import evaluate_checkpoint
from deepSTRF.training.fitter import Fitter

SMALL = {"n_neurons": 2, "n_stimuli": 6, "n_frequency_bands": 8, "duration_ms": 300, "seed": 0}


def _data(dt_ms):
    return SimulatedDataset(dt_ms=dt_ms, **SMALL)


def test_data_spec_of_unwraps_subsets_and_loaders():
    data = _data(5.0)
    assert data_spec_of(data) == {"dt_ms": 5.0, "audio_fs": None}
    loader = DataLoader(Subset(data, [0, 1]), batch_size=2, collate_fn=neural_collate)
    assert data_spec_of(loader) == {"dt_ms": 5.0, "audio_fs": None}


def test_fit_records_and_evaluation_checks(tmp_path):
    data5, data10 = _data(5.0), _data(10.0)
    model = Linear(n_frequency_bands=8, temporal_window_size=3, out_neurons=2)
    fitter = Fitter(model, FitConfig(max_epochs=1, batch_size=2), device="cpu", progress=False)
    fitter.fit(data5.subset(stimuli=[0, 1, 2, 3]))
    assert model.data_spec == {"dt_ms": 5.0}
    assert set(fitter.evaluate(data5.subset(stimuli=[4, 5]), metrics=("cc",))) == {"cc"}
    with pytest.raises(
        ValueError, match=r"Linear expects dt_ms=5 \(the data it was fitted on\) but the data has dt_ms=10"
    ):
        fitter.evaluate(data10.subset(stimuli=[4, 5]), metrics=("cc",))
    with pytest.raises(ValueError, match=r"but the training data has dt_ms=10"):
        fitter.fit(data10)
    folder = model.save_pretrained(tmp_path / "m")
    kwargs = {**SMALL, "dt_ms": 10.0}
    with pytest.raises(ValueError, match=r"expects dt_ms=5 .* but dataset 'simulated' .* has dt_ms=10"):
        evaluate_checkpoint(folder, dataset="simulated", dataset_kwargs=kwargs, part="all", device="cpu")
    result = evaluate_checkpoint(folder, dataset_kwargs={**SMALL, "dt_ms": 5.0}, part="all", device="cpu")
    assert set(result.scores) == set(METRICS)
