"""A save killed at each of its file-system steps loses nothing, and the next save cleans up.

A kill is simulated by :class:`Kill`: from step ``k`` on, every file-system call
(``os.open``, ``os.write``, ``os.fsync``, ``os.replace``, ``os.rename``, ``os.mkdir``,
``os.unlink``, ``os.rmdir``, the atomic folder swap) raises, so no clean-up code of
the dying process can run, as after a ``SIGKILL``. After each kill the checkpoint,
state or run is read back by a fresh call with nothing patched.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch

from deepSTRF import _io
from deepSTRF.models import checkpoint
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training import experiment
from deepSTRF.training.checkpoint import load_state, save_state
from deepSTRF.training.config import FitConfig
from deepSTRF.training.experiment import run_experiment
from deepSTRF.training.run_config import RunConfig

_OS_CALLS = ("open", "write", "fsync", "replace", "rename", "mkdir", "unlink", "rmdir")


class Killed(BaseException):
    """The simulated death of the process (not an Exception: ``except Exception`` does not catch it)."""


class Kill:
    """Count file-system steps; from step ``at`` on, every one raises :class:`Killed`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int | None) -> None:
        self.at, self.steps, self.dead = at, 0, False
        for name in _OS_CALLS:
            monkeypatch.setattr(os, name, self._wrap(getattr(os, name)))
        monkeypatch.setattr(checkpoint, "_exchange", self._wrap(checkpoint._exchange))

    def _wrap(self, real):
        def step(*args, **kwargs):
            if self.dead or (self.at is not None and self.steps == self.at):
                self.dead = True
                raise Killed(f"killed at step {self.at}")
            self.steps += 1
            return real(*args, **kwargs)

        return step


def model(seed: int) -> Linear:
    torch.manual_seed(seed)
    return Linear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2)


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def count_steps(monkeypatch, action) -> int:
    with monkeypatch.context() as patch:
        counter = Kill(patch, None)
        action()
    return counter.steps


def load(folder: Path) -> NeuralModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "restored it from ..." after a kill between two renames
        return NeuralModel.from_pretrained(folder)


@pytest.mark.parametrize("swap", ["atomic-swap", "two-renames"])
@pytest.mark.parametrize("existing", [True, False], ids=["overwrite", "first-save"])
def test_a_save_killed_at_any_step_leaves_a_complete_checkpoint(tmp_path, monkeypatch, swap, existing):
    if swap == "two-renames":
        monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    elif checkpoint._RENAMEAT2 is None:
        pytest.skip("no renameat2 on this system")
    old, new, later = model(0), model(1), model(2)

    def prepare(folder: Path) -> Path:
        if existing:
            old.save_pretrained(folder)
        return folder

    counted = prepare(tmp_path / "count" / "ckpt")
    n_steps = count_steps(monkeypatch, lambda: new.save_pretrained(counted))
    assert n_steps >= 8
    for k in range(n_steps):
        folder = prepare(tmp_path / f"k{k}" / "ckpt")
        with monkeypatch.context() as patch, pytest.raises(Killed):
            Kill(patch, k)
            new.save_pretrained(folder)
        try:
            loaded = load(folder)
        except FileNotFoundError:
            assert not existing, f"killed at step {k}: the existing checkpoint was lost"
        else:
            assert same(loaded, old) or same(loaded, new), f"killed at step {k}: a mixed checkpoint"
        later.save_pretrained(folder)  # the next save succeeds and removes what the killed one left
        assert sorted(p.name for p in folder.parent.iterdir()) == ["ckpt"], f"killed at step {k}"
        assert same(load(folder), later)


