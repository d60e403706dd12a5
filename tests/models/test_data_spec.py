"""A model's data time base (dt_ms, audio_fs): recorded, saved in the checkpoint, old checkpoints still load."""

import json

import pytest
import torch

from deepSTRF.models.audio.strf_models import Linear, LinearNonlinear
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.wav2spec import CausalMelSpectrogram
from deepSTRF.utils.hub import read_config

# config.json exactly as checkpoints were written before the "data" entry existed
TODAYS_CONFIG = {
    "format": "deepSTRF-checkpoint",
    "format_version": 1,
    "library_version": "0.1.0",
    "model_class": "deepSTRF.models.audio.strf_models.Linear",
    "dtype": "float32",
    "init_kwargs": {
        "n_frequency_bands": 4,
        "temporal_window_size": 3,
        "out_neurons": 2,
        "output_activation": None,
        "prefiltering": None,
        "kernel": None,
        "wav2spec": None,
    },
}


def _linear():
    torch.manual_seed(0)
    return Linear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2)


def test_recorded_spec_round_trips_through_the_checkpoint(tmp_path):
    model = _linear()
    assert model.data_spec == {}
    model.set_data_spec(dt_ms=5.0)
    folder = model.save_pretrained(tmp_path / "m")
    assert read_config(folder)["data"] == {"dt_ms": 5.0}
    loaded = NeuralModel.from_pretrained(folder)
    assert loaded.data_spec == {"dt_ms": 5.0}


def test_a_model_without_spec_saves_no_data_entry(tmp_path):
    folder = _linear().save_pretrained(tmp_path / "m")
    assert "data" not in read_config(folder)
    assert NeuralModel.from_pretrained(folder).data_spec == {}


def test_checkpoint_in_todays_format_still_loads(tmp_path):
    model = _linear()
    folder = model.save_pretrained(tmp_path / "m")
    (folder / "config.json").write_text(json.dumps(TODAYS_CONFIG, indent=2))
    loaded = NeuralModel.from_pretrained(folder)
    x = torch.randn(1, 1, 4, 12)
    torch.testing.assert_close(loaded(x), model.eval()(x))
    assert loaded.data_spec == {}


@pytest.mark.parametrize("bad", [{"dt_ms": 0}, {"dt_ms": "5"}, {"bin": 5.0}, [5.0], {"dt_ms": True}])
def test_invalid_data_entry_is_refused(tmp_path, bad):
    folder = _linear().save_pretrained(tmp_path / "m")
    (folder / "config.json").write_text(json.dumps({**TODAYS_CONFIG, "data": bad}))
    with pytest.raises(ValueError, match=r"has an invalid 'data' entry"):
        NeuralModel.from_pretrained(folder)


def test_waveform_front_end_fixes_the_spec(tmp_path):
    front_end = CausalMelSpectrogram(8000, 5.0, n_filters=4, window_ms=8.0)
    model = LinearNonlinear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2, wav2spec=front_end)
    assert model.data_spec == {"dt_ms": 5.0, "audio_fs": 8000.0}
    model.set_data_spec(dt_ms=5.0, audio_fs=8000)  # agreeing values are fine
    with pytest.raises(
        ValueError, match=r"`dt_ms` must be 5, the value of the model's CausalMelSpectrogram front-end, got 10"
    ):
        model.set_data_spec(dt_ms=10.0)
    folder = model.save_pretrained(tmp_path / "w")
    assert read_config(folder)["data"] == {"dt_ms": 5.0, "audio_fs": 8000.0}
    assert NeuralModel.from_pretrained(folder).data_spec == {"dt_ms": 5.0, "audio_fs": 8000.0}


def test_check_names_both_values():
    model = _linear()
    model.check_data_spec({"dt_ms": 10.0}, "the data")  # nothing recorded: nothing to compare
    model.set_data_spec(dt_ms=5.0)
    model.check_data_spec({"dt_ms": 5.0, "audio_fs": None})
    with pytest.raises(
        ValueError, match=r"Linear expects dt_ms=5 \(the data it was fitted on\) but dataset 'x' has dt_ms=10"
    ):
        model.check_data_spec({"dt_ms": 10.0}, "dataset 'x'")
    with pytest.raises(ValueError, match=r"`dt_ms` must be > 0, got -1"):
        model.set_data_spec(dt_ms=-1.0)
