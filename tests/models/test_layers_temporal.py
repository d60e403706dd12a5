import numpy as np
import pytest
import torch

from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.models.layers import LearnableExponentialDecay, causal_fir, decay_profile
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_gradcheck


def numpy_fir(x, kernel, padding):
    """Direct loop: out[b, c, f, t] = sum_j kernel[c, f, j] x[b, f, t - (K-1) + j]."""
    batch, bands, length = x.shape
    filters, _, taps = kernel.shape
    out = np.zeros((batch, filters, bands, length))
    for t in range(length):
        for j in range(taps):
            s = t - (taps - 1) + j
            if s >= 0:
                sample = x[:, :, s]
            elif padding == "replicate":
                sample = x[:, :, 0]
            else:
                continue
            out[:, :, :, t] += kernel[None, :, :, j] * sample[:, None, :]
    return out


def test_decay_profile_values():
    out = decay_profile(torch.tensor([[0.5, 0.25]], dtype=torch.float64), 4)
    expected = np.array([[[1, 0.5, 0.25, 0.125], [1, 0.25, 0.0625, 0.015625]]])
    np.testing.assert_allclose(out.numpy(), expected)


@pytest.mark.parametrize("length", [1, 5, 31, 32, 33, 100])
@pytest.mark.parametrize("taps", [1, 2, 9, 45])
@pytest.mark.parametrize("padding", ["zeros", "replicate"])
@pytest.mark.parametrize("grad", [True, False], ids=["graph", "no_grad"])
def test_causal_fir_matches_direct_numpy_loop(length, taps, padding, grad):
    gen = torch.Generator().manual_seed(length * 100 + taps)
    x = torch.randn(3, 4, length, dtype=torch.float64, generator=gen)
    kernel = torch.randn(2, 4, taps, dtype=torch.float64, generator=gen).requires_grad_(grad)
    out = causal_fir(x, kernel, padding=padding)  # with a graph to record, the windows are copied; without, not
    assert out.shape == (3, 2, 4, length) and out.requires_grad == grad
    if not grad:
        assert out.is_contiguous()
    expected = numpy_fir(x.numpy(), kernel.detach().numpy(), padding)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
@pytest.mark.parametrize(("length", "t0"), [(100, 50), (100, 32), (100, 1), (70, 69), (7, 3)])
def test_causal_fir_is_causal_in_float32_and_float64(padding, length, t0):
    kernel = torch.randn(2, 3, 40, dtype=torch.float64)
    x = torch.randn(2, 3, length, dtype=torch.float64)
    assert_causal(lambda z: causal_fir(z, kernel, padding=padding), x, t0=t0)
    assert_causal(lambda z: causal_fir(z, kernel.float(), padding=padding), x.float(), t0=t0, dtype=None)


def test_causal_fir_gradcheck():
    assert_gradcheck(lambda x, k: causal_fir(x, k, padding="replicate"), [torch.randn(2, 3, 11), torch.randn(2, 3, 4)])


def test_causal_fir_errors():
    x, kernel = torch.randn(2, 3, 10), torch.randn(1, 3, 4)
    with pytest.raises(ValueError, match=r"`x` must have 3 dimensions"):
        causal_fir(x[0], kernel)
    with pytest.raises(ValueError, match=r"`kernel` must have shape \(C, 3, K\).*got \(1, 2, 4\)"):
        causal_fir(x, kernel[:, :2])
    with pytest.raises(ValueError, match=r"`padding` must be one of"):
        causal_fir(x, kernel, padding="reflect")
    with pytest.raises(TypeError, match=r"`x` must be a floating-point tensor"):
        causal_fir(x.long(), kernel)
    with pytest.raises(TypeError, match=r"`kernel` must be a torch.Tensor"):
        causal_fir(x, kernel.numpy())


def numpy_decay_kernel(tau, taps, decay_input):
    r = np.exp(-1.0 / np.asarray(tau, dtype=np.float64))
    h = r[:, None] ** np.arange(taps)[None, :]  # lag 0 first
    if decay_input:  # the leaky integrator's input weight 1 - r (Rahman et al. 2019, deepSTRF 0.1.0)
        h = h * (1.0 - r[:, None])
    return h[:, ::-1]


