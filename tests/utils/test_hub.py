import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

import deepSTRF
from deepSTRF.models import checkpoint
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.configurable import ConfigurableModule, encode_value
from deepSTRF.models.layers import ParametricSTRF
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.models.prefiltering import make_prefiltering
from deepSTRF.models.readouts import STRFReadout
from deepSTRF.testing import assert_roundtrip
from deepSTRF.utils import hub


class Readout(ConfigurableModule):
    """Causal STRF convolution + BatchNorm + activation, built from its own arguments."""

    def __init__(self, n_frequency_bands: int, temporal_window_size: int, c_in: int, out_neurons: int, activation=None):
        super().__init__()
        self.pad = nn.ConstantPad2d((temporal_window_size - 1, 0, 0, 0), 0.0)
        self.conv = nn.Conv2d(c_in, out_neurons, (n_frequency_bands, temporal_window_size))
        self.bn = nn.BatchNorm2d(out_neurons)
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x):
        return self.activation(self.bn(self.conv(self.pad(x))))


class Toy(AudioEncodingModel):
    def __init__(
        self,
        n_frequency_bands=4,
        temporal_window_size=3,
        out_neurons=2,
        prefiltering=None,
        activation=None,
        shape=(1, 2),
    ):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering)
        self.readout = Readout(n_frequency_bands, temporal_window_size, self.C_in, out_neurons, activation)


class Other(AudioEncodingModel):
    def __init__(self, n_frequency_bands=4):
        super().__init__(n_frequency_bands, 1)
        self.readout = nn.Conv2d(1, 1, (n_frequency_bands, 1))


class OpaquePrefilter(nn.Module):
    """A user prefilter that is not a ConfigurableModule: it cannot be written to JSON."""

    out_channels = 1

    def __init__(self, gain: float = 2.0):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(gain))

    def forward(self, x):
        return self.gain * x


class ForeignPrefilter(ConfigurableModule):
    """A user ConfigurableModule: serialised, but outside the classes the loader imports."""

    out_channels = 1

    def forward(self, x):
        return x


def trained(dtype=torch.float32, **kwargs):
    model = Toy(**kwargs).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
        model.readout.bn.running_var.uniform_(0.5, 2.0)
        model.readout.bn.running_mean.normal_()
    return model


def listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


def file_bytes(folder: Path):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


X = torch.randn(2, 1, 4, 9)

# ---- saving ------------------------------------------------------------------------------------


def test_checkpoint_layout_and_config(tmp_path):
    model = trained(activation=nn.Softplus(beta=2.0))
    folder = hub.save_pretrained_to_dir(model, tmp_path / "ckpt")
    assert folder == tmp_path / "ckpt"
    assert listing(folder) == ["README.md", "config.json", "model.safetensors"]
    assert listing(tmp_path) == ["ckpt"]  # no temporary folder left behind
    config = json.loads((folder / "config.json").read_text())
    assert config == {
        "format": "deepSTRF-checkpoint",
        "format_version": 1,
        "library_version": deepSTRF.__version__,
        "model_class": f"{Toy.__module__}.Toy",
        "dtype": "float32",
        "init_kwargs": encode_value(model.init_config),
    }
    assert config["init_kwargs"]["activation"] == {
        "__module__": "torch.nn.Softplus",
        "kwargs": {"beta": 2.0, "threshold": 20.0},
    }
    assert config["init_kwargs"]["shape"] == {"__tuple__": [1, 2]}
    weights = safetensors.torch.load_file(folder / "model.safetensors")
    assert weights.keys() == model.state_dict().keys()
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert hub.read_config(folder) == config


def test_default_and_custom_model_cards(tmp_path):
    model = trained(out_neurons=5)
    card = (model.save_pretrained(tmp_path / "a") / "README.md").read_text()
    assert "library_name: deepSTRF" in card
    for fact in (
        f"{Toy.__module__}.Toy",
        "| neurons (N) | 5 |",
        f"| {model.count_trainable_params():,} |",
        deepSTRF.__version__,
        "from_pretrained(",
    ):
        assert fact in card
    custom = model.save_pretrained(tmp_path / "b", model_card="# My fit\n")
    assert (custom / "README.md").read_text() == "# My fit\n"


