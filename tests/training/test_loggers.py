import math

import pytest

from deepSTRF.training.loggers import TensorBoardLogger, WandbLogger, make_logger


def test_make_logger_none_and_unknown(tmp_path):
    assert make_logger(None, tmp_path) is None
    with pytest.raises(ValueError, match="`kind` must be one of"):
        make_logger("mlflow", tmp_path)


def test_tensorboard_logger_writes_scalars(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator as accumulator

    logger = make_logger("tensorboard", tmp_path / "tb")
    assert isinstance(logger, TensorBoardLogger)
    logger.log_config({"lr": 0.01})
    logger.log_scalars({"train/loss": 0.5, "val/cc": math.nan}, step=0)  # NaN is skipped
    logger.log_scalars({"train/loss": 0.25}, step=1)
    logger.close()
    events = accumulator.EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert events.Tags()["scalars"] == ["train/loss"]
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(0, 0.5), (1, 0.25)]


def test_wandb_logger_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "cache"))
    logger = make_logger("wandb", tmp_path / "wb", project="deepstrf-test")
    assert isinstance(logger, WandbLogger)
    logger.log_config({"lr": 0.01})
    logger.log_scalars({"train/loss": 0.5}, step=0)
    logger.close()
    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))


def test_wandb_logger_rejects_unknown_mode(tmp_path):
    with pytest.raises(ValueError, match="`mode` must be one of"):
        WandbLogger(tmp_path, mode="cloud")
