from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.layers import CausalLayerNorm
from deepSTRF.models.readouts import LinearReadout

F, N = 12, 3


def test_structure():
    model = ConvNet2D(F, kernel_size=(3, 4), c_hidden=5, n_hidden=7, out_neurons=N)
    convs = [m for m in model.core.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 4)] * 3
    assert [c.out_channels for c in convs] == [5, 5, 5]
    assert sum(isinstance(m, CausalLayerNorm) for m in model.core.modules()) == 3
    assert isinstance(model.readout, LinearReadout)
    assert model.readout.in_features == 5 * (F - 3 * 2)
    assert isinstance(model.readout.activation, ParametricSoftplus)
    assert model.T == 3 * (4 - 1)
    default = ConvNet2D()
    assert (default.F, default.K, default.C, default.H, default.T) == (34, (3, 9), 10, 20, 24)


def test_receptive_field_is_exactly_three_kernel_lengths():
    """d y(t) / d x(t') is non-zero exactly for t - 3 (K_T - 1) <= t' <= t."""
    model = ConvNet2D(F, kernel_size=(3, 4), c_hidden=3, n_hidden=5, out_neurons=1).double().eval()
    x = torch.rand(1, 1, F, 30, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 20].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(20 - 9, 21))


def test_prefilter_sets_input_channels():
    from deepSTRF.models.prefiltering import make_prefiltering

    pre = make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0, max_kernel_size=8)
    model = ConvNet2D(F, kernel_size=(3, 4), c_hidden=3, out_neurons=N, prefiltering=pre)
    assert model.C_in == 2
    assert model.core[1].in_channels == 2


def test_invalid_arguments():
    with pytest.raises(ValueError, match="too tall"):
        ConvNet2D(6, kernel_size=(3, 4))
    with pytest.raises(TypeError, match="kernel_size"):
        ConvNet2D(F, kernel_size=3)
    with pytest.raises(TypeError, match="kernel_size"):
        ConvNet2D(F, kernel_size=(3, 4, 5))
    with pytest.raises(ValueError, match=r"kernel_size\[1\]"):
        ConvNet2D(F, kernel_size=(3, 0))
    with pytest.raises(ValueError, match="c_hidden"):
        ConvNet2D(F, c_hidden=0)
    with pytest.raises(ValueError, match="n_hidden"):
        ConvNet2D(F, n_hidden=0)


_FIXTURE = Path(__file__).parent / "fixtures" / "published_convnet2d.npz"
_CONFIGS = {
    "default": {"n_frequency_bands": 34, "out_neurons": 3},
    "small": {"n_frequency_bands": 12, "kernel_size": (3, 4), "c_hidden": 3, "n_hidden": 5, "out_neurons": 2},
}


def _our_key(published_key: str) -> str:
    """Published state-dict key -> ours (same module layout, different leaf names)."""
    return (
        published_key.replace(".ln.", ".norm.")
        .replace("readout.fc.", "readout.projection.")
        .replace("activation._raw_", "activation.raw_")
    )


@pytest.mark.parametrize("config", sorted(_CONFIGS))
def test_matches_published_convnet2d(config):
    """Same weights, same outputs as deepSTRF 0.1.0 (fixture from fixtures/make_published_convnet2d.py)."""
    arrays = np.load(_FIXTURE)
    prefix = f"{config}/"
    state = {_our_key(k[len(prefix) :]): torch.from_numpy(arrays[k]) for k in arrays.files if k.startswith(prefix)}
    x, expected = state.pop("x"), state.pop("y")
    model = ConvNet2D(**_CONFIGS[config]).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def test_training_gradients_match_a_plain_reference():
    """In-place LeakyReLUs, channels-last memory and the layer norm's own backward change no gradient."""
    torch.manual_seed(0)
    model = ConvNet2D(F, kernel_size=(3, 4), c_hidden=3, n_hidden=5, out_neurons=N).double().train()
    x = torch.rand(2, 1, F, 25, dtype=torch.float64)

    def plain(x):
        h = nn.functional.pad(x, (model.core[0].left, 0))
        for i in range(3):
            conv, norm, act = model.core[1 + 3 * i], model.core[2 + 3 * i].norm, model.core[3 + 3 * i]
            h = conv(h)
            h = nn.functional.layer_norm(h.movedim(1, -1), norm.normalized_shape, norm.weight, norm.bias, norm.eps)
            h = nn.functional.leaky_relu(h.movedim(-1, 1), act.negative_slope)
        return model.readout(h.flatten(1, 2))

    params = list(model.parameters())
    ours = model(x)
    reference = plain(x)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(ours)
    got = torch.autograd.grad((ours * upstream).sum(), params)
    want = torch.autograd.grad((reference * upstream).sum(), params)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
