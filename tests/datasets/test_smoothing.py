import numpy as np
import pytest
import torch

from deepSTRF.datasets import NeuralDataset, hanning_kernel, smooth_responses, smooth_trials


@pytest.mark.parametrize(("dt_ms", "taps"), [(1.0, 21), (2.0, 11), (5.0, 5), (10.0, 3), (25.0, 1)])
def test_kernel_has_unit_gain_at_every_bin_width(dt_ms, taps):
    k = hanning_kernel(21.0, dt_ms)
    assert k.shape == (taps,) and k.dtype == torch.float64
    assert abs(float(k.sum()) - 1.0) < 1e-12
    assert torch.equal(k, k.flip(0)) and bool((k > 0).all())


def test_kernel_values_at_5_ms():
    expected = np.array([0.25, 0.75, 1.0, 0.75, 0.25]) / 3.0  # Hanning window without its zero ends
    np.testing.assert_allclose(hanning_kernel(21.0, 5.0).numpy(), expected, rtol=1e-12)


def _reference(x, kernel, causal):
    """Float64 NumPy smoothing with weights renormalised over the valid bins."""
    k = kernel.numpy()
    half = len(k) - 1 if causal else (len(k) - 1) // 2
    out = np.full_like(x, np.nan)
    for t in range(x.shape[-1]):
        if np.isnan(x[t]):
            continue
        num = den = 0.0
        for j, w in enumerate(k):
            u = t - half + j
            if 0 <= u < len(x) and not np.isnan(x[u]):
                num, den = num + w * x[u], den + w
        out[t] = num / den
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_smoothing_matches_a_reference_with_nan_and_edges(causal, gen):
    x = torch.poisson(torch.full((3, 40), 2.0, dtype=torch.float64), generator=gen)
    x[1, 10:13] = torch.nan
    kernel = hanning_kernel(21.0, 2.0)
    out = smooth_trials(x, kernel, causal=causal)
    for i in range(3):
        np.testing.assert_allclose(out[i].numpy(), _reference(x[i].numpy(), kernel, causal), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("causal", [False, True])
def test_constant_responses_stay_constant_gain_one(causal):
    x = torch.full((2, 30), 3.0)
    torch.testing.assert_close(smooth_trials(x, hanning_kernel(21.0, 1.0), causal=causal), x)


def test_interior_mass_is_preserved():
    x = torch.zeros(50, dtype=torch.float64)
    x[25] = 4.0
    assert abs(float(smooth_trials(x, hanning_kernel(21.0, 1.0)).sum()) - 4.0) < 1e-12


def test_causal_smoothing_does_not_look_ahead_and_centred_does(gen):
    x = torch.rand(1, 30, generator=gen, dtype=torch.float64)
    y = x.clone()
    y[0, 20:] += 5.0
    k = hanning_kernel(21.0, 5.0)
    assert torch.equal(smooth_trials(x, k, causal=True)[:, :20], smooth_trials(y, k, causal=True)[:, :20])
    assert not torch.equal(smooth_trials(x, k)[:, :20], smooth_trials(y, k)[:, :20])
    # an impulse is delayed by (L - 1) / 2 bins in causal mode
    imp = torch.zeros(15, dtype=torch.float64)
    imp[5] = 1.0
    assert int(smooth_trials(imp, k, causal=True).argmax()) == 7 and int(smooth_trials(imp, k).argmax()) == 5


def test_smooth_trials_errors():
    with pytest.raises(ValueError, match=r"a centred `kernel` must have an odd length, got 2"):
        smooth_trials(torch.ones(5), torch.ones(2))
    with pytest.raises(ValueError, match=r"non-empty with a positive sum"):
        smooth_trials(torch.ones(5), torch.zeros(3))
    with pytest.raises(TypeError, match=r"`x` must be a floating-point tensor"):
        smooth_trials(torch.ones(5, dtype=torch.long), torch.ones(3))
    with pytest.raises(ValueError, match=r"`kernel` must have 1 dimensions"):
        smooth_trials(torch.ones(5), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"`width_ms` must be > 0, got -1"):
        hanning_kernel(-1, 5.0)


def test_smooth_responses_keeps_the_container(ragged):
    out = smooth_responses(ragged, 21.0, causal=True)
    assert out.info["smoothing"] == {"kernel": "hanning", "width_ms": 21.0, "taps": 5, "causal": True}
    assert torch.equal(out.n_trials, ragged.n_trials) and ragged.info == {}
    k = hanning_kernel(21.0, 5.0)
    torch.testing.assert_close(out.get_response(3, 1), smooth_trials(ragged.get_response(3, 1), k, causal=True))
    # trial-wise smoothing then averaging equals smoothing the PSTH
    psth = ragged[3]["responses"][2].double().mean(0)
    torch.testing.assert_close(
        out[3]["responses"][2].double().mean(0), smooth_trials(psth, k, causal=True), rtol=1e-6, atol=1e-6
    )
    with pytest.raises(TypeError, match=r"`dataset` must be a NeuralDataset"):
        smooth_responses([1.0])
    empty = NeuralDataset([torch.zeros(1, 1, 4)], [[None]], 5.0)
    assert smooth_responses(empty).n_trials.tolist() == [[0]]
