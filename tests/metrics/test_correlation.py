import numpy as np
import pytest
import torch

from deepSTRF.metrics import corrcoef, fve


@pytest.mark.parametrize("use_mask", [False, True])
def test_raw_scores_match_reference(data, ref, use_mask):
    mask = data.mask if use_mask else None
    pred, x = ref.torch64(data.pred, data.x)
    m = None if mask is None else torch.from_numpy(mask)
    expected = ref.raw(data.pred, data.x, mask)
    np.testing.assert_allclose(
        corrcoef(pred, x, mask=m, reduction="none").numpy(), expected["cc"], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(fve(pred, x, mask=m, reduction="none").numpy(), expected["fve"], rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64(data):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    ref64 = corrcoef(pred, x, reduction="none")
    out32 = corrcoef(pred.float(), x.float(), reduction="none")
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), ref64, rtol=1e-5, atol=1e-6)


def test_psth_target_equals_trials_target(data, ref):
    pred, x = ref.torch64(data.pred, data.x)
    psth = x.nanmean(dim=2, keepdim=True)
    torch.testing.assert_close(
        corrcoef(pred, psth, reduction="none"), corrcoef(pred, x, reduction="none"), equal_nan=True
    )
    torch.testing.assert_close(fve(pred, psth, reduction="none"), fve(pred, x, reduction="none"), equal_nan=True)


def test_hand_computed_values():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).view(1, 1, 1, 4)
    target = torch.tensor([[2.0, 1.0, 4.0, 3.0], [2.0, 3.0, 4.0, float("nan")]], dtype=torch.float64).view(1, 1, 2, 4)
    # PSTH = [2, 2, 4, 3]: mean 2.75, SST = 2.75, SSE = 1 + 0 + 1 + 1 = 3, cov sum = 2.5, pred SS = 5
    assert fve(pred, target, reduction="none").item() == pytest.approx(1 - 3 / 2.75)
    assert corrcoef(pred, target, reduction="none").item() == pytest.approx(2.5 / np.sqrt(5 * 2.75))


def test_stimuli_are_pooled_not_averaged():
    # Two stimuli, each perfectly anti-correlated within, but pooled the offsets dominate.
    pred = torch.tensor([[0.0, 1.0], [10.0, 11.0]]).view(2, 1, 1, 2)
    target = torch.tensor([[1.0, 0.0], [11.0, 10.0]]).view(2, 1, 1, 2)
    assert corrcoef(pred, target, reduction="none").item() > 0.9


def test_perfect_and_constant_predictions(data):
    x = torch.from_numpy(data.x)
    psth = x.nanmean(dim=2, keepdim=True).nan_to_num(0.0)
    torch.testing.assert_close(corrcoef(psth, x, reduction="none"), torch.ones(x.shape[1], dtype=torch.float64))
    torch.testing.assert_close(fve(psth, x, reduction="none"), torch.ones(x.shape[1], dtype=torch.float64))
    constant = torch.full_like(psth, 0.1)  # not exactly representable: rounding must not fake a variance
    assert torch.isnan(corrcoef(constant, x, reduction="none")).all()
    target_constant = torch.full_like(x, 0.3)
    assert torch.isnan(corrcoef(psth, target_constant, reduction="none")).all()
    assert torch.isnan(fve(psth, target_constant, reduction="none")).all()


def test_no_valid_position_gives_nan(data):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    mask = torch.ones(1, x.shape[1], 1, 1, dtype=torch.bool)
    mask[0, 2] = False
    out = corrcoef(pred, x, mask=mask, reduction="none")
    assert torch.isnan(out[2]) and torch.isfinite(out[:2]).all()


def test_nan_prediction_at_a_valid_position_propagates(data):
    pred, x = torch.from_numpy(data.pred).clone(), torch.from_numpy(data.x)
    pred[0, 1, 0, 0] = float("nan")  # stimulus 0 is complete: a valid position
    pred[0, 2, 0, 0] = float("nan")
    pred[4, 2, 0, -1] = float("inf")
    mask = torch.ones_like(pred, dtype=torch.bool)
    mask[0, 2, 0, 0] = False  # ...unless masked out
    mask[4, 2, 0, -1] = False
    out = corrcoef(pred, x, mask=mask, reduction="none")
    assert torch.isnan(out[1])
    torch.testing.assert_close(out[2], corrcoef(torch.from_numpy(data.pred), x, mask=mask, reduction="none")[2])


