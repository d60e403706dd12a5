import numpy as np
import pytest
import torch

from deepSTRF.metrics import explainable_variance, noise_power, signal_power, snr

FUNCTIONS = {"sp": signal_power, "np": noise_power, "snr": snr, "ev": explainable_variance}


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("key", list(FUNCTIONS))
def test_matches_reference(data, ref, key, use_mask):
    mask = data.mask if use_mask else None
    (x,) = ref.torch64(data.x)
    out = FUNCTIONS[key](x, mask=None if mask is None else torch.from_numpy(mask), reduction="none")
    expected = ref.noise(data.x, mask)[key]
    assert out.shape == (x.shape[1],)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_single_trial_gives_nan_and_odd_counts_work(data):
    x = torch.from_numpy(data.x)
    sp, npow = signal_power(x, reduction="none"), noise_power(x, reduction="none")
    assert torch.isnan(sp[-1]) and torch.isnan(npow[-1])  # neuron with one trial everywhere
    assert torch.isfinite(sp[:-1]).all() and torch.isfinite(npow[:-1]).all()  # including 3 trials (odd)
    assert torch.isnan(signal_power(x[:, :, :1], reduction="none")).all()


def test_equal_trials_match_the_sahani_linden_form(ref):
    # With R trials everywhere, SP = (R Var(PSTH) - TP) / (R - 1), TP = Var(PSTH) + (R - 1)/R NP.
    gen = np.random.default_rng(3)
    x = gen.poisson(gen.gamma(2.0, 1.0, size=(4, 3, 1, 60)), size=(4, 3, 7, 60)).astype(float)
    sp, npow = (
        signal_power(torch.from_numpy(x), reduction="none").numpy(),
        noise_power(torch.from_numpy(x), reduction="none").numpy(),
    )
    for j in range(3):
        psth = x[:, j].mean(axis=1).ravel()
        tp = psth.var(ddof=1) + 6 / 7 * npow[j]
        np.testing.assert_allclose(sp[j], (7 * psth.var(ddof=1) - tp) / 6, rtol=1e-12)
        # the published total power (each trial about its own mean) has the same expectation
        tp_published = np.mean([x[:, j, k].var(ddof=1) for k in range(7)])
        assert abs(tp_published - (sp[j] + npow[j])) < 0.1 * tp_published


def test_trial_numbering_does_not_matter(data):
    x = torch.from_numpy(data.x)
    shuffled = x.clone()
    shuffled[0] = shuffled[0].flip(dims=(1,))  # renumber the trials of one (complete) stimulus
    torch.testing.assert_close(
        signal_power(shuffled, reduction="none"), signal_power(x, reduction="none"), equal_nan=True
    )
    torch.testing.assert_close(
        noise_power(shuffled, reduction="none"), noise_power(x, reduction="none"), equal_nan=True
    )


def test_hand_computed_values():
    trials = torch.tensor([[1.0, 3.0, 1.0, 3.0], [1.0, 1.0, 3.0, 3.0]], dtype=torch.float64).view(1, 1, 2, 4)
    # PSTH [1, 2, 2, 3]: Var = 2/3; v = [0, 2, 2, 0]: NP = 1, mean v/r = 1/2
    assert signal_power(trials, reduction="none").item() == pytest.approx(2 / 3 - 1 / 2)
    assert noise_power(trials, reduction="none").item() == pytest.approx(1.0)
    assert snr(trials, reduction="none").item() == pytest.approx(1 / 6)
    assert explainable_variance(trials, reduction="none").item() == pytest.approx((1 / 6) / (1 / 6 + 1))


def test_zero_noise_and_constant_responses(data):
    x = torch.from_numpy(data.x)[:, :2]
    identical = x[:, :, :1].expand(-1, -1, 4, -1)
    assert torch.isnan(snr(identical, reduction="none")).all()  # NP = 0: SNR undefined
    assert (signal_power(identical, reduction="none") > 0).all()
    assert torch.isnan(explainable_variance(torch.zeros(2, 2, 3, 10, dtype=torch.float64), reduction="none")).all()


@pytest.mark.parametrize("reduction", ["mean", "median", "sum"])
def test_reductions(data, reduction):
    x = torch.from_numpy(data.x)
    values = snr(x, reduction="none").numpy()
    assert np.isnan(values).any()
    expected = {"mean": np.nanmean, "median": np.nanmedian, "sum": np.nansum}[reduction](values)
    assert snr(x, reduction=reduction).item() == pytest.approx(expected)


def test_batch_consistency_and_float32(data):
    x = torch.from_numpy(data.x)
    full = signal_power(x, reduction="none")
    torch.testing.assert_close(signal_power(x[:, 1:3], reduction="none"), full[1:3])
    torch.testing.assert_close(
        signal_power(x.float(), reduction="none").double(), full, rtol=1e-4, atol=1e-5, equal_nan=True
    )


def test_errors():
    with pytest.raises(ValueError, match=r"`responses` must have 4 dimensions, got shape \(2, 3\)"):
        signal_power(torch.zeros(2, 3), reduction="none")
    with pytest.raises(TypeError, match="`responses` must be a floating-point tensor"):
        noise_power(torch.zeros(1, 1, 2, 3, dtype=torch.int64), reduction="none")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        snr(torch.zeros(1, 1, 2, 3), reduction="avg")
    with pytest.raises(ValueError, match="`mask` must be broadcastable"):
        explainable_variance(torch.zeros(1, 1, 2, 3), mask=torch.ones(1, 1, 2, 3, dtype=torch.bool), reduction="none")
