import numpy as np
import pytest
import torch
from torch import nn

from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.layers import ParametricSTRF
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.models.readouts import STRFReadout
from deepSTRF.testing import assert_causal

F, T_STRF, N, HOP = 5, 4, 3, 6


class OnOff(ConfigurableModule):
    """A two-channel rectifying prefilter: relu(x) and relu(-x)."""

    out_channels = 2

    def forward(self, x):
        return torch.cat([x.relu(), (-x).relu()], dim=1)


class FrameProjection(ConfigurableModule):
    """A causal toy front-end: each hop of audio samples is projected onto F bands."""

    def __init__(self, bands: int = F, hop: int = HOP):
        super().__init__()
        self.out_channels, self.hop = bands, hop
        self.proj = nn.Parameter(torch.randn(bands, hop))

    def forward(self, wav):
        frames = wav.reshape(wav.shape[0], 1, -1, self.hop)  # (B, 1, T, hop)
        return (frames @ self.proj.T).transpose(-1, -2)  # (B, 1, F, T)


class ToyLinear(AudioEncodingModel):
    """Causal STRF convolution followed by a per-neuron BatchNorm and an optional activation."""

    def __init__(
        self,
        n_frequency_bands=F,
        temporal_window_size=T_STRF,
        out_neurons=N,
        prefiltering=None,
        wav2spec=None,
        activation=None,
    ):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.readout = nn.Sequential(
            nn.ConstantPad2d((temporal_window_size - 1, 0, 0, 0), 0.0),
            nn.Conv2d(self.C_in, out_neurons, (n_frequency_bands, temporal_window_size)),
            nn.BatchNorm2d(out_neurons),
            activation if activation is not None else nn.Identity(),
        )


def trained_toy(dtype=torch.float64, **kwargs):
    """A ToyLinear with non-trivial weights and BatchNorm statistics."""
    model = ToyLinear(**kwargs).to(dtype)
    bn = model.readout[2]
    with torch.no_grad():
        model.readout[1].weight.normal_()
        bn.weight.uniform_(-2, 2)
        bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 3)
    return model


def effective_strf(model):
    """Conv weight times the eval-mode BatchNorm gain, as a float64 NumPy array."""
    bn = model.readout[2]
    gain = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    return model.readout[1].weight.detach().double().numpy() * gain[:, None, None, None]


def snapshot(model):
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads = {k: (None if p.grad is None else p.grad.clone()) for k, p in model.named_parameters()}
    modes = [m.training for m in model.modules()]
    return state, grads, modes


def assert_untouched(model, before):
    state, grads, modes = snapshot(model)
    assert state.keys() == before[0].keys()
    assert all(torch.equal(state[k], before[0][k]) for k in state)
    for k, g in grads.items():
        assert (g is None) == (before[1][k] is None), k
        assert g is None or torch.equal(g, before[1][k]), k
    assert modes == before[2]


# ---- construction ------------------------------------------------------------------------------


def test_attributes():
    model = ToyLinear()
    assert (model.F, model.T, model.C_in, model.O) == (F, T_STRF, 1, N)
    assert isinstance(model.prefiltering, nn.Identity) and isinstance(model.wav2spec, nn.Identity)
    prefiltered = ToyLinear(prefiltering=OnOff(), wav2spec=FrameProjection())
    assert prefiltered.C_in == 2 and isinstance(prefiltered.wav2spec, FrameProjection)
    prefiltered.validate()
    assert prefiltered(torch.randn(2, 1, 7 * HOP)).shape == (2, N, 1, 7)


class NoChannels(nn.Module):
    pass