@pytest.mark.parametrize("decay_input", [True, False])
def test_exponential_decay_kernel_matches_numpy(decay_input):
    layer = LearnableExponentialDecay(4, kernel_size=7, init_tau=3.0, decay_input=decay_input).double()
    with torch.no_grad():
        layer.decay_logit.copy_(torch.tensor([-1.0, 0.0, 0.7, 2.5], dtype=torch.float64))
    kernel = layer.build_kernel()
    assert kernel.shape == (4, 1, 7) and kernel.dtype == torch.float64
    r = 1.0 / (1.0 + np.exp(-np.array([-1.0, 0.0, 0.7, 2.5])))
    expected = numpy_decay_kernel(-1.0 / np.log(r), 7, decay_input)
    np.testing.assert_allclose(kernel[:, 0].detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(layer.tau.numpy(), -1.0 / np.log(r), rtol=1e-12)


@pytest.mark.parametrize("init_tau", [0.05, 0.5, 2.0, 37.0, 1e4])
def test_exponential_decay_starts_at_init_tau(init_tau):
    layer = LearnableExponentialDecay(3, kernel_size=5, init_tau=init_tau).double()
    np.testing.assert_allclose(layer.tau.numpy(), init_tau, rtol=1e-6)
    assert torch.isfinite(layer.build_kernel()).all()


def test_exponential_decay_dc_gain_is_one_minus_r_to_the_k_with_decay_input():
    x = torch.full((2, 5, 1, 40), 3.0, dtype=torch.float64)
    normalised = LearnableExponentialDecay(5, kernel_size=9, init_tau=4.0).double()
    torch.testing.assert_close(normalised(x), x * (1 - np.exp(-9 / 4.0)), rtol=1e-9, atol=1e-9)
    raw = LearnableExponentialDecay(5, kernel_size=9, init_tau=4.0, decay_input=False).double()
    gain = sum(np.exp(-lag / 4.0) for lag in range(9))
    torch.testing.assert_close(raw(x), x * gain, rtol=1e-10, atol=1e-10)
    assert torch.equal(raw.build_kernel()[:, 0, -1], torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(2, 6, 30), (2, 6, 1, 30), (2, 1, 6, 30)])
def test_exponential_decay_filters_each_channel_like_numpy(shape):
    layer = LearnableExponentialDecay(6, kernel_size=8, init_tau=2.0).double()
    with torch.no_grad():
        layer.decay_logit.copy_(torch.linspace(-2.0, 2.0, 6))
    x = torch.randn(shape, dtype=torch.float64)
    out = layer(x)
    assert out.shape == x.shape
    kernel = layer.build_kernel().detach().numpy().transpose(1, 0, 2)  # (1, 6, K)
    expected = numpy_fir(x.reshape(2, 6, 30).numpy(), kernel, "replicate").reshape(shape)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_exponential_decay_is_causal_batch_consistent_and_differentiable():
    layer = LearnableExponentialDecay(5, kernel_size=14, init_tau=2.0)
    assert_causal(layer, torch.rand(2, 5, 1, 60), t0=25)
    assert_causal(layer, torch.rand(2, 1, 5, 60), t0=40)
    assert_batch_consistent(layer, torch.rand(3, 5, 1, 45))
    layer = layer.double()
    assert_gradcheck(layer, [torch.rand(2, 5, 1, 12)])
    x = torch.rand(1, 5, 20, dtype=torch.float64)

    def of_logit(logit):
        return torch.func.functional_call(layer, {"decay_logit": logit}, (x,))

    assert_gradcheck(of_logit, [torch.randn(5)])


def test_exponential_decay_learns_its_time_constants():
    layer = LearnableExponentialDecay(2, kernel_size=6)
    out = layer(torch.randn(1, 2, 30)).square().sum()
    out.backward()
    assert layer.decay_logit.grad is not None and torch.all(layer.decay_logit.grad != 0)


def test_exponential_decay_config_rebuilds_it():
    layer = LearnableExponentialDecay(4, kernel_size=6, init_tau=1.5, decay_input=False)
    rebuilt = decode_value(encode_value(layer))
    assert isinstance(rebuilt, LearnableExponentialDecay)
    assert torch.equal(rebuilt.build_kernel(), layer.build_kernel())


def test_exponential_decay_errors():
    with pytest.raises(ValueError, match=r"`input_size` must be an int >= 1"):
        LearnableExponentialDecay(0, kernel_size=3)
    with pytest.raises(ValueError, match=r"`kernel_size` must be an int >= 1"):
        LearnableExponentialDecay(3, kernel_size=0)
    with pytest.raises(ValueError, match=r"`init_tau` must be > 0"):
        LearnableExponentialDecay(3, kernel_size=3, init_tau=0.0)
    with pytest.raises(TypeError, match=r"`decay_input` must be a bool"):
        LearnableExponentialDecay(3, kernel_size=3, decay_input=1)
    layer = LearnableExponentialDecay(3, kernel_size=3)
    with pytest.raises(ValueError, match=r"\(B, 3, 1, T\) or \(B, 1, 3, T\).*got \(2, 3, 2, 10\)"):
        layer(torch.zeros(2, 3, 2, 10))
    with pytest.raises(ValueError, match=r"\(B, 3, T\) for input_size=3, got \(2, 4, 10\)"):
        layer(torch.zeros(2, 4, 10))
    with pytest.raises(ValueError, match=r"`x` must have 3 or 4 dimensions"):
        layer(torch.zeros(3, 10))
