import math

import numpy as np
import pytest
import torch

from deepSTRF.models.layers import (
    CausalLayerNorm,
    LocallyConnected1d,
    SinusoidalPositionalEncoding,
    build_causal_window_mask,
)
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_gradcheck

# ----------------------------------------------------------------------------- CausalLayerNorm


@pytest.mark.parametrize(("shape", "dim"), [((2, 5, 1, 20), 1), ((2, 3, 7, 20), -2), ((40, 6, 4), 1)])
def test_layer_norm_matches_numpy(shape, dim):
    norm = CausalLayerNorm(shape[dim], dim=dim).double()
    with torch.no_grad():
        norm.norm.weight.uniform_(0.5, 2.0)
        norm.norm.bias.uniform_(-1.0, 1.0)
    x = torch.randn(shape, dtype=torch.float64) * 3 + 1
    xn = np.moveaxis(x.numpy(), dim, -1)
    expected = (xn - xn.mean(-1, keepdims=True)) / np.sqrt(xn.var(-1, keepdims=True) + 1e-5)
    expected = np.moveaxis(expected * norm.norm.weight.detach().numpy() + norm.norm.bias.detach().numpy(), -1, dim)
    np.testing.assert_allclose(norm(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_layer_norm_is_causal_mode_free_and_differentiable():
    norm = CausalLayerNorm(5, dim=1)
    assert_causal(norm, torch.randn(2, 5, 1, 30), t0=11)
    assert_causal(CausalLayerNorm(7, dim=-2), torch.randn(2, 2, 7, 30), t0=20)
    assert_batch_consistent(norm, torch.randn(3, 5, 1, 12))
    x = torch.randn(2, 5, 1, 8)
    assert torch.equal(norm.train()(x), norm.eval()(x))
    assert_gradcheck(CausalLayerNorm(4, dim=1, elementwise_affine=False).double(), [torch.randn(2, 4, 3)])
    assert not list(CausalLayerNorm(4, elementwise_affine=False).parameters())


def _assert_gradients_match_the_moved_axis_reference(norm, x):
    """Input and parameter gradients of ``norm(x)`` equal ``nn.LayerNorm``'s on the axis moved last."""
    x_ref = x.detach().clone().requires_grad_()
    upstream = torch.randn(x.shape, dtype=x.dtype)
    (norm(x) * upstream).sum().backward()
    ours = [x.grad] + [p.grad.clone() for p in norm.parameters()]
    norm.zero_grad()
    (norm.norm(x_ref.movedim(1, -1)).movedim(-1, 1) * upstream).sum().backward()
    reference = [x_ref.grad] + [p.grad for p in norm.parameters()]
    for got, want in zip(ours, reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(3, 4, 2, 5), (2, 6, 7)])
def test_layer_norm_gradients_match_the_moved_axis_reference(shape, affine):
    # dim=1 runs a dedicated kernel; its gradients must equal nn.LayerNorm's on the moved axis
    norm = CausalLayerNorm(shape[1], dim=1, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            norm.norm.weight.uniform_(0.5, 2.0)
            norm.norm.bias.uniform_(-1.0, 1.0)
    x = (torch.randn(shape, dtype=torch.float64) * 2 + 0.5).requires_grad_()
    _assert_gradients_match_the_moved_axis_reference(norm, x)
    assert_gradcheck(norm, [torch.randn(2, shape[1], 3)])


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_without_gradients_gives_the_same_bits_and_leaves_the_input(affine):
    # without autograd, dim=1 writes its affine map in place: same result, input untouched
    norm = CausalLayerNorm(5, dim=1, elementwise_affine=affine)
    if affine:
        with torch.no_grad():
            norm.norm.weight.uniform_(0.5, 2.0)
            norm.norm.bias.uniform_(-1.0, 1.0)
    x = torch.randn(3, 5, 1, 40) * 3 + 1
    before = x.clone()
    with_grad = norm(x.requires_grad_()).detach()
    x = x.detach()
    with torch.no_grad():
        without = norm(x)
    assert torch.equal(with_grad, without)
    assert torch.equal(x, before)
    with torch.inference_mode():
        assert torch.equal(norm(x), with_grad)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_on_channels_last_memory_matches_the_reference_and_keeps_its_layout(affine):
    norm = CausalLayerNorm(4, dim=1, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            norm.norm.weight.uniform_(0.5, 2.0)
            norm.norm.bias.uniform_(-1.0, 1.0)
    x = (torch.randn(2, 4, 3, 11, dtype=torch.float64) * 2 + 0.5).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    out = norm(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(norm(x), out)  # the affine map outside the kernel gives the same bits
    _assert_gradients_match_the_moved_axis_reference(norm, x)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"`normalized_shape` must be an int >= 1"):
        CausalLayerNorm(0)
    with pytest.raises(TypeError, match=r"`normalized_shape` must be an int"):
        CausalLayerNorm((4,))
    with pytest.raises(ValueError, match=r"`eps` must be >= 0"):
        CausalLayerNorm(4, eps=-1.0)
    with pytest.raises(TypeError, match=r"`elementwise_affine` must be a bool"):
        CausalLayerNorm(4, elementwise_affine=None)
    norm = CausalLayerNorm(4, dim=1)
    with pytest.raises(ValueError, match=r"size 4 along dim=1, got shape \(2, 3, 5\)"):
        norm(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"size 4 along dim=5"):
        CausalLayerNorm(4, dim=5)(torch.zeros(2, 4, 5))


# ----------------------------------------------------------------------------- LocallyConnected1d


def numpy_locally_connected(x, weight, bias, stride, padding, dilation):
    batch, _, _ = x.shape
    positions, c_out, c_in, taps = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    out = np.zeros((batch, c_out, positions))
    for b in range(batch):
        for o in range(c_out):
            for pos in range(positions):
                total = 0.0 if bias is None else bias[o, pos]
                for i in range(c_in):
                    for k in range(taps):
                        total += weight[pos, o, i, k] * xp[b, i, pos * stride + k * dilation]
                out[b, o, pos] = total
    return out


@pytest.mark.parametrize(
    ("size", "c_in", "c_out", "kernel", "stride", "padding", "dilation", "bias"),
    [
        (34, 1, 7, 7, 3, 0, 1, True),
        (20, 2, 3, 4, 2, 1, 2, True),
        (9, 3, 2, 3, 1, 0, 1, False),
        (5, 1, 4, 5, 1, 0, 1, True),
    ],
)
def test_locally_connected_matches_numpy_loop(size, c_in, c_out, kernel, stride, padding, dilation, bias):
    layer = LocallyConnected1d(size, c_in, c_out, kernel, stride, padding, dilation, bias).double()
    expected_size = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    assert layer.output_size == expected_size
    assert (layer.bias is None) is (not bias) and ("bias" in dict(layer.named_parameters())) is bias
    x = torch.randn(3, c_in, size, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (3, c_out, expected_size)
    b = None if layer.bias is None else layer.bias.detach().numpy()
    expected = numpy_locally_connected(x.numpy(), layer.weight.detach().numpy(), b, stride, padding, dilation)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_locally_connected_uses_fan_in_initialisation():
    layer = LocallyConnected1d(34, 2, 50, 7, stride=3)
    bound = 1 / math.sqrt(2 * 7)
    for tensor in (layer.weight, layer.bias):
        assert tensor.abs().max() <= bound and tensor.abs().max() > 0.9 * bound
    assert abs(float(layer.weight.detach().std()) - bound / math.sqrt(3)) < 0.05 * bound


def test_locally_connected_positions_do_not_share_weights():
    layer = LocallyConnected1d(6, 1, 1, 2, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.arange(5, dtype=torch.float64).view(5, 1, 1, 1).expand(5, 1, 1, 2))
    np.testing.assert_allclose(layer(torch.ones(1, 1, 6, dtype=torch.float64))[0, 0].detach().numpy(), [0, 2, 4, 6, 8])


def test_locally_connected_gradcheck_and_batch_consistency():
    layer = LocallyConnected1d(10, 2, 3, 3, stride=2, padding=1).double()
    assert_gradcheck(layer, [torch.randn(2, 2, 10)])
    assert_batch_consistent(layer, torch.randn(4, 2, 10))


def test_locally_connected_errors():
    with pytest.raises(ValueError, match=r"does not fit in the padded input"):
        LocallyConnected1d(5, 1, 2, kernel_size=4, dilation=2)
    with pytest.raises(ValueError, match=r"`stride` must be an int >= 1, got 0"):
        LocallyConnected1d(5, 1, 2, 3, stride=0)
    with pytest.raises(ValueError, match=r"`padding` must be an int >= 0"):
        LocallyConnected1d(5, 1, 2, 3, padding=-1)
    with pytest.raises(TypeError, match=r"`bias` must be a bool"):
        LocallyConnected1d(5, 1, 2, 3, bias=0)
    layer = LocallyConnected1d(5, 2, 2, 3)
    with pytest.raises(ValueError, match=r"\(B, in_channels=2, input_size=5\), got \(4, 2, 6\)"):
        layer(torch.zeros(4, 2, 6))
    with pytest.raises(ValueError, match=r"`x` must have 3 dimensions"):
        layer(torch.zeros(2, 5))


# ----------------------------------------------------------------------------- attention helpers


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_positional_encoding_matches_formula(dtype):
    pe = SinusoidalPositionalEncoding(6).to(dtype)
    x = torch.randn(2, 11, 6, dtype=dtype)
    out = pe(x)
    assert out.dtype == dtype
    pos = np.arange(11)[:, None]
    enc = np.zeros((11, 6))
    for i in range(3):
        enc[:, 2 * i] = np.sin(pos[:, 0] / 10000 ** (2 * i / 6))
        enc[:, 2 * i + 1] = np.cos(pos[:, 0] / 10000 ** (2 * i / 6))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose((out - x).numpy(), np.broadcast_to(enc, (2, 11, 6)), atol=tol)
    assert pe(torch.zeros(1, 500, 6)).shape == (1, 500, 6)
    assert "inv_freq" not in pe.state_dict()


def test_positional_encoding_errors():
    with pytest.raises(ValueError, match=r"`d_model` must be even, got 5"):
        SinusoidalPositionalEncoding(5)
    with pytest.raises(ValueError, match=r"`d_model` must be an int >= 1"):
        SinusoidalPositionalEncoding(0)
    with pytest.raises(ValueError, match=r"\(B, L, d_model=4\), got \(2, 3, 6\)"):
        SinusoidalPositionalEncoding(4)(torch.zeros(2, 3, 6))


@pytest.mark.parametrize(("length", "window"), [(1, None), (6, None), (6, 1), (6, 3), (6, 10)])
def test_causal_window_mask_matches_definition(length, window):
    mask = build_causal_window_mask(length, window)
    assert mask.dtype == torch.bool and mask.shape == (length, length)
    for i in range(length):
        for j in range(length):
            allowed = j <= i and (window is None or i - j < window)
            assert bool(mask[i, j]) is (not allowed)


def test_causal_window_mask_errors():
    with pytest.raises(ValueError, match=r"`L` must be an int >= 1, got 0"):
        build_causal_window_mask(0)
    with pytest.raises(ValueError, match=r"`window` must be an int >= 1, got 0"):
        build_causal_window_mask(4, window=0)
    with pytest.raises(TypeError, match=r"`window` must be an int"):
        build_causal_window_mask(4, window=2.5)
