import math

import numpy as np
import pytest
import torch

from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.models.prefiltering import (
    AdapTrans,
    ICAdaptation,
    Willmore_Adaptation,
    a_to_tau,
    freq_to_tau,
    get_CFs,
    make_prefiltering,
    tau_to_a,
)
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_gradcheck

# ----------------------------------------------------------------------------- references


def numpy_on_kernel(a, w, taps):
    """[-C w a^(K-2), ..., -C w a, -C w, +1] per band, with C = 1 / sum_{m < K-1} a^m."""
    powers = a[:, None] ** np.arange(taps - 1)[None, :]  # lag 1 first
    past = -w[:, None] * powers / powers.sum(axis=1, keepdims=True)
    return np.concatenate([past[:, ::-1], np.ones((len(a), 1))], axis=1)


def numpy_off_kernel(a, w, taps):
    """The ON kernel negated and divided by w, with the current tap set to -w."""
    kernel = -numpy_on_kernel(a, w, taps) / w[:, None]
    kernel[:, -1] = -w
    return kernel


def numpy_filter_rectify(x, kernel):
    """x: (B, F, T), kernel: (F, K); replicate the first frame before the start; then max(0, .)."""
    taps = kernel.shape[1]
    padded = np.concatenate([np.repeat(x[:, :, :1], taps - 1, axis=2), x], axis=2)
    out = np.zeros_like(x)
    for t in range(x.shape[2]):
        out[:, :, t] = (padded[:, :, t : t + taps] * kernel[None]).sum(-1)
    return np.maximum(out, 0.0)


# ----------------------------------------------------------------------------- time constants


def test_freq_to_tau_values():
    freqs = np.array([100.0, 500.0, 1000.0, 8000.0, 20000.0])
    out = freq_to_tau(torch.tensor(freqs, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), 500.0 - 105.0 * np.log10(freqs), rtol=1e-12)
    assert isinstance(freq_to_tau(1000.0), float) and freq_to_tau(1000.0) == pytest.approx(185.0)
    assert freq_to_tau(torch.tensor([1000.0])).dtype == torch.float32


@pytest.mark.parametrize("bad", [0.0, -5.0, 60000.0])
def test_freq_to_tau_rejects_frequencies_without_a_positive_time_constant(bad):
    with pytest.raises(ValueError, match=r"`freqs` must lie in \(0, 57797\) Hz"):
        freq_to_tau(torch.tensor([1000.0, bad]))


def test_tau_to_a_and_back():
    tau = np.array([1.0, 48.4, 216.6, 1e4])
    a = tau_to_a(torch.tensor(tau, dtype=torch.float64), dt=5.0)
    np.testing.assert_allclose(a.numpy(), np.exp(-5.0 / tau), rtol=1e-14)
    np.testing.assert_allclose(a_to_tau(a, dt=5.0).numpy(), tau, rtol=1e-10)
    assert tau_to_a(10.0) == pytest.approx(math.exp(-0.1))
    assert a_to_tau(math.exp(-0.5), dt=2.0) == pytest.approx(4.0)


def test_time_constant_errors():
    with pytest.raises(ValueError, match=r"`time_constants` must be > 0"):
        tau_to_a(torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"`dt` must be > 0, got -1"):
        tau_to_a(3.0, dt=-1)
    with pytest.raises(ValueError, match=r"`a` must lie in \(0, 1\)"):
        a_to_tau(torch.tensor([0.5, 1.0]))
    with pytest.raises(TypeError, match=r"`a` must be a real number or a floating tensor, got str"):
        a_to_tau("0.5")
    with pytest.raises(TypeError, match=r"`freqs` must be a real number"):
        freq_to_tau([1000.0])


# ----------------------------------------------------------------------------- centre frequencies


def mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def inv_mel(m):
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def greenwood(x):
    return 165.4 * (10 ** (2.1 * x) - 0.88)


def inv_greenwood(f):
    return np.log10(f / 165.4 + 0.88) / 2.1


def erb(f):
    return 21.4 * np.log10(0.00437 * f + 1.0)


def inv_erb(e):
    return (10 ** (e / 21.4) - 1.0) / 0.00437


