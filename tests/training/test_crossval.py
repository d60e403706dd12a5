import csv
import json

import pytest
import torch
from torch.utils.data import Subset

from deepSTRF import metrics
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training import FitConfig, Fitter, cross_validate, run_seeds
from deepSTRF.training.crossval import validation_split
from deepSTRF.training.results import write_table

CONFIG = FitConfig(max_epochs=2, batch_size=2, lr=1e-2)


def _build(data):
    def build(seed):
        return Linear(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=data.n_neurons)

    return build


def test_run_seeds_writes_per_seed_and_aggregated_results(small_data, tmp_path):
    result = run_seeds(
        small_data,
        _build(small_data),
        train=range(8),
        val=[8, 9],
        test=[10, 11],
        seeds=[0, 1],
        config=CONFIG,
        out_dir=tmp_path,
        progress=False,
    )
    for seed in (0, 1):
        folder = tmp_path / "seeds" / f"seed_{seed}"
        assert (folder / "state" / "training_state.pt").is_file()
        saved = json.loads((folder / "metrics.json").read_text())
        assert saved["per_neuron"]["cc"] == pytest.approx(result.per_seed[seed]["cc"].tolist())
        reloaded = NeuralModel.from_pretrained(folder / "model")
        model = result.models[seed][0]
        assert all(torch.equal(reloaded.state_dict()[k], v.cpu()) for k, v in model.state_dict().items())
    top = json.loads((tmp_path / "metrics.json").read_text())
    stacked = torch.stack([result.per_seed[s]["ccnorm"] for s in (0, 1)])
    assert top["per_neuron"]["ccnorm"]["mean"] == pytest.approx(stacked.mean(0).tolist())
    assert top["per_neuron"]["ccnorm"]["std"] == pytest.approx(stacked.std(0, correction=0).tolist())
    assert top["summary"]["ccnorm"]["mean"] == pytest.approx(float(stacked.mean(0).mean()))
    assert top["seeds"] == [0, 1] and set(top["per_seed"]) == {"0", "1"}
    with open(tmp_path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and {"neuron", "cc_mean", "cc_std", "cc_seed0", "cc_seed1"} <= set(rows[0])
    assert float(rows[2]["cc_seed1"]) == pytest.approx(float(result.per_seed[1]["cc"][2]))


def test_seeds_are_reproducible_and_distinct(small_data):
    def go(seeds):
        return run_seeds(
            small_data,
            _build(small_data),
            train=range(8),
            val=[8, 9],
            test=[10, 11],
            seeds=seeds,
            config=CONFIG,
            progress=False,
        ).per_seed

    first, again = go([0, 1]), go([1])
    assert torch.equal(first[1]["cc"], again[1]["cc"])
    assert not torch.equal(first[0]["cc"], first[1]["cc"])


def test_kfold_pools_every_held_out_prediction(small_data, tmp_path):
    result = cross_validate(
        small_data, _build(small_data), n_folds=3, stimuli=range(9), config=CONFIG, out_dir=tmp_path, progress=False
    )
    assert [p.name for p in sorted((tmp_path / "seeds" / "seed_0").glob("fold_*"))] == ["fold_0", "fold_1", "fold_2"]
    # score again by hand: each fold's model predicts its own held-out stimuli, then one metric call
    preds, resps, masks = [], [], []
    from deepSTRF.datasets.splits import kfold_split

    for fold, model in zip(kfold_split(12, 3, seed=0, stimuli=range(9)), result.models[0]):
        pred, resp, mask = Fitter(model, CONFIG, device="cpu", progress=False).predict(Subset(small_data, fold["test"]))
        preds.append(pred), resps.append(resp), masks.append(mask)
    expected = metrics.corrcoef(torch.cat(preds), torch.cat(resps), mask=torch.cat(masks), reduction="none")
    assert torch.allclose(result.per_seed[0]["cc"], expected)
    assert json.loads((tmp_path / "metrics.json").read_text())["n_folds"] == 3


def test_leave_one_stimulus_out(small_data):
    result = cross_validate(
        small_data,
        _build(small_data),
        scheme="loso",
        stimuli=[0, 1, 2, 3],
        config=FitConfig(max_epochs=1, batch_size=2),
        progress=False,
    )
    assert len(result.models[0]) == 4 and result.per_seed[0]["cc"].shape == (3,)


def test_validation_split():
    train, val = validation_split(20, range(10), 0.2, seed=3)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert validation_split(20, range(10), 0.2, seed=3) == (train, val)
    assert validation_split(20, [4, 5], 0.0) == ([4, 5], [])
    with pytest.raises(ValueError, match=r"`val_fraction` must lie in \[0, 1\)"):
        validation_split(20, range(10), 1.0)


def test_no_validation_stimuli_trains_without_early_stopping(small_data):
    result = run_seeds(
        small_data, _build(small_data), train=range(8), test=[10, 11], val_fraction=0.0, config=CONFIG, progress=False
    )
    assert "val_cc" not in result.fits[0][0].history[0]


def test_run_errors(small_data, tmp_path):
    build = _build(small_data)
    with pytest.raises(ValueError, match=r"must not overlap; shared: \[8\]"):
        run_seeds(small_data, build, train=range(9), val=[8], test=[10], config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="must be non-empty"):
        run_seeds(small_data, build, train=range(8), val=[8], test=[], config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="distinct ints"):
        run_seeds(small_data, build, train=range(8), val=[8], test=[9], seeds=[1, 1], progress=False)
    with pytest.raises(ValueError, match="needs an `out_dir`"):
        run_seeds(small_data, build, train=range(8), val=[8], test=[9], logger="tensorboard", progress=False)
    with pytest.raises(ValueError, match="`scheme` must be one of"):
        cross_validate(small_data, build, scheme="holdout")
    with pytest.raises(ValueError, match="n_folds"):
        cross_validate(small_data, build, n_folds=20)


def test_write_table_leaves_nan_cells_empty(tmp_path):
    path = write_table(tmp_path / "t.csv", {"cc": torch.tensor([0.25, float("nan")]), "x": [1.0, None]})
    assert path.read_text().splitlines() == ["neuron,cc,x", "0,0.25,1.0", "1,,"]
