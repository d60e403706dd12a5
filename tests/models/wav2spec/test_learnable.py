"""SincNet and CausalLEAF: filter formulas, gradients and learning."""

import math

import numpy as np
import pytest
import torch

from deepSTRF.models.wav2spec import CausalLEAF, SincNet, symlog


def small_sincnet(**kw):
    return SincNet(8000, n_filters=4, kernel_size=16, dt_ms=1000 / 8000, **kw)


def small_leaf():
    return CausalLEAF(8000, dt_ms=5.0, n_filters=3, kernel_ms=2.0, window_ms=5.0)


def test_sinc_kernels_follow_the_windowed_sinc_formula():
    fs, k = 8000, 31
    sinc = SincNet(fs, n_filters=5, kernel_size=k, dt_ms=5.0).double()
    low, high = (c.detach().numpy() for c in sinc.cutoffs())
    t = (np.arange(k) - (k - 1) / 2) / fs
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(k) / (k - 1))
    expected = 2 * high[:, None] * np.sinc(2 * high[:, None] * t) - 2 * low[:, None] * np.sinc(2 * low[:, None] * t)
    expected = expected * window / fs
    np.testing.assert_allclose(sinc.kernels().detach().numpy(), expected, rtol=1e-12, atol=1e-15)


def test_sinc_bands_are_mel_spaced_band_passes_with_unit_gain():
    fs = 16000
    sinc = SincNet(fs, n_filters=8, kernel_size=255, dt_ms=5.0).double()
    low, high = (c.detach() for c in sinc.cutoffs())
    mel = 2595 * torch.log10(1 + torch.cat([low[:1] - 50, high - 100]) / 700)  # the initial mel-spaced edges
    step = mel.diff()
    torch.testing.assert_close(step, torch.full_like(step, float(step[0])), rtol=1e-6, atol=0.0)
    assert bool((high <= fs / 2).all()) and bool((high - low >= 50).all())
    spectrum = torch.fft.rfft(sinc.kernels(), n=8192).abs()
    freqs = torch.fft.rfftfreq(8192, 1 / fs)
    centre = ((low + high) / 2).unsqueeze(1)
    gain_at_centre = spectrum.gather(1, (centre / freqs[1]).round().long())
    torch.testing.assert_close(gain_at_centre, torch.ones_like(gain_at_centre), rtol=0.05, atol=0.0)


def test_sinc_decimation_samples_the_last_sample_of_each_bin():
    fine = SincNet(8000, n_filters=4, kernel_size=16, dt_ms=1000 / 8000, activation="symlog").double()
    coarse = SincNet(8000, n_filters=4, kernel_size=16, dt_ms=5.0, activation="symlog").double()
    x = torch.randn(2, 1, 400, dtype=torch.float64)
    torch.testing.assert_close(coarse(x), fine(x)[..., 39::40])


def test_sinc_envelope_is_the_mean_magnitude_per_bin():
    fine = SincNet(8000, n_filters=4, kernel_size=16, dt_ms=1000 / 8000, activation="abs").double()
    env = SincNet(8000, n_filters=4, kernel_size=16, dt_ms=5.0, envelope=True).double()
    x = torch.randn(1, 1, 400, dtype=torch.float64)
    torch.testing.assert_close(env(x), fine(x).unflatten(-1, (10, 40)).mean(-1))


@pytest.mark.parametrize(
    ("activation", "fn"),
    [("symlog", symlog), ("relu", torch.relu), ("abs", torch.abs), ("logabs", lambda y: torch.log1p(y.abs()))],
)
def test_sinc_activations(activation, fn):
    plain = small_sincnet().double()
    other = small_sincnet(activation=activation).double()
    x = torch.randn(1, 1, 80, dtype=torch.float64)
    torch.testing.assert_close(other(x), fn(plain(x)))


def test_sinc_gradcheck():
    sinc = small_sincnet(activation="symlog").double()
    x = torch.randn(1, 1, 48, dtype=torch.float64, requires_grad=True)

    def run(low, band, wave):
        return torch.func.functional_call(sinc, {"low_hz": low, "band_hz": band}, (wave,))

    params = [p.detach().clone().requires_grad_(True) for p in (sinc.low_hz, sinc.band_hz)]
    torch.autograd.gradcheck(run, (*params, x))


def test_leaf_kernels_and_pooling_windows():
    leaf = CausalLEAF(8000, dt_ms=5.0, n_filters=4, kernel_ms=4.0, window_ms=10.0).double()
    kernels = leaf.gabor_kernels().detach()
    n = torch.arange(32, dtype=torch.float64) - 15.5
    eta, sigma = leaf.centre.detach().unsqueeze(1), leaf.sigma.detach().unsqueeze(1)
    envelope = torch.exp(-(n**2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    torch.testing.assert_close(kernels[:4], envelope * torch.cos(eta * n))
    torch.testing.assert_close(kernels[4:], envelope * torch.sin(eta * n))
    # centres on the mel scale, increasing; windows are unit-sum Gaussians peaking mid-window
    assert bool((leaf.centre.diff() > 0).all())
    windows = leaf.pooling_windows().detach()
    torch.testing.assert_close(windows.sum(1), torch.ones(4, dtype=torch.float64))
    assert windows.shape == (4, 80) and bool((windows.argmax(1) >= 39).all() and (windows.argmax(1) <= 40).all())


def test_leaf_gradcheck():
    leaf = small_leaf().double()
    x = torch.randn(1, 1, 80, dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in leaf.named_parameters()]

    def run(*values):
        return torch.func.functional_call(leaf, dict(zip(names, values[:-1])), (values[-1],))

    params = [p.detach().clone().requires_grad_(True) for p in leaf.parameters()]
    torch.autograd.gradcheck(run, (*params, x), atol=1e-6)


@pytest.mark.parametrize("make", [lambda: small_sincnet(activation="symlog"), small_leaf], ids=["sincnet", "leaf"])
def test_parameters_move_in_a_short_training_run(make):
    torch.manual_seed(0)
    front_end = make()
    hop = front_end.hop
    x = torch.randn(4, 1, 10 * hop)
    with torch.no_grad():
        target = torch.randn_like(front_end(x))
    before = {name: p.detach().clone() for name, p in front_end.named_parameters()}
    optimiser = torch.optim.Adam(front_end.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        optimiser.zero_grad()
        loss = (front_end(x) - target).square().mean()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    for name, p in front_end.named_parameters():
        assert not torch.equal(p.detach(), before[name]), f"{name} did not move"
    assert losses[-1] < losses[0]


def test_errors():
    with pytest.raises(ValueError, match=r"`init` must be one of \['mel', 'erb', 'linear'\], got 'bark'"):
        small_sincnet(init="bark")
    with pytest.raises(ValueError, match=r"`activation` must be one of \[None, 'symlog', 'abs', 'relu', 'logabs'\]"):
        small_sincnet(activation="tanh")
    with pytest.raises(ValueError, match=r"`min_low_hz` \+ `min_band_hz` must stay below"):
        SincNet(200, n_filters=2, kernel_size=8, dt_ms=5.0)
    with pytest.raises(ValueError, match=r"`pool_init` must be in \[0.05, 0.5\], got 0.9"):
        CausalLEAF(8000, 5.0, window_ms=5.0, pool_init=0.9)
    with pytest.raises(ValueError, match=r"need 0 <= f_min_hz < f_max_hz <= audio_fs / 2 = 4000"):
        CausalLEAF(8000, 5.0, f_max_hz=5000.0)
