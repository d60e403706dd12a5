"""Checkpoints written by the published deepSTRF 0.1.0 load, convert and reproduce its outputs.

The fixtures in ``legacy_fixtures/`` were written by ``tools/make_legacy_fixtures.py`` run with
the published wheel: per zoo configuration a 0.1.0 checkpoint folder, an input and the
published model's output on it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import safetensors.torch
import torch

from deepSTRF.models import activations, wav2spec
from deepSTRF.models.checkpoint import read_config
from deepSTRF.models.legacy import LEGACY_CLASSES, is_legacy_config
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.prefiltering import AdapTrans, ICAdaptation
from deepSTRF.models.wav2spec import CausalMelSpectrogram, Gammatonegram, SincNet
from deepSTRF.utils.hub import convert_checkpoint

FIXTURES = Path(__file__).parent / "legacy_fixtures"
NAMES = sorted(json.loads((FIXTURES / "index.json").read_text())["fixtures"])


def _extra(name: str) -> dict:
    """Modules the 0.1.0 config does not record, rebuilt with the geometry the fixture notes."""
    extra = json.loads((FIXTURES / name / "fixture.json").read_text())["extra"]
    out = {}
    if "output_activation" in extra:
        spec = {k: v for k, v in extra["output_activation"].items() if k != "class"}
        out["output_activation"] = getattr(activations, extra["output_activation"]["class"])(**spec)
    if "wav2spec" in extra:
        spec = {k: v for k, v in extra["wav2spec"].items() if k != "class"}
        out["wav2spec"] = getattr(wav2spec, extra["wav2spec"]["class"])(16000, **spec)
    if "prefiltering" in extra:
        spec = extra["prefiltering"]
        a = torch.linspace(0.3, 0.8, 8)  # any valid values: the weights overwrite them
        if spec["class"] == "AdapTrans":
            out["prefiltering"] = AdapTrans(a, torch.full((8,), 0.7), kernel_size=spec["kernel_size"])
        else:
            out["prefiltering"] = ICAdaptation(a, kernel_size=spec["kernel_size"])
    return out


def _io(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = safetensors.torch.load_file(str(FIXTURES / name / "io.safetensors"))
    return tensors["input"], tensors["output"]


def test_fixtures_cover_every_published_model_class():
    classes = set(json.loads((FIXTURES / "index.json").read_text())["fixtures"].values())
    assert classes >= set(LEGACY_CLASSES)
    assert sum(f.stat().st_size for f in FIXTURES.rglob("*") if f.is_file()) < 2_000_000


@pytest.mark.parametrize("name", NAMES)
def test_published_checkpoint_reproduces_published_output(name):
    model = NeuralModel.from_pretrained(FIXTURES / name, extra_kwargs=_extra(name) or None)
    assert type(model).__name__ == json.loads((FIXTURES / name / "fixture.json").read_text())["class"]
    x, expected = _io(name)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        *("ln", "statenet_lmu", "nrf_sequential", "ln_adaptrans", "linear_mel_floor", "linear_gammatonegram"),
        *("linear_gammatone", "statenet_leaf_window"),
    ],
)
def test_convert_writes_our_format_that_round_trips(name, tmp_path):
    out = convert_checkpoint(FIXTURES / name, tmp_path / "converted", extra_kwargs=_extra(name) or None)
    config = read_config(out)
    assert config["format"] == "deepSTRF-checkpoint" and "converted_from" not in config
    assert json.loads((out / "metadata.json").read_text())["converted_from"] == "deepSTRF 0.1.0"
    model = NeuralModel.from_pretrained(out)  # no extra arguments needed any more
    x, expected = _io(name)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["statenet_s4", "statenet_s4_used"])
def test_s4_checkpoint_converts_to_the_dplr_block(name):
    """0.1.0's S4 is the DPLR kernel; a checkpoint saved after a forward pass holds C (I - Ā^L), solved back."""
    state = safetensors.torch.load_file(str(FIXTURES / name / "model.safetensors"))
    model = NeuralModel.from_pretrained(FIXTURES / name)
    assert model.rnn.mode == "dplr"
    used = int(state["rnn.layer.kernel.l_kernel"])
    assert used == (40 if name == "statenet_s4_used" else 0)
    torch.testing.assert_close(model.rnn.P.detach(), state["rnn.layer.kernel.P"][0], rtol=0, atol=0)
    folded = torch.equal(model.rnn.C.detach(), state["rnn.layer.kernel.C"][0])
    assert folded == (used == 0)
    x, expected = _io(name)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("keys", ["readout", "both"])
