"""Checkpoints written by the published deepSTRF 0.1.0 load, convert and reproduce its outputs.

The fixtures in ``legacy_fixtures/`` were written by ``tools/make_legacy_fixtures.py`` run with
the published wheel: per zoo configuration a 0.1.0 checkpoint folder, an input and the
published model's output on it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import safetensors.torch
import torch

from deepSTRF.models.checkpoint import read_config
from deepSTRF.models.legacy import LEGACY_CLASSES, is_legacy_config
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.prefiltering import AdapTrans, ICAdaptation
from deepSTRF.utils.hub import convert_checkpoint

FIXTURES = Path(__file__).parent / "legacy_fixtures"
NAMES = sorted(json.loads((FIXTURES / "index.json").read_text())["fixtures"])
UNSUPPORTED = {"statenet_s4"}  # 0.1.0's DPLR S4 kernel is not implemented here (S4Block is S4D)


def _extra(name: str) -> dict:
    """Modules the 0.1.0 config does not record, rebuilt with the geometry the fixture notes."""
    extra = json.loads((FIXTURES / name / "fixture.json").read_text())["extra"]
    out = {}
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
    assert classes >= set(LEGACY_CLASSES) - {"ICNet"}
    assert sum(f.stat().st_size for f in FIXTURES.rglob("*") if f.is_file()) < 2_000_000


@pytest.mark.parametrize("name", sorted(set(NAMES) - UNSUPPORTED))
def test_published_checkpoint_reproduces_published_output(name):
    model = NeuralModel.from_pretrained(FIXTURES / name, extra_kwargs=_extra(name) or None)
    assert type(model).__name__ == json.loads((FIXTURES / name / "fixture.json").read_text())["class"]
    x, expected = _io(name)
    with torch.no_grad():
        y = model(x)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["ln", "statenet_lmu", "nrf_sequential", "ln_adaptrans"])
def test_convert_writes_our_format_that_round_trips(name, tmp_path):
    out = convert_checkpoint(FIXTURES / name, tmp_path / "converted", extra_kwargs=_extra(name) or None)
    config = read_config(out)
    assert config["format"] == "deepSTRF-checkpoint" and "converted_from" not in config
    assert json.loads((out / "metadata.json").read_text())["converted_from"] == "deepSTRF 0.1.0"
    model = NeuralModel.from_pretrained(out)  # no extra arguments needed any more
    x, expected = _io(name)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)


def test_unsupported_s4_checkpoint_is_a_clear_error():
    with pytest.raises(ValueError, match=r"rnn_type='S4'.*DPLR.*cannot be converted yet"):
        NeuralModel.from_pretrained(FIXTURES / "statenet_s4")


def test_read_config_reports_the_conversion():
    config = read_config(FIXTURES / "ln_sigmoid")
    assert config["converted_from"] == "deepSTRF 0.1.0"
    assert config["model_class"] == "deepSTRF.models.audio.strf_models.LinearNonlinear"
    assert config["init_kwargs"]["output_activation"]["__module__"].endswith("ParametricSigmoid")
    assert is_legacy_config(config["legacy_config"])


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
