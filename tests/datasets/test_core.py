import math

import numpy as np
import pytest
import torch

from deepSTRF.datasets import NeuralDataset, hop_samples


def test_container_invariants(ragged):
    assert len(ragged) == ragged.n_stimuli == 4
    assert ragged.n_neurons == 3 and ragged.F == 5 and not ragged.waveform and ragged.hop is None
    assert ragged.lengths == [6, 9, 4, 7]
    expected = torch.tensor([[1, 2, 3], [2, 3, 0], [1, 2, 3], [2, 3, 4]])
    assert torch.equal(ragged.n_trials, expected)
    assert torch.equal(ragged.valid_mask, expected > 0)
    assert len(ragged.stim_meta) == 4 and len(ragged.nrn_meta) == 3


def test_item_format_and_padding(ragged):
    item = ragged[1]
    assert set(item) == {"stims", "responses", "valid_mask", "stim_meta"}
    assert item["stims"].shape == (1, 5, 9) and item["stims"].dtype == torch.float32
    assert item["responses"].shape == (3, 3, 9)  # R_max of stimulus 1 is 3
    assert item["valid_mask"].tolist() == [True, True, False]
    assert torch.isnan(item["responses"][2]).all()  # the missing pair
    assert torch.isnan(item["responses"][0, 2:]).all()  # neuron 0 has 2 trials: the third is padding
    assert not torch.isnan(item["responses"][1]).any()
    assert item["stim_meta"] == {"name": "s1", "kind": "speech"}
    # the item equals the pair responses it was built from
    torch.testing.assert_close(item["responses"][0, :2], ragged.get_response(1, 0))
    assert ragged.get_response(1, 2) is None
    assert torch.equal(ragged[-1]["stims"], ragged[3]["stims"])


def test_item_meta_is_a_copy(ragged):
    ragged[0]["stim_meta"]["name"] = "changed"
    assert ragged.stim_meta[0]["name"] == "s0"


def test_storage_is_packed_not_padded(ragged):
    stored = sum(rows.numel() for rows in ragged._resp)
    expected = sum(int(ragged.n_trials[s].sum()) * t for s, t in enumerate(ragged.lengths))
    assert stored == expected
    r_max, t_max = int(ragged.n_trials.max()), max(ragged.lengths)
    assert stored < len(ragged) * ragged.n_neurons * r_max * t_max


@pytest.mark.parametrize(
    "marker",
    [None, np.full((1, 1), np.nan), torch.full((3, 6), math.nan), np.zeros((0, 6))],
    ids=["none", "nan-1x1", "nan-full", "zero-trials"],
)
def test_missing_markers(marker):
    ds = NeuralDataset([np.zeros((1, 2, 6))], [[np.ones((2, 6)), marker]], 10.0)
    assert ds.valid_mask.tolist() == [[True, False]]
    assert ds.n_trials.tolist() == [[2, 0]]


def test_nan_bins_inside_a_present_response_are_kept():
    resp = np.ones((2, 4))
    resp[0, 1] = np.nan
    ds = NeuralDataset([np.zeros((1, 1, 4))], [[resp]], 5.0)
    out = ds[0]["responses"][0]
    assert ds.valid_mask.all() and torch.isnan(out[0, 1]) and out[1].eq(1).all()


def test_accepts_2d_stimuli_and_1d_responses():
    ds = NeuralDataset([np.zeros((3, 4))], [[np.arange(4.0)]], 5.0)
    assert ds[0]["stims"].shape == (1, 3, 4) and ds.n_trials.tolist() == [[1]]


def test_float64_dtype_is_kept_end_to_end():
    ds = NeuralDataset([np.zeros((1, 2, 3))], [[np.ones((1, 3))]], 5.0, dtype=torch.float64)
    item = ds[0]
    assert item["stims"].dtype == torch.float64 and item["responses"].dtype == torch.float64


def test_empty_neuron_axis_and_empty_dataset():
    ds = NeuralDataset([np.zeros((1, 2, 3))], [[]], 5.0)
    assert ds.n_neurons == 0 and ds[0]["responses"].shape == (0, 1, 3)
    empty = NeuralDataset([], [], 5.0, nrn_meta=[{}, {}])
    assert len(empty) == 0 and empty.n_neurons == 2 and empty.F is None


def test_waveform_mode_and_grid_lock():
    hop = hop_samples(16000, 5.0)
    ds = NeuralDataset([np.zeros(4 * hop), np.zeros((1, 2 * hop))], [[np.ones((1, 4))], [None]], 5.0, audio_fs=16000)
    assert ds.waveform and ds.hop == 80 and ds.F is None and ds.lengths == [4, 2]
    assert ds[0]["stims"].shape == (1, 320) and ds[0]["responses"].shape == (1, 1, 4)
    with pytest.raises(ValueError, match=r"321 audio samples, not a multiple of the hop 80"):
        NeuralDataset([np.zeros(321)], [[None]], 5.0, audio_fs=16000)
    with pytest.raises(ValueError, match=r"has 3 time bins but stimulus 0 has T_s = 4"):
        NeuralDataset([np.zeros(320)], [[np.ones((1, 3))]], 5.0, audio_fs=16000)
    with pytest.raises(ValueError, match=r"must be a positive integer number of audio samples per bin.*= 80.5"):
        NeuralDataset([np.zeros(320)], [[None]], 5.0, audio_fs=16100)


