import math

import numpy as np
import pytest
import torch
from torch import nn

from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.models.layers import CausalSTRFConv, ParametricSTRF, SeparableSTRF, STRFKernel, strf_conv
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_gradcheck


def numpy_causal_strf(x, weight, bias):
    """out[b, o, t] = bias[o] + sum_{i, f, k} weight[o, i, f, k] x[b, i, f, t - (T-1) + k], zeros before 0."""
    batch, _, _, length = x.shape
    c_out, _, _, taps = weight.shape
    padded = np.concatenate([np.zeros((*x.shape[:3], taps - 1)), x], axis=-1)
    out = np.zeros((batch, c_out, 1, length))
    for t in range(length):
        window = padded[:, :, :, t : t + taps]
        out[:, :, 0, t] = np.einsum("bifk,oifk->bo", window, weight)
    return out + (0 if bias is None else bias[None, :, None, None])


def numpy_gaussian_kernel(positions, sigmas, weight, F, T):
    c_out, c_in, count = weight.shape
    kernel = np.zeros((c_out, c_in, F, T))
    f, t = np.arange(F)[:, None], np.arange(T)[None, :]
    for o in range(c_out):
        for i in range(c_in):
            for g in range(count):
                gf = np.exp(-0.5 * ((f - positions[0, o, i, g]) / sigmas[0, o, i, g]) ** 2)
                gt = np.exp(-0.5 * ((t - positions[1, o, i, g]) / sigmas[1, o, i, g]) ** 2)
                bump = gf * gt
                kernel[o, i] += weight[o, i, g] * bump / bump.sum()
    return kernel


