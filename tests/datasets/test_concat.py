import numpy as np
import pytest
import torch

from deepSTRF.datasets import NeuralDataset, concat_neurons, concat_stimuli


def test_stimulus_wise_concatenation_with_provenance(ragged_factory):
    a, b = ragged_factory(0, n_stim=2), ragged_factory(1, n_stim=3)
    a.splits, b.splits = {"train": [0], "test": [1]}, {"train": [0, 2], "val": [1]}
    both = concat_stimuli([a, b], names=["day1", "day2"])
    assert len(both) == 5 and both.n_neurons == 3 and both.name == "day1+day2"
    assert [(m["source"], m["source_index"]) for m in both.stim_meta] == [
        ("day1", 0),
        ("day1", 1),
        ("day2", 0),
        ("day2", 1),
        ("day2", 2),
    ]
    assert both.splits == {"train": [0, 2, 4], "test": [1], "val": [3]}
    for s, (ds, i) in enumerate([(a, 0), (a, 1), (b, 0), (b, 1), (b, 2)]):
        torch.testing.assert_close(both[s]["responses"], ds[i]["responses"], equal_nan=True)
        assert torch.equal(both[s]["stims"], ds[i]["stims"])
    assert "source" not in a.stim_meta[0]  # inputs are untouched


def test_stimulus_wise_concatenation_matches_neurons_by_key(ragged_factory):
    a, b = ragged_factory(0, n_stim=2), ragged_factory(1, n_stim=2)
    shuffled = b.subset(neurons=[2, 0, 1])
    both = concat_stimuli([a, shuffled], neuron_key="cell_id")
    for s in range(2):
        torch.testing.assert_close(both[2 + s]["responses"], b[s]["responses"], equal_nan=True)
    assert [m["cell_id"] for m in both.nrn_meta] == ["c0", "c1", "c2"]


def test_stimulus_wise_concatenation_errors(ragged_factory):
    a = ragged_factory(0, n_stim=2)
    with pytest.raises(ValueError, match=r"`datasets\[1\]` has 2 neurons but `datasets\[0\]` has 3"):
        concat_stimuli([a, a.subset(neurons=[0, 1])])
    with pytest.raises(ValueError, match=r"neuron 0 of `datasets\[1\]` has metadata .* pass `neuron_key`"):
        concat_stimuli([a, a.subset(neurons=[1, 0, 2])])
    with pytest.raises(ValueError, match=r"neurons of `datasets\[1\]` differ .* by 'cell_id': missing \['c2'\]"):
        concat_stimuli([a, a.subset(neurons=[0, 1])], neuron_key="cell_id")
    with pytest.raises(ValueError, match=r"`datasets\[1\]` has dt_ms=10.0 but `datasets\[0\]` has 5.0"):
        concat_stimuli([a, NeuralDataset(a.stims, [[None] * 3] * 2, 10.0)])
    with pytest.raises(ValueError, match=r"has F=4 but `datasets\[0\]` has 5"):
        concat_stimuli([a, NeuralDataset([torch.zeros(1, 4, 3)], [[None] * 3], 5.0)])
    with pytest.raises(TypeError, match=r"`datasets\[1\]` must be a NeuralDataset, got list"):
        concat_stimuli([a, []])
    with pytest.raises(ValueError, match=r"non-empty list of NeuralDataset"):
        concat_stimuli([])
    with pytest.raises(ValueError, match=r"`names` must be 2 strings"):
        concat_stimuli([a, a], names=["x"])


def _site(seed, n_neurons, stims):
    rng = np.random.default_rng(seed)
    resp = [[rng.poisson(1.0, (2, s.shape[-1])) for _ in range(n_neurons)] for s in stims]
    meta = [{"name": f"sound{i}"} for i in range(len(stims))]
    return NeuralDataset(stims, resp, 5.0, stim_meta=meta, nrn_meta=[{"unit": u} for u in range(n_neurons)])


def test_neuron_wise_concatenation_on_the_same_stimuli():
    stims = [torch.randn(1, 3, t, generator=torch.Generator().manual_seed(t)) for t in (5, 8, 6)]
    a, b = _site(0, 2, stims), _site(1, 3, stims)
    both = concat_neurons([a, b], names=["site1", "site2"])
    assert both.n_neurons == 5 and len(both) == 3
    assert [(m["source"], m["source_index"]) for m in both.nrn_meta] == [
        ("site1", 0),
        ("site1", 1),
        ("site2", 0),
        ("site2", 1),
        ("site2", 2),
    ]
    for s in range(3):
        torch.testing.assert_close(both[s]["responses"][:2], a[s]["responses"], equal_nan=True)
        torch.testing.assert_close(both[s]["responses"][2:], b[s]["responses"], equal_nan=True)
    # stimuli in another order are matched by a metadata key
    again = concat_neurons([a, b.subset(stimuli=[2, 0, 1])], stimulus_key="name")
    for s in range(3):
        torch.testing.assert_close(again[s]["responses"], both[s]["responses"], equal_nan=True)


def test_neuron_wise_concatenation_errors():
    stims = [torch.zeros(1, 3, 5), torch.ones(1, 3, 8)]
    a = _site(0, 2, stims)
    with pytest.raises(ValueError, match=r"`datasets\[1\]` has 1 stimuli but `datasets\[0\]` has 2"):
        concat_neurons([a, a.subset(stimuli=[0])])
    with pytest.raises(
        ValueError, match=r"stimulus 0 of `datasets\[1\]` has shape \(1, 3, 8\) but in `datasets\[0\]` \(1, 3, 5\)"
    ):
        concat_neurons([a, a.subset(stimuli=[1, 0])])
    changed = _site(1, 2, [torch.zeros(1, 3, 5), torch.full((1, 3, 8), 2.0)])
    with pytest.raises(
        ValueError, match=r"stimulus 1 of `datasets\[1\]` differs .* \(max abs difference 1 > atol=1e-06\)"
    ):
        concat_neurons([a, changed])
    with pytest.raises(ValueError, match=r"stimuli of `datasets\[1\]` differ .* by 'name': missing \['sound1'\]"):
        concat_neurons([a, a.subset(stimuli=[0])], stimulus_key="name")
    with pytest.raises(ValueError, match=r"do not all have a unique 'kind'"):
        concat_neurons([a, a], stimulus_key="kind")