@pytest.mark.parametrize(
    ("scale", "forward", "inverse"),
    [("mel", mel, inv_mel), ("greenwood", inv_greenwood, greenwood), ("erb", erb, inv_erb)],
)
def test_get_cfs_against_numpy(scale, forward, inverse):
    cfs = get_CFs(500.0, 20000.0, 34, scale)
    assert cfs.shape == (34,) and cfs.dtype == torch.get_default_dtype()
    expected = inverse(np.linspace(forward(500.0), forward(20000.0), 34))
    np.testing.assert_allclose(cfs.double().numpy(), expected, rtol=1e-5)
    assert torch.isfinite(cfs).all() and bool((cfs[1:] > cfs[:-1]).all())
    assert float(cfs[0]) == 500.0 and float(cfs[-1]) == 20000.0


def test_get_cfs_single_band_and_errors():
    assert get_CFs(300.0, 4000.0, 1, "greenwood").tolist() == [300.0]
    with pytest.raises(ValueError, match=r"`scale` must be one of \['mel', 'erb', 'greenwood'\], got 'bark'"):
        get_CFs(500.0, 8000.0, 4, "bark")
    with pytest.raises(ValueError, match=r"`max_freq` must be greater than min_freq=8000.0, got 500.0"):
        get_CFs(8000.0, 500.0, 4, "mel")
    with pytest.raises(ValueError, match=r"`min_freq` must be > 0"):
        get_CFs(0.0, 500.0, 4, "mel")
    with pytest.raises(ValueError, match=r"`n_freqs` must be an int >= 1, got 0"):
        get_CFs(100.0, 500.0, 0, "mel")


# ----------------------------------------------------------------------------- ICAdaptation


def test_ic_adaptation_kernel_and_output_match_numpy():
    pre = ICAdaptation(torch.tensor([0.3, 0.8, 0.95]), kernel_size=6).double()
    a = pre.a.numpy()
    np.testing.assert_allclose(a, [0.3, 0.8, 0.95], rtol=1e-7)
    kernel = pre.build_kernels()
    assert kernel.shape == (1, 3, 6)
    expected_kernel = numpy_on_kernel(a, np.ones(3), 6)
    np.testing.assert_allclose(kernel[0].numpy(), expected_kernel, rtol=1e-12)
    np.testing.assert_allclose(kernel[0, :, :-1].sum(-1).numpy(), -1.0, rtol=1e-12)
    x = torch.rand(2, 1, 3, 40, dtype=torch.float64)
    out = pre(x)
    assert out.shape == (2, 1, 3, 40)
    np.testing.assert_allclose(out[:, 0].numpy(), numpy_filter_rectify(x[:, 0].numpy(), expected_kernel), atol=1e-12)


def test_ic_adaptation_is_fixed_causal_and_batch_consistent():
    pre = ICAdaptation([0.5, 0.9, 0.99], kernel_size=20)
    assert not list(pre.parameters()) and set(dict(pre.named_buffers())) == {"a"}
    assert pre.out_channels == 1 and Willmore_Adaptation is ICAdaptation
    assert_causal(pre, torch.rand(2, 1, 3, 80) + 0.5, t0=33)
    assert_batch_consistent(pre, torch.rand(3, 1, 3, 50))
    steady = pre(torch.full((1, 1, 3, 30), 2.0))
    assert float(steady.abs().max()) < 1e-6  # a steady level is adapted away from the first frame on
    assert pre.double()(torch.rand(1, 1, 3, 10, dtype=torch.float64)).dtype == torch.float64


# ----------------------------------------------------------------------------- AdapTrans


def test_adaptrans_kernels_match_numpy():
    a0, w0 = np.array([0.4, 0.7, 0.9, 0.97]), np.array([0.2, 0.5, 0.75, 0.9])
    pre = AdapTrans(torch.tensor(a0), torch.tensor(w0), kernel_size=7).double()
    a, w = pre.a.detach().numpy(), pre.w.detach().numpy()
    np.testing.assert_allclose(a, np.stack([a0, a0]), rtol=1e-6)
    np.testing.assert_allclose(w, w0, rtol=1e-6)
    kernels = pre.build_kernels().detach()
    assert kernels.shape == (2, 4, 7)
    np.testing.assert_allclose(kernels[0].numpy(), numpy_on_kernel(a[0], w, 7), rtol=1e-10)
    np.testing.assert_allclose(kernels[1].numpy(), numpy_off_kernel(a[1], w, 7), rtol=1e-10)
    np.testing.assert_allclose(kernels[0, :, :-1].sum(-1).numpy(), -w, rtol=1e-10)
    np.testing.assert_allclose(kernels[1, :, :-1].sum(-1).numpy(), 1.0, rtol=1e-10)


