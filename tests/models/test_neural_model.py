import pytest
import torch
from torch import nn

from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.testing import assert_roundtrip


class Affine(ConfigurableModule):
    """y = scale * x + shift, to make the order of the slots visible."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return self.scale * x + self.shift


class Pipeline(NeuralModel):
    def __init__(self, out_neurons: int = 2):
        super().__init__(out_neurons)
        self.wav2spec = Affine(2.0, 1.0)
        self.prefiltering = Affine(-1.0, 3.0)
        self.core = Affine(0.5, -2.0)
        self.readout = nn.Conv2d(1, out_neurons, kernel_size=(3, 1))


class Headless(NeuralModel):
    pass


def test_default_slots_are_identity_and_readout_is_required():
    model = Headless(out_neurons=4)
    assert model.O == 4
    assert all(isinstance(getattr(model, s), nn.Identity) for s in ("wav2spec", "prefiltering", "core"))
    assert model.readout is None
    with pytest.raises(RuntimeError, match=r"no readout"):
        model(torch.zeros(1, 1, 3, 5))
    with pytest.raises(ValueError, match=r"readout must be set"):
        model.validate()


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_out_neurons_is_checked(value, error):
    with pytest.raises(error, match=r"out_neurons"):
        Headless(out_neurons=value)


def test_forward_runs_the_slots_in_order():
    model = Pipeline()
    x = torch.randn(3, 1, 3, 7)
    h = 0.5 * (-1.0 * (2.0 * x + 1.0) + 3.0) - 2.0
    expected = model.readout(h)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert model(x).shape == (3, 2, 1, 7)


def test_validate_accepts_a_complete_model_and_rejects_broken_ones():
    model = Pipeline()
    model.validate()
    model.O = 0
    with pytest.raises(ValueError, match=r"`O`"):
        model.validate()
    model.O = 1.5
    with pytest.raises(TypeError, match=r"`O`"):
        model.validate()
    model.O = 2
    model._modules["core"] = "not a module"  # bypass nn.Module's own assignment check
    with pytest.raises(TypeError, match=r"Pipeline\.core must be an nn.Module, got str"):
        model.validate()


def test_count_trainable_params_skips_frozen_and_counts_shared_once():
    model = Pipeline(out_neurons=2)
    assert model.count_trainable_params() == 2 * 3 + 2
    model.readout.bias.requires_grad_(False)
    assert model.count_trainable_params() == 2 * 3
    model.core = model.readout  # the same module in two slots
    assert model.count_trainable_params() == 2 * 3


def test_detach_is_a_no_op():
    model = Pipeline()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert model.detach() is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_constructor_arguments_are_recorded():
    assert Pipeline().init_config == {"out_neurons": 2}
    assert Pipeline(out_neurons=5).init_config == {"out_neurons": 5}
    assert Headless().init_config == {"out_neurons": 1}


def test_save_and_load_round_trip(tmp_path):
    model = Pipeline(out_neurons=3)
    with torch.no_grad():
        model.readout.weight.normal_()
    loaded = assert_roundtrip(model, torch.randn(2, 1, 3, 6))
    assert isinstance(loaded, Pipeline) and loaded.O == 3 and not loaded.training
    folder = model.save_pretrained(tmp_path / "ckpt", metadata={"score": 0.5})
    assert folder == tmp_path / "ckpt"
    any_model, metadata = NeuralModel.from_pretrained(folder, return_metadata=True)
    assert type(any_model) is Pipeline and metadata == {"score": 0.5}


def test_loading_into_an_unrelated_class_is_an_error(tmp_path):
    Pipeline().save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"not a Headless"):
        Headless.from_pretrained(tmp_path / "ckpt")
