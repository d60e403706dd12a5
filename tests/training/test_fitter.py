import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from deepSTRF import metrics
from deepSTRF.datasets import neural_collate
from deepSTRF.models.audio.strf_models import Linear, LinearNonlinear
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training import FitConfig, Fitter, NonFiniteLossError, TrainingLogger
from deepSTRF.training.checkpoint import load_state


def _linear(data, seed=0, cls=Linear):
    torch.manual_seed(seed)
    return cls(n_frequency_bands=data.F, temporal_window_size=5, out_neurons=data.n_neurons)


def _fitter(model, **kwargs):
    runtime = {k: kwargs.pop(k) for k in ("checkpoint_dir", "logger", "resume") if k in kwargs}
    config = FitConfig(**{"max_epochs": 4, "batch_size": 2, "lr": 1e-2, **kwargs})
    return Fitter(model, config, device="cpu", progress=False, **runtime)


class _Recorder(TrainingLogger):
    def __init__(self, hook=None):
        self.config, self.scalars, self.hook = None, [], hook

    def log_config(self, config):
        self.config = config

    def log_scalars(self, values, step):
        self.scalars.append((step, values))
        if self.hook is not None:
            self.hook(step)

    def close(self):
        pass


def test_fit_improves_and_restores_the_best_epoch(small_data, parts):
    train, val, _ = parts
    model = _linear(small_data)
    logger = _Recorder()
    fitter = _fitter(model, max_epochs=6, logger=logger)
    result = fitter.fit(train, val)
    scores = [h["val_cc"] for h in result.history]
    assert result.epochs_run == 6 and len(scores) == 6 and scores[-1] > scores[0]
    assert result.best_epoch == max(range(6), key=scores.__getitem__)
    assert result.best_score == pytest.approx(max(scores))
    # the model holds the best epoch: scoring it again gives the recorded best score and per-neuron scores
    again = fitter.evaluate(val, metrics=("cc",))["cc"]
    assert float(again.nanmean()) == pytest.approx(result.best_score, abs=1e-6)
    assert torch.allclose(again, result.neuron_scores, atol=1e-6)
    assert logger.config["max_epochs"] == 6 and [s for s, _ in logger.scalars] == list(range(6))
    assert set(logger.scalars[0][1]) == {"train/loss", "lr", "val/cc"}


def test_validation_score_is_one_metric_call_over_the_whole_split(small_data, parts):
    train, val, _ = parts
    fitter = _fitter(_linear(small_data), max_epochs=1)
    fitter.fit(train, val)
    pred, resp, mask = fitter.predict(val)
    assert pred.shape == (2, 3, 1, 80) and resp.shape[:2] == (2, 3) and mask.dtype == torch.bool
    whole = metrics.corrcoef(pred, resp, mask=mask, reduction="none")
    assert torch.allclose(fitter.evaluate(val, metrics=("cc",))["cc"], whole)
    per_item = torch.stack([metrics.corrcoef(pred[i : i + 1], resp[i : i + 1], reduction="none") for i in range(2)])
    assert not torch.allclose(per_item.mean(0), whole)  # averaging per-stimulus scores would differ


def test_early_stopping_stops_after_patience(small_data, parts):
    train, val, _ = parts
    result = _fitter(_linear(small_data), max_epochs=10, patience=2, min_delta=10.0).fit(train, val)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 0


def test_loss_metric_is_minimised(small_data, parts):
    train, val, _ = parts
    result = _fitter(_linear(small_data), max_epochs=3, metric="loss").fit(train, val)
    losses = [h["val_loss"] for h in result.history]
    assert result.best_score == pytest.approx(min(losses))


def test_without_validation_the_lowest_training_loss_wins(small_data, parts):
    train, _, _ = parts
    result = _fitter(_linear(small_data), max_epochs=3).fit(train)
    losses = [h["train_loss"] for h in result.history]
    assert result.best_epoch == losses.index(min(losses)) and result.neuron_scores is None


def test_per_neuron_best_readout(small_data, parts):
    train, val, _ = parts
    epochs = []
    logger = _Recorder(lambda epoch: epochs.append(fitter.evaluate(val, metrics=("cc",))["cc"]))
    fitter = _fitter(
        _linear(small_data, cls=LinearNonlinear),
        max_epochs=8,
        optimizer="sgd",
        lr=3.0,
        per_neuron_best=True,
        logger=logger,
    )
    result = fitter.fit(train, val)
    per_epoch = torch.stack(epochs)  # (epochs, N)
    assert not torch.equal(per_epoch.argmax(0), per_epoch.argmax(0)[:1].expand(3))  # neurons peak at different epochs
    assert torch.allclose(result.neuron_scores, per_epoch.amax(0))
    # a Linear/LN model is all readout: each neuron now scores its own best
    assert torch.allclose(fitter.evaluate(val, metrics=("cc",))["cc"], result.neuron_scores, atol=1e-5)