def test_adaptrans_output_matches_numpy_with_separate_on_off_decays():
    pre = AdapTrans([0.5, 0.8, 0.9], [0.3, 0.6, 0.9], kernel_size=9).double()
    with torch.no_grad():
        pre.a_logit[1] += 1.0  # OFF decays differ from ON ones
    a, w = pre.a.detach().numpy(), pre.w.detach().numpy()
    x = torch.rand(2, 1, 3, 45, dtype=torch.float64) * 4
    out = pre(x).detach()
    assert out.shape == (2, 2, 3, 45)
    np.testing.assert_allclose(out[:, 0].numpy(), numpy_filter_rectify(x[:, 0].numpy(), numpy_on_kernel(a[0], w, 9)))
    np.testing.assert_allclose(out[:, 1].numpy(), numpy_filter_rectify(x[:, 0].numpy(), numpy_off_kernel(a[1], w, 9)))


def test_adaptrans_on_marks_onsets_and_off_marks_offsets():
    pre = AdapTrans([0.8], [0.9], kernel_size=30).double()
    level = torch.cat([torch.zeros(40), torch.ones(40), torch.zeros(40)]).double().view(1, 1, 1, -1)
    on, off = pre(level)[0, :, 0].detach()
    assert on[40] == 1.0 and on.argmax() == 40 and on[:40].abs().max() == 0
    assert off[80] == pytest.approx(1.0) and off.argmax() == 80 and off[:40].abs().max() == 0
    sustained = 1 - float(pre.w.detach())
    assert on[75] == pytest.approx(sustained, abs=1e-12) and off[75] == pytest.approx(sustained, abs=1e-12)


def test_adaptrans_learnable_flag():
    learnable = AdapTrans([0.5, 0.6], [0.7, 0.8], kernel_size=4)
    params = dict(learnable.named_parameters())
    assert set(params) == {"a_logit", "w_logit"} and params["a_logit"].shape == (2, 2)
    assert learnable.out_channels == 2
    frozen = AdapTrans([0.5, 0.6], [0.7, 0.8], kernel_size=4, learnable=False)
    assert not list(frozen.parameters()) and set(dict(frozen.named_buffers())) == {"a_logit", "w_logit"}
    assert frozen.state_dict().keys() == learnable.state_dict().keys()
    x = torch.rand(1, 1, 2, 12)
    with torch.no_grad():  # the same filtering: bit for bit when both run without autograd
        assert torch.equal(frozen(x), learnable(x))
    # with a graph to record, the filtering is computed another way (see causal_fir): float rounding apart
    torch.testing.assert_close(frozen(x), learnable(x).detach(), rtol=1e-6, atol=1e-6)


def test_adaptrans_causal_batch_consistent_double_and_differentiable():
    pre = make_prefiltering("adaptrans", n_frequency_bands=6, dt=10.0)
    assert_causal(pre, torch.rand(2, 1, 6, 90) + 0.1, t0=47)
    assert_batch_consistent(pre, torch.rand(3, 1, 6, 40))
    double = AdapTrans([0.6, 0.9], [0.5, 0.8], kernel_size=5).double()
    assert double.build_kernels().dtype == torch.float64
    x = torch.rand(1, 1, 2, 12, dtype=torch.float64) + torch.linspace(0, 3, 12, dtype=torch.float64)
    assert_gradcheck(double, [x])

    def of_params(a_logit, w_logit):
        return torch.func.functional_call(double, {"a_logit": a_logit, "w_logit": w_logit}, (x,))

    assert_gradcheck(of_params, [double.a_logit.detach(), double.w_logit.detach()])


def test_adaptrans_config_rebuilds_it():
    pre = AdapTrans(torch.tensor([0.5, 0.7]), torch.tensor([0.6, 0.9]), kernel_size=5, learnable=False)
    rebuilt = decode_value(encode_value(pre))
    assert isinstance(rebuilt, AdapTrans) and not rebuilt.learnable
    torch.testing.assert_close(rebuilt.build_kernels(), pre.build_kernels())