def test_garbage_outside_valid_positions_is_ignored(data):
    pred, x = torch.from_numpy(data.pred).clone(), torch.from_numpy(data.x)
    base = corrcoef(pred, x, reduction="none")
    invalid = torch.isnan(x).all(dim=2, keepdim=True)
    pred[invalid] = float("nan")
    torch.testing.assert_close(corrcoef(pred, x, reduction="none"), base, equal_nan=True)


@pytest.mark.parametrize("reduction", ["mean", "median", "sum"])
def test_reductions(data, reduction):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    mask = torch.ones(1, x.shape[1], 1, 1, dtype=torch.bool)
    mask[0, 0] = False  # one NaN neuron
    per_neuron = corrcoef(pred, x, mask=mask, reduction="none").numpy()
    expected = {"mean": np.nanmean, "median": np.nanmedian, "sum": np.nansum}[reduction](per_neuron)
    out = corrcoef(pred, x, mask=mask, reduction=reduction)
    assert out.shape == ()
    assert out.item() == pytest.approx(expected)


def test_median_of_even_count_averages_the_middle_values():
    pred = torch.arange(8.0, dtype=torch.float64).view(1, 1, 1, 8).expand(1, 4, 1, 8)
    gen = torch.Generator().manual_seed(0)
    target = pred + torch.randn(1, 4, 1, 8, generator=gen, dtype=torch.float64) * torch.tensor([0.5, 1, 2, 4]).view(
        1, 4, 1, 1
    )
    values = corrcoef(pred, target, reduction="none").numpy()
    assert corrcoef(pred, target, reduction="median").item() == pytest.approx(np.median(values))


def test_batch_consistency(data):
    pred, x = torch.from_numpy(data.pred), torch.from_numpy(data.x)
    full = corrcoef(pred, x, reduction="none")
    torch.testing.assert_close(corrcoef(pred[:, 2:4], x[:, 2:4], reduction="none"), full[2:4], equal_nan=True)


def test_gradients_match_finite_differences(data):
    pred = torch.from_numpy(data.pred)[:3, :2, :, :12].clone().requires_grad_(True)
    x = torch.from_numpy(data.x)[:3, :2, :, :12]
    torch.autograd.gradcheck(lambda p: corrcoef(p, x, reduction="none"), (pred,))
    torch.autograd.gradcheck(lambda p: fve(p, x, reduction="none"), (pred,))


def test_input_errors():
    pred, target = torch.zeros(2, 3, 1, 5), torch.zeros(2, 3, 4, 5)
    with pytest.raises(TypeError, match=r"`pred` must be a torch\.Tensor"):
        corrcoef(np.zeros((2, 3, 1, 5)), target, reduction="none")
    with pytest.raises(TypeError, match="`target` must be a floating-point tensor"):
        corrcoef(pred, target.long(), reduction="none")
    with pytest.raises(ValueError, match=r"`pred` must have 4 dimensions, got shape \(3, 1, 5\)"):
        corrcoef(pred[0], target, reduction="none")
    with pytest.raises(ValueError, match=r"`pred` must have shape \(B, N, 1, T\), got \(2, 3, 4, 5\)"):
        corrcoef(target, target, reduction="none")
    with pytest.raises(ValueError, match=r"`target` must have shape \(B, N, R, T\).*got \(2, 3, 4, 6\)"):
        fve(pred, torch.zeros(2, 3, 4, 6), reduction="none")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        corrcoef(pred, target, reduction="max")
    with pytest.raises(TypeError, match=r"`mask` must be a bool tensor, got dtype torch\.float32"):
        corrcoef(pred, target, mask=torch.ones(2, 3, 1, 5), reduction="none")
    with pytest.raises(TypeError, match=r"`mask` must be a bool torch\.Tensor or None"):
        corrcoef(pred, target, mask=[True], reduction="none")
    with pytest.raises(ValueError, match=r"`mask` must be broadcastable to \(B, N, 1, T\) = \(2, 3, 1, 5\)"):
        corrcoef(pred, target, mask=torch.ones(2, 3, 4, 5, dtype=torch.bool), reduction="none")
    with pytest.raises(ValueError, match="`mask` must be broadcastable"):
        corrcoef(pred, target, mask=torch.ones(7, dtype=torch.bool), reduction="none")
