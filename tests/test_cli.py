import argparse
import json
from pathlib import Path

import pytest
import torch

from deepSTRF import cli
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.run_config import RunConfig

TINY = [
    "--dataset-arg",
    "n_neurons=3",
    "--dataset-arg",
    "n_stimuli=12",
    "--dataset-arg",
    "n_frequency_bands=8",
    "--dataset-arg",
    "duration_ms=400",
    "--dataset-arg",
    "temporal_window_size=5",
]
FAST = ["--epochs", "2", "--batch-size", "2", "--no-progress"]


def _fit(tmp_path, *extra, name="run"):
    out = tmp_path / name
    return cli.main(["fit", *TINY, *FAST, "--out", str(out), *extra]), out


def _config(*argv):
    return cli.run_config_from_args(cli.build_parser().parse_args(["fit", *argv]))


# ----------------------------------------------------------------------------- fit options reach the run config
FIT_OPTIONS = {
    "--dataset": (["--dataset", "ns1"], lambda c: c.dataset == "ns1"),
    "--dataset-arg": (
        ["--dataset-arg", "n_neurons=4", "--dataset-arg", "stimulus=ripple"],
        lambda c: c.dataset_kwargs == {"n_neurons": 4, "stimulus": "ripple"},
    ),
    "--split": (["--split", "kfold"], lambda c: c.split == "kfold"),
    "--test-fraction": (["--test-fraction", "0.3"], lambda c: c.test_fraction == 0.3),
    "--val-fraction": (["--val-fraction", "0.1"], lambda c: c.val_fraction == 0.1),
    "--folds": (["--folds", "3"], lambda c: c.n_folds == 3),
    "--split-seed": (["--split-seed", "7"], lambda c: c.split_seed == 7),
    "--model": (["--model", "nrf"], lambda c: c.model == "nrf"),
    "--model-arg": (["--model-arg", "n_hidden=6"], lambda c: c.model_kwargs == {"n_hidden": 6}),
    "--method": (["--method", "ridge"], lambda c: c.method == "ridge" and c.model == "linear"),
    "--ridge-alphas": (["--ridge-alphas", "0.1", "1"], lambda c: c.ridge_alphas == [0.1, 1.0]),
    "--ridge-folds": (["--ridge-folds", "3"], lambda c: c.ridge_folds == 3),
    "--loss": (["--loss", "poisson"], lambda c: c.fit.loss == "poisson"),
    "--target": (["--target", "trials"], lambda c: c.fit.target == "trials"),
    "--optimizer": (["--optimizer", "sgd"], lambda c: c.fit.optimizer == "sgd"),
    "--lr": (["--lr", "0.5"], lambda c: c.fit.lr == 0.5),
    "--weight-decay": (["--weight-decay", "0.001"], lambda c: c.fit.weight_decay == 0.001),
    "--momentum": (["--momentum", "0.9"], lambda c: c.fit.momentum == 0.9),
    "--scheduler": (["--scheduler", "cosine"], lambda c: c.fit.scheduler == "cosine"),
    "--epochs": (["--epochs", "7"], lambda c: c.fit.max_epochs == 7),
    "--patience": (["--patience", "none"], lambda c: c.fit.patience is None),
    "--metric": (["--metric", "ccnorm"], lambda c: c.fit.metric == "ccnorm"),
    "--min-delta": (["--min-delta", "0.01"], lambda c: c.fit.min_delta == 0.01),
    "--batch-size": (["--batch-size", "4"], lambda c: c.fit.batch_size == 4),
    "--grad-clip": (["--grad-clip", "2.5"], lambda c: c.fit.grad_clip == 2.5),
    "--amp": (["--amp"], lambda c: c.fit.amp is True),
    "--per-neuron-best": (["--per-neuron-best"], lambda c: c.fit.per_neuron_best is True),
    "--num-workers": (["--num-workers", "2"], lambda c: c.fit.num_workers == 2),
    "--seeds": (["--seeds", "3", "4"], lambda c: c.seeds == [3, 4]),
    "--device": (["--device", "cpu"], lambda c: c.device == "cpu"),
    "--logger": (["--logger", "tensorboard"], lambda c: c.logger == "tensorboard"),
}
RUNTIME_OPTIONS = {"--out", "--resume", "--start-if-missing", "--no-progress", "--help"}  # tested by the runs below


