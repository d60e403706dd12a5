import numpy as np
import pytest
import torch

from deepSTRF.datasets import from_arrays


def test_dense_arrays_with_nan_padding_of_trials_and_pairs(gen):
    stims = np.random.default_rng(0).normal(size=(3, 4, 10))
    resp = np.random.default_rng(1).poisson(1.0, (3, 2, 5, 10)).astype(float)
    resp[0, 1, 3:] = np.nan  # neuron 1 has 3 trials of stimulus 0
    resp[2, 0] = np.nan  # neuron 0 never heard stimulus 2
    ds = from_arrays(stims, resp, dt_ms=10.0, name="mine")
    assert len(ds) == 3 and ds.n_neurons == 2 and ds.F == 4 and ds.name == "mine"
    assert ds.n_trials.tolist() == [[5, 3], [5, 5], [0, 5]]
    torch.testing.assert_close(ds.get_response(0, 1), torch.from_numpy(resp[0, 1, :3]).float())
    np.testing.assert_allclose(ds[0]["stims"][0].numpy(), stims[0], rtol=1e-6)
    one_trial = from_arrays(torch.from_numpy(stims[:, None]), resp[:, :, 0], dt_ms=10.0)  # (S, 1, F, T) and (S, N, T)
    assert one_trial.n_trials.tolist() == [[1, 1], [1, 1], [0, 1]]


def test_ragged_lists():
    stims = [np.zeros((4, 6)), np.zeros((1, 4, 9))]
    resp = [np.ones((2, 3, 6)), [np.ones((2, 9)), None]]
    ds = from_arrays(stims, resp, dt_ms=5.0, nrn_meta=[{"id": "a"}, {"id": "b"}])
    assert ds.lengths == [6, 9] and ds.n_trials.tolist() == [[3, 3], [2, 0]]


def test_dense_responses_with_ragged_stimuli_are_cropped():
    stims = [np.zeros((2, 4)), np.zeros((2, 6))]
    resp = np.full((2, 1, 2, 6), np.nan)
    resp[0, 0, :, :4] = 1.0
    resp[1, 0, :, :] = 2.0
    ds = from_arrays(stims, resp, dt_ms=5.0)
    assert ds.lengths == [4, 6] and ds[0]["responses"].shape == (1, 2, 4)
    bad = resp.copy()
    bad[0, 0, 0, 5] = 1.0  # data beyond the stimulus
    with pytest.raises(ValueError, match=r"has 6 time bins but stimulus 0 has T_s = 4"):
        from_arrays(stims, bad, dt_ms=5.0)


def test_waveform_arrays():
    ds = from_arrays(np.zeros((2, 1, 320)), np.ones((2, 3, 4, 4)), dt_ms=5.0, audio_fs=16000)
    assert ds.waveform and ds.lengths == [4, 4] and ds[1]["stims"].shape == (1, 320)
    with pytest.raises(ValueError, match=r"not a multiple of the hop 80"):
        from_arrays([np.zeros(330)], [[np.ones(4)]], dt_ms=5.0, audio_fs=16000)


@pytest.mark.parametrize(
    ("stims", "responses", "kwargs", "error", "match"),
    [
        (
            np.zeros((3, 4)),
            np.ones((3, 1, 1, 4)),
            {},
            ValueError,
            r"stacked `stims` array must be \(S, F, T\) or \(S, 1, F, T\), got shape \(3, 4\)",
        ),
        (np.zeros((3, 2, 4, 5)), np.ones((3, 1, 1, 5)), {}, ValueError, r"got shape \(3, 2, 4, 5\)"),
        (np.zeros((3, 4, 5)), np.ones((2, 1, 1, 5)), {}, ValueError, r"one entry per stimulus \(3\), got 2"),
        (
            np.zeros((3, 4, 5)),
            np.ones((3, 5)),
            {},
            ValueError,
            r"dense `responses` array must be \(S, N, R, T\) or \(S, N, T\), got shape \(3, 5\)",
        ),
        (
            np.zeros((1, 4, 5)),
            np.ones((1, 2, 1, 6)),
            {},
            ValueError,
            r"`responses\[0\]\[0\]` has 6 time bins but stimulus 0 has T_s = 5",
        ),
        (
            np.zeros((1, 4, 5)),
            [np.ones(5)],
            {},
            ValueError,
            r"`responses\[0\]` must be \(N, R, T\) or \(N, T\), got shape \(5,\)",
        ),
        (np.zeros((1, 4, 5)), [{"n": 1}], {}, TypeError, r"`responses\[0\]` must be an \(N, R, T\) array or a list"),
        (np.zeros((1, 4, 5)), "abc", {}, TypeError, r"`responses` must be an array or a list, got str"),
        ("abc", [[None]], {}, TypeError, r"`stims` must be an array or a list of arrays, got str"),
        (np.zeros((1, 4, 5)), [[np.array(["x"] * 5)]], {}, TypeError, r"`responses\[0\]\[0\]` must hold real numbers"),
        (
            np.zeros((1, 4, 5)),
            np.ones((1, 1, 1, 5)),
            {"audio_fs": 16000.0},
            ValueError,
            r"must be \(S, T_audio\) or \(S, 1, T_audio\), got shape \(1, 4, 5\)",
        ),
        (np.zeros((1, 4, 5)), np.ones((1, 1, 1, 5)), {"dt_ms": -1.0}, ValueError, r"`dt_ms` must be > 0"),
    ],
)
def test_bad_arrays(stims, responses, kwargs, error, match):
    kwargs = {"dt_ms": 5.0, **kwargs}
    with pytest.raises(error, match=match):
        from_arrays(stims, responses, **kwargs)
