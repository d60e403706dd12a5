import numpy as np
import pytest
import torch
from torch import nn

from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.models.layers import CausalSTRFConv, ParametricSTRF, SeparableSTRF, STRFKernel
from deepSTRF.models.readouts import LinearReadout, STRFReadout
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_gradcheck


class RecordShape(nn.Module):
    """Identity that remembers the shape it was applied to."""

    def forward(self, x):
        self.seen = tuple(x.shape)
        return x


def softplus(v):
    return np.logaddexp(0.0, v)


# ----------------------------------------------------------------------------- STRFReadout


def test_strf_readout_structure_and_shapes():
    readout = STRFReadout(F=34, T=9, C_in=2, out_neurons=5)
    assert isinstance(readout.conv, CausalSTRFConv) and isinstance(readout.conv.kernel, nn.Conv2d)
    assert readout.conv.weight.shape == (5, 2, 34, 9) and readout.conv.bias.shape == (5,)
    assert isinstance(readout.bn, nn.BatchNorm1d) and readout.bn.num_features == 5
    assert isinstance(readout.activation, nn.Identity)
    for length in (1, 9, 50):
        assert readout(torch.randn(3, 2, 34, length)).shape == (3, 5, 1, length)


def test_strf_readout_eval_matches_numpy():
    readout = STRFReadout(F=6, T=4, C_in=2, out_neurons=3, activation=ParametricSoftplus(3)).double()
    with torch.no_grad():
        readout.bn.running_mean.uniform_(-1, 1)
        readout.bn.running_var.uniform_(0.5, 2)
        readout.bn.weight.uniform_(0.5, 2)
        readout.bn.bias.uniform_(-1, 1)
    readout.eval()
    x = torch.randn(2, 2, 6, 15, dtype=torch.float64)
    w, b = readout.conv.weight.detach().numpy(), readout.conv.bias.detach().numpy()
    padded = np.concatenate([np.zeros((2, 2, 6, 3)), x.numpy()], axis=-1)
    conv = np.stack([np.einsum("bifk,oifk->bo", padded[..., t : t + 4], w) for t in range(15)], axis=-1) + b[:, None]
    bn = readout.bn
    z = (conv - bn.running_mean.numpy()[:, None]) / np.sqrt(bn.running_var.numpy()[:, None] + bn.eps)
    z = z * bn.weight.detach().numpy()[:, None] + bn.bias.detach().numpy()[:, None]
    beta = softplus(readout.activation.raw_beta.detach().numpy())[:, None]
    expected = softplus(beta * z) / beta + softplus(readout.activation.raw_b.detach().numpy())[:, None]
    np.testing.assert_allclose(readout(x)[:, :, 0].detach().numpy(), expected, rtol=1e-10)


def test_strf_readout_applies_activation_with_neurons_last():
    recorder = RecordShape()
    STRFReadout(F=5, T=3, C_in=1, out_neurons=4, activation=recorder)(torch.randn(2, 1, 5, 11))
    assert recorder.seen == (2, 11, 4)


def test_strf_readout_causal_batch_consistent_and_differentiable():
    readout = STRFReadout(F=8, T=5, C_in=1, out_neurons=3, activation=ParametricSoftplus(3))
    readout(torch.randn(4, 1, 8, 30))  # update running statistics in training mode
    assert_causal(readout, torch.randn(2, 1, 8, 30), t0=13)
    assert_batch_consistent(readout, torch.randn(3, 1, 8, 20))
    assert_gradcheck(readout.double().eval(), [torch.randn(1, 1, 8, 6)])


def test_strf_readout_with_parametric_kernel_and_no_bias():
    readout = STRFReadout(F=8, T=5, C_in=2, out_neurons=3, kernel=ParametricSTRF(8, 5, 2, 3, num_gaussians=2))
    assert readout(torch.randn(2, 2, 8, 12)).shape == (2, 3, 1, 12)
    assert readout.STRF_weight().shape == (3, 2, 8, 5)
    plain = STRFReadout(F=8, T=5, C_in=1, out_neurons=3, bias=False)
    assert plain.conv.bias is None


