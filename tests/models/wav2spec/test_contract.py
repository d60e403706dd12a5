"""The front-end contract, checked on every front-end: attributes, shapes, causality, errors, dtype."""

import pytest
import torch

from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.models.wav2spec import WAV2SPEC_KINDS, make_wav2spec
from deepSTRF.testing import assert_batch_consistent, assert_causal, assert_roundtrip

FS = 8000
# Small configurations so that every check stays fast.
OPTIONS = {
    "mel": {"n_filters": 12, "window_ms": 8.0},
    "gammatone": {"n_filters": 6, "kernel_ms": 6.0},
    "gammatonegram": {"n_filters": 6, "window_ms": 10.0},
    "sincnet": {"n_filters": 6, "kernel_size": 24},
    "leaf": {"n_filters": 6, "kernel_ms": 4.0, "window_ms": 10.0},
    "published_gammatone": {"n_filters": 6, "kernel_ms": 6.0},
    "published_leaf": {"n_filters": 6, "kernel_ms": 4.0, "window_ms": 10.0},
}
VARIANTS = [
    *((kind, {}) for kind in OPTIONS),
    ("mel", {"compression": "cuberoot", "power": 1.0, "window_ms": 3.0}),  # window shorter than the hop
    ("gammatone", {"pcen": True, "rectify": "square"}),
    ("sincnet", {"envelope": True, "activation": "symlog"}),
    ("published_gammatone", {"compression": "pcen", "rectify": "full"}),
    ("published_gammatone", {"compression": "cuberoot", "window_ms": 12.0}),
]
IDS = [f"{kind}-{'-'.join(map(str, extra.values())) or 'default'}" for kind, extra in VARIANTS]


def build(kind, dt_ms=5.0, **extra):
    return make_wav2spec(kind, FS, dt_ms, **{**OPTIONS[kind], **extra})


def test_every_kind_is_covered():
    assert set(OPTIONS) == set(WAV2SPEC_KINDS)


@pytest.mark.parametrize(("kind", "extra"), VARIANTS, ids=IDS)
def test_attributes_and_shapes(kind, extra):
    front_end = build(kind, **extra)
    assert front_end.hop == 40 and front_end.audio_fs == FS
    for n_bins in (1, 3, 17):
        out = front_end(torch.randn(2, 1, n_bins * 40))
        assert out.shape == (2, 1, front_end.out_channels, n_bins)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize(("kind", "extra"), VARIANTS, ids=IDS)
def test_strictly_causal_in_float64(kind, extra):
    front_end = build(kind, **extra)
    x = torch.randn(2, 1, 30 * front_end.hop)
    for t0 in (1, 11, 29):
        assert_causal(front_end, x, t0, hop=front_end.hop)


@pytest.mark.parametrize(("kind", "extra"), VARIANTS, ids=IDS)
def test_batch_items_are_independent(kind, extra):
    assert_batch_consistent(build(kind, **extra), torch.randn(3, 1, 400))