def test_icnet_weights_under_either_readout_name_load(keys, tmp_path):
    """0.1.0's ICNet holds its readout as ``decoder`` and ``readout``: a file may keep one name or both."""
    folder = _copy("icnet", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    for leaf in ("weight", "bias"):
        value = state.pop(f"decoder.{leaf}")
        state[f"readout.{leaf}"] = value.clone()
        if keys == "both":
            state[f"decoder.{leaf}"] = value.clone()
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    model = NeuralModel.from_pretrained(folder)
    x, expected = _io("icnet")
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)
    if keys == "both":
        state["decoder.bias"] = state["decoder.bias"] + 1
        safetensors.torch.save_file(state, str(folder / "model.safetensors"))
        with pytest.raises(ValueError, match="decoder and a readout that differ"):
            NeuralModel.from_pretrained(folder)


def test_icnet_conversion_keeps_what_0_1_0_computed():
    """The SincNet bounds of 0.1.0, and blocks whose stride exceeds their kernel, padded to the stride."""
    config = read_config(FIXTURES / "icnet")
    kwargs = config["init_kwargs"]
    assert (kwargs["sincnet_min_low_hz"], kwargs["sincnet_min_band_hz"]) == (1.0, 0.0)
    assert config["legacy_config"]["encoder_kernel_size"] == 4 and kwargs["encoder_kernel_size"] == 8
    model = NeuralModel.from_pretrained(FIXTURES / "icnet")
    low, high = model.wav2spec.sincnet.cutoffs()
    assert low.min() == 1.0 and low.max() == 7999.0 and high.max() == 8000.0
    weight = model.wav2spec.encoder[1].conv.weight  # stride 8, 0.1.0 kernel 4: its first four taps
    assert torch.all(weight[..., 4:] == 0) and torch.all(weight[..., :4] != 0)
    assert read_config(FIXTURES / "icnet_strides")["init_kwargs"]["encoder_kernel_size"] == 4


def test_sincnet_front_end_outside_the_given_bounds_is_a_clear_error():
    """0.1.0's SincNet bounds its cut-offs at 1 Hz and lets bands close; ours defaults to 50 Hz for both."""
    spec = {k: v for k, v in _extra("linear_sincnet_symlog")["wav2spec"].init_config.items() if "min_" not in k}
    with pytest.raises(ValueError, match=r"outside the bounds.*min_low_hz=1.0, min_band_hz=0.0"):
        NeuralModel.from_pretrained(FIXTURES / "linear_sincnet_symlog", extra_kwargs={"wav2spec": SincNet(**spec)})


def test_sincnet_front_end_of_another_kernel_length_is_a_clear_error():
    spec = {**_extra("linear_sincnet_symlog")["wav2spec"].init_config, "kernel_size": 32}
    with pytest.raises(ValueError, match=r"has 40-sample kernels, the SincNet given 32"):
        NeuralModel.from_pretrained(FIXTURES / "linear_sincnet_symlog", extra_kwargs={"wav2spec": SincNet(**spec)})