class FloatChannels(nn.Module):
    out_channels = 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_frequency_bands": 0}, ValueError, "n_frequency_bands"),
        ({"n_frequency_bands": 5.0}, TypeError, "n_frequency_bands"),
        ({"temporal_window_size": -1}, ValueError, "temporal_window_size"),
        ({"out_neurons": 0}, ValueError, "out_neurons"),
        ({"wav2spec": "mel"}, TypeError, "wav2spec.*got str"),
        ({"wav2spec": FrameProjection(bands=F + 1)}, ValueError, r"wav2spec.out_channels.*=5, got 6"),
        ({"wav2spec": NoChannels()}, ValueError, "wav2spec.out_channels.*got None"),
        ({"prefiltering": lambda x: x}, TypeError, "prefiltering.*got function"),
        ({"prefiltering": NoChannels()}, TypeError, r"prefiltering\.out_channels"),
        ({"prefiltering": FloatChannels()}, TypeError, r"prefiltering\.out_channels"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ToyLinear(**kwargs)


def test_validate_reports_broken_attributes():
    model = ToyLinear()
    model.validate()
    model.T = 0
    with pytest.raises(ValueError, match=r"`T`"):
        model.validate()
    model.T, model.C_in = T_STRF, "2"
    with pytest.raises(TypeError, match=r"`C_in`"):
        model.validate()
    model.C_in = 1
    model.wav2spec = FrameProjection(bands=F + 2)
    with pytest.raises(ValueError, match=r"out_channels` must equal F=5, got 7"):
        model.validate()


def test_toy_is_causal():
    assert_causal(trained_toy(), torch.randn(2, 1, F, 20), t0=11)


# ---- STRF_gradmap ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradmap_of_a_linear_model_is_its_effective_strf(dtype):
    model = trained_toy(dtype)
    gradmap = model.STRF_gradmap()
    assert gradmap.shape == (N, 1, F, T_STRF) and gradmap.dtype == dtype
    np.testing.assert_allclose(gradmap.double().numpy(), effective_strf(model), rtol=1e-5, atol=1e-6)
    assert not gradmap.requires_grad


def test_gradmap_over_a_longer_window_is_zero_before_the_receptive_field():
    model = trained_toy()
    gradmap = model.STRF_gradmap(T=T_STRF + 5)
    assert gradmap.shape == (N, 1, F, T_STRF + 5)
    assert torch.count_nonzero(gradmap[..., :5]) == 0
    np.testing.assert_allclose(gradmap[..., 5:].numpy(), effective_strf(model), rtol=1e-12)


def test_gradmap_has_no_side_effects():
    model = trained_toy()
    model.train()
    model.readout[2].eval()  # a submodule in its own mode must keep it
    model.readout[1].weight.grad = torch.full_like(model.readout[1].weight, 7.0)
    before = snapshot(model)
    with torch.no_grad():  # works (and is still side-effect free) inside no_grad
        model.STRF_gradmap()
    assert_untouched(model, before)
    assert model.training and not model.readout[2].training
    model.eval()
    before = snapshot(model)
    model.STRF_gradmap()
    assert_untouched(model, before)


def test_gradmap_matches_finite_differences_for_a_nonlinear_model():
    model = trained_toy(activation=nn.Softplus(beta=2.0)).eval()
    baseline = torch.randn(1, F, T_STRF, dtype=torch.float64)
    gradmap = model.STRF_gradmap(baseline=baseline)
    eps = 1e-6
    numeric = np.zeros((N, 1, F, T_STRF))
    for f in range(F):
        for t in range(T_STRF):
            up, down = baseline.clone(), baseline.clone()
            up[0, f, t] += eps
            down[0, f, t] -= eps
            with torch.no_grad():
                diff = model(up[None]) - model(down[None])
            numeric[:, 0, f, t] = (diff[0, :, 0, -1] / (2 * eps)).numpy()
    np.testing.assert_allclose(gradmap.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_rectifying_prefilter_needs_a_baseline():
    model = trained_toy(prefiltering=OnOff())
    assert torch.count_nonzero(model.STRF_gradmap()) == 0
    on_only = model.STRF_gradmap(baseline=torch.full((F, T_STRF), 0.5, dtype=torch.float64))
    np.testing.assert_allclose(on_only[:, 0].numpy(), effective_strf(model)[:, 0], rtol=1e-12)
    off_only = model.STRF_gradmap(baseline=torch.full((1, F, T_STRF), -0.5, dtype=torch.float64))
    np.testing.assert_allclose(off_only[:, 0].numpy(), -effective_strf(model)[:, 1], rtol=1e-12)


def test_gradmap_bypasses_the_front_end():
    with_front_end = trained_toy(wav2spec=FrameProjection().double())
    plain = trained_toy()
    plain.load_state_dict({k: v for k, v in with_front_end.state_dict().items() if not k.startswith("wav2spec")})
    front_end = with_front_end.wav2spec
    torch.testing.assert_close(with_front_end.STRF_gradmap(), plain.STRF_gradmap(), rtol=0, atol=0)
    assert with_front_end.wav2spec is front_end


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"T": 0}, ValueError, "`T`"),
        ({"T": 2.5}, TypeError, "`T`"),
        ({"baseline": np.zeros((F, T_STRF))}, TypeError, "baseline.*torch.Tensor"),
        ({"baseline": torch.zeros(F, T_STRF, dtype=torch.long)}, TypeError, "floating"),
        ({"baseline": torch.zeros(1, 1, F, T_STRF)}, ValueError, r"2 or 3 dimensions, got shape \(1, 1, 5, 4\)"),
        ({"baseline": torch.zeros(2, F, T_STRF)}, ValueError, r"\(1, 5, 4\) or \(5, 4\), got \(2, 5, 4\)"),
        ({"baseline": torch.zeros(F, T_STRF), "T": 6}, ValueError, r"\(1, 5, 6\) or \(5, 6\), got \(5, 4\)"),
    ],
)
def test_gradmap_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        trained_toy().STRF_gradmap(**kwargs)