@pytest.mark.parametrize(
    ("stims", "responses", "kwargs", "error", "match"),
    [
        (np.zeros((2, 1, 3, 4)), [[None], [None]], {}, TypeError, r"`stims` must be a list of S arrays"),
        ([np.zeros((1, 3, 4))], np.zeros((1, 1, 1, 4)), {}, TypeError, r"`responses` must be a list of S lists"),
        ([np.zeros((1, 3, 4))] * 2, [[None]], {}, ValueError, r"one entry per stimulus \(2\), got 1"),
        ([np.zeros((1, 3, 4))] * 2, [[None], [None, None]], {}, ValueError, r"`responses\[1\]` has 2 neurons"),
        (
            [np.zeros((2, 3, 4))],
            [[None]],
            {},
            ValueError,
            r"`stims\[0\]` must be a \(1, F, T\) spectrogram.*\(2, 3, 4\)",
        ),
        (
            [np.zeros((1, 3, 4)), np.zeros((1, 2, 4))],
            [[None], [None]],
            {},
            ValueError,
            r"same number of bands F.*\[2, 3\]",
        ),
        ([np.full((1, 3, 4), np.nan)], [[None]], {}, ValueError, r"`stims\[0\]` holds NaN or Inf"),
        ([np.zeros((1, 3, 4))], [[np.ones((1, 5))]], {}, ValueError, r"has 5 time bins but stimulus 0 has T_s = 4"),
        (
            [np.zeros((1, 3, 4))],
            [[np.ones((1, 1, 4))]],
            {},
            ValueError,
            r"must be a \(R, T\) array, got shape \(1, 1, 4\)",
        ),
        ([np.zeros((1, 3, 4))], [[np.full((1, 4), np.inf)]], {}, ValueError, r"`responses\[0\]\[0\]` holds Inf"),
        (
            [np.zeros((1, 3, 4))],
            [["abc"]],
            {},
            TypeError,
            r"`responses\[0\]\[0\]` must be a tensor or an array, got str",
        ),
        ([np.array([["a"]])], [[None]], {}, TypeError, r"`stims\[0\]` must be an array of real numbers"),
        ([np.zeros((1, 3, 4))], [[None]], {"dt_ms": 0}, ValueError, r"`dt_ms` must be > 0, got 0"),
        (
            [np.zeros((1, 3, 4))],
            [[None]],
            {"stim_meta": [{}, {}]},
            ValueError,
            r"`stim_meta` must hold one dict per stim",
        ),
        ([np.zeros((1, 3, 4))], [[None]], {"nrn_meta": ["x"]}, TypeError, r"`nrn_meta\[0\]` must be a dict, got str"),
        ([np.zeros((1, 3, 4))], [[None]], {"name": 3}, TypeError, r"`name` must be a str or None"),
        ([np.zeros((1, 3, 4))], [[None]], {"dtype": torch.int32}, TypeError, r"`dtype` must be a floating torch.dtype"),
    ],
)
def test_bad_input_errors(stims, responses, kwargs, error, match):
    kwargs = {"dt_ms": 5.0, **kwargs}
    with pytest.raises(error, match=match):
        NeuralDataset(stims, responses, **kwargs)


def test_index_errors(ragged):
    with pytest.raises(IndexError, match=r"stimulus index 4 out of range for a dataset of 4 stimuli"):
        ragged[4]
    with pytest.raises(TypeError, match=r"a stimulus index must be an int, got str"):
        ragged["s0"]
    with pytest.raises(IndexError, match=r"neuron index 3 out of range for 3 neurons"):
        ragged.get_response(0, 3)
    assert len(list(iter(ragged))) == 4  # iteration stops at the IndexError


def test_from_packed_round_trip_and_errors(ragged):
    again = NeuralDataset.from_packed(ragged.stims, ragged._resp, ragged.n_trials, ragged.dt_ms)
    for s in range(len(ragged)):
        torch.testing.assert_close(again[s]["responses"], ragged[s]["responses"], equal_nan=True)
    with pytest.raises(ValueError, match=r"`packed\[0\]` must have shape \(6, 6\)"):
        NeuralDataset.from_packed(ragged.stims, [torch.zeros(5, 6), *ragged._resp[1:]], ragged.n_trials, 5.0)
    with pytest.raises(ValueError, match=r"`n_trials` must be a non-negative integer \(S, N\) table with S = 4"):
        NeuralDataset.from_packed(ragged.stims, ragged._resp, ragged.n_trials[:2], 5.0)
    with pytest.raises(ValueError, match=r"`n_trials` must be a non-negative integer"):
        NeuralDataset.from_packed(ragged.stims, ragged._resp, -ragged.n_trials, 5.0)


def test_repr_mentions_the_shape(ragged):
    text = repr(ragged)
    assert "stimuli=4" in text and "neurons=3" in text and "missing_pairs=1" in text and "F=5" in text


def test_unpack_trials_dense_and_ragged_agree_with_a_loop():
    from deepSTRF.datasets._arrays import unpack_trials

    for counts in ([3, 3, 3], [2, 0, 3], [1, 1, 0]):
        c = torch.tensor(counts)
        rows = torch.randn(int(c.sum()), 7)
        expected = torch.full((3, max(1, max(counts)), 7), float("nan"))
        start = 0
        for n, k in enumerate(counts):
            expected[n, :k] = rows[start : start + k]
            start += k
        out = unpack_trials(rows, c)
        assert torch.equal(out.nan_to_num(-9.0), expected.nan_to_num(-9.0))
        if rows.numel():
            rows.add_(1.0)  # the result owns its memory
            assert torch.equal(out.nan_to_num(-9.0), expected.nan_to_num(-9.0))