def _mel_spec(name: str, **changes: object) -> CausalMelSpectrogram:
    return CausalMelSpectrogram(**{**_extra(name)["wav2spec"].init_config, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"periodic_window": True}, r"symmetric Hann window: build it with periodic_window=False"),
        ({"n_fft": 128}, r"n_fft = 64.*n_fft = 128.*window_ms=4, n_fft=64"),
        ({"f_min_hz": 50.0}, r"mel filterbank differs .* n_filters, f_min_hz, f_max_hz"),
    ],
)
def test_mel_front_end_built_otherwise_is_a_clear_error(changes, message):
    """0.1.0 saves its window and filterbank: the CausalMelSpectrogram passed again must compute the same ones."""
    with pytest.raises(ValueError, match=message):
        NeuralModel.from_pretrained(
            FIXTURES / "linear_mel_floor", extra_kwargs={"wav2spec": _mel_spec("linear_mel_floor", **changes)}
        )


def test_mel_filterbank_edited_by_hand_is_refused(tmp_path):
    folder = _copy("linear_mel_floor", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    state["wav2spec._mel_fb"][10, 2] += 0.01
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"differs .*by up to 0.01\).*edited by hand does not convert"):
        NeuralModel.from_pretrained(folder, extra_kwargs=_extra("linear_mel_floor"))


def test_mel_compression_is_not_recorded_by_0_1_0():
    """0.1.0's default log is log(max(mel, floor)): ``'log_floor'`` here; ``'log'`` (log(mel + eps)) misses it."""
    model = NeuralModel.from_pretrained(
        FIXTURES / "linear_mel_floor", extra_kwargs={"wav2spec": _mel_spec("linear_mel_floor", compression="log")}
    )
    x, expected = _io("linear_mel_floor")
    with torch.no_grad():
        assert (model(x) - expected).abs().max() > 1e-2


def _gammatonegram(name: str, **changes: object) -> Gammatonegram:
    return Gammatonegram(**{**_extra(name)["wav2spec"].init_config, **changes})


def test_gammatonegram_of_other_centre_frequencies_names_0_1_0s():
    """0.1.0's highest centre frequency lies below its f_max: passing that f_max is refused, saying which to pass."""
    top = json.loads((FIXTURES / "linear_gammatonegram" / "fixture.json").read_text())["extra"]["wav2spec"]["f_max_hz"]
    with pytest.raises(ValueError, match=r"run from (\S+) to (\S+) Hz.*ours from 500 to 7000 Hz") as info:
        NeuralModel.from_pretrained(
            FIXTURES / "linear_gammatonegram",
            extra_kwargs={"wav2spec": _gammatonegram("linear_gammatonegram", f_max_hz=7000.0)},
        )
    low, high = (float(v) for v in re.search(r"run from (\S+) to (\S+) Hz", str(info.value)).groups())
    assert abs(low - 500.0) < 1e-3 and abs(high - top) < 1e-3
    # the frequencies the message names are precise enough to pass
    hinted = _gammatonegram("linear_gammatonegram", f_min_hz=low, f_max_hz=high)
    NeuralModel.from_pretrained(FIXTURES / "linear_gammatonegram", extra_kwargs={"wav2spec": hinted})


def test_gammatonegram_filters_edited_by_hand_are_refused(tmp_path):
    folder = _copy("linear_gammatonegram", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    state["wav2spec.b2"][3, 1] *= 1.01
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"filters differ .*edited by hand do not convert"):
        NeuralModel.from_pretrained(folder, extra_kwargs=_extra("linear_gammatonegram"))


def test_gammatonegram_window_placement_is_not_recorded_by_0_1_0():
    """0.1.0 averaged over the first ``window_ms`` of each bin (``window_at='start'``); the default 'end' misses it."""
    model = NeuralModel.from_pretrained(
        FIXTURES / "linear_gammatonegram",
        extra_kwargs={"wav2spec": _gammatonegram("linear_gammatonegram", window_at="end")},
    )
    x, expected = _io("linear_gammatonegram")
    with torch.no_grad():
        assert (model(x) - expected).abs().max() > 1e-2


