import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deepSTRF.datasets import NeuralDataset, SimulatedDataset, neural_collate


def test_collate_pads_ragged_time_and_trials(ragged):
    batch = neural_collate([ragged[s] for s in range(4)])
    assert batch["stims"].shape == (4, 1, 5, 9)
    assert batch["responses"].shape == (4, 3, 4, 9)  # R_max = 4 (stimulus 3, neuron 2)
    assert batch["valid_mask"].shape == (4, 3) and batch["valid_mask"].dtype == torch.bool
    assert batch["lengths"].tolist() == [6, 9, 4, 7] and batch["lengths"].dtype == torch.long
    assert [m["name"] for m in batch["stim_meta"]] == ["s0", "s1", "s2", "s3"]
    # stimuli are zero-padded after their length, responses NaN-padded in time and trials
    assert batch["stims"][2, :, :, 4:].eq(0).all()
    assert torch.isnan(batch["responses"][2, :, :, 4:]).all()
    assert torch.isnan(batch["responses"][0, 0, 1:]).all()  # neuron 0 has one trial of stimulus 0
    assert torch.isnan(batch["responses"][1, 2]).all() and not batch["valid_mask"][1, 2]


def test_collate_is_batch_consistent(ragged):
    """Each item, cropped to its length and trials, equals the item alone."""
    batch = neural_collate([ragged[s] for s in range(4)])
    for b in range(4):
        item = ragged[b]
        t, r = item["responses"].shape[-1], item["responses"].shape[1]
        torch.testing.assert_close(batch["stims"][b, ..., :t], item["stims"])
        torch.testing.assert_close(batch["responses"][b, :, :r, :t], item["responses"], equal_nan=True)


def test_collate_waveforms():
    ds = NeuralDataset([np.ones(160), np.ones(80)], [[np.ones((2, 2))], [np.ones((1, 1))]], 5.0, audio_fs=16000)
    batch = neural_collate([ds[0], ds[1]])
    assert batch["stims"].shape == (2, 1, 160) and batch["stims"][1, 0, 80:].eq(0).all()
    assert batch["responses"].shape == (2, 1, 2, 2) and batch["lengths"].tolist() == [2, 1]


def _item(stims, responses, n=1):
    return {"stims": stims, "responses": responses, "valid_mask": torch.ones(n, dtype=torch.bool), "stim_meta": {}}


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        ([], ValueError, r"non-empty list of dataset items"),
        ([{"stims": torch.ones(1, 2, 3)}], TypeError, r"item 0 must be a dict with keys"),
        ([_item(torch.ones(2, 2, 3), torch.ones(1, 1, 3))], ValueError, r"item 0: 'stims' must be \(1, F, T\)"),
        ([_item(torch.ones(1, 2, 3), torch.ones(1, 3))], ValueError, r"item 0: 'responses' must be \(N, R, T\)"),
        (
            [_item(torch.ones(1, 2, 3), torch.ones(1, 1, 3)), _item(torch.ones(1, 4, 3), torch.ones(1, 1, 3))],
            ValueError,
            r"item 1: stimulus shape \(1, 4, 3\) does not match item 0's \(1, 2, 3\)",
        ),
        (
            [_item(torch.ones(1, 2, 3), torch.ones(1, 1, 3)), _item(torch.ones(1, 2, 3), torch.ones(2, 1, 3), 2)],
            ValueError,
            r"item 1 has 2 neurons but item 0 has 1",
        ),
        ([_item(torch.ones(1, 2, 3), torch.ones(1, 1, 4))], ValueError, r"stimulus has 3 frames but responses have 4"),
    ],
)
def test_collate_errors(items, error, match):
    with pytest.raises(error, match=match):
        neural_collate(items)


def test_dataloader_with_two_workers_matches_single_process():
    data = SimulatedDataset(n_neurons=3, n_stimuli=6, duration_ms=(100.0, 300.0), seed=3)
    single = list(DataLoader(data, batch_size=3, collate_fn=neural_collate))
    multi = list(DataLoader(data, batch_size=3, collate_fn=neural_collate, num_workers=2))
    assert len(single) == len(multi) == 2
    for a, b in zip(single, multi):
        torch.testing.assert_close(a["stims"], b["stims"])
        torch.testing.assert_close(a["responses"], b["responses"], equal_nan=True)
        assert torch.equal(a["lengths"], b["lengths"]) and a["stim_meta"] == b["stim_meta"]
    assert torch.cat([b["lengths"] for b in single]).unique().numel() > 1  # ragged: padding is exercised


def test_datasets_pickle_for_spawned_workers(ragged):
    import pickle

    sim = SimulatedDataset(n_neurons=2, n_stimuli=3)
    for ds in (ragged, sim):
        back = pickle.loads(pickle.dumps(ds))
        assert type(back) is type(ds) and back.stim_meta == ds.stim_meta
        for s in range(len(ds)):
            torch.testing.assert_close(back[s]["responses"], ds[s]["responses"], equal_nan=True)
    assert torch.equal(pickle.loads(pickle.dumps(sim)).true_strfs, sim.true_strfs)
