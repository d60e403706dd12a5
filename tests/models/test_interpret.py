"""Dynamic STRFs and nonlinearity indices: ground truth for linear, LN and adapting neurons."""

import pytest
import torch
from torch import nn

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.datasets.audio.lnp import adapt, lnp_rate
from deepSTRF.models.audio import (
    AudioEncodingModel,
    ConvNet2D,
    DNet,
    Linear,
    LinearNonlinear,
    NetworkReceptiveField,
    StateNet,
    Transformer,
)
from deepSTRF.models.interpret import (
    DynamicSTRFs,
    dynamic_strfs,
    gain_change,
    nonlinearity_indices,
    shape_change,
    temporal_hold,
)
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.models.wav2spec import make_wav2spec

F, L, N = 6, 5, 3


def _stimulus(t: int = 30, seed: int = 0) -> torch.Tensor:
    return torch.randn(F, t, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _with_running_stats(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics, so the eval-mode affine map matters."""
    gen = torch.Generator().manual_seed(5)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=gen))
            module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
    return model


def _truncated(strf: torch.Tensor, t: int) -> torch.Tensor:
    """The STRF ``(N, F, L)`` with the lags before the stimulus onset (t - lag < 0) zeroed."""
    out = strf.clone()
    lags = torch.arange(strf.shape[-1] - 1, -1, -1)
    out[..., lags > t] = 0
    return out


def test_linear_dstrf_is_the_static_strf_at_every_time_point():
    torch.manual_seed(0)
    model = _with_running_stats(Linear(F, L, out_neurons=N)).double()
    strf = model.STRF_gradmap()[:, 0]  # (N, F, L)
    result = dynamic_strfs(model, _stimulus(), chunk_size=7)
    assert result.dstrfs.shape == (N, 30, F, L)
    for t in range(30):
        torch.testing.assert_close(result.dstrfs[:, t], _truncated(strf, t), rtol=1e-12, atol=1e-12)
    assert result.complete.tolist() == [t >= L - 1 for t in range(30)]
    torch.testing.assert_close(result.response, model.eval()(_stimulus()[None, None])[0, :, 0])


def test_ln_dstrf_is_the_strf_times_the_local_output_gain():
    torch.manual_seed(1)
    ln = _with_running_stats(LinearNonlinear(F, L, out_neurons=N)).double().eval()
    linear = Linear(F, L, out_neurons=N).double()
    missing = linear.load_state_dict(ln.state_dict(), strict=False)
    assert not missing.missing_keys
    linear.eval()
    x = _stimulus(40)
    drive = linear(x[None, None])[0, :, 0].T.detach().requires_grad_(True)  # (T, N), the activation's layout
    (gain,) = torch.autograd.grad(ln.readout.activation(drive[None]).sum(), drive)
    expected = gain.T[:, :, None, None] * linear.STRF_gradmap()[:, 0][:, None]  # (N, T, F, L)
    result = dynamic_strfs(ln, x, times=range(L - 1, 40))
    torch.testing.assert_close(result.dstrfs, expected[:, L - 1 :], rtol=1e-10, atol=1e-12)
    assert gain.std(dim=0).min() > 0.01  # the gain does change over the stimulus


def test_statenet_matches_the_full_jacobian_and_ignores_the_chunk_size():
    torch.manual_seed(2)
    model = StateNet(F, rnn_type="GRU", kernel_size=3, stride=2, hidden_channels=3, out_neurons=N).double()
    x = _stimulus(25)
    window = 12
    times, neurons = [3, 11, 24], [2, 0]
    result = dynamic_strfs(model, x, window=window, times=times, neurons=neurons, chunk_size=2)
    model.eval()
    full = torch.autograd.functional.jacobian(lambda s: model(s[None, None])[0, :, 0], x)  # (N, T, F, T)
    for k, t in enumerate(times):
        for j, n in enumerate(neurons):
            padded = torch.nn.functional.pad(full[n, t], (window - 1, 0))
            torch.testing.assert_close(result.dstrfs[j, k], padded[:, t : t + window], rtol=1e-10, atol=1e-12)
    other = dynamic_strfs(model, x, window=window, times=times, neurons=neurons, chunk_size=64)
    torch.testing.assert_close(other.dstrfs, result.dstrfs, rtol=1e-12, atol=1e-14)
    assert result.times.tolist() == times and result.neurons.tolist() == neurons


ZOO = {
    "nrf": lambda: NetworkReceptiveField(F, L, n_hidden=4, out_neurons=N),
    "dnet": lambda: DNet(F, L, n_hidden=4, out_neurons=N),
    "convnet2d": lambda: ConvNet2D(F, kernel_size=(2, 3), c_hidden=2, n_hidden=4, out_neurons=N),
    "transformer": lambda: Transformer(
        F, freq_patch_size=3, time_patch_size=2, context_window=6, embedding_dim=4, n_heads=2, out_neurons=N
    ),
    "statenet-s4": lambda: StateNet(F, rnn_type="S4", kernel_size=3, stride=2, hidden_channels=2, out_neurons=N),
    "ln+adaptrans": lambda: LinearNonlinear(
        F, L, out_neurons=N, prefiltering=make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0)
    ),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_matches_its_jacobian(name):
    torch.manual_seed(6)
    model = ZOO[name]().double()
    x = _stimulus(18).abs() + 0.5  # a positive level, so rectifying prefilters pass it
    result = dynamic_strfs(model, x, window=9, times=[4, 17], chunk_size=4)
    model.eval()
    full = torch.autograd.functional.jacobian(lambda s: model(s[None, None])[0, :, 0], x)
    for k, t in enumerate([4, 17]):
        expected = torch.nn.functional.pad(full[:, t], (8, 0))[:, :, t : t + 9]
        torch.testing.assert_close(result.dstrfs[:, k], expected, rtol=1e-9, atol=1e-12)
    assert result.dstrfs.abs().amax() > 0


def test_causal_and_no_side_effects():
    torch.manual_seed(3)
    model = StateNet(F, rnn_type="LSTM", kernel_size=3, stride=2, hidden_channels=3, out_neurons=N).double()
    model.train()
    model.readout.eval()  # a mixed state that must come back as it was
    modes = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = _stimulus(20)
    before = dynamic_strfs(model, x, window=8, times=range(12))
    later = x.clone()
    later[:, 12:] += 5.0  # change the future of every requested time point
    after = dynamic_strfs(model, later, window=8, times=range(12))
    assert torch.equal(before.dstrfs, after.dstrfs)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert not before.dstrfs.requires_grad


def test_waveform_stimulus_goes_through_the_front_end():
    torch.manual_seed(4)
    front = make_wav2spec("mel", audio_fs=8000.0, dt_ms=10.0, n_filters=F)
    model = LinearNonlinear(F, L, out_neurons=2, wav2spec=front).double()
    wave = torch.randn(1, 1, 80 * 20, dtype=torch.float64)
    from_wave = dynamic_strfs(model, wave)
    spec = model.wav2spec.eval()(wave)
    torch.testing.assert_close(from_wave.stimulus, spec[0, 0])
    torch.testing.assert_close(from_wave.dstrfs, dynamic_strfs(model, spec).dstrfs)
    assert isinstance(model.wav2spec, type(front))


class _SimulatedNeurons(AudioEncodingModel):
    """The simulated dataset's own neurons (LN, then divisive adaptation) as a differentiable model."""

    def __init__(self, data: SimulatedDataset, tau_bins: float, strength: float) -> None:
        super().__init__(data.F, data.true_strfs.shape[-1], data.n_neurons)
        self.readout = nn.Identity()
        self.register_buffer("strfs", data.true_strfs.clone())
        self.register_buffer("bias", data.true_bias.clone())
        self.nonlinearity = data.nonlinearity
        self.tau_bins, self.strength = tau_bins, strength
        stims = [s.double().reshape(data.F, -1) for s in data.spectrograms_or_stims]
        self.mean_rate = torch.cat(lnp_rate(stims, self.strfs, self.bias, self.nonlinearity), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rates = torch.stack(lnp_rate(list(x[:, 0]), self.strfs, self.bias, self.nonlinearity))  # (B, N, T)
        if self.strength > 0:
            mean = self.mean_rate.mean(dim=1).repeat(x.shape[0])
            rates = adapt(rates.flatten(0, 1), self.tau_bins, self.strength, mean).view(rates.shape)
        return rates[:, :, None]


def _simulated_indices(strength: float) -> dict[str, torch.Tensor]:
    data = SimulatedDataset(
        n_neurons=4, n_stimuli=2, duration_ms=600.0, adaptation_tau_ms=50.0, adaptation_strength=2.0, seed=0
    )
    data.spectrograms_or_stims = [data[s]["stims"] for s in range(2)]
    model = _SimulatedNeurons(data, tau_bins=10.0, strength=strength).double()
    window = 2 * model.T
    result = dynamic_strfs(model, data[0]["stims"].double(), window=window, chunk_size=64)
    return nonlinearity_indices(result)


def test_adapting_neurons_show_gain_and_shape_changes_a_linear_neuron_lacks():
    torch.manual_seed(0)
    linear = nonlinearity_indices(dynamic_strfs(Linear(F, L, out_neurons=N), _stimulus(60).float()))
    assert (linear["gain_change"] == 0).all() and (linear["temporal_hold"] == 0).all()  # a static STRF never changes
    torch.testing.assert_close(linear["shape_change"], torch.ones(N), atol=1e-5, rtol=0)  # rank 1: the null value
    ln = _simulated_indices(strength=0.0)
    adapting = _simulated_indices(strength=2.0)
    torch.testing.assert_close(ln["shape_change"], torch.ones(4, dtype=torch.float64), atol=1e-9, rtol=0)  # gain only
    assert (ln["temporal_hold"] == 0).all() and (ln["gain_change"] > 0.1).all()
    assert (adapting["gain_change"] > 0.02).all()  # a linear neuron has exactly 0
    assert (adapting["shape_change"] > ln["shape_change"] + 0.1).all()  # adaptation reshapes the dSTRF
    weaker = _simulated_indices(strength=0.5)
    assert (ln["shape_change"] + 0.05 < weaker["shape_change"]).all()
    assert (weaker["shape_change"] < adapting["shape_change"]).all()  # the more adaptation, the more change


def test_index_functions_on_hand_made_dstrfs():
    strf = torch.randn(1, 1, 3, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gains = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    scaled = strf * gains.view(1, 4, 1, 1)
    assert gain_change(scaled).item() == pytest.approx(float(gains.std() * strf.norm()))  # std with K - 1
    assert shape_change(scaled).item() == pytest.approx(1.0, abs=1e-12)
    assert temporal_hold(scaled).item() == 0.0
    # two unrelated shapes alternating: complexity 1 + sigma_2 / sigma_1
    other = torch.randn(1, 1, 3, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    two_shapes = torch.cat([strf, other], dim=1).repeat(1, 2, 1, 1)
    assert 1.3 < shape_change(two_shapes).item() < 2.0 + 1e-9
    # one shape that only moves along the lags: the alignment removes the move, so no shape change
    base = torch.zeros(1, 1, 3, 20, dtype=torch.float64)
    base[..., 8:14] = strf
    moved = torch.cat([base.roll(k, dims=-1) for k in (0, 1, 2, -1, -2, 0)], dim=1)
    assert shape_change(moved).item() == pytest.approx(1.0, abs=1e-9)
    # a feature that stays in view for 6 frames, moving one lag older each frame
    held = torch.zeros(1, 150, 1, 12, dtype=torch.float64)
    t = torch.arange(150)
    held[0, t, 0, 11 - t % 6] = 1.0
    assert temporal_hold(held, max_shift=8).item() == 5.0
    assert temporal_hold(held, max_shift=3).item() == 3.0
    assert temporal_hold(held, max_shift=8, alpha=1e-30).item() == 0.0
    silent = torch.zeros(1, 4, 3, 6, dtype=torch.float64)
    assert gain_change(silent).item() == 0.0 and torch.isnan(shape_change(silent)).all()
    assert temporal_hold(silent).item() == 0.0


def test_errors():
    model = Linear(F, L, out_neurons=N)
    with pytest.raises(TypeError, match="`model` must be an AudioEncodingModel, got Linear"):
        dynamic_strfs(nn.Linear(2, 2), torch.zeros(F, 10))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`stimulus` must be a spectrogram .* with F=6, got shape \(5, 10\)"):
        dynamic_strfs(model, torch.zeros(5, 10))
    with pytest.raises(TypeError, match="`stimulus` must be a floating-point tensor"):
        dynamic_strfs(model, torch.zeros(F, 10, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"`times` must lie in \[0, 10\), got values from 3 to 10"):
        dynamic_strfs(model, torch.zeros(F, 10), times=[3, 10])
    with pytest.raises(TypeError, match="`neurons` must be a sequence of ints"):
        dynamic_strfs(model, torch.zeros(F, 10), neurons=[0.5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="`window` must be an int >= 1, got 0"):
        dynamic_strfs(model, torch.zeros(F, 10), window=0)
    result = dynamic_strfs(model, torch.randn(F, 10), times=[5, 7, 8])
    with pytest.raises(ValueError, match="consecutive"):
        nonlinearity_indices(result)
    with pytest.raises(ValueError, match=r"at least 2 time points"):
        gain_change(torch.zeros(2, 1, 3, 4))
    with pytest.raises(ValueError, match=r"`max_shift` must be in \[1, min\(L, K\) - 1 = 3\], got 4"):
        temporal_hold(torch.zeros(2, 5, 3, 4), max_shift=4)
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\), got 0.0"):
        temporal_hold(torch.zeros(2, 5, 3, 4), alpha=0.0)
    with pytest.raises(ValueError, match="`n_iter` must be an int >= 1, got 0"):
        shape_change(torch.zeros(2, 5, 3, 4), n_iter=0)
    assert isinstance(result, DynamicSTRFs) and result.window == L