def _published(name: str, **changes: object) -> torch.nn.Module:
    front_end = _extra(name)["wav2spec"]
    return type(front_end)(**{**front_end.init_config, **changes})


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("linear_gammatone", wav2spec.CausalGammatone(16000, 2.0, n_filters=8, f_min_hz=500.0, kernel_ms=5.0)),
        ("linear_leaf", wav2spec.CausalLEAF(16000, 2.0, n_filters=8, kernel_ms=4.0)),
    ],
)
def test_gammatone_and_leaf_of_0_1_0_need_their_published_definition(name, ours):
    """0.1.0's CausalGammatone and CausalLEAF compute otherwise than ours: passing ours says which to pass."""
    published = type(_extra(name)["wav2spec"]).__name__
    with pytest.raises(ValueError, match=rf"but the wav2spec given is a {type(ours).__name__}; pass a .*{published}"):
        NeuralModel.from_pretrained(FIXTURES / name, extra_kwargs={"wav2spec": ours})


def test_published_gammatone_of_other_centre_frequencies_names_0_1_0s():
    with pytest.raises(
        ValueError, match=r"centre frequencies run from 500 to 799\d\.\d+ Hz .*ours from 500 to 7000 Hz"
    ):
        NeuralModel.from_pretrained(
            FIXTURES / "linear_gammatone", extra_kwargs={"wav2spec": _published("linear_gammatone", f_max_hz=7000.0)}
        )
    with pytest.raises(ValueError, match=r"8 channels of 80 taps \(kernel_ms=5 at 16000 Hz\).*8 of 96"):
        NeuralModel.from_pretrained(
            FIXTURES / "linear_gammatone", extra_kwargs={"wav2spec": _published("linear_gammatone", kernel_ms=6.0)}
        )


def test_published_gammatone_kernels_edited_by_hand_are_refused(tmp_path):
    folder = _copy("linear_gammatone", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    state["wav2spec._kernels"][2, 0, 40] += 0.01
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"kernels differ .*edited by hand do not convert"):
        NeuralModel.from_pretrained(folder, extra_kwargs=_extra("linear_gammatone"))


@pytest.mark.parametrize(
    ("name", "changes"),
    [("statenet_gammatone_pcen", {"pcen_s": 0.025}), ("transformer_gammatone_cuberoot", {"window_ms": 4.0})],
)
def test_published_gammatone_pooling_and_compression_are_not_recorded_by_0_1_0(name, changes):
    """The saved kernels do not say how 0.1.0 pooled and compressed: other settings load but miss its output."""
    model = NeuralModel.from_pretrained(FIXTURES / name, extra_kwargs={"wav2spec": _published(name, **changes)})
    x, expected = _io(name)
    with torch.no_grad():
        assert (model(x) - expected).abs().max() > 1e-3


def test_published_leaf_of_other_lengths_names_0_1_0s():
    with pytest.raises(ValueError, match=r"8 channels, 33-tap kernels and a 48-sample .*kernel_ms=2.0625, window_ms=3"):
        NeuralModel.from_pretrained(
            FIXTURES / "statenet_leaf_window",
            extra_kwargs={"wav2spec": _published("statenet_leaf_window", window_ms=4.0)},
        )


def test_published_leaf_carries_its_learned_parameters_over():
    state = safetensors.torch.load_file(str(FIXTURES / "linear_leaf" / "model.safetensors"))
    model = NeuralModel.from_pretrained(FIXTURES / "linear_leaf", extra_kwargs=_extra("linear_leaf"))
    torch.testing.assert_close(model.wav2spec.centre.detach(), state["wav2spec.center_freq_"], rtol=0, atol=0)
    torch.testing.assert_close(model.wav2spec.raw_r.detach(), state["wav2spec.pcen_root_raw"], rtol=0, atol=0)
    frozen = NeuralModel.from_pretrained(FIXTURES / "statenet_leaf_window", extra_kwargs=_extra("statenet_leaf_window"))
    assert not frozen.wav2spec.raw_pool_width.requires_grad and frozen.wav2spec.centre.requires_grad


def test_s4_checkpoint_missing_a_kernel_tensor_is_a_clear_error(tmp_path):
    folder = _copy("statenet_s4", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    del state["rnn.layer.kernel.P"]
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"rnn.layer.kernel.P"):
        NeuralModel.from_pretrained(folder)