def test_the_atomic_swap_keeps_the_target_at_every_step(tmp_path, monkeypatch):
    """With the swap, the target itself holds a complete checkpoint after a kill at any step (no recovery needed)."""
    if checkpoint._RENAMEAT2 is None:
        pytest.skip("no renameat2 on this system")
    old, new = model(0), model(1)
    counted = old.save_pretrained(tmp_path / "c" / "ckpt")
    n_steps = count_steps(monkeypatch, lambda: new.save_pretrained(counted))
    for k in range(n_steps):
        folder = old.save_pretrained(tmp_path / f"k{k}" / "ckpt")
        with monkeypatch.context() as patch, pytest.raises(Killed):
            Kill(patch, k)
            new.save_pretrained(folder)
        assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no recovery took place
            loaded = NeuralModel.from_pretrained(folder)
        assert same(loaded, old) or same(loaded, new)


def test_a_save_running_in_another_process_is_not_touched(tmp_path):
    folder = model(0).save_pretrained(tmp_path / "ckpt")
    busy = folder.with_name(f".ckpt.{os.getppid()}.{'ab' * 8}.partial")  # a live process: the parent
    busy.mkdir()
    dead = folder.with_name(f".ckpt.{2**22 + 17}.{'cd' * 8}.partial")  # no such process
    dead.mkdir()
    model(1).save_pretrained(folder)
    assert busy.exists() and not dead.exists()


@pytest.mark.parametrize("kind", ["json", "state"])
def test_a_run_file_killed_at_any_step_holds_the_old_or_new_content(tmp_path, monkeypatch, kind):
    path = tmp_path / ("metrics.json" if kind == "json" else "training_state.pt")
    if kind == "json":
        write, read = (lambda v: _io.atomic_write_json(path, {"epoch": v})), (lambda: _io.read_json(path)["epoch"])
    else:
        write, read = (lambda v: save_state({"epoch": v}, path)), (lambda: load_state(path)["epoch"])
    write(1)
    n_steps = count_steps(monkeypatch, lambda: write(2))
    assert n_steps >= 4
    for k in range(n_steps):
        write(1)
        with monkeypatch.context() as patch, pytest.raises(Killed):
            Kill(patch, k)
            write(2)
        assert read() in (1, 2), f"killed at step {k}"
        write(3)  # the next write removes the temporary file the killed one left
        assert read() == 3 and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


TINY = {"n_neurons": 2, "n_stimuli": 6, "n_frequency_bands": 4, "duration_ms": 200, "temporal_window_size": 3}


def _config(epochs: int) -> RunConfig:
    return RunConfig(dataset_kwargs=TINY, model="linear", fit=FitConfig(max_epochs=epochs, batch_size=2), seeds=[0])


def _check_resume_after_kills(tmp_path, monkeypatch, every_step: bool) -> None:
    monkeypatch.setattr(experiment, "effective_strfs", lambda model: None)  # no figure: matplotlib is slow
    config = _config(2)
    reference = tmp_path / "reference"
    run_experiment(config, reference, progress=False)
    expected = json.loads((reference / "metrics.json").read_text())["summary"]
    n = count_steps(monkeypatch, lambda: run_experiment(config, reference, resume=True, progress=False))
    steps = range(n) if every_step else sorted({0, n - 1, *range(n // 7, n, n // 7)})
    for k in steps:
        out = tmp_path / f"k{k}"
        run_experiment(config, out, progress=False)
        with monkeypatch.context() as patch, pytest.raises(Killed):
            Kill(patch, k)
            run_experiment(config, out, resume=True, progress=False)
        run_experiment(config, out, resume=True, progress=False)  # always resumable...
        assert json.loads((out / "metrics.json").read_text())["summary"] == expected, f"killed at step {k}"
        leftovers = [p for p in out.rglob(".*") if p.name.endswith((".tmp", ".partial", ".old"))]
        assert not leftovers, f"killed at step {k}: {leftovers}"  # ...and cleaned up by the next save


def test_a_run_killed_while_resuming_can_always_be_resumed(tmp_path, monkeypatch):
    """Kill ``deepstrf fit --resume`` at write steps spread over the run (first, last and 6 between)."""
    _check_resume_after_kills(tmp_path, monkeypatch, every_step=False)


@pytest.mark.slow
def test_a_run_killed_at_every_step_of_a_resume_can_be_resumed(tmp_path, monkeypatch):
    _check_resume_after_kills(tmp_path, monkeypatch, every_step=True)
