"""Old spellings of front-end arguments (``hop_ms``, ``f_min``, ``f_max``, ``n_freqs``) warn and act as the new ones."""

import json
import warnings

import pytest
import torch

from deepSTRF.functional.filterbanks import mel_filterbank
from deepSTRF.models.audio.strf_models import LinearNonlinear
from deepSTRF.models.configurable import encode_value
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.wav2spec import CausalGammatone, CausalLEAF, CausalMelSpectrogram, Gammatonegram, SincNet

FS = 8000
# (class, new spelling, old spelling, options common to both)
CASES = [
    (CausalMelSpectrogram, {"dt_ms": 5.0, "f_min_hz": 100.0, "f_max_hz": 3000.0},
     {"hop_ms": 5.0, "f_min": 100.0, "f_max": 3000.0}, {"n_filters": 6, "window_ms": 8.0}),
    (CausalGammatone, {"dt_ms": 5.0, "f_min_hz": 150.0, "f_max_hz": 3000.0},
     {"hop_ms": 5.0, "f_min": 150.0, "f_max": 3000.0}, {"n_filters": 4, "kernel_ms": 6.0}),
    (Gammatonegram, {"dt_ms": 5.0, "f_min_hz": 150.0, "f_max_hz": 3000.0},
     {"hop_ms": 5.0, "f_min": 150.0, "f_max": 3000.0}, {"n_filters": 4}),
    (CausalLEAF, {"dt_ms": 10.0, "f_min_hz": 80.0, "f_max_hz": 3500.0},
     {"hop_ms": 10.0, "f_min": 80.0, "f_max": 3500.0}, {"n_filters": 4, "kernel_ms": 4.0, "window_ms": 10.0}),
    (SincNet, {"dt_ms": 5.0}, {"hop_ms": 5.0}, {"n_filters": 4, "kernel_size": 24}),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "new", "old", "common"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_old_spelling_warns_and_builds_the_same_front_end(cls, new, old, common):
    torch.manual_seed(0)
    reference = cls(FS, **new, **common)
    for name in old:
        torch.manual_seed(0)
        renamed = {**{k: v for k, v in new.items() if k != old_to_new(name)}, name: old[name]}
        with pytest.warns(
            DeprecationWarning, match=rf"{cls.__name__}\(\): `{name}` is deprecated, use `{old_to_new(name)}`"
        ):
            front_end = cls(FS, **renamed, **common)
        assert front_end.init_config == reference.init_config  # recorded under the new names
        x = torch.randn(1, 1, 4 * front_end.hop)
        torch.testing.assert_close(front_end(x), reference(x))


def old_to_new(name):
    return {"hop_ms": "dt_ms", "f_min": "f_min_hz", "f_max": "f_max_hz", "n_freqs": "n_fft_bins"}[name]


def test_both_spellings_is_an_error():
    with pytest.raises(TypeError, match=r"got both `hop_ms` \(deprecated\) and `dt_ms`"):
        CausalMelSpectrogram(FS, dt_ms=5.0, hop_ms=5.0)


def test_hop_ms_attribute_warns():
    front_end = CausalMelSpectrogram(FS, 5.0, n_filters=4)
    with pytest.warns(DeprecationWarning, match=r"hop_ms is deprecated, use .dt_ms"):
        assert front_end.hop_ms == front_end.dt_ms == 5.0


def test_mel_filterbank_old_names():
    new = mel_filterbank(65, 8, FS, f_min_hz=100.0, f_max_hz=3000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = mel_filterbank(n_freqs=65, n_filters=8, audio_fs=FS, f_min=100.0, f_max=3000.0)
    assert sorted(str(w.message) for w in caught if w.category is DeprecationWarning) == [
        f"mel_filterbank(): `{name}` is deprecated, use `{old_to_new(name)}`" for name in ("f_max", "f_min", "n_freqs")
    ]
    torch.testing.assert_close(old, new)


def test_checkpoint_with_old_names_loads_silently(tmp_path, recwarn):
    """A model saved before the rename (front-end recorded with hop_ms/f_min/f_max) still loads, with no warning."""
    front_end = CausalMelSpectrogram(FS, 5.0, n_filters=6, window_ms=8.0, f_min_hz=100.0, f_max_hz=3000.0)
    model = LinearNonlinear(n_frequency_bands=6, temporal_window_size=3, out_neurons=2, wav2spec=front_end)
    folder = model.save_pretrained(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    nested = config["init_kwargs"]["wav2spec"]["kwargs"]
    assert nested == encode_value(front_end.init_config)
    nested["hop_ms"], nested["f_min"], nested["f_max"] = (
        nested.pop("dt_ms"),
        nested.pop("f_min_hz"),
        nested.pop("f_max_hz"),
    )
    (folder / "config.json").write_text(json.dumps(config))
    loaded = NeuralModel.from_pretrained(folder)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    assert loaded.wav2spec.init_config == front_end.init_config
    x = torch.randn(1, 1, 400)
    torch.testing.assert_close(loaded.eval()(x), model.eval()(x))
