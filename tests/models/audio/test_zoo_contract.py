"""The contract every zoo model obeys, checked for each configuration of the zoo.

Causality (float64, bit-identical past), any input length (T = 1 and 37), batch
consistency and a save/load round trip with no extra arguments, with and without an
AdapTrans prefilter and for each STRF kernel type.
"""

from functools import partial

import pytest
import torch
from torch import nn

from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.audio.statenet import CONNECTIVITIES, RNN_TYPES, StateNet
from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.layers import ParametricSTRF, SeparableSTRF
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_roundtrip

F, T_STRF, N, HIDDEN = 12, 5, 3, 4


def _adaptrans():
    return make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0, max_kernel_size=16)


def _kernel(kind, c_in, c_out):
    if kind == "conv":
        return None
    if kind == "sequential":  # the separable nn.Sequential kernel of the seeds
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, (F, 1), bias=False), nn.Conv2d(c_out, c_out, (1, T_STRF), groups=c_out)
        )
    cls = ParametricSTRF if kind == "parametric" else SeparableSTRF
    return cls(F, T_STRF, c_in, c_out)


def _strf_model(cls, kernel, prefilter):
    c_in = 2 if prefilter else 1
    pre = _adaptrans() if prefilter else None
    if cls in (Linear, LinearNonlinear):
        return cls(F, T_STRF, out_neurons=N, prefiltering=pre, kernel=_kernel(kernel, c_in, N))
    hidden = {"n_hidden": HIDDEN, "out_neurons": N, "prefiltering": pre, "kernel": _kernel(kernel, c_in, HIDDEN)}
    return cls(F, T_STRF, **hidden)


def _convnet(prefilter):
    pre = _adaptrans() if prefilter else None
    return ConvNet2D(F, kernel_size=(3, 4), c_hidden=3, n_hidden=5, out_neurons=N, prefiltering=pre)


def _transformer(window, prefilter):
    pre = _adaptrans() if prefilter else None
    return Transformer(
        F,
        freq_patch_size=4,
        time_patch_size=2,
        context_window=window,
        embedding_dim=4,
        n_heads=2,
        out_neurons=N,
        prefiltering=pre,
    )


def _statenet(rnn_type, connectivity, prefilter):
    pre = _adaptrans() if prefilter else None
    size = {"kernel_size": 4, "stride": 2, "hidden_channels": 3, "out_neurons": N}
    return StateNet(F, connectivity=connectivity, rnn_type=rnn_type, prefiltering=pre, **size)


def _configurations():
    """Name -> builder of every configuration checked here."""
    configs = {}
    for pre in (False, True):
        tag = "adaptrans" if pre else "plain"
        for cls in (Linear, LinearNonlinear, NetworkReceptiveField, DNet):
            for kernel in ("conv", "parametric", "separable", "sequential"):
                configs[f"{cls.__name__}-{kernel}-{tag}"] = partial(_strf_model, cls, kernel, pre)
        configs[f"ConvNet2D-{tag}"] = partial(_convnet, pre)
        for window in (None, 6):
            configs[f"Transformer-w{window}-{tag}"] = partial(_transformer, window, pre)
        for rnn in RNN_TYPES:
            for conn in CONNECTIVITIES if not pre else ("LC",):
                configs[f"StateNet-{rnn}-{conn}-{tag}"] = partial(_statenet, rnn, conn, pre)
    return configs


CONFIGS = _configurations()


@pytest.fixture(params=sorted(CONFIGS), scope="module")
def model(request):
    torch.manual_seed(0)
    return CONFIGS[request.param]()


def _stimulus(length, batch=2, seed=1):
    return torch.rand(batch, 1, F, length, generator=torch.Generator().manual_seed(seed))


def test_causal(model):
    assert_causal(model, _stimulus(37), t0=19)
    assert_causal(model, _stimulus(37), t0=1)


@pytest.mark.parametrize("length", [1, 37])
def test_any_length(model, length):
    model.train()
    assert model(_stimulus(length, batch=3)).shape == (3, N, 1, length)
    model.eval()
    with torch.no_grad():
        y = model(_stimulus(length, batch=3))
    assert y.shape == (3, N, 1, length)
    assert torch.isfinite(y).all()


def test_batch_consistent(model):
    assert_batch_consistent(model, _stimulus(37, batch=3))


def test_roundtrip(model, tmp_path):
    loaded = assert_roundtrip(model, _stimulus(37), folder=tmp_path / "ckpt")
    assert type(loaded) is type(model)
    assert loaded.init_config.keys() == model.init_config.keys()


def test_gradient_map(model):
    baseline = torch.rand(1, F, 10, generator=torch.Generator().manual_seed(2))
    gradmap = model.STRF_gradmap(baseline=baseline)
    assert gradmap.shape == (N, 1, F, 10)
    assert torch.isfinite(gradmap).all() and gradmap.abs().sum() > 0