def test_metadata_round_trip_and_errors(tmp_path):
    meta = {"dataset": "simulated", "scores": [0.5, None, float("nan")], "nested": {"seed": 3}}
    model = trained()
    model.save_pretrained(tmp_path / "ckpt", metadata=meta)
    _, loaded = Toy.from_pretrained(tmp_path / "ckpt", return_metadata=True)
    assert loaded["dataset"] == "simulated" and loaded["nested"] == {"seed": 3}
    assert loaded["scores"][:2] == [0.5, None] and loaded["scores"][2] != loaded["scores"][2]
    with pytest.raises(TypeError, match=r"metadata` must be a dict or None, got list"):
        model.save_pretrained(tmp_path / "x", metadata=[1])
    with pytest.raises(TypeError, match=r"metadata\['scores'\]\[1\] is a Tensor"):
        model.save_pretrained(tmp_path / "x", metadata={"scores": [1, torch.tensor(2.0)]})
    with pytest.raises(TypeError, match=r"non-string key 3"):
        model.save_pretrained(tmp_path / "x", metadata={"a": {3: 1}})
    with pytest.raises(TypeError, match=r"model_card"):
        model.save_pretrained(tmp_path / "x", model_card=b"bytes")
    assert not (tmp_path / "x").exists()
    _, empty = Toy.from_pretrained(model.save_pretrained(tmp_path / "plain"), return_metadata=True)
    assert empty == {}


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save", broken)
    with pytest.raises(OSError, match=r"disk full"):
        trained().save_pretrained(tmp_path / "ckpt")
    assert listing(tmp_path) == []


def test_failed_overwrite_keeps_the_existing_checkpoint(tmp_path, monkeypatch):
    folder = trained().save_pretrained(tmp_path / "ckpt", metadata={"v": 1})
    before = file_bytes(folder)
    real_write = checkpoint.write_synced

    def fail_after_writing(path, data):
        real_write(path, data)  # a half-written checkpoint exists...
        raise KeyboardInterrupt  # ...when the save is interrupted

    monkeypatch.setattr(checkpoint, "write_synced", fail_after_writing)
    with pytest.raises(KeyboardInterrupt):
        trained(out_neurons=7).save_pretrained(folder)
    assert listing(tmp_path) == ["ckpt"]
    assert file_bytes(folder) == before


def test_overwrite_replaces_the_whole_checkpoint(tmp_path):
    folder = trained().save_pretrained(tmp_path / "ckpt", metadata={"v": 1})
    new = trained(out_neurons=3)
    new.save_pretrained(folder)
    assert listing(tmp_path) == ["ckpt"]
    assert listing(folder) == ["README.md", "config.json", "model.safetensors"]  # old metadata gone
    assert Toy.from_pretrained(folder).O == 3


def test_refuses_to_overwrite_unrelated_files(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match=r"is a file"):
        trained().save_pretrained(tmp_path / "file")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"not part of a checkpoint \(\['metrics.json'\]\)"):
        trained().save_pretrained(run)
    assert listing(run) == ["metrics.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert trained().save_pretrained(empty) == empty
    assert listing(tmp_path) == ["empty", "file", "run"]


def test_shared_tensors_are_refused(tmp_path):
    model = trained()
    model.core = model.readout  # one module in two slots
    with pytest.raises(ValueError, match=r"share memory.*register each module once"):
        model.save_pretrained(tmp_path / "ckpt")
    assert listing(tmp_path) == []


def test_only_neural_models_are_saved(tmp_path):
    with pytest.raises(TypeError, match=r"`model` must be a NeuralModel, got Conv2d"):
        hub.save_pretrained_to_dir(nn.Conv2d(1, 1, 1), tmp_path / "ckpt")


def test_mixed_dtypes_are_refused(tmp_path):
    model = trained()
    model.readout.conv.double()
    with pytest.raises(ValueError, match=r"mixed floating dtypes"):
        model.save_pretrained(tmp_path / "ckpt")


# ---- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_is_bit_identical(dtype, tmp_path):
    model = trained(dtype, activation=nn.Softplus(beta=2.0))
    loaded = assert_roundtrip(model, X.to(dtype))
    assert json.loads((model.save_pretrained(tmp_path / "c") / "config.json").read_text())["dtype"] == str(dtype)[6:]
    assert loaded.readout.conv.weight.dtype == dtype and not loaded.training
    assert isinstance(loaded.readout.activation, nn.Softplus) and loaded.readout.activation.beta == 2.0


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_map_location(device, tmp_path):
    folder = trained().save_pretrained(tmp_path / "ckpt")
    model = hub.load_pretrained(folder, Toy, map_location=device)
    assert {p.device for p in model.state_dict().values()} == {torch.device("cpu")}


def test_class_checks(tmp_path):
    folder = trained().save_pretrained(tmp_path / "ckpt")
    assert type(hub.load_pretrained(folder)) is Toy
    assert type(NeuralModel.from_pretrained(folder)) is Toy
    assert type(AudioEncodingModel.from_pretrained(folder)) is Toy
    with pytest.raises(ValueError, match=r"holds a Toy .* which is not a Other"):
        Other.from_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    for recorded, match in [
        ("os.system", "only deepSTRF classes"),
        ("deepSTRF.models.no_such_module.Model", "cannot be found"),
        ("torch.nn.ReLU", "not a NeuralModel"),
    ]:
        config["model_class"] = recorded
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=match):
            NeuralModel.from_pretrained(folder)


