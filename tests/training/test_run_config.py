import json

import pytest
import torch

from deepSTRF.metrics import METRICS
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training.config import FitConfig
from deepSTRF.training.evaluation import evaluate_checkpoint, resolve_run
from deepSTRF.training.experiment import run_experiment
from deepSTRF.training.ground_truth import effective_strfs, true_rate_scores
from deepSTRF.training.run_config import RunConfig, load_dataset, read_run

TINY = {"n_neurons": 3, "n_stimuli": 12, "n_frequency_bands": 8, "duration_ms": 400.0, "temporal_window_size": 5}


def test_run_config_roundtrip_and_defaults():
    config = RunConfig(
        dataset_kwargs={"n_neurons": 4},
        model_kwargs={"n_hidden": 3},
        model="nrf",
        seeds=[2, 5],
        ridge_alphas=[1, 10],
        logger="wandb",
    )
    back = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config and back.ridge_alphas == [1.0, 10.0]
    assert RunConfig().fit == FitConfig(lr=1e-2, weight_decay=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dataset": 3}, TypeError, "`dataset` must be a str"),
        ({"model_kwargs": {1: 2}}, TypeError, "`model_kwargs` must be a dict with str keys"),
        ({"fit": {"lr": 1}}, TypeError, "`fit` must be a FitConfig"),
        ({"method": "lbfgs"}, ValueError, "`method` must be one of"),
        ({"split": "half"}, ValueError, "`split` must be one of"),
        ({"method": "ridge"}, ValueError, "fits a 'linear' model"),
        ({"method": "ridge", "model": "linear", "split": "kfold"}, ValueError, "needs a 'canonical' or 'random'"),
        ({"seeds": []}, ValueError, "non-empty list"),
        ({"seeds": [0, 0]}, ValueError, "distinct"),
        ({"seeds": [-1]}, ValueError, "`seeds` must be an int >= 0"),
        ({"test_fraction": 1.0}, ValueError, r"`test_fraction` must lie in \(0, 1\)"),
        ({"val_fraction": 1.0}, ValueError, r"`val_fraction` must lie in \[0, 1\)"),
        ({"n_folds": 1}, ValueError, "`n_folds`"),
        ({"ridge_folds": 1}, ValueError, "`ridge_folds`"),
        ({"split_seed": -2}, ValueError, "`split_seed`"),
        ({"ridge_alphas": [0.0]}, ValueError, "`ridge_alphas` must be > 0"),
        ({"device": 0}, TypeError, "`device` must be a str"),
        ({"logger": "mlflow"}, ValueError, "`logger` must be one of"),
    ],
)
def test_run_config_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        RunConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown RunConfig fields"):
        RunConfig.from_dict({"epochs": 3})


def test_load_dataset_and_read_run(tmp_path):
    assert load_dataset("simulated", {"n_neurons": 2, "n_stimuli": 3}).n_neurons == 2
    with pytest.raises(ValueError, match=r"`dataset` must be one of \['simulated', 'ns1'"):
        load_dataset("timit")
    with pytest.raises(TypeError, match=r"dataset 'simulated': .*'colour'"):
        load_dataset("simulated", {"colour": "red"})
    (tmp_path / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a deepSTRF run record"):
        read_run(tmp_path)


def test_run_experiment_python_api_and_evaluation(tmp_path):
    config = RunConfig(dataset_kwargs=TINY, fit=FitConfig(max_epochs=2, batch_size=2, lr=1e-2), device="cpu")
    result = run_experiment(config, tmp_path / "run", progress=False)
    assert result.n_stimuli == {"train": 8, "validation": 2, "test": 2} and result.is_main
    assert result.strf_correlation.shape == (3,) and set(result.ceiling) == set(METRICS)
    evaluated = evaluate_checkpoint(tmp_path / "run", metrics=("cc",), device="cpu")
    assert evaluated.stimuli == [10, 11] and evaluated.dataset_kwargs == TINY
    assert torch.allclose(evaluated.scores["cc"], result.run.per_seed[0]["cc"], atol=1e-6)
    everything = evaluate_checkpoint(tmp_path / "run" / "model", dataset_kwargs=TINY, part="all", metrics=("cc",))
    assert everything.stimuli == list(range(12))
    with pytest.raises(ValueError, match="`part` must be one of"):
        evaluate_checkpoint(tmp_path / "run", part="train")
    with pytest.raises(FileExistsError, match="not empty"):
        run_experiment(config, tmp_path / "run", progress=False)


def test_resolve_run_of_a_cross_validation_run(tmp_path):
    config = RunConfig(dataset_kwargs=TINY, split="kfold", n_folds=2, fit=FitConfig(max_epochs=1, batch_size=4))
    run_experiment(config, tmp_path / "cv", progress=False)
    with pytest.raises(ValueError, match="no single model"):
        resolve_run(tmp_path / "cv")
    assert resolve_run(tmp_path / "cv" / "seeds" / "seed_0" / "fold_0" / "model")[1] == {}


def test_true_rate_scores_reach_the_ceiling_and_other_datasets_have_none(small_data):
    scores = true_rate_scores(small_data, [10, 11], ["ccnorm", "cc", "loss"])
    assert set(scores) == {"ccnorm", "cc"} and bool((scores["ccnorm"] > 0.9).all())
    assert true_rate_scores(small_data.subset(stimuli=[10]), [0], ["cc"]) is None  # subsets carry no true rates


def test_effective_strfs_fold_the_batchnorm_gain():
    model = Linear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2)
    with torch.no_grad():
        model.readout.bn.weight.copy_(torch.tensor([2.0, -1.0]))
        model.readout.bn.running_var.fill_(4.0 - model.readout.bn.eps)
    expected = model.STRF_weight() * torch.tensor([1.0, -0.5])[:, None, None]
    assert torch.allclose(effective_strfs(model), expected)
    assert effective_strfs(torch.nn.Linear(2, 2)) is None
