import pytest

from deepSTRF.training.config import FitConfig


def test_defaults_roundtrip_through_a_dict():
    config = FitConfig(scheduler="cosine", patience=None, grad_clip=1.0)
    assert FitConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "l1"}, ValueError, "`loss` must be one of"),
        ({"target": "mean"}, ValueError, "`target`"),
        ({"optimizer": "lbfgs"}, ValueError, "`optimizer`"),
        ({"scheduler": "step"}, ValueError, "`scheduler`"),
        ({"metric": "r2"}, ValueError, "`metric`"),
        ({"lr": 0.0}, ValueError, "`lr` must be > 0"),
        ({"lr": "fast"}, TypeError, "`lr` must be a real number"),
        ({"weight_decay": -1.0}, ValueError, "`weight_decay`"),
        ({"momentum": -0.5}, ValueError, "`momentum`"),
        ({"min_delta": -0.1}, ValueError, "`min_delta`"),
        ({"max_epochs": 0}, ValueError, "`max_epochs`"),
        ({"batch_size": 2.5}, TypeError, "`batch_size`"),
        ({"patience": 0}, ValueError, "`patience`"),
        ({"grad_clip": 0.0}, ValueError, "`grad_clip`"),
        ({"seed": -3}, ValueError, "`seed`"),
        ({"num_workers": -1}, ValueError, "`num_workers`"),
        ({"amp": 1}, TypeError, "`amp` must be a bool"),
        ({"per_neuron_best": "yes"}, TypeError, "`per_neuron_best`"),
    ],
)
def test_invalid_fields_raise_with_their_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        FitConfig(**kwargs)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown FitConfig fields \['epochs'\]"):
        FitConfig.from_dict({"epochs": 3})
