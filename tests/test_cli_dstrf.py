"""``deepstrf dstrf``: dSTRFs and indices of a fitted run for a chosen stimulus."""

import json
import re

import pytest
import torch
from safetensors.torch import load_file

from deepSTRF import cli
from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.interpret import dynamic_strfs, nonlinearity_indices
from deepSTRF.models.neural_model import NeuralModel

DATA = {"n_neurons": 3, "n_stimuli": 12, "n_frequency_bands": 8, "duration_ms": 400, "temporal_window_size": 5}
TINY = [arg for key, value in DATA.items() for arg in ("--dataset-arg", f"{key}={value}")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dstrf") / "run"
    argv = ["fit", *TINY, "--epochs", "2", "--batch-size", "2", "--no-progress", "--out", str(out)]
    assert cli.main(argv) == 0
    return out


def test_writes_the_dstrfs_of_the_first_test_stimulus(run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "d"
    argv = ["dstrf", str(run), "--neurons", "0", "2", "--stop", "50", "--window", "7", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "shape_change" in printed and "(2, 50, 8, 7)" in printed
    saved = load_file(str(out / "dstrfs.safetensors"))
    model = NeuralModel.from_pretrained(run / "model")
    data = SimulatedDataset(**DATA)
    expected = dynamic_strfs(model, data[10]["stims"], window=7, times=range(50), neurons=[0, 2])
    torch.testing.assert_close(saved["dstrfs"], expected.dstrfs)
    assert saved["times"].tolist() == list(range(50)) and saved["neurons"].tolist() == [0, 2]
    record = json.loads((out / "indices.json").read_text())
    assert record["stimulus"] == 10 and record["window"] == 7 and record["neurons"] == [0, 2]
    found = nonlinearity_indices(expected)
    assert record["per_neuron"]["gain_change"] == pytest.approx(found["gain_change"].tolist())
    assert (out / "dstrf_strip.png").stat().st_size > 10_000 and (out / "indices.png").is_file()


def test_stimulus_by_name_without_plots(run, tmp_path, capsys):
    out = tmp_path / "d"
    assert cli.main(["dstrf", str(run), "--stimulus", "train003", "--no-plots", "--out", str(out)]) == 0
    assert json.loads((out / "indices.json").read_text())["stimulus"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["dstrfs.safetensors", "indices.json"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--stimulus", "nope"], "`stimulus` must be an index or a stimulus name"),
        (["--stimulus", "99"], r"`stimulus` must be in \[0, 12\), got 99"),
        (["--start", "30", "--stop", "20"], "`start` and `stop` must satisfy"),
        (["--stop", "3"], "the indices need >= 2 time points"),
        (["--neurons", "5"], r"`neurons` must lie in \[0, 3\)"),
    ],
)
def test_bad_options_give_status_2(run, tmp_path, capsys, extra, message):
    assert cli.main(["dstrf", str(run), "--no-plots", "--out", str(tmp_path / "d"), *extra]) == 2
    assert re.search(message, capsys.readouterr().err)
