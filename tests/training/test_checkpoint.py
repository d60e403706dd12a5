import math
import pickle

import pytest
import torch

from deepSTRF.training.checkpoint import EarlyStopping, load_state, save_state


def test_state_roundtrip_keeps_tensors_and_plain_values(tmp_path):
    state = {"epoch": 2, "w": torch.arange(3.0), "history": [{"loss": 0.5}], "best": -math.inf, "none": None}
    path = save_state(state, tmp_path / "sub" / "state.pt")
    back = load_state(path)
    assert back["epoch"] == 2 and back["history"] == [{"loss": 0.5}] and back["best"] == -math.inf
    assert torch.equal(back["w"], state["w"]) and back["none"] is None
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]  # no temporary file left behind


def test_save_replaces_the_previous_state(tmp_path):
    save_state({"epoch": 1}, tmp_path / "s.pt")
    save_state({"epoch": 2}, tmp_path / "s.pt")
    assert load_state(tmp_path / "s.pt")["epoch"] == 2


def test_a_failed_save_leaves_the_old_state(tmp_path):
    save_state({"epoch": 1}, tmp_path / "s.pt")
    with pytest.raises(Exception):  # noqa: B017 - whatever torch.save raises for a lambda
        save_state({"epoch": 2, "bad": lambda: 0}, tmp_path / "s.pt")
    assert load_state(tmp_path / "s.pt")["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pt"]


class _Evil:
    pass


def test_load_refuses_pickled_objects(tmp_path):
    with open(tmp_path / "s.pt", "wb") as handle:
        torch.save({"obj": _Evil()}, handle, pickle_module=pickle)
    with pytest.raises(ValueError, match="not a readable training state"):
        load_state(tmp_path / "s.pt")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training state"):
        load_state(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="training state dict"):
        load_state(tmp_path / "list.pt")


def test_early_stopping_max_mode_with_patience():
    stopper = EarlyStopping(patience=2)
    flags = [stopper.update(s, e) for e, s in enumerate([0.1, 0.3, 0.29, float("nan")])]
    assert flags == [True, True, False, False]
    assert stopper.best_epoch == 1 and stopper.best_score == 0.3 and stopper.should_stop


def test_early_stopping_min_mode_and_min_delta():
    stopper = EarlyStopping(patience=None, mode="min", min_delta=0.1)
    assert stopper.update(1.0, 0) and not stopper.update(0.95, 1) and stopper.update(0.8, 2)
    assert not stopper.should_stop  # patience None never stops
    clone = EarlyStopping(patience=None, mode="min")
    clone.load_state_dict(stopper.state_dict())
    assert clone.state_dict() == stopper.state_dict() == {"best_score": 0.8, "best_epoch": 2, "bad_epochs": 0}


def test_early_stopping_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(3, mode="up")