def test_gradmap_rejects_a_model_with_the_wrong_output_shape():
    model = trained_toy()
    model.readout.append(nn.Flatten(2))
    with pytest.raises(RuntimeError, match=r"\(N, N, 1, T\)"):
        model.STRF_gradmap()
    assert model.training


# ---- waveform_gradmap --------------------------------------------------------------------------


def waveform_reference(model, n_audio, neuron):
    """d response_n(last bin) / d audio, from the STRF and the front-end projection."""
    strf, proj = effective_strf(model)[:, 0], model.wav2spec.proj.detach().numpy()  # (N, F, T), (F, hop)
    grad = np.zeros(n_audio)
    last = n_audio // HOP - 1
    for k in range(T_STRF):
        t = last - (T_STRF - 1) + k
        grad[t * HOP : (t + 1) * HOP] = strf[neuron, :, k] @ proj
    return grad


def test_waveform_gradmap_matches_the_chain_rule():
    model = trained_toy(wav2spec=FrameProjection().double())
    wav = torch.randn(10 * HOP, dtype=torch.float64)
    for n in range(N):
        np.testing.assert_allclose(
            model.waveform_gradmap(wav, neuron=n).numpy(), waveform_reference(model, wav.numel(), n), rtol=1e-10
        )
    population = sum(waveform_reference(model, wav.numel(), n) for n in range(N))
    np.testing.assert_allclose(model.waveform_gradmap(wav).numpy(), population, rtol=1e-10, atol=1e-12)


def test_waveform_gradmap_reductions_and_input_shapes():
    model = trained_toy(wav2spec=FrameProjection().double())
    wav = torch.randn(8 * HOP, dtype=torch.float64)
    last = model.waveform_gradmap(wav, neuron=1)
    assert last.shape == (8 * HOP,) and last.dtype == torch.float64
    for shaped in (wav.numpy(), wav[None], wav[None, None]):
        torch.testing.assert_close(model.waveform_gradmap(shaped, neuron=1), last, rtol=0, atol=0)
    total = model.waveform_gradmap(wav, neuron=1, reduce="sum")
    assert torch.count_nonzero(total[: 4 * HOP]) > 0 and torch.count_nonzero(last[: 4 * HOP]) == 0
    with torch.no_grad():
        peak_bin = int(model.eval()(wav[None, None])[0, 1, 0].argmax())
    peak = model.waveform_gradmap(wav, neuron=1, reduce="peak")
    assert torch.count_nonzero(peak[(peak_bin + 1) * HOP :]) == 0 and torch.count_nonzero(peak) > 0


