# ruff: noqa: E501  (one line per case, by design)
"""The command line: a user's mistake or a problem of the machine is one line on stderr, exit status 2.

Each row: the arguments (``{tmp}`` is a scratch folder), what to prepare in it, and
a pattern the single error line must match. No row may print a traceback; with
``--debug`` the traceback is shown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deepSTRF import cli
from deepSTRF.datasets import catalog
from deepSTRF.datasets.download import DownloadError
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training import experiment

TINY = [
    "--dataset-arg",
    "n_neurons=2",
    "--dataset-arg",
    "n_stimuli=6",
    "--dataset-arg",
    "n_frequency_bands=4",
    "--dataset-arg",
    "duration_ms=200",
    "--epochs",
    "1",
    "--no-progress",
]


def checkpoint(tmp: Path) -> Path:
    return Linear(n_frequency_bands=4).save_pretrained(tmp / "ckpt")


def corrupt_config(tmp: Path) -> None:
    (checkpoint(tmp) / "config.json").write_text("{")


def run_with_corrupt_metrics(tmp: Path) -> None:
    run = tmp / "run"
    checkpoint(run.parent)
    (run / "model").parent.mkdir(parents=True, exist_ok=True)
    (tmp / "ckpt").rename(run / "model")
    (run / "config.json").write_text(
        json.dumps({"format": "deepSTRF-run", "config": {"model": "linear", "method": "gd", "dataset": "simulated"}})
    )
    (run / "metrics.json").write_text('{"summary": ')


def a_file(tmp: Path) -> None:
    (tmp / "a-file").write_text("x")


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name, root=None, progress=True):
        raise DownloadError(
            "Could not download https://ann:s3cret@h.org/x.zip after 5 attempts (timed out). place it by hand"
        )

    monkeypatch.setattr(catalog, "download_dataset", fail)


def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name, root=None, progress=True):
        raise OSError(28, "No space left on device", "/data/ns1/x.zip.part")

    monkeypatch.setattr(catalog, "download_dataset", fail)


def nothing(_):
    return None


# (id, argv, prepare(tmp) or patch(monkeypatch), pattern of the one stderr line)
# fmt: off
CASES = [
    ("fit --epochs 0", ["fit", "--epochs", "0"], nothing, r"max_epochs"),
    ("fit --device gpu", ["fit", *TINY, "--device", "gpu", "--out", "{tmp}/r"], nothing, r"`device` must be one of \['cpu'.*got 'gpu'"),
    ("fit --device cuda:7", ["fit", *TINY, "--device", "cuda:7", "--out", "{tmp}/r"], nothing, r"`device` is 'cuda:7' but .*valid devices here"),
    ("fit into a file", ["fit", *TINY, "--out", "{tmp}/a-file"], a_file, r"is a file"),
    ("fit --resume on a misspelled folder", ["fit", *TINY, "--resume", "--out", "{tmp}/rnu"], nothing, r"cannot resume .*rnu: there is no run there; check the path \(--out\), or pass .*--start-if-missing"),
    ("fit into an unwritable folder", ["fit", *TINY, "--out", "/sys/deepstrf-run"], nothing, r"cannot access /sys/deepstrf-run.*choose a folder you can write"),
    ("fit with an unknown dataset", ["fit", "--dataset", "ns9"], nothing, r"ns9"),
    ("fit with a bad dataset argument", ["fit", "--dataset-arg", "n_neurons=0"], nothing, r"`n_neurons`"),
    ("fit with an unknown model argument", ["fit", *TINY, "--model-arg", "bogus=1", "--out", "{tmp}/r"], nothing, r"bogus"),
    ("fit with a bad KEY=VALUE", ["fit", "--model-arg", "no-equals"], nothing, r"KEY=VALUE"),
    ("fit with an unknown option", ["fit", "--epochz", "3"], nothing, r"unrecognized arguments: --epochz"),
    ("info on a missing folder", ["info", "{tmp}/nope"], nothing, r"nope.* does not exist"),
    ("info on a corrupt config.json", ["info", "{tmp}/ckpt"], corrupt_config, r"ckpt/config\.json is not valid JSON"),
    ("info on a corrupt metrics.json", ["info", "{tmp}/run"], run_with_corrupt_metrics, r"run/metrics\.json is not valid JSON .* restore it"),
    ("evaluate a missing checkpoint", ["evaluate", "{tmp}/nope"], nothing, r"nope"),
    ("evaluate with a bad device", ["evaluate", "{tmp}/ckpt", "--device", "gpu"], checkpoint, r"must be one of"),
    ("download an unknown dataset", ["download", "ns9"], nothing, r"ns9"),
    ("download the simulated dataset", ["download", "simulated"], nothing, r"nothing to download"),
    ("download offline, credentials hidden", ["download", "ns1"], offline, r"^(?!.*s3cret).*https://\*\*\*@h\.org/x\.zip"),
    ("download to a full disk", ["download", "ns1"], disk_full, r"/data/ns1/x\.zip\.part: No space left on device"),
]
# fmt: on


@pytest.mark.parametrize(("argv", "prepare", "pattern"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_a_cli_mistake_is_one_line_and_exit_2(argv, prepare, pattern, tmp_path, monkeypatch, capsys):
    if prepare.__code__.co_varnames[:1] == ("monkeypatch",):
        prepare(monkeypatch)
    else:
        prepare(tmp_path)
    status = cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line]
    assert status == 2, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("deepstrf"), err
    assert re.search(pattern, lines[0]), lines[0]


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        cli.main(["fit", *TINY, "--resume", "--out", str(tmp_path / "nope"), "--debug"])


def test_start_if_missing_starts_fresh_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "effective_strfs", lambda model: None)  # no figure: matplotlib is slow
    with pytest.warns(UserWarning, match="no run to resume"):
        assert cli.main(["fit", *TINY, "--resume", "--start-if-missing", "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "metrics.json").is_file()


def test_an_unexpected_error_is_one_line_with_exit_1(monkeypatch, capsys):
    def bug(name, root=None, progress=True):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(catalog, "download_dataset", bug)
    assert cli.main(["download", "ns1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected error: ZeroDivisionError" in err and "--debug" in err
