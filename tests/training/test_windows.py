import pytest
import torch

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.models.audio.strf_models import Linear
from deepSTRF.training import FitConfig, Fitter
from deepSTRF.training.ridge import fit_ridge, ridge_to_linear
from deepSTRF.training.windows import WindowedDataset, auto_window, window_trial


def test_window_trial_fits_every_bin_once_with_its_past():
    x, y = torch.randn(23, 3), torch.randn(23, 2)
    pieces = window_trial(x, y, window=5, context=3)
    fitted = torch.cat([r[:, 0][:, ~r[0, 0].isnan()] for _, r in pieces], dim=1)
    assert torch.equal(fitted, y.T)
    for k, (stim, resp) in enumerate(pieces[1:], start=1):  # context: the 3 bins before the window
        assert torch.equal(stim, x[5 * k - 3 : 5 * k + 5].T)
        assert resp[:, 0, :3].isnan().all()


def test_windowed_dataset_items_and_attributes():
    data = SimulatedDataset(n_neurons=2, n_stimuli=2, seed=0)
    windows = WindowedDataset(data, window=150, context=20)
    assert len(windows) == 6 and windows.F == data.F and windows.dt_ms == data.dt_ms
    item = windows[1]
    whole = data[0]
    assert torch.equal(item["stims"], whole["stims"][..., 130:300])
    assert item["responses"][..., :20].isnan().all()
    assert torch.equal(item["responses"][..., 20:], whole["responses"][..., 150:300])
    with pytest.raises(ValueError, match="`window`"):
        WindowedDataset(data, window=0, context=2)


def test_auto_window_only_for_fewer_stimuli_than_a_batch():
    data = SimulatedDataset(n_neurons=2, n_stimuli=12, seed=0)
    assert auto_window(data, batch_size=8, context=10) is None
    few = data.subset(stimuli=[0, 1])
    assert auto_window(few, batch_size=8, context=10) == 20  # floor 2 * context; 800 bins / 128 -> 7
    with pytest.raises(ValueError, match="`window`"):
        FitConfig(window="always")


def test_default_config_reaches_ridge_on_two_long_trials():
    """Two 30 s trials: the default FitConfig cuts them into windows and reaches the ridge solution's r.

    With whole trials (``window=None``, the former default) the fit makes one step per epoch and
    stops far below it (r about 0.70 against 0.88).
    """
    data = SimulatedDataset(
        n_neurons=3, n_stimuli=4, n_test_stimuli=1, n_frequency_bands=8, duration_ms=30000.0,
        temporal_window_size=8, seed=0,
    )  # fmt: skip
    train, val, test = data.subset(stimuli=[0, 1]), data.subset(stimuli=[2]), data.subset(stimuli=[3])
    ridge = ridge_to_linear(fit_ridge(data.subset(stimuli=[0, 1, 2]), n_lags=8, folds=[[0], [1], [2]]), torch.float32)
    r_ridge = Fitter(ridge, device="cpu", progress=False).evaluate(test, metrics=("cc",))["cc"].mean().item()
    torch.manual_seed(0)
    fitter = Fitter(Linear(n_frequency_bands=8, temporal_window_size=8, out_neurons=3), device="cpu", progress=False)
    fitter.fit(train, val)
    r_fit = fitter.evaluate(test, metrics=("cc",))["cc"].mean().item()
    assert r_ridge > 0.8
    assert r_fit > r_ridge - 0.01, (r_fit, r_ridge)


def test_windows_of_a_subset_batch_through_a_data_loader():
    from torch.utils.data import DataLoader, Subset

    from deepSTRF.datasets import SimulatedDataset, neural_collate
    from deepSTRF.training.windows import WindowedDataset

    data = SimulatedDataset(n_neurons=2, n_stimuli=4, seed=0)
    windows = WindowedDataset(Subset(data, [1, 3]), window=50, context=5)
    assert len(windows) > 2  # more windows than the subset has stimuli
    batches = list(DataLoader(windows, batch_size=4, collate_fn=neural_collate))
    assert sum(b["responses"].shape[0] for b in batches) == len(windows)