def test_adaptation_prefilter_errors():
    with pytest.raises(ValueError, match=r"`init_w_vals` must have shape \(2,\), got \(3,\)"):
        AdapTrans([0.5, 0.6], [0.5, 0.6, 0.7])
    with pytest.raises(ValueError, match=r"`init_a_vals` must lie strictly between 0 and 1, got values \[0.5, 1.0\]"):
        AdapTrans([0.5, 1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match=r"`init_w_vals` must lie strictly between 0 and 1"):
        AdapTrans([0.5, 0.6], [0.0, 0.6])
    with pytest.raises(ValueError, match=r"`init_a_vals` must have shape \(F,\) with F >= 1, got \(2, 2\)"):
        ICAdaptation(torch.full((2, 2), 0.5))
    with pytest.raises(TypeError, match=r"`init_a_vals` must be a 1-D tensor or a sequence of floats, got float"):
        ICAdaptation(0.5)
    with pytest.raises(ValueError, match=r"`kernel_size` must be an int >= 2, got 1"):
        ICAdaptation([0.5], kernel_size=1)
    with pytest.raises(TypeError, match=r"`learnable` must be a bool"):
        AdapTrans([0.5], [0.5], learnable="no")
    pre = AdapTrans([0.5, 0.6], [0.5, 0.6])
    with pytest.raises(ValueError, match=r"\(B, 1, F=2, T\), got \(1, 2, 2, 10\)"):
        pre(torch.zeros(1, 2, 2, 10))
    with pytest.raises(ValueError, match=r"`spectro_in` must have 4 dimensions"):
        pre(torch.zeros(2, 10))


# ----------------------------------------------------------------------------- make_prefiltering


@pytest.mark.parametrize(("dt", "expected_k"), [(1.0, 512), (5.0, 131), (10.0, 66), (16.0, 42), (1000.0, 2)])
def test_make_prefiltering_sizes_kernels_in_frames(dt, expected_k):
    tau_max = 500.0 - 105.0 * np.log10(500.0)
    assert expected_k == min(512, max(2, 1 + math.ceil(3 * tau_max / dt)))
    pre = make_prefiltering("adaptrans", n_frequency_bands=34, dt=dt)
    assert pre.K == expected_k
    assert make_prefiltering("adaptrans", 34, dt=1.0, max_kernel_size=700).K == 651


@pytest.mark.parametrize("scale", ["mel", "greenwood"])
def test_make_prefiltering_initial_values(scale):
    pre = make_prefiltering("AdapTrans", n_frequency_bands=20, dt=5.0, min_freq=300.0, max_freq=16000.0, scale=scale)
    cfs = get_CFs(300.0, 16000.0, 20, scale).double().numpy()
    a = np.exp(-5.0 / (500.0 - 105.0 * np.log10(cfs)))
    np.testing.assert_allclose(pre.a.detach().double().numpy(), np.stack([a, a]), rtol=1e-5)
    np.testing.assert_allclose(pre.w.detach().numpy(), 0.75, rtol=1e-6)
    assert pre.learnable and isinstance(pre, AdapTrans)


@pytest.mark.parametrize("kind", ["icadaptation", "willmore", "ICAdaptation"])
def test_make_prefiltering_builds_ic_adaptation(kind):
    pre = make_prefiltering(kind, n_frequency_bands=8, dt=10.0, learnable=True)
    assert isinstance(pre, ICAdaptation) and not list(pre.parameters()) and pre.out_channels == 1


def test_make_prefiltering_frozen_adaptrans_and_errors():
    assert not list(make_prefiltering("adaptrans", 4, dt=5.0, learnable=False).parameters())
    with pytest.raises(ValueError, match=r"`kind` must be one of \['adaptrans', 'icadaptation', 'willmore'\]"):
        make_prefiltering("gammatone", 4, dt=5.0)
    with pytest.raises(TypeError, match=r"`kind` must be a str"):
        make_prefiltering(None, 4, dt=5.0)
    with pytest.raises(ValueError, match=r"`dt` must be > 0"):
        make_prefiltering("adaptrans", 4, dt=0.0)
    with pytest.raises(ValueError, match=r"`init_w` must lie strictly between 0 and 1, got 1.0"):
        make_prefiltering("adaptrans", 4, dt=5.0, init_w=1.0)
    with pytest.raises(ValueError, match=r"`max_kernel_size` must be an int >= 2"):
        make_prefiltering("adaptrans", 4, dt=5.0, max_kernel_size=1)
    with pytest.raises(ValueError, match=r"`scale` must be one of"):
        make_prefiltering("adaptrans", 4, dt=5.0, scale="log")
    with pytest.raises(ValueError, match=r"`n_frequency_bands` must be an int >= 1"):
        make_prefiltering("adaptrans", 0, dt=5.0)