def test_strf_readout_polarity():
    readout = STRFReadout(F=6, T=4, C_in=2, out_neurons=3)
    full = readout.STRF_weight()
    assert full.shape == (3, 2, 6, 4) and not full.requires_grad
    assert torch.equal(readout.STRF_weight("ON"), full[:, 0])
    assert torch.equal(readout.STRF_weight("OFF"), full[:, 1])
    with pytest.raises(ValueError, match=r"`polarity` must be one of \[None, 'ON', 'OFF'\], got 'on'"):
        readout.STRF_weight("on")
    with pytest.raises(ValueError, match=r"polarity='OFF' needs C_in >= 2 input channels, got C_in=1"):
        STRFReadout(F=6, T=4, C_in=1, out_neurons=3).STRF_weight("OFF")


def test_strf_readout_config_serialises_kernel_and_activation():
    readout = STRFReadout(F=6, T=4, C_in=1, out_neurons=3, kernel=ParametricSTRF(6, 4, 1, 3), activation=nn.Sigmoid())
    rebuilt = decode_value(encode_value(readout))
    assert isinstance(rebuilt.conv.kernel, ParametricSTRF) and isinstance(rebuilt.activation, nn.Sigmoid)
    rebuilt.load_state_dict(readout.state_dict())
    x = torch.randn(2, 1, 6, 9)
    assert torch.equal(rebuilt.eval()(x), readout.eval()(x))


def test_strf_readout_errors():
    with pytest.raises(ValueError, match=r"`out_neurons` must be an int >= 1, got 0"):
        STRFReadout(F=6, T=4, C_in=1, out_neurons=0)
    with pytest.raises(TypeError, match=r"`activation` must be an nn.Module or None, got builtin_function_or_method"):
        STRFReadout(F=6, T=4, C_in=1, out_neurons=2, activation=torch.relu)
    with pytest.raises(ValueError, match=r"\(B, C_in=1, F=6, T\), got \(2, 1, 5, 9\)"):
        STRFReadout(F=6, T=4, C_in=1, out_neurons=2)(torch.zeros(2, 1, 5, 9))


# ----------------------------------------------------------------------------- LinearReadout


def test_linear_readout_accepts_3d_and_4d_and_matches_numpy():
    readout = LinearReadout(in_features=7, out_neurons=4).double()
    x = torch.randn(2, 7, 13, dtype=torch.float64)
    out3, out4 = readout(x), readout(x.unsqueeze(2))
    assert out3.shape == (2, 4, 1, 13) and torch.equal(out3, out4)
    w, b = readout.projection.weight.detach().numpy(), readout.projection.bias.detach().numpy()
    expected = np.einsum("ni,bit->bnt", w, x.numpy()) + b[:, None]
    np.testing.assert_allclose(out3[:, :, 0].detach().numpy(), expected, rtol=1e-12)


def test_linear_readout_hidden_layer_matches_numpy():
    readout = LinearReadout(in_features=5, out_neurons=3, hidden=8, activation=ParametricSoftplus(3)).double()
    x = torch.randn(2, 5, 10, dtype=torch.float64)
    first, second = readout.projection[0], readout.projection[2]
    h = np.einsum("hi,bit->bht", first.weight.detach().numpy(), x.numpy()) + first.bias.detach().numpy()[:, None]
    h = np.where(h > 0, h, 0.1 * h)
    z = np.einsum("nh,bht->bnt", second.weight.detach().numpy(), h) + second.bias.detach().numpy()[:, None]
    beta = softplus(readout.activation.raw_beta.detach().numpy())[:, None]
    expected = softplus(beta * z) / beta + softplus(readout.activation.raw_b.detach().numpy())[:, None]
    np.testing.assert_allclose(readout(x)[:, :, 0].detach().numpy(), expected, rtol=1e-10)


def test_linear_readout_activation_sees_neurons_last_and_bias_flag():
    recorder = RecordShape()
    LinearReadout(6, 4, activation=recorder)(torch.randn(3, 6, 1, 9))
    assert recorder.seen == (3, 9, 4)
    assert LinearReadout(6, 4, bias=False).projection.bias is None
    no_bias = LinearReadout(6, 4, hidden=5, bias=False)
    assert all(layer.bias is None for layer in (no_bias.projection[0], no_bias.projection[2]))
    assert isinstance(no_bias.projection[1], nn.LeakyReLU) and no_bias.projection[1].negative_slope == 0.1


def test_linear_readout_causal_batch_consistent_and_differentiable():
    readout = LinearReadout(6, 3, hidden=4)
    assert_causal(readout, torch.randn(2, 6, 1, 20), t0=7)
    assert_batch_consistent(readout, torch.randn(3, 6, 15))
    assert_gradcheck(readout.double(), [torch.randn(2, 6, 5)])


