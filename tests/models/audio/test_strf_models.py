import numpy as np
import pytest
import torch
from torch import nn

from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.convnet import ConvNet2D
from deepSTRF.models.audio.statenet import StateNet
from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.layers import CausalSTRFConv, LearnableExponentialDecay, SeparableSTRF
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.models.readouts import LinearReadout, STRFReadout
from deepSTRF.models.wav2spec import make_wav2spec

F, T_STRF, N, H = 12, 5, 3, 4


def _adaptrans():
    return make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0, max_kernel_size=16)


def test_linear_structure_and_defaults():
    model = Linear(F, T_STRF, out_neurons=N)
    assert isinstance(model.readout, STRFReadout)
    assert isinstance(model.readout.conv, CausalSTRFConv)
    assert model.readout.conv.weight.shape == (N, 1, F, T_STRF)
    assert isinstance(model.readout.activation, nn.Identity)
    assert isinstance(model.core, nn.Identity)
    assert (model.F, model.T, model.C_in, model.O) == (F, T_STRF, 1, N)
    default = Linear()
    assert (default.F, default.T, default.O) == (34, 9, 1)


def test_linear_matches_numpy_reference():
    """In eval mode the model is conv -> BatchNorm(running stats) -> identity."""
    model = Linear(F, T_STRF, out_neurons=N).double().eval()
    with torch.no_grad():
        model.readout.bn.running_mean.uniform_(-1, 1)
        model.readout.bn.running_var.uniform_(0.5, 2)
        model.readout.bn.weight.uniform_(0.5, 2)
        model.readout.bn.bias.uniform_(-1, 1)
    x = torch.rand(2, 1, F, 30, dtype=torch.float64)
    w = model.readout.conv.weight.detach().numpy()[:, 0]  # (N, F, T), last tap = current frame
    b = model.readout.conv.bias.detach().numpy()
    xn = x.numpy()[:, 0]
    padded = np.concatenate([np.zeros((2, F, T_STRF - 1)), xn], axis=-1)
    drive = (
        np.stack([np.einsum("nfk,bfk->bn", w, padded[:, :, t : t + T_STRF]) for t in range(30)], axis=-1)
        + b[None, :, None]
    )
    bn = model.readout.bn
    expected = (drive - bn.running_mean.numpy()[:, None]) / np.sqrt(bn.running_var.numpy()[:, None] + bn.eps)
    expected = expected * bn.weight.detach().numpy()[:, None] + bn.bias.detach().numpy()[:, None]
    with torch.no_grad():
        got = model(x)[:, :, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_linear_nonlinear_default_activation():
    model = LinearNonlinear(F, T_STRF, out_neurons=N)
    assert isinstance(model.readout.activation, ParametricSoftplus)
    assert model.init_config["output_activation"] is None
    custom = LinearNonlinear(F, T_STRF, out_neurons=N, output_activation=nn.Sigmoid())
    assert isinstance(custom.readout.activation, nn.Sigmoid)
    with torch.no_grad():
        assert (model.eval()(torch.randn(2, 1, F, 20)) >= 0).all()


def test_strf_weight_polarity():
    plain = Linear(F, T_STRF, out_neurons=N)
    full = plain.readout.conv.STRF_weight()
    assert plain.STRF_weight().shape == (N, F, T_STRF)
    assert torch.equal(plain.STRF_weight("on"), full[:, 0])
    onoff = Linear(F, T_STRF, out_neurons=N, prefiltering=_adaptrans())
    full = onoff.readout.conv.STRF_weight()
    assert torch.equal(onoff.STRF_weight("ON"), full[:, 0])
    assert torch.equal(onoff.STRF_weight("OFF"), full[:, 1])
    assert torch.equal(onoff.STRF_weight(1), full[:, 1])
    with pytest.raises(ValueError, match="input channel"):
        plain.STRF_weight("OFF")
    with pytest.raises(ValueError, match="'ON' or 'OFF'"):
        onoff.STRF_weight("both")
    with pytest.raises(ValueError, match="'ON' or 'OFF'"):
        onoff.STRF_weight(True)


def test_strf_weight_follows_the_kernel():
    kernel = SeparableSTRF(F, T_STRF, 1, N)
    model = LinearNonlinear(F, T_STRF, out_neurons=N, kernel=kernel)
    expected = (kernel.weight_f.unsqueeze(-1) * kernel.weight_t.unsqueeze(-2))[:, 0]
    torch.testing.assert_close(model.STRF_weight(), expected.detach())
    assert not model.STRF_weight().requires_grad


@pytest.mark.parametrize("cls", [NetworkReceptiveField, DNet])
def test_hidden_strfs(cls):
    model = cls(F, T_STRF, n_hidden=H, out_neurons=N, prefiltering=_adaptrans())
    assert isinstance(model.core[0], CausalSTRFConv)
    assert isinstance(model.readout, LinearReadout)
    full = model.core[0].STRF_weight()
    assert full.shape == (H, 2, F, T_STRF)
    assert torch.equal(model.STRFs(hidden_idx=2), full[2, 0])
    assert torch.equal(model.STRFs(hidden_idx=3, polarity="OFF"), full[3, 1])
    with pytest.raises(ValueError, match="hidden_idx"):
        model.STRFs(hidden_idx=H)
    with pytest.raises(ValueError, match="hidden_idx"):
        model.STRFs(hidden_idx=-1)
    with pytest.raises(TypeError, match="hidden_idx"):
        model.STRFs(hidden_idx=1.5)
    with pytest.raises(ValueError, match="input channel"):
        cls(F, T_STRF, n_hidden=H).STRFs(polarity="OFF")


def test_nrf_and_dnet_defaults():
    nrf = NetworkReceptiveField(F, T_STRF, n_hidden=H, out_neurons=N)
    assert isinstance(nrf.core[2], nn.Tanh)
    assert isinstance(nrf.readout.activation, ParametricSoftplus)
    dnet = DNet(F, T_STRF, n_hidden=H, init_tau=3.0, out_neurons=N)
    assert isinstance(dnet.core[2], nn.Sigmoid)
    decay = dnet.core[3]
    assert isinstance(decay, LearnableExponentialDecay)
    assert decay.kernel_size == 21
    torch.testing.assert_close(decay.tau, torch.full((H,), 3.0))
    assert isinstance(dnet.readout.activation, nn.Identity)


def test_dnet_decay_spreads_the_response_in_time():
    """The hidden decay makes the response to a single frame last beyond the STRF window."""
    short = DNet(F, T_STRF, n_hidden=H, init_tau=0.2).eval()
    long = DNet(F, T_STRF, n_hidden=H, init_tau=4.0).eval()
    x = torch.zeros(1, 1, F, 40)
    x[..., 10] = 1.0
    with torch.no_grad():
        for model, lasting in ((short, False), (long, True)):
            y = model(x)[0, 0, 0]
            late = (y[10 + T_STRF + 2 :] - y[-1]).abs().max()
            assert bool(late > 1e-4) is lasting


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: Linear(F, T_STRF, out_neurons=N, **kw),
        lambda **kw: LinearNonlinear(F, T_STRF, out_neurons=N, **kw),
        lambda **kw: NetworkReceptiveField(F, T_STRF, n_hidden=H, out_neurons=N, **kw),
        lambda **kw: DNet(F, T_STRF, n_hidden=H, out_neurons=N, **kw),
        lambda **kw: ConvNet2D(F, kernel_size=(3, 4), c_hidden=3, n_hidden=5, out_neurons=N, **kw),
        lambda **kw: StateNet(F, kernel_size=4, stride=2, hidden_channels=3, out_neurons=N, **kw),
        lambda **kw: Transformer(F, embedding_dim=8, n_heads=2, n_layers=1, out_neurons=N, **kw),
    ],
)
def test_every_model_accepts_a_waveform_front_end(build):
    front_end = make_wav2spec("mel", audio_fs=4000, dt_ms=5.0, n_filters=F)
    model = build(wav2spec=front_end).eval()
    assert model.wav2spec is front_end
    with torch.no_grad():
        assert model(torch.randn(2, 1, 20 * front_end.hop)).shape == (2, N, 1, 20)
    with pytest.raises(ValueError, match="out_channels"):
        build(wav2spec=make_wav2spec("mel", audio_fs=4000, dt_ms=5.0, n_filters=F + 1))


@pytest.mark.parametrize("cls", [Linear, LinearNonlinear, NetworkReceptiveField, DNet])
def test_invalid_arguments(cls):
    with pytest.raises(ValueError, match="n_frequency_bands"):
        cls(n_frequency_bands=0)
    with pytest.raises(ValueError, match="temporal_window_size"):
        cls(temporal_window_size=0)
    with pytest.raises(TypeError, match="out_neurons"):
        cls(out_neurons=2.0)
    with pytest.raises(ValueError, match="shape"):
        cls(F, T_STRF, kernel=SeparableSTRF(F, T_STRF + 1, 1, N))
    with pytest.raises(TypeError, match="unexpected keyword"):
        cls(n_frequency_band=3)
    if cls in (NetworkReceptiveField, DNet):
        with pytest.raises(ValueError, match="n_hidden"):
            cls(n_hidden=0)
    if cls is DNet:
        with pytest.raises(ValueError, match="init_tau"):
            cls(init_tau=0.0)


def test_wrong_input_shape_is_reported():
    with pytest.raises(ValueError, match=r"\(2, 1, 7, 20\)"):
        Linear(F, T_STRF)(torch.randn(2, 1, 7, 20))
