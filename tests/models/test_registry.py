import pytest
import torch
from torch import nn

from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.audio.statenet import StateNet
from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.registry import MODELS, ModelRegistry, build_model

ZOO = {
    "linear": Linear,
    "ln": LinearNonlinear,
    "nrf": NetworkReceptiveField,
    "dnet": DNet,
    "convnet2d": ConvNet2D,
    "statenet": StateNet,
    "transformer": Transformer,
}


def test_names():
    assert sorted(MODELS) == sorted([*ZOO, "icnet"])
    assert len(MODELS) == 8
    for name, cls in ZOO.items():
        assert MODELS[name] is cls


def test_icnet_entry():
    cls = MODELS["icnet"]
    assert cls.__name__ == "ICNet"
    assert cls.__module__ == "deepSTRF.models.audio.icnet"
    assert issubclass(cls, NeuralModel)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_build_model(name):
    model = build_model(name, n_frequency_bands=12, out_neurons=3)
    assert type(model) is ZOO[name]
    assert model.O == 3 and model.F == 12
    with torch.no_grad():
        assert model.eval()(torch.rand(2, 1, 12, 30)).shape == (2, 3, 1, 30)


def test_names_are_case_insensitive():
    assert type(build_model("StateNet", n_frequency_bands=12, rnn_type="LSTM")) is StateNet
    assert "LN" in MODELS and MODELS["LN"] is LinearNonlinear


def test_errors():
    with pytest.raises(ValueError, match=r"`name` must be one of \['convnet2d', 'dnet', 'icnet'.*got 'cnn'"):
        build_model("cnn")
    with pytest.raises(TypeError, match="name"):
        build_model(3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        build_model("linear", n_bands=12)
    with pytest.raises(KeyError):
        MODELS["cnn"]


def test_lazy_entries_and_registration():
    registry = ModelRegistry(
        {"linear": "deepSTRF.models.audio.strf_models.Linear", "ghost": "deepSTRF.models.audio.not_written.Ghost"}
    )
    assert sorted(registry) == ["ghost", "linear"]  # listing imports nothing
    assert registry["linear"] is Linear
    with pytest.raises(ModuleNotFoundError):
        registry["ghost"]

    class Custom(Linear):
        pass

    registry["Custom"] = Custom
    assert registry["custom"] is Custom
    del registry["custom"]
    assert "custom" not in registry
    with pytest.raises(TypeError, match="NeuralModel"):
        registry["bad"] = nn.Linear
    wrong = ModelRegistry({"layer": "deepSTRF.models.layers.CausalLayerNorm"})
    with pytest.raises(TypeError, match="not a NeuralModel"):
        wrong["layer"]
