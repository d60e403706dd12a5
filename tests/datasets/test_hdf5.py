import json

import numpy as np
import pytest
import torch

h5py = pytest.importorskip("h5py")
from deepSTRF.datasets import NeuralDataset, SimulatedDataset, load_hdf5, normalize_responses, save_hdf5  # noqa: E402


def _assert_same(a, b):
    assert len(a) == len(b) and a.n_neurons == b.n_neurons and a.dt_ms == b.dt_ms
    assert a.audio_fs == b.audio_fs and a.F == b.F and a.name == b.name
    assert a.stim_meta == b.stim_meta and a.nrn_meta == b.nrn_meta and a.info == b.info and a.splits == b.splits
    assert torch.equal(a.n_trials, b.n_trials)
    for s in range(len(a)):
        assert torch.equal(a[s]["stims"], b[s]["stims"])
        torch.testing.assert_close(a[s]["responses"], b[s]["responses"], equal_nan=True, rtol=0, atol=0)


def test_round_trip_keeps_everything(tmp_path, ragged):
    ragged.splits = {"train": [0, 1, 2], "test": [3]}
    ragged.info = {"frequencies_hz": np.geomspace(500, 8000, 5), "note": "toy", "n": np.int64(3)}
    norm = normalize_responses(ragged, "train")
    save_hdf5(norm, tmp_path / "toy.h5")
    back = load_hdf5(tmp_path / "toy.h5")
    norm.info["frequencies_hz"] = norm.info["frequencies_hz"].tolist()
    norm.info["n"] = 3
    _assert_same(norm, back)
    fitted = back.normalization["responses"][0]
    torch.testing.assert_close(fitted.scale, norm.normalization["responses"][0].scale)
    assert fitted.stimuli == (0, 1, 2)


def test_round_trip_of_waveforms_and_nan_bins(tmp_path):
    resp = np.ones((2, 4))
    resp[1, 2] = np.nan
    ds = NeuralDataset([np.arange(320.0)], [[resp, None]], 5.0, audio_fs=16000, dtype=torch.float64)
    save_hdf5(ds, tmp_path / "wave.h5", compression=None)
    back = load_hdf5(tmp_path / "wave.h5", dtype=torch.float64)
    _assert_same(ds, back)
    sim = SimulatedDataset(n_neurons=2, n_stimuli=3)
    save_hdf5(sim, tmp_path / "sim.h5")
    _assert_same(sim.subset(), load_hdf5(tmp_path / "sim.h5"))


def test_documented_layout_can_be_written_by_hand(tmp_path):
    path = tmp_path / "hand.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["format_version"], f.attrs["dt_ms"] = "deepSTRF.NeuralDataset", 1, 10.0
        f["stims/0"] = np.zeros((1, 3, 4))
        f["stims/1"] = np.ones((1, 3, 2))
        f["responses/0"] = np.arange(12.0).reshape(3, 4)  # neuron 0: 1 trial, neuron 1: 2 trials
        f["responses/1"] = np.ones((1, 2))  # neuron 0 missing, neuron 1: 1 trial
        f["n_trials"] = np.array([[1, 2], [0, 1]])
        f["stim_meta"] = json.dumps([{"name": "a"}, {"name": "b"}])
        f["nrn_meta"] = json.dumps([{"unit": 1}, {"unit": 2}])
    ds = load_hdf5(path)
    assert ds.lengths == [4, 2] and ds.valid_mask.tolist() == [[True, True], [False, True]]
    assert ds.get_response(0, 1).tolist() == [[4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]
    assert ds.splits == {} and ds.info == {}


def _write_valid(path):
    save_hdf5(NeuralDataset([np.zeros((1, 2, 3))] * 2, [[np.ones((2, 3))], [None]], 5.0), path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.attrs.__setitem__("format", "other"), r"root attribute 'format' must be 'deepSTRF.NeuralDataset'"),
        (lambda f: f.attrs.__setitem__("format_version", 9), r"unsupported format_version 9"),
        (lambda f: f.attrs.__delitem__("dt_ms"), r"missing the root attribute 'dt_ms'"),
        (lambda f: f.__delitem__("responses"), r"missing the '/responses' entry"),
        (lambda f: f.__delitem__("nrn_meta"), r"missing the '/nrn_meta' entry"),
        (lambda f: f.__delitem__("stims/1"), r"'/stims' must hold entries '0'..'1'"),
        (
            lambda f: (f.__delitem__("n_trials"), f.create_dataset("n_trials", data=np.ones(2))),
            r"'/n_trials' must be an integer \(S, N\) array",
        ),
        (
            lambda f: (f.__delitem__("responses/0"), f.create_dataset("responses/0", data=np.ones((3, 3)))),
            r"`packed\[0\]` must have shape \(2, 3\)",
        ),
        (
            lambda f: (f.__delitem__("stims/0"), f.create_dataset("stims/0", data=np.ones((1, 2, 4)))),
            r"`packed\[0\]` must have shape \(2, 4\)",
        ),
        (
            lambda f: (f.__delitem__("stim_meta"), f.create_dataset("stim_meta", data="{not json")),
            r"'/stim_meta' must hold a JSON string",
        ),
        (
            lambda f: (f.__delitem__("stim_meta"), f.create_dataset("stim_meta", data="[{}]")),
            r"`stim_meta` must hold one dict per stim",
        ),
    ],
)
def test_wrongly_laid_out_files_are_reported(tmp_path, change, match):
    path = tmp_path / "bad.h5"
    _write_valid(path)
    with h5py.File(path, "a") as f:
        change(f)
    with pytest.raises(ValueError, match=match):
        load_hdf5(path)


def test_corrupt_and_missing_files(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not HDF5" * 100)
    with pytest.raises(ValueError, match=r"junk.h5 is not a readable HDF5 file"):
        load_hdf5(junk)
    good = tmp_path / "good.h5"
    _write_valid(good)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"truncated.h5"):
        load_hdf5(truncated)
    with pytest.raises(FileNotFoundError, match=r"no dataset file at"):
        load_hdf5(tmp_path / "absent.h5")


def test_save_errors(tmp_path, ragged):
    ragged.nrn_meta[0]["callback"] = print
    with pytest.raises(
        TypeError,
        match=r"`dataset.nrn_meta` must be JSON-serialisable to be saved: cannot store a builtin_function_or_method",
    ):
        save_hdf5(ragged, tmp_path / "x.h5")
    with pytest.raises(TypeError, match=r"`dataset` must be a NeuralDataset"):
        save_hdf5({"stims": []}, tmp_path / "x.h5")