class _SharedReadout(NeuralModel):
    def __init__(self):
        super().__init__(out_neurons=3)
        self.readout = nn.Sequential(nn.Conv2d(1, 4, (8, 1)), nn.Conv2d(4, 3, 1))

    def forward(self, x):
        return self.readout(x).transpose(1, 2)


def test_per_neuron_best_errors(small_data, parts):
    with pytest.raises(ValueError, match=r"readout.0.weight has shape \(4, 1, 8, 1\)"):
        _fitter(_SharedReadout(), per_neuron_best=True)
    with pytest.raises(ValueError, match="needs a NeuralModel"):
        _fitter(nn.Conv2d(1, 3, 1), per_neuron_best=True)
    with pytest.raises(ValueError, match="need validation data"):
        _fitter(_linear(small_data), per_neuron_best=True).fit(parts[0])


def test_schedulers(small_data, parts):
    train, val, _ = parts
    cosine = _fitter(_linear(small_data), max_epochs=3, scheduler="cosine").fit(train, val)
    lrs = [h["lr"] for h in cosine.history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[0] > lrs[1] > lrs[2]
    plateau = _fitter(_linear(small_data), max_epochs=4, scheduler="plateau", patience=3, min_delta=10.0)
    lrs = [h["lr"] for h in plateau.fit(train, val).history]
    assert lrs[-1] == pytest.approx(lrs[0] / 2)  # halved once the score stalled (patience // 3 = 1 epoch)
    with pytest.raises(ValueError, match="need validation data"):
        _fitter(_linear(small_data), scheduler="plateau").fit(train)


def test_gradient_clipping_bounds_an_sgd_step(small_data, parts):
    train = parts[0]
    model = _linear(small_data).double()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    _fitter(model, max_epochs=1, batch_size=8, optimizer="sgd", lr=1.0, grad_clip=1e-3).fit(train)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 0 < float((after - before).norm()) <= 1e-3 * (1 + 1e-5)


def test_trials_target_and_poisson_loss_train(small_data, parts):
    train, val, _ = parts
    result = _fitter(_linear(small_data, cls=LinearNonlinear), max_epochs=2, target="trials", loss="poisson").fit(
        train, val
    )
    assert all(math.isfinite(h["train_loss"]) for h in result.history)


def test_float64_model_and_dataloader_input(small_data, parts):
    train, val, _ = parts
    model = _linear(small_data).double()
    loader = DataLoader(train, batch_size=4, shuffle=True, collate_fn=neural_collate)
    fitter = _fitter(model, max_epochs=1)
    fitter.fit(loader, DataLoader(val, batch_size=1, collate_fn=neural_collate))
    assert fitter.predict(val)[0].dtype == torch.float64


def test_amp_on_cpu_warns_and_trains_in_full_precision(small_data, parts):
    with pytest.warns(UserWarning, match="only acts on CUDA"):
        fitter = _fitter(_linear(small_data), amp=True, max_epochs=1)
    assert not fitter.amp
    fitter.fit(parts[0], parts[1])


class _Poisoned(Linear):
    """A Linear model whose output turns NaN while `poisoned` is set."""

    poisoned = False

    def forward(self, x):
        out = super().forward(x)
        return out * float("nan") if self.poisoned else out


def test_nan_guard_stops_with_the_epoch_and_keeps_the_best(small_data, parts, tmp_path):
    train, val, _ = parts
    torch.manual_seed(0)
    model = _Poisoned(n_frequency_bands=small_data.F, temporal_window_size=5, out_neurons=3)
    best = {}

    def hook(epoch):
        best[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
        model.poisoned = epoch == 1  # the loss is NaN from epoch 2 on

    fitter = _fitter(model, max_epochs=5, logger=_Recorder(hook), checkpoint_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at epoch 2, step 0: .*restored to the best epoch"):
        fitter.fit(train, val)
    state = load_state(tmp_path / "training_state.pt")
    assert state["epoch"] == 1  # the file still holds the last completed epoch
    kept = best[fitter.stopper.best_epoch]
    assert all(torch.equal(model.state_dict()[k], kept[k]) for k in kept)


def test_nan_guard_before_any_epoch(small_data, parts):
    model = _Poisoned(n_frequency_bands=small_data.F, temporal_window_size=5, out_neurons=3)
    model.poisoned = True
    with pytest.raises(NonFiniteLossError, match="epoch 0, step 0: no epoch had completed"):
        _fitter(model).fit(parts[0], parts[1])


def test_fitter_argument_errors(small_data, parts):
    with pytest.raises(TypeError, match=r"`model` must be an nn\.Module"):
        Fitter("linear")
    with pytest.raises(TypeError, match="`config` must be a FitConfig"):
        Fitter(_linear(small_data), {"lr": 1.0})
    fitter = _fitter(_linear(small_data))
    with pytest.raises(TypeError, match="must be a Dataset or a DataLoader"):
        fitter.fit([1, 2, 3])
    with pytest.raises(ValueError, match="`name` must be one of"):
        fitter.evaluate(parts[1], metrics=("r2",))
    with pytest.raises(ValueError, match="yielded no batch"):
        fitter.predict(DataLoader([], collate_fn=neural_collate))
