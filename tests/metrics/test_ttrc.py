"""TTRC against a float64 NumPy reference written from the definition, and on simulated trials."""

import numpy as np
import pytest
import torch

from deepSTRF.metrics import ttrc


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ref_ttrc(pred: np.ndarray, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Loops over neurons, trials and trial pairs; positions pooled over stimuli and time."""
    b, n, r, t = x.shape
    keep = np.ones((b, n, 1, t), bool) if mask is None else np.broadcast_to(mask, (b, n, 1, t))
    out = []
    for j in range(n):
        single, pairs = [], []
        for i in range(r):
            ok = ~np.isnan(x[:, j, i]) & keep[:, j, 0]
            single.append(_corr(pred[:, j, 0][ok], x[:, j, i][ok]))
            for k in range(i + 1, r):
                both = ok & ~np.isnan(x[:, j, k])
                pairs.append(_corr(x[:, j, i][both], x[:, j, k][both]))
        r_single = np.nanmean(single) if np.isfinite(single).any() else np.nan
        r_pair = np.nanmean(pairs) if np.isfinite(pairs).any() else np.nan
        out.append(r_single / np.sqrt(r_pair) if r_pair > 0 else np.nan)
    return np.asarray(out)


@pytest.mark.parametrize("use_mask", [False, True])
def test_matches_reference(data, ref, use_mask):
    mask = data.mask if use_mask else None
    pred, x = ref.torch64(data.pred, data.x)
    expected = ref_ttrc(data.pred, data.x, mask)
    assert np.isfinite(expected[:-1]).all() and np.isnan(expected[-1])  # the last neuron has one trial
    got = ttrc(pred, x, mask=None if mask is None else torch.from_numpy(mask))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_float32_close_to_reference(data):
    pred, x = torch.from_numpy(data.pred).float(), torch.from_numpy(data.x).float()
    np.testing.assert_allclose(ttrc(pred, x).numpy(), ref_ttrc(data.pred, data.x), rtol=2e-4, atol=1e-5)


def test_true_rate_reaches_the_ceiling():
    """Poisson trials of a known rate: the true rate scores about 1, a noisy copy its correlation with it."""
    gen = torch.Generator().manual_seed(1)
    rate = 2.0 * torch.rand(6, 4, 1, 400, generator=gen, dtype=torch.float64) ** 2
    trials = torch.poisson(rate.expand(6, 4, 12, 400).contiguous(), generator=gen)
    np.testing.assert_allclose(ttrc(rate, trials).numpy(), 1.0, atol=0.04)
    noisy = rate + 0.5 * torch.randn(rate.shape, generator=gen, dtype=torch.float64)
    true_r = torch.stack(
        [torch.corrcoef(torch.stack([rate[:, j].flatten(), noisy[:, j].flatten()]))[0, 1] for j in range(4)]
    )
    np.testing.assert_allclose(ttrc(noisy, trials).numpy(), true_r.numpy(), atol=0.04)
    raw = torch.stack(
        [torch.corrcoef(torch.stack([noisy[:, j].flatten(), trials[:, j, 0].flatten()]))[0, 1] for j in range(4)]
    )
    assert (ttrc(noisy, trials) > raw + 0.1).all()  # the correction matters


def test_batch_consistent_and_reductions(data, ref):
    pred, x = ref.torch64(data.pred, data.x)
    full = ttrc(pred, x)
    np.testing.assert_allclose(ttrc(pred[:, 2:4], x[:, 2:4]).numpy(), full[2:4].numpy(), rtol=1e-12)
    assert ttrc(pred, x, reduction="mean").item() == pytest.approx(np.nanmean(full.numpy()))
    assert ttrc(pred, x, reduction="median").item() == pytest.approx(np.nanmedian(full.numpy()))
    assert ttrc(pred, x, reduction="sum").item() == pytest.approx(np.nansum(full.numpy()))


def test_gradients_match_finite_differences(data):
    x = torch.from_numpy(data.x)[:3, :2, :, :12]
    pred = torch.from_numpy(data.pred)[:3, :2, :, :12].clone().requires_grad_(True)
    torch.autograd.gradcheck(lambda p: ttrc(p, x), (pred,))


def test_no_signal_and_constant_prediction_give_nan():
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 1, 2, 50, generator=gen, dtype=torch.float64)
    anti = torch.cat([noise[:, :, :1], -noise[:, :, :1]], dim=2)  # trials anti-correlated: no reliable signal
    assert torch.isnan(ttrc(noise[:, :, :1], anti)).all()
    assert torch.isnan(ttrc(torch.ones(1, 1, 1, 50, dtype=torch.float64), noise)).all()


def test_errors():
    pred, x = torch.zeros(2, 3, 1, 5), torch.zeros(2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"`target` must have shape \(B, N, R, T\)"):
        ttrc(pred, torch.zeros(2, 4, 4, 5))
    with pytest.raises(ValueError, match=r"`pred` must have shape \(B, N, 1, T\)"):
        ttrc(x, x)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        ttrc(pred, x, reduction="all")
    with pytest.raises(TypeError, match="`mask` must be a bool tensor"):
        ttrc(pred, x, mask=torch.ones(2, 3, 1, 5, dtype=torch.int32))
    with pytest.raises(TypeError, match="`pred` must be a floating-point tensor"):
        ttrc(torch.zeros(2, 3, 1, 5, dtype=torch.int64), x)