def test_strf_conv_equals_conv2d():
    x, w, b = torch.randn(2, 3, 7, 20, dtype=torch.float64), torch.randn(4, 3, 7, 5).double(), torch.randn(4).double()
    torch.testing.assert_close(strf_conv(x, w, b), nn.functional.conv2d(x, w, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("length", [1, 3, 9, 40])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("grad", [True, False], ids=["graph", "no_grad"])
def test_causal_strf_conv_matches_numpy(length, bias, grad):
    conv = CausalSTRFConv(F=6, T=9, C_in=2, C_out=3, bias=bias).double()
    x = torch.randn(2, 2, 6, length, dtype=torch.float64)
    with torch.set_grad_enabled(grad):  # two ways of computing it: with and without a graph
        out = conv(x)
    assert out.requires_grad == grad
    assert out.shape == (2, 3, 1, length)
    b = None if conv.bias is None else conv.bias.detach().numpy()
    expected = numpy_causal_strf(x.numpy(), conv.weight.detach().numpy(), b)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_causal_strf_conv_paths_give_the_same_gradients():
    """With an input gradient (padded 1-D path) and with the kernel's only (2-D path): same outputs and kernel grads."""
    conv = CausalSTRFConv(F=6, T=9, C_in=2, C_out=3).double()
    x = torch.randn(2, 2, 6, 30, dtype=torch.float64)
    target = torch.randn(2, 3, 1, 30, dtype=torch.float64)
    grads = []
    for input_grad in (True, False):
        conv.zero_grad()
        out = conv(x.clone().requires_grad_(input_grad))
        ((out - target) ** 2).sum().backward()
        grads.append((out.detach(), conv.weight.grad.clone(), conv.bias.grad.clone()))
    for with_input, kernel_only in zip(*grads):
        torch.testing.assert_close(with_input, kernel_only, rtol=1e-10, atol=1e-12)


def test_causal_strf_conv_default_kernel_and_bias_flag():
    conv = CausalSTRFConv(F=34, T=9, C_in=1, C_out=5)
    assert isinstance(conv.kernel, nn.Conv2d) and conv.weight is conv.kernel.weight
    assert conv.weight.shape == (5, 1, 34, 9) and conv.bias.shape == (5,)
    no_bias = CausalSTRFConv(F=34, T=9, C_in=1, C_out=5, bias=False)
    assert no_bias.bias is None and "kernel.bias" not in dict(no_bias.named_parameters())


@pytest.mark.parametrize(
    "kernel",
    [None, lambda: ParametricSTRF(8, 5, 2, 3, num_gaussians=2), lambda: SeparableSTRF(8, 5, 2, 3)],
    ids=["conv2d", "parametric", "separable"],
)
def test_causal_strf_conv_is_causal_batch_consistent_and_differentiable(kernel):
    conv = CausalSTRFConv(F=8, T=5, C_in=2, C_out=3, kernel=None if kernel is None else kernel())
    assert_causal(conv, torch.randn(2, 2, 8, 30), t0=12)
    assert_batch_consistent(conv, torch.randn(3, 2, 8, 17))
    assert_gradcheck(conv.double(), [torch.randn(1, 2, 8, 7)])


@pytest.mark.parametrize("kernel_cls", [ParametricSTRF, SeparableSTRF])
def test_parameterised_kernel_output_uses_its_built_kernel(kernel_cls):
    kernel = kernel_cls(8, 5, 2, 3).double()
    conv = CausalSTRFConv(F=8, T=5, C_in=2, C_out=3, kernel=kernel)
    x = torch.randn(2, 2, 8, 12, dtype=torch.float64)
    expected = numpy_causal_strf(x.numpy(), kernel.build_kernel().detach().numpy(), kernel.bias.detach().numpy())
    np.testing.assert_allclose(conv(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    weight = conv.STRF_weight()
    assert weight.shape == (3, 2, 8, 5) and weight.device.type == "cpu" and not weight.requires_grad
    torch.testing.assert_close(weight, kernel.build_kernel().detach())


def test_strf_weight_is_a_detached_copy():
    conv = CausalSTRFConv(F=4, T=3, C_in=1, C_out=2)
    weight = conv.STRF_weight()
    weight.zero_()
    assert conv.weight.abs().sum() > 0 and not weight.requires_grad


def test_parametric_strf_kernel_matches_numpy_gaussians():
    kernel = ParametricSTRF(F=12, T=7, C_in=2, C_out=3, num_gaussians=3).double()
    with torch.no_grad():
        kernel.raw_sigmas.uniform_(-1.0, 1.5)
    built = kernel.build_kernel()
    assert built.shape == (3, 2, 12, 7) and built.dtype == torch.float64
    sigmas = np.log1p(np.exp(kernel.raw_sigmas.detach().numpy())) + 0.01
    expected = numpy_gaussian_kernel(kernel.positions.detach().numpy(), sigmas, kernel.weight.detach().numpy(), 12, 7)
    np.testing.assert_allclose(built.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_parametric_strf_init_and_unit_mass():
    kernel = ParametricSTRF(F=34, T=9, C_in=1, C_out=50, num_gaussians=4)
    pos = kernel.positions.detach()
    assert 0 <= pos[0].min() and pos[0].max() <= 33 and 0 <= pos[1].min() and pos[1].max() <= 8
    assert pos[0].max() - pos[0].min() > 25  # spread over the whole grid, not its centre
    torch.testing.assert_close(kernel.sigmas[0], torch.full((50, 1, 4), 34 / 8))
    torch.testing.assert_close(kernel.sigmas[1], torch.full((50, 1, 4), 9 / 8))
    bound = 1 / math.sqrt(4)
    assert kernel.weight.abs().max() <= bound and kernel.bias.abs().max() <= bound
    with torch.no_grad():
        kernel.weight.fill_(1.0)
        kernel.positions[0].fill_(60.0)  # far off the grid: still finite, still unit mass per Gaussian
    total = kernel.build_kernel().sum(dim=(-1, -2))
    torch.testing.assert_close(total, torch.full((50, 1), 4.0))


def test_parametric_strf_without_bias():
    kernel = ParametricSTRF(F=6, T=4, C_in=1, C_out=2, bias=False)
    assert kernel.bias is None and set(dict(kernel.named_parameters())) == {"positions", "raw_sigmas", "weight"}
    x = torch.randn(1, 1, 6, 9)
    torch.testing.assert_close(kernel(x), nn.functional.conv2d(x, kernel.build_kernel()))


def test_parametric_strf_gradients_reach_every_parameter():
    kernel = ParametricSTRF(F=6, T=4, C_in=1, C_out=2, num_gaussians=2).double()
    names = ["positions", "raw_sigmas", "weight"]
    params = dict(kernel.named_parameters())

    def kernel_of(*values):
        replaced = {**params, **dict(zip(names, values))}
        return torch.func.functional_call(kernel, replaced, (torch.ones(1, 1, 6, 4, dtype=torch.float64),))

    assert_gradcheck(kernel_of, [params[n].detach() for n in names])


def test_separable_strf_is_rank_one_outer_product():
    kernel = SeparableSTRF(F=10, T=6, C_in=2, C_out=3, bias=False)
    assert kernel.bias is None and sum(p.numel() for p in kernel.parameters()) == 3 * 2 * (10 + 6)
    built = kernel.build_kernel().detach().numpy()
    expected = np.einsum("oif,oit->oift", kernel.weight_f.detach().numpy(), kernel.weight_t.detach().numpy())
    np.testing.assert_allclose(built, expected, rtol=1e-6)
    assert np.linalg.matrix_rank(kernel.double().build_kernel()[1, 0].detach().numpy()) == 1


def test_separable_strf_init_scale_matches_a_default_conv():
    torch.manual_seed(1)
    kernel = SeparableSTRF(F=34, T=9, C_in=2, C_out=400)
    expected_std = 1 / math.sqrt(3 * 2 * 34 * 9)
    assert abs(float(kernel.build_kernel().detach().std()) / expected_std - 1) < 0.1


def test_kernels_are_serialised_as_nested_configs():
    conv = CausalSTRFConv(F=8, T=5, C_in=1, C_out=3, kernel=ParametricSTRF(8, 5, 1, 3, num_gaussians=2, bias=False))
    encoded = encode_value(conv)
    assert encoded["kwargs"]["kernel"]["__module__"].endswith("ParametricSTRF")
    rebuilt = decode_value(encoded)
    assert isinstance(rebuilt.kernel, ParametricSTRF) and rebuilt.kernel.num_gaussians == 2
    rebuilt.load_state_dict(conv.state_dict())
    x = torch.randn(1, 1, 8, 10)
    assert torch.equal(rebuilt(x), conv(x))


def test_strf_kernel_base_class_requires_build_kernel():
    with pytest.raises(NotImplementedError):
        STRFKernel(4, 3, 1, 2).build_kernel()


def test_causal_strf_conv_errors():
    with pytest.raises(ValueError, match=r"`F` must be an int >= 1, got 0"):
        CausalSTRFConv(F=0, T=3, C_in=1, C_out=2)
    with pytest.raises(TypeError, match=r"`T` must be an int"):
        CausalSTRFConv(F=4, T=3.0, C_in=1, C_out=2)
    with pytest.raises(TypeError, match=r"`kernel` must be None, an nn.Conv2d, an nn.Sequential.*got Linear"):
        CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"\(C_out, C_in, F, T\) = \(2, 1, 4, 3\), got \(2, 1, 5, 3\)"):
        CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=ParametricSTRF(5, 3, 1, 2))
    with pytest.raises(ValueError, match=r"\(2, 1, 4, 3\), got \(3, 1, 4, 3\)"):
        CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=nn.Conv2d(1, 3, (4, 3)))
    with pytest.raises(ValueError, match=r"stride 1, no padding.*padding=\(1, 1\)"):
        CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=nn.Conv2d(1, 2, (4, 3), padding=1))
    with pytest.raises(TypeError, match=r"`bias` must be a bool"):
        CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, bias=None)
    conv = CausalSTRFConv(F=4, T=3, C_in=2, C_out=2)
    with pytest.raises(ValueError, match=r"\(B, C_in=2, F=4, T\), got \(1, 1, 4, 9\)"):
        conv(torch.zeros(1, 1, 4, 9))
    with pytest.raises(ValueError, match=r"`x` must have 4 dimensions, got shape \(2, 4, 9\)"):
        conv(torch.zeros(2, 4, 9))
    with pytest.raises(AttributeError, match=r"has no attribute 'weight'"):
        _ = CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=SeparableSTRF(4, 3, 1, 2)).weight
    with pytest.raises(ValueError, match=r"`num_gaussians` must be an int >= 1"):
        ParametricSTRF(4, 3, 1, 2, num_gaussians=0)
    with pytest.raises(TypeError, match=r"`bias` must be a bool"):
        SeparableSTRF(4, 3, 1, 2, bias="yes")