@pytest.mark.parametrize("kind", OPTIONS)
def test_runs_in_float64(kind):
    front_end = build(kind).double()
    assert front_end(torch.randn(1, 1, 200, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("kind", OPTIONS)
def test_rejects_a_length_that_is_not_a_multiple_of_the_hop(kind):
    front_end = build(kind)
    with pytest.raises(
        ValueError, match=r"T_audio must be a positive multiple of hop=40 .*got T_audio=130.*120 or 160"
    ):
        front_end(torch.randn(1, 1, 130))
    with pytest.raises(ValueError, match=r"got T_audio=0"):
        front_end(torch.randn(1, 1, 0))


@pytest.mark.parametrize("kind", OPTIONS)
def test_rejects_bad_input_shapes_and_types(kind):
    front_end = build(kind)
    with pytest.raises(ValueError, match=r"mono waveform \(B, 1, T_audio\), got shape \(1, 2, 80\)"):
        front_end(torch.randn(1, 2, 80))
    with pytest.raises(ValueError, match=r"`x` must have 3 dimensions, got shape \(80,\)"):
        front_end(torch.randn(80))
    with pytest.raises(TypeError, match="floating-point"):
        front_end(torch.zeros(1, 1, 80, dtype=torch.long))


@pytest.mark.parametrize("kind", OPTIONS)
def test_hop_must_be_a_whole_number_of_samples(kind):
    with pytest.raises(ValueError, match=r"whole number of samples >= 1, got 8000 Hz \* 5\.01 ms / 1000 = 40\.08"):
        build(kind, dt_ms=5.01)


@pytest.mark.parametrize("kind", OPTIONS)
def test_config_round_trip_rebuilds_an_identical_front_end(kind):
    front_end = build(kind)
    rebuilt = decode_value(encode_value(front_end))
    assert type(rebuilt) is type(front_end) and rebuilt.init_config == front_end.init_config
    rebuilt.load_state_dict(front_end.state_dict())
    x = torch.randn(1, 1, 200)
    assert torch.equal(rebuilt(x), front_end(x))


def test_make_wav2spec_errors():
    with pytest.raises(ValueError, match=r"`kind` must be one of \['gammatone', 'gammatonegram', 'leaf', 'mel', "):
        make_wav2spec("cqt", FS, 5.0)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['n_mels'\] for 'mel' \(CausalMelSpectrogram\)"):
        make_wav2spec("mel", FS, 5.0, n_mels=40)
    with pytest.raises(ValueError, match=r"`compression` must be one of"):
        make_wav2spec("mel", FS, 5.0, compression="sqrt")


def test_make_wav2spec_passes_the_bin_width_as_hop():
    front_end = make_wav2spec("sincnet", 16000, 2.5, n_filters=4)
    assert front_end.hop == 40 and front_end.dt_ms == 2.5 and front_end.out_channels == 4


@pytest.mark.parametrize("kind", OPTIONS)
def test_a_model_with_a_front_end_saves_reloads_and_has_a_waveform_gradmap(kind, tmp_path):
    from deepSTRF.models.audio import Linear

    front_end = build(kind)
    model = Linear(n_frequency_bands=front_end.out_channels, temporal_window_size=3, out_neurons=2, wav2spec=front_end)
    x = torch.randn(2, 1, 400)
    assert model(x).shape == (2, 2, 1, 10)
    loaded = assert_roundtrip(model, x, folder=tmp_path / kind)
    assert type(loaded.wav2spec) is type(front_end)
    gradmap = model.waveform_gradmap(torch.randn(400))
    assert gradmap.shape == (400,) and bool(torch.isfinite(gradmap).all()) and bool(gradmap.abs().sum() > 0)


@pytest.mark.parametrize("kind", ["gammatone", "leaf"])
def test_default_filters_on_long_audio_take_the_fft_and_stay_causal(kind, monkeypatch):
    import functools
    import importlib

    from deepSTRF.models.wav2spec import _conv

    torch.manual_seed(0)
    front_end = make_wav2spec(kind, 16000, 5.0).double().eval()  # 25 ms filters: 400 taps
    x = torch.randn(1, 1, 40 * front_end.hop, dtype=torch.float64)
    used = []
    original = _conv._FFTCausalConv1d.apply
    monkeypatch.setattr(_conv._FFTCausalConv1d, "apply", lambda *a: used.append(a[4]) or original(*a))
    with torch.no_grad():
        fast = front_end(x)
    assert used == [2048]
    assert_causal(front_end, x, t0=17, hop=front_end.hop, dtype=None, atol=1e-12)
    module = importlib.import_module(type(front_end).__module__)
    monkeypatch.setattr(module, "causal_conv1d", functools.partial(_conv.causal_conv1d, method="direct"))
    with torch.no_grad():
        torch.testing.assert_close(fast, front_end(x), rtol=1e-10, atol=1e-12)
