import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training import FitConfig, Fitter, TrainingLogger
from deepSTRF.training.checkpoint import load_state

WORKER = Path(__file__).with_name("_workers.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(ckpt, out, pause=0.0):
    return subprocess.Popen([sys.executable, str(WORKER), "resume", str(ckpt), str(out), str(pause)], env=ENV)


def test_a_fit_killed_mid_run_resumes_to_the_same_weights(tmp_path):
    killed = _run(tmp_path / "a", tmp_path / "a.pt", pause=0.5)
    reference = _run(tmp_path / "b", tmp_path / "b.pt")
    state_file = tmp_path / "a" / "training_state.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if state_file.is_file():
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the fit finished before it could be interrupted"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    epoch = load_state(state_file)["epoch"]
    assert 0 <= epoch < 5 and not (tmp_path / "a.pt").exists()
    assert _run(tmp_path / "a", tmp_path / "a.pt").wait(timeout=120) == 0
    assert reference.wait(timeout=120) == 0
    resumed, uninterrupted = torch.load(tmp_path / "a.pt"), torch.load(tmp_path / "b.pt")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
    assert len(load_state(state_file)["history"]) == 6


class _Interrupt(TrainingLogger):
    """Raises after a given epoch, like an interruption between two epochs."""

    def __init__(self, at):
        self.at = at

    def log_config(self, config):
        pass

    def log_scalars(self, values, step):
        if step == self.at:
            raise KeyboardInterrupt

    def close(self):
        pass


class _Dropout(Linear):
    """A Linear model with dropout on its input, so training draws random numbers every step."""

    def __init__(self, n_frequency_bands: int = 8, out_neurons: int = 3):
        super().__init__(n_frequency_bands=n_frequency_bands, temporal_window_size=5, out_neurons=out_neurons)
        self.core = torch.nn.Dropout(0.3)


def _fit(tmp_path, parts, logger=None):
    torch.manual_seed(1)
    model = _Dropout()
    config = FitConfig(max_epochs=4, batch_size=2, lr=1e-2, scheduler="plateau", per_neuron_best=True)
    fitter = Fitter(model, config, device="cpu", checkpoint_dir=tmp_path, logger=logger, progress=False)
    return model, fitter.fit(parts[0], parts[1])


def test_resume_in_process_restores_random_streams_and_best_state(tmp_path, parts):
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "run", parts, logger=_Interrupt(at=1))
    # the interrupted epoch's state was not saved yet; resuming redoes it
    assert load_state(tmp_path / "run" / "training_state.pt")["epoch"] == 0
    resumed, result = _fit(tmp_path / "run", parts)
    reference, expected = _fit(tmp_path / "ref", parts)
    assert all(torch.equal(resumed.state_dict()[k], v) for k, v in reference.state_dict().items())
    assert result.history == expected.history and torch.equal(result.neuron_scores, expected.neuron_scores)
    # a finished run resumes to the same result without training
    again, repeat = _fit(tmp_path / "run", parts)
    assert repeat.history == expected.history
    assert all(torch.equal(again.state_dict()[k], v) for k, v in reference.state_dict().items())


def test_resume_refuses_a_changed_configuration(tmp_path, parts):
    _fit(tmp_path, parts)
    fitter = Fitter(_Dropout(), FitConfig(max_epochs=4, batch_size=2, lr=0.5), checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"configuration changed \(lr: saved 0.01, now 0.5"):
        fitter.fit(parts[0], parts[1])


def test_resume_false_starts_afresh(tmp_path, parts):
    _fit(tmp_path, parts)
    config = FitConfig(max_epochs=1, batch_size=2, lr=0.5)
    fitter = Fitter(_Dropout(), config, checkpoint_dir=tmp_path, resume=False, progress=False)
    assert fitter.fit(parts[0], parts[1]).epochs_run == 1
    assert load_state(tmp_path / "training_state.pt")["config"]["lr"] == 0.5


def test_a_state_saved_before_a_setting_existed_resumes_at_its_default(tmp_path, parts):
    _fit(tmp_path, parts)
    state_file = tmp_path / "training_state.pt"
    state = load_state(state_file)
    for key in ("window", "window_context"):
        del state["config"][key]  # as written before FitConfig had these fields
    torch.save(state, state_file)
    _, result = _fit(tmp_path, parts)  # defaults: accepted
    assert len(result.history) == 4
    changed = FitConfig(max_epochs=4, batch_size=2, lr=1e-2, scheduler="plateau", per_neuron_best=True, window=8)
    fitter = Fitter(_Dropout(), changed, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"configuration changed \(window: saved 'auto', now 8"):
        fitter.fit(parts[0], parts[1])