def test_unserialisable_argument_warns_then_needs_extra_kwargs(tmp_path):
    model = trained(prefiltering=OpaquePrefilter(3.0))
    with pytest.warns(UserWarning, match=r"\['prefiltering'\].*extra_kwargs"):
        folder = model.save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"'prefiltering'.*OpaquePrefilter.*extra_kwargs"):
        Toy.from_pretrained(folder)
    loaded = Toy.from_pretrained(folder, extra_kwargs={"prefiltering": OpaquePrefilter()})
    assert loaded.prefiltering.gain.item() == model.prefiltering.gain.item()
    with torch.no_grad():
        assert torch.equal(loaded(X), model.eval()(X))


def test_foreign_nested_class_warns_then_needs_extra_kwargs(tmp_path):
    with pytest.warns(UserWarning, match=r"prefiltering \(.*ForeignPrefilter\)"):
        folder = trained(prefiltering=ForeignPrefilter()).save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"argument 'prefiltering'.*extra_kwargs.*only deepSTRF classes"):
        Toy.from_pretrained(folder)
    assert isinstance(Toy.from_pretrained(folder, extra_kwargs={"prefiltering": ForeignPrefilter()}), Toy)


def test_serialisable_model_saves_without_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trained(activation=nn.ReLU()).save_pretrained(tmp_path / "ckpt")


def test_extra_kwargs_errors(tmp_path):
    folder = trained().save_pretrained(tmp_path / "ckpt")
    with pytest.raises(TypeError, match=r"cannot rebuild Toy.*unexpected keyword argument 'nope'"):
        Toy.from_pretrained(folder, extra_kwargs={"nope": 1})
    with pytest.raises(TypeError, match=r"extra_kwargs"):
        Toy.from_pretrained(folder, extra_kwargs=[("out_neurons", 3)])
    with pytest.raises(ValueError, match=r"wrong shapes.*readout.conv.weight: \(2, 1, 4, 3\) vs \(5, 1, 4, 3\)"):
        Toy.from_pretrained(folder, extra_kwargs={"out_neurons": 5})


