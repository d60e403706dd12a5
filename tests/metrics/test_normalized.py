import numpy as np
import pytest
import torch

from deepSTRF.metrics import cc_max, corrcoef, feve, normalized_corrcoef


@pytest.mark.parametrize("use_mask", [False, True])
def test_schoppe_and_feve_match_reference(data, ref, use_mask):
    mask = data.mask if use_mask else None
    m = None if mask is None else torch.from_numpy(mask)
    pred, x = ref.torch64(data.pred, data.x)
    expected = ref.noise(data.x, mask, pred=data.pred)
    np.testing.assert_allclose(
        normalized_corrcoef(pred, x, mask=m, reduction="none").numpy(), expected["schoppe"], rtol=1e-9
    )
    np.testing.assert_allclose(cc_max(x, mask=m, reduction="none").numpy(), expected["ccmax"], rtol=1e-9)
    np.testing.assert_allclose(feve(pred, x, mask=m, reduction="none").numpy(), expected["feve"], rtol=1e-9)


@pytest.mark.parametrize("use_mask", [False, True])
def test_hsu_matches_reference(data, ref, use_mask):
    mask = data.mask if use_mask else None
    m = None if mask is None else torch.from_numpy(mask)
    pred, x = ref.torch64(data.pred, data.x)
    expected = ref.hsu(data.x, n_splits=12, seed=3, mask=mask, pred=data.pred)
    assert np.isfinite(expected["ccmax"][:-1]).all() and np.isnan(expected["ccmax"][-1])
    np.testing.assert_allclose(
        cc_max(x, "hsu", mask=m, n_splits=12, seed=3, reduction="none").numpy(), expected["ccmax"], rtol=1e-9
    )
    out = normalized_corrcoef(pred, x, "hsu", mask=m, n_splits=12, seed=3, reduction="none")
    np.testing.assert_allclose(out.numpy(), expected["hsu"], rtol=1e-9)


def test_hsu_even_trials_is_spearman_brown(ref):
    rng = np.random.default_rng(1)
    x = rng.poisson(rng.gamma(2.0, 1.0, size=(3, 4, 1, 50)), size=(3, 4, 6, 50)).astype(float)
    rho = ref.hsu(x, n_splits=10, seed=0)["rho"]
    out = cc_max(torch.from_numpy(x), method="hsu", n_splits=10, seed=0, reduction="none").numpy()
    np.testing.assert_allclose(out, np.sqrt(2 * rho / (1 + rho)), rtol=1e-10)


def test_two_trials_have_a_single_split():
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.poisson(3.0, size=(2, 3, 2, 30)).astype(float) + rng.normal(size=(2, 3, 1, 30)))
    rho = torch.stack([corrcoef(x[:, j : j + 1, :1], x[:, j : j + 1, 1:], reduction="none")[0] for j in range(3)])
    expected = torch.sqrt(2 * rho / (1 + rho))
    for seed in (0, 5):
        torch.testing.assert_close(cc_max(x, "hsu", n_splits=3, seed=seed, reduction="none"), expected)


def test_ratio_to_the_ceiling(data):
    pred = torch.from_numpy(data.pred)
    rng = np.random.default_rng(4)
    trials = torch.from_numpy(rng.poisson(data.rate, size=(*data.rate.shape[:2], 3, data.rate.shape[3])).astype(float))
    trials[1, :, :, 30:] = float("nan")  # a NaN tail: every position has 3 trials or none
    trials[2, 1] = float("nan")
    for method in ("schoppe", "hsu"):
        torch.testing.assert_close(
            normalized_corrcoef(pred, trials, method, n_splits=5, reduction="none"),
            corrcoef(pred, trials, reduction="none") / cc_max(trials, method, n_splits=5, reduction="none"),
        )


def test_hsu_is_seeded_and_batch_consistent(data):
    x = torch.from_numpy(data.x)
    a = cc_max(x, "hsu", n_splits=7, seed=11, reduction="none")
    torch.testing.assert_close(
        cc_max(x, "hsu", n_splits=7, seed=11, reduction="none"), a, rtol=0, atol=0, equal_nan=True
    )
    assert not torch.equal(cc_max(x, "hsu", n_splits=7, seed=12, reduction="none")[:4], a[:4])
    torch.testing.assert_close(cc_max(x[:, 2:5], "hsu", n_splits=7, seed=11, reduction="none"), a[2:5], equal_nan=True)
    torch.testing.assert_close(
        cc_max(x[1:4], "hsu", n_splits=7, seed=11, reduction="none")[:1],
        cc_max(x[1:4, :1], "hsu", n_splits=7, seed=11, reduction="none"),
    )