def test_linear_readout_errors():
    with pytest.raises(ValueError, match=r"`hidden` must be an int >= 1, got 0"):
        LinearReadout(4, 2, hidden=0)
    with pytest.raises(ValueError, match=r"`in_features` must be an int >= 1"):
        LinearReadout(0, 2)
    with pytest.raises(TypeError, match=r"`bias` must be a bool"):
        LinearReadout(4, 2, bias=None)
    with pytest.raises(TypeError, match=r"`activation` must be an nn.Module or None"):
        LinearReadout(4, 2, activation="relu")
    readout = LinearReadout(4, 2)
    with pytest.raises(ValueError, match=r"\(B, in_features=4, T\) or \(B, 4, 1, T\), got \(2, 5, 9\)"):
        readout(torch.zeros(2, 5, 9))
    with pytest.raises(ValueError, match=r"got \(2, 4, 3, 9\)"):
        readout(torch.zeros(2, 4, 3, 9))
    with pytest.raises(ValueError, match=r"`x` must have 3 or 4 dimensions"):
        readout(torch.zeros(4, 9))


class _ShiftedKernel(STRFKernel):
    """A custom kernel whose forward is not a plain convolution: nothing can be folded into it."""

    def __init__(self, F, T, C_in, C_out):
        super().__init__(F, T, C_in, C_out)
        self.weight = nn.Parameter(torch.randn(C_out, C_in, F, T))

    def build_kernel(self):
        return self.weight

    def forward(self, x):
        return super().forward(x) + 1.0


@pytest.mark.parametrize(
    "kernel",
    [None, lambda: ParametricSTRF(6, 4, 2, 3, num_gaussians=2), lambda: SeparableSTRF(6, 4, 2, 3), _ShiftedKernel],
    ids=["conv2d", "parametric", "separable", "custom"],
)
@pytest.mark.parametrize("affine", [True, False])
def test_eval_folds_the_batch_norm_into_the_kernel_exactly(kernel, affine):
    built = None if kernel is None else (kernel(6, 4, 2, 3) if kernel is _ShiftedKernel else kernel())
    readout = STRFReadout(F=6, T=4, C_in=2, out_neurons=3, kernel=built, activation=ParametricSoftplus(3)).double()
    readout.bn = nn.BatchNorm1d(3, affine=affine).double()
    readout.train()(torch.randn(4, 2, 6, 30, dtype=torch.float64) * 2 + 1)  # non-trivial running statistics
    readout.eval()
    statistics = [readout.bn.running_mean.clone(), readout.bn.running_var.clone()]
    x = torch.randn(2, 2, 6, 17, dtype=torch.float64, requires_grad=True)
    unfolded = readout.activation(readout.bn(readout.conv(x).squeeze(2)).transpose(1, 2)).transpose(1, 2)
    folded = readout(x)
    torch.testing.assert_close(folded, unfolded.unsqueeze(2), rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(folded.sum(), [x, *readout.parameters()], allow_unused=True)
    expected = torch.autograd.grad(unfolded.sum(), [x, *readout.parameters()], allow_unused=True)
    for got, want in zip(grads, expected, strict=True):
        assert (got is None) == (want is None)
        if got is not None:
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert torch.equal(readout.bn.running_mean, statistics[0]) and torch.equal(readout.bn.running_var, statistics[1])


@pytest.mark.parametrize("time_major", [False, True])
def test_readouts_give_the_same_output_with_and_without_gradients(time_major):
    # without autograd the softplus is written into the readout's own intermediate: same bits
    strf = STRFReadout(F=6, T=4, C_in=1, out_neurons=3, activation=ParametricSoftplus(3))
    strf.train()(torch.randn(4, 1, 6, 30))
    strf.eval()
    x = torch.randn(2, 1, 6, 25)
    linear = LinearReadout(in_features=5, out_neurons=3, activation=ParametricSoftplus(3))
    h = torch.randn(2, 25, 5).transpose(1, 2) if time_major else torch.randn(2, 5, 25)
    for readout, inputs in ((strf, x), (linear, h)):
        before = inputs.clone()
        with_grad = readout(inputs).detach()
        with torch.no_grad():
            without = readout(inputs)
        assert torch.equal(with_grad, without)
        assert torch.equal(inputs, before)
