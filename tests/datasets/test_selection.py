import numpy as np
import pytest
import torch

from deepSTRF.datasets import resolve_selection

METAS = [{"area": "A1", "depth": 100}, {"area": "PEG", "depth": 300}, {"area": "A1"}, {"area": "AAF", "depth": 50}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, [0, 1, 2, 3]),
        (2, [2]),
        (-1, [3]),
        (np.int64(1), [1]),
        (slice(1, None, 2), [1, 3]),
        ([3, 0], [3, 0]),
        (np.array([2, 1]), [2, 1]),
        (torch.tensor([0, -1]), [0, 3]),
        ([True, False, True, False], [0, 2]),
        (torch.tensor([False, True, False, True]), [1, 3]),
        ({"area": "A1"}, [0, 2]),
        ({"area": {"PEG", "AAF"}}, [1, 3]),
        ({"area": "A1", "depth": 100}, [0]),
        ({"depth": lambda d: d < 200}, [0, 3]),  # items without the key do not match
        (lambda m: m.get("depth", 0) > 60, [0, 1]),
        ([], []),
    ],
)
def test_resolve_selection(spec, expected):
    assert resolve_selection(spec, METAS) == expected


@pytest.mark.parametrize(
    "spec",
    [{"area": "MGB"}, lambda m: False, [False] * 4, {"depth": lambda d: d > 1000}],
    ids=["dict", "predicate", "mask", "dict-predicate"],
)
def test_a_filter_matching_nothing_selects_nothing_and_warns(spec):
    with pytest.warns(UserWarning, match=r"matched nothing; selecting no neurons"):
        assert resolve_selection(spec, METAS, what="neurons") == []


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ({"aera": "A1"}, ValueError, r"no neuron has metadata key 'aera'; known keys: \['area', 'depth'\]"),
        ("A1", TypeError, r"cannot select neurons by the string 'A1'"),
        ([0, 0], ValueError, r"neurons indices must be unique, got \[0\] more than once"),
        ([4], IndexError, r"neurons indices \[4\] out of range for 4 neurons"),
        (-5, IndexError, r"out of range for 4 neurons"),
        ([True, False], ValueError, r"a boolean mask over neurons must have length 4, got 2"),
        ([0.5], TypeError, r"must hold ints or bools, got dtype float64"),
        (np.zeros((2, 2), dtype=int), ValueError, r"must be one-dimensional, got shape \(2, 2\)"),
        ({1: "A1"}, TypeError, r"must have str keys"),
    ],
)
def test_selection_errors(spec, error, match):
    with pytest.raises(error, match=match):
        resolve_selection(spec, METAS, what="neurons")


def test_subset_by_index_attribute_and_predicate(ragged):
    sub = ragged.subset(stimuli={"kind": "speech"}, neurons=lambda m: m["area"] == "A1")
    assert [m["name"] for m in sub.stim_meta] == ["s1", "s3"] and [m["cell_id"] for m in sub.nrn_meta] == ["c0", "c1"]
    assert sub.lengths == [9, 7] and sub.n_trials.tolist() == [[2, 3], [2, 3]]
    for i, s in enumerate([1, 3]):
        for j, n in enumerate([0, 1]):
            torch.testing.assert_close(sub.get_response(i, j), ragged.get_response(s, n))
        assert torch.equal(sub[i]["stims"], ragged[s]["stims"])


def test_subset_reorders_neurons_with_their_trials(ragged):
    sub = ragged.subset(neurons=[2, 0])
    for s in range(len(ragged)):
        full, part = ragged[s]["responses"], sub[s]["responses"]
        r = part.shape[1]
        torch.testing.assert_close(part[0, :r], full[2, :r], equal_nan=True)
        torch.testing.assert_close(part[1, :r], full[0, :r], equal_nan=True)
    assert sub.valid_mask[1].tolist() == [False, True]


def test_selecting_neurons_then_stimuli_equals_stimuli_then_neurons(ragged):
    stimuli, neurons = [3, 1, 2], {"area": "A1"}
    a = ragged.subset(neurons=neurons).subset(stimuli=stimuli)
    b = ragged.subset(stimuli=stimuli).subset(neurons=neurons)
    c = ragged.subset(stimuli=stimuli, neurons=neurons)
    for other in (b, c):
        assert a.stim_meta == other.stim_meta and a.nrn_meta == other.nrn_meta
        assert torch.equal(a.n_trials, other.n_trials)
        for s in range(len(a)):
            torch.testing.assert_close(a[s]["responses"], other[s]["responses"], equal_nan=True)


def test_empty_selection_gives_an_empty_but_usable_dataset(ragged):
    with pytest.warns(UserWarning, match="matched nothing"):
        no_neurons = ragged.select_neurons({"area": "MGB"})
    assert no_neurons.n_neurons == 0 and len(no_neurons) == 4 and no_neurons[0]["responses"].shape == (0, 1, 6)
    with pytest.warns(UserWarning, match="matched nothing"):
        no_stimuli = ragged.select_stimuli(lambda m: False)
    assert len(no_stimuli) == 0 and no_stimuli.n_neurons == 3


def test_subset_renumbers_named_splits_and_copies_metadata(ragged):
    ragged.splits = {"train": [0, 1, 2], "test": [3]}
    sub = ragged.subset(stimuli=[3, 1])
    assert sub.splits == {"train": [1], "test": [0]}
    assert ragged.subset(neurons=[0]).splits == ragged.splits
    sub.nrn_meta[0]["cell_id"] = "changed"
    assert ragged.nrn_meta[0]["cell_id"] == "c0"


def test_a_float_selection_is_refused(ragged):
    with pytest.raises(TypeError, match=r"must hold ints or bools, got dtype float64"):
        ragged.subset(stimuli=1.5)
