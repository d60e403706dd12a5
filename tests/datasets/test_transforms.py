import numpy as np
import pytest
import torch

from deepSTRF.datasets import (
    NeuralDataset,
    ResponseNormalizer,
    StimulusStandardizer,
    normalize_responses,
    standardize_stimuli,
)


def _pooled(ds, stimuli):
    """Band-wise float64 NumPy array (F, total T) of the chosen stimuli."""
    return np.concatenate([ds.stims[s][0].double().numpy() for s in stimuli], axis=1)


def test_stimulus_statistics_come_only_from_the_named_stimuli(ragged):
    train = [0, 2, 3]
    fitted = StimulusStandardizer.fit(ragged, train)
    ref = _pooled(ragged, train)
    np.testing.assert_allclose(fitted.mean.numpy(), ref.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(fitted.std.numpy(), ref.std(axis=1), rtol=1e-12)
    assert fitted.stimuli == (0, 2, 3) and fitted.source == "toy"
    # changing the held-out stimulus changes nothing in the statistics: no leak
    stims = ragged.stims
    stims[1] = stims[1] * 100 + 7
    other = NeuralDataset(stims, [[None] * 3] * 4, 5.0)
    again = StimulusStandardizer.fit(other, train)
    torch.testing.assert_close(again.mean, fitted.mean)
    torch.testing.assert_close(again.std, fitted.std)
    # the training stimuli are standardised, the test stimulus only transformed
    out = fitted.apply(ragged)
    pooled = _pooled(out, train)
    np.testing.assert_allclose(pooled.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(pooled.std(axis=1), 1, atol=1e-6)
    expected = (ragged.stims[1][0].double().numpy() - ref.mean(1, keepdims=True)) / ref.std(1, keepdims=True)
    np.testing.assert_allclose(out.stims[1][0].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert out.normalization == {"stims": [fitted]} and ragged.normalization == {}
    torch.testing.assert_close(out[0]["responses"], ragged[0]["responses"], equal_nan=True)


def test_stimulus_standardisation_by_split_name_and_reapplied_elsewhere(ragged, ragged_factory):
    ragged.splits = {"train": [0, 1], "test": [2, 3]}
    out = standardize_stimuli(ragged, "train", per_band=False)
    fitted = out.normalization["stims"][0]
    assert fitted.mean.dim() == 0 and fitted.stimuli == (0, 1)
    other = ragged_factory(5)  # another recording with the same bands
    moved = fitted.apply(other)
    torch.testing.assert_close(moved.stims[0], ((other.stims[0].double() - fitted.mean) / fitted.std).float())
    back = StimulusStandardizer.from_dict(fitted.to_dict())
    torch.testing.assert_close(back.apply(other).stims[2], moved.stims[2])


def test_stimulus_standardisation_errors(ragged):
    with pytest.raises(ValueError, match=r"`stimuli`='val' is not one of the dataset's splits \[\]"):
        StimulusStandardizer.fit(ragged, "val")
    with pytest.raises(ValueError, match=r"at least one stimulus"):
        StimulusStandardizer.fit(ragged, [])
    with pytest.raises(TypeError, match=r"`stimuli` must name the stimuli to fit on"):
        StimulusStandardizer.fit(ragged, None)
    fitted = StimulusStandardizer.fit(ragged, [0])
    with pytest.raises(ValueError, match=r"fitted on F = 5 bands, cannot apply to a dataset with F = 2"):
        fitted.apply(NeuralDataset([torch.zeros(1, 2, 3)], [[None]], 5.0))
    with pytest.warns(UserWarning, match=r"frequency bands \[0, 1\] have zero or undefined spread"):
        flat = StimulusStandardizer.fit(NeuralDataset([torch.ones(1, 2, 3)], [[None]], 5.0), [0])
    assert flat.std.tolist() == [1.0, 1.0]


def test_waveform_standardisation_is_global():
    audio = torch.arange(160.0)
    ds = NeuralDataset([audio, audio * 0], [[None], [None]], 5.0, audio_fs=16000)
    out = standardize_stimuli(ds, [0])
    x = out.stims[0].double()
    assert abs(float(x.mean())) < 1e-6 and abs(float(x.std(unbiased=False)) - 1) < 1e-6


def _reference_stats(ds, stimuli):
    values = [[] for _ in range(ds.n_neurons)]
    for s in stimuli:
        for n in range(ds.n_neurons):
            r = ds.get_response(s, n)
            if r is not None:
                values[n].append(r.double().numpy().ravel())
    return [np.concatenate(v) for v in values]


def test_response_normalisation_matches_a_numpy_reference_and_does_not_leak(ragged):
    train = [0, 1, 2]
    ref = _reference_stats(ragged, train)
    z = ResponseNormalizer.fit(ragged, train, method="zscore")
    np.testing.assert_allclose(z.offset.numpy(), [v.mean() for v in ref], rtol=1e-10)
    np.testing.assert_allclose(z.scale.numpy(), [v.std() for v in ref], rtol=1e-10)
    s = ResponseNormalizer.fit(ragged, train, method="std")
    assert s.offset.eq(0).all() and torch.allclose(s.scale, z.scale)
    m = ResponseNormalizer.fit(ragged, train, method="max")
    peaks = [
        max(
            ragged.get_response(st, n).double().mean(0).max().item()
            for st in train
            if ragged.get_response(st, n) is not None
        )
        for n in range(3)
    ]
    np.testing.assert_allclose(m.scale.numpy(), peaks)
    # the test stimulus does not influence the statistics
    boosted = [
        [None if r is None else r * (50 if st == 3 else 1) for r in (ragged.get_response(st, n) for n in range(3))]
        for st in range(4)
    ]
    other = NeuralDataset(ragged.stims, boosted, 5.0)
    torch.testing.assert_close(ResponseNormalizer.fit(other, train).scale, z.scale)
    out = z.apply(ragged)
    pooled = _reference_stats(out, train)
    np.testing.assert_allclose([v.mean() for v in pooled], 0, atol=1e-6)
    np.testing.assert_allclose([v.std() for v in pooled], 1, atol=1e-6)
    assert out.valid_mask.equal(ragged.valid_mask) and out.normalization["responses"] == [z]


def test_response_normalisation_ignores_nan_and_handles_silent_neurons():
    resp = np.array([[1.0, np.nan, 3.0]])
    ds = NeuralDataset([np.zeros((1, 1, 3))] * 2, [[resp, np.zeros((1, 3))], [None, np.zeros((1, 3))]], 5.0)
    with pytest.warns(UserWarning, match=r"neurons \[1\] have zero or undefined spread"):
        norm = ResponseNormalizer.fit(ds, [0, 1])
    assert norm.offset.tolist() == [2.0, 0.0] and norm.scale.tolist() == [1.0, 1.0]
    out = norm.apply(ds)[0]["responses"]
    assert out[0, 0, 0] == -1 and torch.isnan(out[0, 0, 1]) and out[0, 0, 2] == 1
    back = ResponseNormalizer.from_dict(norm.to_dict())
    assert back.method == "zscore" and torch.equal(back.scale, norm.scale)


def test_response_normalisation_errors(ragged):
    with pytest.raises(ValueError, match=r"`method` must be one of \['zscore', 'std', 'max'\], got 'l2'"):
        normalize_responses(ragged, [0], method="l2")
    norm = ResponseNormalizer.fit(ragged, [0])
    with pytest.raises(ValueError, match=r"fitted on 3 neurons, cannot apply to a dataset of 2"):
        norm.apply(ragged.subset(neurons=[0, 1]))
    with pytest.raises(TypeError, match=r"`dataset` must be a NeuralDataset"):
        norm.apply("data")