def test_a_custom_kernel_starts_with_a_zero_bias_not_uninitialised_memory():
    class Flat(STRFKernel):
        def build_kernel(self, device=None):
            return torch.ones(self.C_out, self.C_in, self.F, self.T)

    assert torch.equal(Flat(3, 2, 1, 4).bias.detach(), torch.zeros(4))


def test_separable_sequential_kernel_of_the_seeds():
    """The (F, 1) then depthwise (1, T) nn.Sequential kernel: effective weight, bias and causal output."""
    torch.manual_seed(0)
    kernel = nn.Sequential(nn.Conv2d(2, 3, (6, 1), bias=False), nn.Conv2d(3, 3, (1, 4), groups=3))
    conv = CausalSTRFConv(F=6, T=4, C_in=2, C_out=3, kernel=kernel).double()
    wf, wt = kernel[0].weight.detach(), kernel[1].weight.detach()  # (3, 2, 6, 1), (3, 1, 1, 4)
    torch.testing.assert_close(conv.STRF_weight(), wf * wt)
    torch.testing.assert_close(conv.bias, kernel[1].bias)
    x = torch.randn(2, 2, 6, 20, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (3, 0)), wf * wt, kernel[1].bias)
    torch.testing.assert_close(conv(x), expected)
    with pytest.raises(TypeError, match=r"unpadded nn\.Conv2d"):
        CausalSTRFConv(6, 4, 2, 3, kernel=nn.Sequential(nn.Conv2d(2, 3, (6, 1)), nn.ReLU()))
    with pytest.raises(ValueError, match=r"to \(B, C_out=3, 1, 1\)"):
        CausalSTRFConv(6, 4, 2, 3, kernel=nn.Sequential(nn.Conv2d(2, 3, (6, 1))))