def test_strict_state_dict_mismatch(tmp_path):
    model = trained()
    folder = model.save_pretrained(tmp_path / "ckpt")
    weights = safetensors.torch.load_file(folder / "model.safetensors")
    weights.pop("readout.conv.bias")
    weights["stray"] = torch.zeros(1)
    safetensors.torch.save_file(weights, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"missing \['readout.conv.bias'\], unexpected \['stray'\]"):
        Toy.from_pretrained(folder)
    loose = Toy.from_pretrained(folder, strict=False)
    assert torch.equal(loose.readout.conv.weight, model.readout.conv.weight)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        Toy.from_pretrained(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        Toy.from_pretrained(str(tmp_path / "absent"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"is not a folder"):
        Toy.from_pretrained(tmp_path / "file")
    folder = trained().save_pretrained(tmp_path / "ckpt")
    config_text = (folder / "config.json").read_text()

    (folder / "model.safetensors").write_bytes(b"garbage bytes")
    with pytest.raises(ValueError, match=r"model.safetensors is not a readable safetensors file"):
        Toy.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"ckpt has no model.safetensors"):
        Toy.from_pretrained(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        Toy.from_pretrained(folder)
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"ckpt has no config.json"):
        Toy.from_pretrained(folder)
    with pytest.raises(FileNotFoundError, match=r"ckpt has no config.json"):
        hub.read_config(folder)

    config = json.loads(config_text)
    for key, value, match in [
        ("format", "pytorch", "not a deepSTRF checkpoint"),
        ("format_version", 2, "format_version 2; this deepSTRF .* reads up to 1"),
        ("dtype", "int8", "dtype 'int8'"),
        ("model_class", None, "'model_class'"),
        ("init_kwargs", [1], "'init_kwargs'"),
    ]:
        (folder / "config.json").write_text(json.dumps({**config, key: value}))
        with pytest.raises(ValueError, match=match):
            hub.read_config(folder)


class Trap:
    """Unpickling this creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_weights_are_never_loaded(tmp_path):
    folder = trained().save_pretrained(tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(Trap(marker))
    (folder / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(FileNotFoundError, match=r"no model.safetensors"):
        Toy.from_pretrained(folder)
    assert not marker.exists()
    pickle.loads(payload)  # the trap is armed: unpickling would have left the marker
    assert marker.exists()


# ---- the Hugging Face Hub ----------------------------------------------------------------------


def hub_cache(tmp_path, folder: Path, repo="owner/name", commit="0123456789abcdef0123456789abcdef01234567"):
    """Lay out ``folder`` as a cached Hub snapshot of ``repo`` (refs/main -> snapshots/<commit>)."""
    root = tmp_path / "hf-cache" / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    return tmp_path / "hf-cache"


@pytest.fixture
def offline(monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_load_from_the_hub_cache(tmp_path, offline):
    model = trained()
    cache = hub_cache(tmp_path, model.save_pretrained(tmp_path / "ckpt", metadata={"score": 1.0}))
    loaded, metadata = Toy.from_pretrained("owner/name", cache_dir=cache, return_metadata=True)
    assert metadata == {"score": 1.0}
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    assert hub.read_config("owner/name", cache_dir=cache)["model_class"].endswith(".Toy")
    same = Toy.from_pretrained("owner/name", cache_dir=cache, revision="0123456789abcdef0123456789abcdef01234567")
    assert torch.equal(same.readout.conv.weight, model.readout.conv.weight)


def test_missing_hub_repository(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match=r"'owner/absent' is not a local folder.*Hugging Face Hub") as info:
        Toy.from_pretrained("owner/absent", cache_dir=tmp_path)
    assert str(info.value).endswith("the Hub could not be reached and the repository is not in the local cache")


def test_a_long_hub_error_is_cut_to_one_short_line():
    from deepSTRF.models.checkpoint import _hub_failure

    reason = _hub_failure(OSError("first sentence.\n" + "x " * 300))
    assert reason.startswith("OSError: first sentence. x x") and reason.endswith("...") and "\n" not in reason
    assert len(reason) < 220


def test_hub_needs_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match=r"deepSTRF\[hub\]"):
        Toy.from_pretrained("owner/name", cache_dir=tmp_path)
    with pytest.raises(ImportError, match=r"deepSTRF\[hub\]"):
        trained().push_to_hub("owner/name")


def test_push_to_hub_creates_the_repo_and_uploads_the_checkpoint(monkeypatch):
    import huggingface_hub

    calls = []

    class Commit:
        commit_url = "https://huggingface.co/owner/name/commit/abc"

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        files = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
        calls.append(("upload_folder", repo_id, kwargs, files))
        return Commit()

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    model = trained()
    url = model.push_to_hub("owner/name", metadata={"score": 0.7}, private=True, commit_message="fit 1")
    assert url == Commit.commit_url
    assert calls[0] == ("create_repo", "owner/name", {"private": True, "exist_ok": True, "repo_type": "model"})
    _, repo_id, kwargs, files = calls[1]
    assert repo_id == "owner/name" and kwargs == {"repo_type": "model", "commit_message": "fit 1"}
    assert sorted(files) == ["README.md", "config.json", "metadata.json", "model.safetensors"]
    assert json.loads(files["metadata.json"]) == {"score": 0.7}
    assert json.loads(files["config.json"])["model_class"].endswith(".Toy")
    hub.upload_pretrained(model, "owner/name")
    assert calls[-1][2]["commit_message"].startswith("Upload Toy with deepSTRF")
    with pytest.raises(ValueError, match=r"repo_id"):
        model.push_to_hub("/not/a/repo")


def test_importing_hub_does_not_import_huggingface_hub():
    code = "import sys, deepSTRF.utils.hub, deepSTRF.models.neural_model; print('huggingface_hub' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- library building blocks -------------------------------------------------------------------


class LinearLike(AudioEncodingModel):
    """The shape of the zoo's Linear model: an STRFReadout over an optional prefilter."""

    def __init__(self, n_frequency_bands=8, temporal_window_size=5, out_neurons=3, prefiltering=None, kernel=None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering)
        self.readout = STRFReadout(n_frequency_bands, temporal_window_size, self.C_in, out_neurons, kernel=kernel)


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("parametric", [False, True])
@pytest.mark.parametrize("adaptrans", [False, True])
def test_library_models_round_trip_without_extra_arguments(adaptrans, parametric, double):
    prefilter = make_prefiltering("adaptrans", n_frequency_bands=8, dt=5.0) if adaptrans else None
    kernel = ParametricSTRF(8, 5, 2 if adaptrans else 1, 3, num_gaussians=2) if parametric else None
    model = LinearLike(prefiltering=prefilter, kernel=kernel)
    model = model.double() if double else model
    dtype = torch.float64 if double else torch.float32
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        model.train()(torch.rand(4, 1, 8, 30, dtype=dtype))  # moves the BatchNorm running statistics
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = assert_roundtrip(model, torch.rand(2, 1, 8, 30, dtype=dtype))
    assert type(loaded.prefiltering) is type(model.prefiltering)
    assert type(loaded.readout.conv.kernel) is type(model.readout.conv.kernel)
    assert loaded.readout.conv.STRF_weight().dtype == dtype
