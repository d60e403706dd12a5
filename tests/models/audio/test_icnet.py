import pytest
import torch

from deepSTRF.models.audio.icnet import ICNet, ICNetEncoder, factor_strides
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_roundtrip

SMALL = {
    "n_filters": 3,
    "sincnet_kernel_size": 12,
    "encoder_channels": 5,
    "encoder_kernel_size": 6,
    "bottleneck_channels": 4,
}


def small_icnet(out_neurons=2, audio_fs=8000, dt_ms=5.0, **kw):
    return ICNet(audio_fs, out_neurons, dt_ms=dt_ms, **{**SMALL, **kw})


@pytest.mark.parametrize(
    ("audio_fs", "dt_ms", "n_layers", "expected"),
    [
        (16000, 5.0, 5, [2, 2, 2, 2, 5]),
        (48000, 5.0, 5, [2, 2, 2, 2, 15]),
        (24414.0625, 1.31072, 5, [2, 2, 2, 2, 2]),
        (9000, 5.0, 5, [1, 1, 1, 1, 45]),
        (16000, 5.0, 3, [2, 2, 20]),
        (16000, 5.0, 1, [80]),
    ],
)
def test_strides_are_factored_from_the_hop(audio_fs, dt_ms, n_layers, expected):
    encoder = ICNetEncoder(audio_fs, dt_ms, n_encoder_layers=n_layers, **SMALL)
    assert encoder.strides == expected
    assert [block.stride for block in encoder.encoder] == expected
    assert encoder(torch.randn(1, 1, 3 * encoder.hop)).shape == (1, 1, 4, 3)


def test_factor_strides_errors():
    with pytest.raises(ValueError, match=r"`n_layers` must be an int >= 1, got 0"):
        factor_strides(80, 0)
    with pytest.raises(TypeError, match=r"`total` must be an int, got float"):
        factor_strides(80.0, 5)


def test_explicit_strides():
    model = small_icnet(dt_ms=5.0, encoder_strides=[5, 2, 2, 2, 1])
    assert model.wav2spec.strides == [5, 2, 2, 2, 1]
    assert model(torch.randn(2, 1, 400)).shape == (2, 2, 1, 10)
    with pytest.raises(
        ValueError,
        match=r"whose product is the hop audio_fs \* dt_ms / 1000 = 40, got \[2, 2, 2, 2, 2\] "
        r"\(product 32\)",
    ):
        small_icnet(encoder_strides=[2, 2, 2, 2, 2])
    with pytest.raises(ValueError, match=r"must be 5 ints \(n_encoder_layers\).*got \[40\]"):
        small_icnet(encoder_strides=[40])
    with pytest.raises(ValueError, match=r"`encoder_strides\[1\]` must be an int >= 1, got 0"):
        small_icnet(encoder_strides=[40, 0, 1, 1, 1])


def test_output_shape_and_poisson_rates():
    model = small_icnet(out_neurons=3)
    model.validate()
    for n_bins in (1, 4, 25):
        out = model(torch.randn(2, 1, n_bins * 40))
        assert out.shape == (2, 3, 1, n_bins)
        assert bool((out >= 0).all())
    with pytest.raises(ValueError, match=r"multiple of hop=40"):
        model(torch.randn(1, 1, 50))


def test_causal_at_the_bin_level():
    model = small_icnet()
    x = torch.randn(2, 1, 30 * 40)
    for t0 in (1, 13, 29):
        assert_causal(model, x, t0, hop=40)


def test_batch_consistent():
    assert_batch_consistent(small_icnet(), torch.randn(3, 1, 400))


def test_each_module_is_registered_once_and_the_decoder_is_the_readout():
    model = small_icnet()
    assert model.decoder is model.readout
    assert isinstance(model.readout, torch.nn.Linear)
    names = [name for name, _ in model.named_modules()]
    assert len(names) == len(set(names)) and not any(name.startswith("decoder") for name in names)
    tensors = [p.data_ptr() for p in model.state_dict().values()]
    assert len(tensors) == len(set(tensors))


def test_default_architecture():
    model = ICNet(16000, out_neurons=7)
    encoder = model.wav2spec
    assert (encoder.sincnet.out_channels, encoder.sincnet.kernel_size) == (48, 64)
    assert encoder.encoder[0].conv.weight.shape == (128, 48, 64)
    assert encoder.bottleneck.conv.weight.shape == (64, 128, 64)
    assert model.readout.weight.shape == (7, 64) and (model.F, model.T) == (64, 1)


def test_save_and_reload_round_trip(tmp_path):
    model = small_icnet(encoder_strides=[2, 2, 2, 5, 1])
    loaded = assert_roundtrip(model, torch.randn(2, 1, 200), folder=tmp_path / "icnet")
    assert loaded.wav2spec.strides == [2, 2, 2, 5, 1]
    assert_roundtrip(small_icnet().double(), torch.randn(1, 1, 120, dtype=torch.float64))


def test_gradients_through_the_whole_network():
    model = small_icnet(out_neurons=1, n_encoder_layers=2, encoder_strides=[4, 10]).double()
    x = torch.randn(1, 1, 120, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(model, (x,))
    model(x).sum().backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def test_waveform_gradmap_has_no_side_effects():
    model = small_icnet(out_neurons=3)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    stimulus = torch.randn(400)
    gradmap = model.waveform_gradmap(stimulus, neuron=1, reduce="last")
    assert gradmap.shape == (400,) and bool(torch.isfinite(gradmap).all())
    assert float(gradmap[-40:].abs().sum()) > 0
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_strf_gradmap_probes_the_latent():
    model = small_icnet(out_neurons=3)
    assert model.STRF_gradmap().shape == (3, 1, 4, 1)


def test_default_size_runs_its_long_convolutions_by_fft_causally(monkeypatch):
    import functools

    from deepSTRF.models.audio import icnet
    from deepSTRF.models.wav2spec import _conv

    torch.manual_seed(0)
    model = ICNet(16000, out_neurons=3).double().eval()
    x = 0.1 * torch.randn(1, 1, 40 * 80, dtype=torch.float64)
    used = []
    original = _conv._FFTCausalConv1d.apply
    monkeypatch.setattr(_conv._FFTCausalConv1d, "apply", lambda *a: used.append(a[3]) or original(*a))
    with torch.no_grad():
        fast = model(x)
    assert used == [2, 2, 2, 2]  # conv1-conv4; conv5 and the bottleneck are too small at this length
    assert_causal(model, x, t0=23, hop=80, dtype=None, atol=1e-12)
    monkeypatch.setattr(icnet, "causal_conv1d", functools.partial(_conv.causal_conv1d, method="direct"))
    with torch.no_grad():
        torch.testing.assert_close(fast, model(x), rtol=1e-12, atol=1e-14)
