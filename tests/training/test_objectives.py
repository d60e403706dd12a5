import numpy as np
import pytest
import torch

from deepSTRF import metrics
from deepSTRF.training.objectives import batch_mask, batch_target, pad_cat, score_split, summed_loss

NAN = float("nan")


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, 3, 1, 6, generator=g, dtype=torch.float64)
    resp = torch.rand(2, 3, 4, 6, generator=g, dtype=torch.float64) * 3
    resp[0, 1] = NAN  # missing pair
    resp[1, :, 2:] = NAN  # two missing trials
    resp[1, 2, :, 4:] = NAN  # padded bins
    return pred, resp


def test_psth_target_is_the_nan_aware_trial_mean():
    _, resp = _data()
    psth = batch_target(resp, "psth")
    r = resp.numpy()
    count = np.isfinite(r).sum(2, keepdims=True)
    ref = np.where(count > 0, np.nansum(r, axis=2, keepdims=True) / np.maximum(count, 1), np.nan)
    np.testing.assert_allclose(psth.numpy(), ref)
    assert batch_target(resp, "trials") is resp
    with pytest.raises(ValueError, match="`target` must be one of"):
        batch_target(resp, "median")


@pytest.mark.parametrize("target", ["psth", "trials"])
def test_mse_sum_matches_a_reference_and_gradients_stay_finite(target):
    pred, resp = _data()
    pred.requires_grad_(True)
    tgt = batch_target(resp, target)
    total, count = summed_loss(pred, tgt, "mse")
    t = tgt.numpy()
    p = np.broadcast_to(pred.detach().numpy(), t.shape)
    ok = np.isfinite(t)
    np.testing.assert_allclose(float(total.detach()), ((p - t)[ok] ** 2).sum())
    assert int(count) == ok.sum()
    total.backward()
    assert torch.isfinite(pred.grad).all()
    assert torch.all(pred.grad[0, 1] == 0)  # the missing pair gets no gradient


def test_poisson_losses_match_a_reference():
    pred, resp = _data()
    rate = pred.exp()
    psth = batch_target(resp, "psth")
    ok = torch.isfinite(psth)
    total, count = summed_loss(rate, psth, "poisson")
    ref = (rate - psth * torch.log(rate + 1e-8))[ok].sum()
    assert torch.allclose(total, ref) and int(count) == int(ok.sum())
    total_log, _ = summed_loss(pred, psth, "poisson_log")
    assert torch.allclose(total_log, (pred.exp() - psth * pred)[ok].sum())


def test_summed_loss_errors():
    pred, resp = _data()
    with pytest.raises(ValueError, match=r"got \(2, 3, 1, 6\) and \(2, 3, 4, 5\)"):
        summed_loss(pred, resp[..., :5], "mse")
    with pytest.raises(ValueError, match="`loss` must be one of"):
        summed_loss(pred, resp, "huber")


def test_batch_mask_and_pad_cat():
    batch = {"lengths": torch.tensor([6, 4]), "valid_mask": torch.tensor([[True, False, True], [True, True, True]])}
    mask = batch_mask(batch, 6)
    assert mask.shape == (2, 3, 1, 6)
    assert not mask[0, 1].any() and mask[1, 0, 0].tolist() == [True] * 4 + [False] * 2
    out = pad_cat([torch.ones(1, 3, 1, 6), torch.ones(2, 3, 2, 4)], fill=NAN)
    assert out.shape == (3, 3, 2, 6) and torch.isnan(out[0, :, 1]).all() and torch.isnan(out[1:, :, :, 4:]).all()
    with pytest.raises(ValueError, match="at least one tensor"):
        pad_cat([], 0.0)


def test_score_split_uses_the_metrics_once_over_the_split():
    pred, resp = _data()
    mask = torch.isfinite(resp).any(2, keepdim=True)
    expected = metrics.corrcoef(pred, resp, mask=mask, reduction="none")
    assert torch.equal(score_split("cc", pred, resp, mask), expected)
    loss = score_split("loss", pred, resp, mask)
    psth = batch_target(resp, "psth")
    for n in range(3):
        ok = torch.isfinite(psth[:, n])
        assert torch.allclose(loss[n], ((pred[:, n] - psth[:, n]) ** 2)[ok].mean())
    with pytest.raises(ValueError, match="`name` must be one of"):
        score_split("r2", pred, resp, mask)