def test_waveform_gradmap_has_no_side_effects():
    model = trained_toy(wav2spec=FrameProjection().double()).train()
    model.wav2spec.proj.grad = torch.ones_like(model.wav2spec.proj)
    before = snapshot(model)
    model.waveform_gradmap(torch.randn(6 * HOP, dtype=torch.float64), reduce="sum")
    assert_untouched(model, before)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"neuron": N}, ValueError, "neuron.*< out_neurons=3, got 3"),
        ({"neuron": -1}, ValueError, "neuron"),
        ({"neuron": 1.0}, TypeError, "neuron"),
        ({"reduce": "mean"}, ValueError, "reduce"),
        ({"stimulus": torch.zeros(2, 6 * HOP)}, ValueError, r"stimulus.*got \(2, 36\)"),
        ({"stimulus": torch.zeros(1, 1, 1, 6 * HOP)}, ValueError, "stimulus"),
        ({"stimulus": torch.tensor(1.0)}, ValueError, "stimulus"),
    ],
)
def test_waveform_gradmap_errors(kwargs, error, match):
    model = trained_toy(wav2spec=FrameProjection().double())
    args = {"stimulus": torch.zeros(6 * HOP), **kwargs}
    with pytest.raises(error, match=match):
        model.waveform_gradmap(**args)


def test_waveform_gradmap_needs_a_front_end():
    with pytest.raises(RuntimeError, match=r"no waveform front-end"):
        trained_toy().waveform_gradmap(torch.zeros(10))


# ---- with the library's STRF readout -----------------------------------------------------------


class LinearLike(AudioEncodingModel):
    """The shape of the zoo's Linear model: an STRFReadout over an optional prefilter."""

    def __init__(self, n_frequency_bands=F, temporal_window_size=T_STRF, out_neurons=N, prefiltering=None, kernel=None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering)
        self.readout = STRFReadout(n_frequency_bands, temporal_window_size, self.C_in, out_neurons, kernel=kernel)


def fitted_linear_like(kernel=None, dtype=torch.float64):
    model = LinearLike(kernel=kernel).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
        model.readout(torch.randn(8, 1, F, 12, dtype=dtype))  # train-mode pass: non-trivial running stats
    return model


def readout_gain(model):
    bn = model.readout.bn
    return (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradmap_of_an_strf_readout_is_its_effective_strf(dtype):
    model = fitted_linear_like(dtype=dtype)
    expected = model.readout.conv.weight.detach() * readout_gain(model)[:, None, None, None]
    gradmap = model.STRF_gradmap()
    assert gradmap.shape == (N, 1, F, T_STRF) and gradmap.dtype == dtype
    torch.testing.assert_close(gradmap, expected, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-7)
    assert (gradmap < 0).any() and (gradmap > 0).any()  # the sign is kept, not flipped or rectified


def test_gradmap_of_a_parametric_strf_readout_is_its_effective_strf():
    model = fitted_linear_like(kernel=ParametricSTRF(F, T_STRF, 1, N, num_gaussians=2))
    expected = model.readout.STRF_weight().double() * readout_gain(model)[:, None, None, None]
    torch.testing.assert_close(model.STRF_gradmap(), expected, rtol=1e-12, atol=1e-12)


def test_gradmap_of_an_strf_readout_has_no_side_effects():
    model = fitted_linear_like().train()
    model.readout.bn.weight.grad = torch.full_like(model.readout.bn.weight, 3.0)
    before = snapshot(model)
    model.STRF_gradmap()
    assert_untouched(model, before)
    assert model.training and model.readout.bn.training
    assert model.readout.conv.weight.grad is None


def test_adaptrans_model_needs_a_baseline_and_its_gradmap_matches_finite_differences():
    prefilter = make_prefiltering("adaptrans", n_frequency_bands=F, dt=5.0, max_kernel_size=6)
    model = LinearLike(prefiltering=prefilter).double().eval()
    assert model.C_in == 2
    assert torch.count_nonzero(model.STRF_gradmap()) == 0  # the rectifier is flat at a silent baseline
    baseline = 0.5 + torch.rand(1, F, T_STRF + 6, dtype=torch.float64)
    gradmap = model.STRF_gradmap(baseline=baseline)
    assert gradmap.shape == (N, 1, F, T_STRF + 6) and torch.count_nonzero(gradmap) > 0
    eps, numeric = 1e-6, torch.zeros_like(gradmap)
    for f in range(F):
        for t in range(T_STRF + 6):
            step = torch.zeros_like(baseline)
            step[0, f, t] = eps
            with torch.no_grad():
                diff = model((baseline + step)[None]) - model((baseline - step)[None])
            numeric[:, 0, f, t] = diff[0, :, 0, -1] / (2 * eps)
    torch.testing.assert_close(gradmap, numeric, rtol=1e-6, atol=1e-8)
