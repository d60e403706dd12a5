import pytest

from deepSTRF.datasets import (
    NeuralDataset,
    check_no_leakage,
    fixed_split,
    kfold_split,
    leave_one_out_split,
    random_split,
    split_subsets,
)


def _disjoint_and_covering(parts, n):
    check_no_leakage(parts)
    assert sorted(s for idx in parts.values() for s in idx) == list(range(n))


def test_fixed_split_checks_range_and_leakage():
    assert fixed_split({"train": [0, 2], "test": [1]}, 3) == {"train": [0, 2], "test": [1]}
    with pytest.raises(ValueError, match=r"split parts 'train' and 'test' share stimuli \[2\]"):
        fixed_split({"train": [0, 2], "test": [2]}, 3)
    with pytest.raises(ValueError, match=r"split part 'test' holds stimulus 5, out of range for 3 stimuli"):
        fixed_split({"test": [5]}, 3)
    with pytest.raises(ValueError, match=r"split part 'train' lists a stimulus more than once"):
        fixed_split({"train": [1, 1]}, 3)
    with pytest.raises(TypeError, match=r"must hold int stimulus indices, got 1.0"):
        fixed_split({"train": [1.0]}, 3)
    with pytest.raises(TypeError, match=r"`split` must be a dict"):
        fixed_split([0, 1], 3)


def test_random_split_is_seeded_disjoint_and_sized():
    a = random_split(20, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3)
    assert a == random_split(20, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3)
    assert a != random_split(20, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=4)
    assert {k: len(v) for k, v in a.items()} == {"train": 12, "val": 4, "test": 4}
    _disjoint_and_covering(a, 20)
    b = random_split(7)  # 0.8 / 0.2 rounded by largest remainder
    assert {k: len(v) for k, v in b.items()} == {"train": 6, "test": 1}
    with pytest.raises(ValueError, match=r"`fractions` must sum to 1, got 0.9"):
        random_split(10, {"train": 0.7, "test": 0.2})
    with pytest.raises(ValueError, match=r"non-negative numbers"):
        random_split(10, {"train": 1.2, "test": -0.2})


@pytest.mark.parametrize("seed", [None, 0, 7])
def test_kfold_tests_every_stimulus_exactly_once(seed):
    folds = kfold_split(11, 4, seed=seed)
    assert len(folds) == 4
    tested = sorted(s for f in folds for s in f["test"])
    assert tested == list(range(11))
    for f in folds:
        _disjoint_and_covering(f, 11)
        assert 2 <= len(f["test"]) <= 3
    with pytest.raises(ValueError, match=r"`n_folds`=12 needs at least as many stimuli \(or groups\), got 11"):
        kfold_split(11, 12)
    with pytest.raises(ValueError, match=r"`n_folds` must be an int >= 2, got 1"):
        kfold_split(11, 1)


def test_leave_one_out():
    folds = leave_one_out_split(4)
    assert [f["test"] for f in folds] == [[0], [1], [2], [3]]
    assert folds[2]["train"] == [0, 1, 3]
    with pytest.raises(ValueError, match=r"at least 2 stimuli"):
        leave_one_out_split(1)


def _sounds():
    """Six presentations of three sounds (two excerpts each)."""
    meta = [{"sound": f"snd{s // 2}"} for s in range(6)]
    return NeuralDataset([[[[0.0, 1.0]]]] * 6, [[None]] * 6, 5.0, stim_meta=meta)


def test_grouped_splits_never_separate_a_group():
    ds = _sounds()
    groups = {s: ds.stim_meta[s]["sound"] for s in range(6)}

    def sides(parts):
        for idx in parts.values():
            yield {groups[s] for s in idx}

    for parts in [
        random_split(ds, {"train": 0.67, "test": 0.33}, seed=1, group_by="sound"),
        *kfold_split(ds, 3, group_by="sound"),
        *leave_one_out_split(ds, group_by="sound"),
    ]:
        _disjoint_and_covering(parts, 6)
        train, test = sides(parts)
        assert not train & test
    loo = leave_one_out_split(ds, group_by="sound")
    assert [f["test"] for f in loo] == [[0, 1], [2, 3], [4, 5]]
    labels = ["a", "a", "b", "b", "c", "c"]
    assert leave_one_out_split(6, group_by=labels) == loo
    with pytest.raises(ValueError, match=r"some stimuli have no metadata key 'speaker'"):
        kfold_split(ds, 2, group_by="speaker")
    with pytest.raises(TypeError, match=r"only when `data` is a NeuralDataset"):
        kfold_split(6, 2, group_by="sound")
    with pytest.raises(ValueError, match=r"one label per stimulus \(6\), got 2"):
        kfold_split(6, 2, group_by=["a", "b"])


def test_cross_validation_inside_a_pool_leaves_the_rest_out():
    outer = {"train": [0, 1, 2, 3, 4, 5, 6], "test": [7, 8, 9]}
    for fold in kfold_split(10, 3, stimuli=outer["train"]):
        assert set(fold["train"]) | set(fold["test"]) == set(outer["train"])
        assert not set(fold["test"]) & set(outer["test"]) and not set(fold["train"]) & set(outer["test"])
    with pytest.raises(ValueError, match=r"out of range for 10 stimuli"):
        kfold_split(10, 2, stimuli=[3, 10])


def test_split_subsets_returns_datasets(ragged):
    parts = split_subsets(ragged, {"train": [0, 2, 3], "test": [1]})
    assert {k: len(v) for k, v in parts.items()} == {"train": 3, "test": 1}
    assert parts["test"].stim_meta[0]["name"] == "s1"
    with pytest.raises(ValueError, match=r"share stimuli"):
        split_subsets(ragged, {"train": [0, 1], "test": [1]})
    with pytest.raises(TypeError, match=r"`dataset` must be a NeuralDataset"):
        split_subsets([1, 2], {"train": [0]})