def test_single_trial_and_zero_variance_give_nan(data):
    x, pred = torch.from_numpy(data.x), torch.from_numpy(data.pred)
    for method in ("schoppe", "hsu"):
        assert torch.isnan(normalized_corrcoef(pred, x, method, reduction="none")[-1])  # one trial everywhere
        assert torch.isnan(normalized_corrcoef(pred, x[:, :, :1], method, reduction="none")).all()
        assert torch.isnan(normalized_corrcoef(torch.full_like(pred, 0.7), x, method, reduction="none")).all()
    assert torch.isnan(feve(pred, x, reduction="none")[-1])


def test_noise_free_trials():
    gen = torch.Generator().manual_seed(0)
    rate = torch.rand(3, 2, 1, 20, generator=gen, dtype=torch.float64)
    trials = rate.expand(3, 2, 4, 20)
    for method in ("schoppe", "hsu"):
        torch.testing.assert_close(
            normalized_corrcoef(rate, trials, method, reduction="none"), torch.ones(2, dtype=torch.float64)
        )
        torch.testing.assert_close(cc_max(trials, method, reduction="none"), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(feve(rate, trials, reduction="none"), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("reduction", ["mean", "median", "sum"])
@pytest.mark.parametrize("method", ["schoppe", "hsu"])
def test_reductions(data, method, reduction):
    x, pred = torch.from_numpy(data.x), torch.from_numpy(data.pred)
    values = normalized_corrcoef(pred, x, method, reduction="none").numpy()
    expected = {"mean": np.nanmean, "median": np.nanmedian, "sum": np.nansum}[reduction](values)
    assert normalized_corrcoef(pred, x, method, reduction=reduction).item() == pytest.approx(expected)
    ceilings = cc_max(x, method, reduction="none").numpy()
    expected = {"mean": np.nanmean, "median": np.nanmedian, "sum": np.nansum}[reduction](ceilings)
    assert cc_max(x, method, reduction=reduction).item() == pytest.approx(expected)


def test_gradients_match_finite_differences(data):
    x = torch.from_numpy(data.x)[:3, :2, :, :10]
    pred = torch.from_numpy(data.pred)[:3, :2, :, :10].clone().requires_grad_(True)
    torch.autograd.gradcheck(lambda p: normalized_corrcoef(p, x, reduction="none"), (pred,))
    torch.autograd.gradcheck(lambda p: normalized_corrcoef(p, x, "hsu", n_splits=4, reduction="none"), (pred,))
    torch.autograd.gradcheck(lambda p: feve(p, x, reduction="none"), (pred,))


def test_errors():
    pred, x = torch.zeros(2, 3, 1, 5), torch.zeros(2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"`method` must be one of \['schoppe', 'hsu'\], got 'sahani'"):
        normalized_corrcoef(pred, x, method="sahani", reduction="none")
    with pytest.raises(ValueError, match="`n_splits` must be an int >= 1, got 0"):
        cc_max(x, "hsu", n_splits=0, reduction="none")
    with pytest.raises(TypeError, match="`n_splits` must be an int, got float"):
        cc_max(x, "hsu", n_splits=2.0, reduction="none")
    with pytest.raises(ValueError, match="`seed` must be an int >= 0, got -1"):
        normalized_corrcoef(pred, x, "hsu", seed=-1, reduction="none")
    with pytest.raises(ValueError, match=r"`responses` must have shape \(B, N, R, T\)"):
        feve(pred, torch.zeros(2, 4, 4, 5), reduction="none")
    with pytest.raises(ValueError, match=r"`pred` must have shape \(B, N, 1, T\)"):
        feve(x, x, reduction="none")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        cc_max(x, reduction="all")
    with pytest.raises(TypeError, match="`mask` must be a bool tensor"):
        normalized_corrcoef(pred, x, mask=torch.ones(2, 3, 1, 5, dtype=torch.int32), reduction="none")


def test_feve_agrees_with_the_single_trial_definition():
    # Cadena et al. (2019): 1 - (MSE over single trials - noise var) / (total var - noise var)
    rng = np.random.default_rng(5)
    rate = rng.gamma(2.0, 1.0, size=(4, 3, 1, 200))
    x = rng.poisson(np.broadcast_to(rate, (4, 3, 8, 200))).astype(float)
    pred = rate + rng.normal(scale=0.4, size=rate.shape)
    out = feve(torch.from_numpy(pred), torch.from_numpy(x), reduction="none").numpy()
    for j in range(3):
        trials = x[:, j].transpose(0, 2, 1).reshape(-1, 8)  # (positions, trials)
        noise = trials.var(axis=1, ddof=1).mean()
        mse = ((trials - pred[:, j, 0].reshape(-1, 1)) ** 2).mean()
        single = 1 - (mse - noise) / (trials.var() - noise)
        assert abs(out[j] - single) < 0.01