def test_read_config_reports_the_conversion():
    config = read_config(FIXTURES / "ln_sigmoid")
    assert config["converted_from"] == "deepSTRF 0.1.0"
    assert config["model_class"] == "deepSTRF.models.audio.strf_models.LinearNonlinear"
    assert config["init_kwargs"]["output_activation"]["__module__"].endswith("ParametricSigmoid")
    assert is_legacy_config(config["legacy_config"])


def test_signed_output_activation_is_not_recorded_by_0_1_0():
    """0.1.0 keeps ``non_negative_output`` in neither config nor weight names: without the module, True is assumed."""
    model = NeuralModel.from_pretrained(FIXTURES / "ln_sigmoid_signed")
    assert model.readout.activation.non_negative_output is True
    x, expected = _io("ln_sigmoid_signed")
    with torch.no_grad():
        assert (model(x) - expected).abs().max() > 1e-2  # the wrong guess shows


def test_prefiltered_checkpoint_without_the_module_says_what_to_pass():
    with pytest.raises(ValueError, match=r"prefiltering.*extra_kwargs"):
        NeuralModel.from_pretrained(FIXTURES / "ln_adaptrans")


def _copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def test_unknown_class_is_a_clear_error(tmp_path):
    folder = _copy("linear", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "_model_class": "VideoModel"}))
    with pytest.raises(ValueError, match=r"0\.1\.0 checkpoint of class 'VideoModel'"):
        NeuralModel.from_pretrained(folder)


def test_unknown_version_layout_is_a_clear_error(tmp_path):
    folder = _copy("linear", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_bands": 8}))
    with pytest.raises(ValueError, match=r"unexpected entries \['n_bands'\].*another version"):
        read_config(folder)


def test_corrupt_weights_are_a_clear_error(tmp_path):
    folder = _copy("nrf", tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        NeuralModel.from_pretrained(folder)


def test_missing_weights_are_named(tmp_path):
    folder = _copy("nrf", tmp_path)
    state = safetensors.torch.load_file(str(folder / "model.safetensors"))
    del state["readout.fc.bias"]
    safetensors.torch.save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing \['readout.projection.bias'\]"):
        NeuralModel.from_pretrained(folder)


def test_hub_repo_in_the_offline_cache_loads(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    # the layout huggingface_hub reads offline: models--owner--name/{refs/main, snapshots/<commit>/...}
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--urancon--deepSTRF-statenet-gru-ns1"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in ("config.json", "model.safetensors", "metadata.json"):
        shutil.copy(FIXTURES / "statenet_gru" / file, snapshot / file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)
    model = NeuralModel.from_pretrained("urancon/deepSTRF-statenet-gru-ns1", cache_dir=tmp_path / "hub")
    x, expected = _io("statenet_gru")
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)


def test_cli_info_convert_and_evaluate(tmp_path, capsys):
    from deepSTRF.cli import main

    assert main(["info", str(FIXTURES / "statenet_gru")]) == 0
    out = capsys.readouterr().out
    assert "deepSTRF.models.audio.statenet.StateNet" in out and "saved by deepSTRF 0.1.0 (converted on load)" in out
    assert main(["convert", str(FIXTURES / "linear_parametric"), str(tmp_path / "ours")]) == 0
    assert "converted from deepSTRF 0.1.0" in capsys.readouterr().out
    assert read_config(tmp_path / "ours")["init_kwargs"]["kernel"]["__module__"].endswith("ParametricSTRF")
    assert main(["convert", str(FIXTURES / "ln_adaptrans"), str(tmp_path / "pre")]) == 2
    assert "prefiltering" in capsys.readouterr().err
    spec = ["n_neurons=2", "n_stimuli=6", "n_frequency_bands=8", "duration_ms=300.0"]
    options = [arg for kv in spec for arg in ("--dataset-arg", kv)]
    assert main(["evaluate", str(FIXTURES / "ln"), "--dataset", "simulated", *options]) == 0
    assert "LinearNonlinear on simulated" in capsys.readouterr().out