def _option_strings(command):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {s for a in sub._actions for s in a.option_strings if s.startswith("--")}


def test_every_fit_option_is_covered():
    assert _option_strings("fit") == set(FIT_OPTIONS) | RUNTIME_OPTIONS


@pytest.mark.parametrize("option", sorted(FIT_OPTIONS))
def test_fit_option_reaches_the_run_config(option):
    argv, check = FIT_OPTIONS[option]
    assert check(_config(*argv))


def test_fit_defaults_are_the_run_config_defaults():
    config = _config()
    assert config == RunConfig(device=None) and config.model == "ln" and config.dataset == "simulated"
    assert _config("--device", "auto").device is None and _config("--grad-clip", "none").fit.grad_clip is None
    assert _config("--patience", "4").fit.patience == 4


def test_help_lists_every_option(capsys):
    assert cli.main(["fit", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(option in text for option in FIT_OPTIONS)
    assert cli.main(["--help"]) == 0 and "evaluate" in capsys.readouterr().out
    assert cli.main([]) == 0 and "COMMAND" in capsys.readouterr().out


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("deepstrf ")


# ----------------------------------------------------------------------------- bad options: one line, exit 2
BAD = [
    ["fit", "--no-such-option"],
    ["fit", "--epoch", "3"],
    ["fit", "--model", "resnet"],
    ["fit", "--epochs", "many"],
    ["fit", "--epochs", "0"],
    ["fit", "--lr", "-1"],
    ["fit", "--patience", "0"],
    ["fit", "--dataset-arg", "oops"],
    ["fit", "--model-arg", "1x=2"],
    ["fit", "--method", "ridge", "--model", "ln"],
    ["fit", "--val-fraction", "1.5"],
    ["fit", "--seeds", "1", "1"],
    ["fit", *TINY, "--model-arg", "no_such_argument=1"],
    ["fit", "--dataset", "no-such-data"],
    ["fit", "--dataset-arg", "n_neurons=0"],
    ["evaluate"],
    ["evaluate", "/no/such/checkpoint"],
    ["evaluate", "x", "--part", "half"],
    ["download"],
    ["download", "simulated"],
    ["download", "no-such-data"],
    ["info", "/no/such/checkpoint"],
    ["nonsense"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[:3]) for a in BAD])
def test_bad_options_give_one_line_and_status_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err and "Traceback" not in err, err


def test_an_abbreviated_option_is_refused_with_the_full_name(capsys):
    assert cli.main(["fit", "--epoch", "3", "--lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --epoch 3" in err and "did you mean --epochs for --epoch?" in err


def test_fit_refuses_a_non_empty_folder_without_resume(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("keep me")
    assert _fit(tmp_path)[0] == 2
    assert "not empty" in capsys.readouterr().err


# ----------------------------------------------------------------------------- end-to-end runs
def test_fit_writes_a_run_folder_and_prints_a_summary(tmp_path, capsys):
    status, out = _fit(tmp_path, "--seeds", "0", "1")
    assert status == 0
    printed = capsys.readouterr().out
    assert "ccnorm of the true rate (ceiling)" in printed and "STRF correlation, learned vs true" in printed
    assert {"config.json", "metrics.json", "metrics.csv", "model", "seeds", "strfs.png"} <= {
        p.name for p in out.iterdir()
    }
    record = json.loads((out / "config.json").read_text())
    assert record["format"] == "deepSTRF-run" and record["config"]["seeds"] == [0, 1]
    assert sorted(record["split"]["test"]) == [10, 11]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_seed"]) == {"0", "1"} and len(metrics["strf_correlation"]["per_neuron"]) == 3
    assert "ccnorm" in metrics["ceiling"]["summary"] and metrics["best_seed"] in (0, 1)
    model = NeuralModel.from_pretrained(out / "model")
    assert type(model).__name__ == "LinearNonlinear" and model.O == 3


def test_fit_without_matplotlib_saves_everything_but_the_figure(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.warns(UserWarning, match=r"strfs.png not written: matplotlib is missing"):
        status, out = _fit(tmp_path)
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "metrics.json", "model"} <= names and "strfs.png" not in names


def test_resume_a_run(tmp_path, capsys):
    status, out = _fit(tmp_path)
    assert status == 0
    first = json.loads((out / "metrics.json").read_text())["per_neuron"]
    assert _fit(tmp_path, "--resume")[0] == 0
    assert json.loads((out / "metrics.json").read_text())["per_neuron"] == first
    assert _fit(tmp_path, "--resume", "--lr", "0.5")[0] == 2
    assert "configuration differs in ['fit.lr']" in capsys.readouterr().err


def test_ridge_fit(tmp_path, capsys):
    status, out = _fit(tmp_path, "--method", "ridge", "--ridge-alphas", "0.1", "1", "10", "--ridge-folds", "3")
    assert status == 0
    saved = json.loads((out / "seeds" / "seed_0" / "metrics.json").read_text())
    assert len(saved["alpha"]) == 3 and set(saved["alpha"]) <= {0.1, 1.0, 10.0}
    assert type(NeuralModel.from_pretrained(out / "model")).__name__ == "Linear"


def test_cross_validated_fit(tmp_path, capsys):
    status, out = _fit(tmp_path, "--split", "kfold", "--folds", "3", "--split-seed", "1", "--epochs", "1")
    assert status == 0
    assert sorted(p.name for p in (out / "seeds" / "seed_0").glob("fold_*")) == ["fold_0", "fold_1", "fold_2"]
    assert not (out / "model").exists()
    assert cli.main(["evaluate", str(out)]) == 2  # no single model to evaluate
    assert cli.main(["info", str(out)]) == 0
    assert "cross-validation" in capsys.readouterr().out


def test_random_split_training_options_and_logger(tmp_path):
    status, out = _fit(
        tmp_path,
        "--split",
        "random",
        "--test-fraction",
        "0.25",
        "--val-fraction",
        "0.25",
        "--model",
        "linear",
        "--loss",
        "mse",
        "--target",
        "trials",
        "--optimizer",
        "adamw",
        "--lr",
        "0.01",
        "--weight-decay",
        "0.1",
        "--scheduler",
        "plateau",
        "--patience",
        "3",
        "--metric",
        "ccnorm",
        "--min-delta",
        "0.001",
        "--grad-clip",
        "1",
        "--per-neuron-best",
        "--num-workers",
        "0",
        "--device",
        "cpu",
        "--logger",
        "tensorboard",
    )
    assert status == 0
    record = json.loads((out / "config.json").read_text())
    assert len(record["split"]["test"]) == 3 and len(record["split"]["val"]) == 2
    assert any((out / "seeds" / "seed_0" / "logs").iterdir())


def test_evaluate_run_folder_and_checkpoint(tmp_path, capsys):
    _, out = _fit(tmp_path)
    capsys.readouterr()
    assert (
        cli.main(
            [
                "evaluate",
                str(out),
                "--metrics",
                "cc",
                "loss",
                "--batch-size",
                "1",
                "--device",
                "cpu",
                "--json",
                str(tmp_path / "eval.json"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "2 stimuli" in printed and "loss" in printed
    saved = json.loads((tmp_path / "eval.json").read_text())
    test = json.loads((out / "metrics.json").read_text())["per_neuron"]["cc"]["mean"]
    assert saved["per_neuron"]["cc"] == pytest.approx(test, abs=1e-5) and saved["stimuli"] == [10, 11]
    # a bare checkpoint on another dataset configuration, all stimuli
    assert cli.main(["evaluate", str(out / "model"), "--dataset", "simulated", *TINY, "--part", "all"]) == 0
    assert "12 stimuli" in capsys.readouterr().out


def test_info(tmp_path, capsys):
    _, out = _fit(tmp_path)
    capsys.readouterr()
    assert cli.main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ln fitted by gd on simulated" in text and "LinearNonlinear" in text and '"out_neurons": 3' in text
    assert cli.main(["info", str(out / "model")]) == 0
    assert "metadata" in capsys.readouterr().out


def test_datasets_lists_sizes_and_citations(capsys):
    from deepSTRF.datasets.catalog import list_datasets

    assert cli.main(["datasets"]) == 0
    text = capsys.readouterr().out
    for info in list_datasets():
        assert f"{info.name}: {info.size}" in text and info.citations[0] in text
    assert text.startswith("simulated")


def test_download_calls_the_catalogue(tmp_path, capsys, monkeypatch):
    calls = []

    def fake(name, root, *, progress):
        calls.append((name, root, progress))
        return Path(root)

    monkeypatch.setattr("deepSTRF.datasets.catalog.download_dataset", fake)
    assert cli.main(["download", "ns1", "--root", str(tmp_path), "--no-progress"]) == 0
    assert calls == [("ns1", tmp_path, False)] and str(tmp_path) in capsys.readouterr().out


@pytest.mark.slow
def test_default_fit_reaches_the_ceiling_and_recovers_the_strfs(tmp_path, capsys, monkeypatch):
    """The documented default: an LN model on the simulated dataset (about a minute on 2 cores)."""
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(2)
    assert cli.main(["fit", "--out", "run", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "ccnorm / ceiling" in printed and "STRF correlation" in printed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    ceiling = metrics["ceiling"]["summary"]["ccnorm"]["mean"]
    assert metrics["summary"]["ccnorm"]["mean"] >= 0.9 * ceiling
    assert metrics["strf_correlation"]["mean"] >= 0.9
    NeuralModel.from_pretrained(tmp_path / "run" / "model")


# ----------------------------------------------------------------------------- choices come from the registries
def _choices_of(parser, dest):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found = _choices_of(sub, dest)
                if found is not None:
                    return found
        elif action.dest == dest:
            return list(action.choices)
    return None


def test_choices_equal_the_registries():
    from deepSTRF import metrics
    from deepSTRF.training import config, run_config

    parser = cli.build_parser()
    assert _choices_of(parser, "metric") == [*metrics.METRICS, "loss"] == list(config.VALIDATION_METRICS)
    assert _choices_of(parser, "metrics") == [*metrics.METRICS, "loss"]
    assert _choices_of(parser, "loss") == list(metrics.LOSSES) == list(config.LOSSES)
    assert _choices_of(parser, "target") == list(config.TARGETS)
    assert _choices_of(parser, "optimizer") == list(config.OPTIMIZERS)
    assert _choices_of(parser, "scheduler") == [None, *config.SCHEDULERS]
    assert _choices_of(parser, "split") == list(run_config.SPLITS)
    assert _choices_of(parser, "method") == list(run_config.METHODS)
    evaluate = parser.parse_args(["evaluate", "ckpt"])
    assert evaluate.metrics == list(metrics.METRICS)


def test_evaluate_refuses_data_at_another_bin_width(tmp_path, capsys):
    _, out = _fit(tmp_path)
    assert json.loads((out / "model" / "config.json").read_text())["data"] == {"dt_ms": 5.0}
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), *TINY, "--dataset-arg", "dt_ms=10", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "LinearNonlinear expects dt_ms=5 (the data it was fitted on) but dataset 'simulated'" in err
    assert "has dt_ms=10" in err
    assert cli.main(["info", str(out)]) == 0
    assert "data: dt_ms=5" in capsys.readouterr().out
