import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepSTRF.metrics import mse_loss, poisson_loss


def _inputs(data, log: bool = False):
    pred = torch.from_numpy(data.rate).clone()
    if log:
        pred = pred.log()
    return pred.requires_grad_(True), torch.from_numpy(data.x), torch.from_numpy(data.mask)


def _valid(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    valid = ~torch.isnan(x).all(dim=2, keepdim=True)
    return valid if mask is None else valid & mask


def _reference(name: str, pred: torch.Tensor, psth: torch.Tensor, log_input: bool = False) -> torch.Tensor:
    if name == "mse":
        return F.mse_loss(pred, psth)
    return F.poisson_nll_loss(pred, psth, log_input=log_input, full=False, eps=1e-8)


LOSSES = {
    "mse": lambda p, x, **kw: mse_loss(p, x, **kw),
    "poisson": lambda p, x, **kw: poisson_loss(p, x, **kw),
    "poisson_log": lambda p, x, **kw: poisson_loss(p, x, log_input=True, **kw),
}


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("name", list(LOSSES))
def test_value_and_gradient_equal_those_on_valid_positions_only(data, name, use_mask):
    pred, x, mask = _inputs(data, log=name == "poisson_log")
    mask = mask if use_mask else None
    loss = LOSSES[name](pred, x, mask=mask)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.isfinite(grad).all()

    valid = _valid(x, mask)
    psth = x.nanmean(dim=2, keepdim=True)
    other = pred.detach().clone().requires_grad_(True)
    expected = _reference(name.split("_")[0], other[valid], psth[valid], log_input=name == "poisson_log")
    (expected_grad,) = torch.autograd.grad(expected, other)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(grad, expected_grad)
    assert (grad[~valid.expand_as(grad)] == 0).all()


@pytest.mark.parametrize("name", list(LOSSES))
def test_reductions(data, name):
    pred, x, _ = _inputs(data, log=name == "poisson_log")
    log_input = name == "poisson_log"
    valid = _valid(x, None)
    psth = x.nanmean(dim=2, keepdim=True).numpy()
    p = pred.detach().numpy()
    if name == "mse":
        elementwise = (p - psth) ** 2
    elif log_input:
        elementwise = np.exp(p) - psth * p
    else:
        elementwise = p - psth * np.log(p + 1e-8)
    elementwise = np.where(valid.numpy(), elementwise, np.nan)
    per_neuron = np.nanmean(elementwise, axis=(0, 2, 3))
    fn = LOSSES[name]
    np.testing.assert_allclose(fn(pred, x, reduction="none").detach().numpy(), per_neuron, rtol=1e-10)
    assert fn(pred, x, reduction="sum").item() == pytest.approx(np.nansum(elementwise))
    assert fn(pred, x, reduction="mean").item() == pytest.approx(np.nanmean(elementwise))
    assert fn(pred, x, reduction="median").item() == pytest.approx(np.median(per_neuron))


def test_garbage_predictions_outside_valid_positions_do_not_leak(data):
    pred, x, _ = _inputs(data)
    valid = _valid(x, None).expand_as(pred)
    bad = pred.detach().clone()
    bad[~valid] = float("nan")
    bad[~valid & (torch.arange(bad.shape[-1]) % 2 == 0)] = -float("inf")
    for name, fn in LOSSES.items():
        reference = fn(pred.detach(), x)
        probe = bad.clone().requires_grad_(True)
        loss = fn(probe, x)
        loss.backward()
        torch.testing.assert_close(loss, reference, msg=name)
        assert torch.isfinite(probe.grad).all() and (probe.grad[~valid] == 0).all()


def test_neurons_or_batches_without_targets():
    pred = torch.ones(2, 3, 1, 4, dtype=torch.float64, requires_grad=True)
    target = torch.full((2, 3, 2, 4), float("nan"), dtype=torch.float64)
    target[:, 0] = 1.0
    for fn in (mse_loss, poisson_loss):
        per_neuron = fn(pred, target, reduction="none")
        assert torch.isfinite(per_neuron[0]) and torch.isnan(per_neuron[1:]).all()
        per_neuron.nanmean().backward()
        assert torch.isfinite(pred.grad).all()
        pred.grad = None
    empty = torch.full_like(target, float("nan"))
    loss = mse_loss(pred, empty)
    loss.backward()
    assert torch.isnan(loss) and torch.isfinite(pred.grad).all() and (pred.grad == 0).all()
    assert mse_loss(pred, empty, reduction="sum").item() == 0.0


def test_gradcheck():
    gen = torch.Generator().manual_seed(0)
    pred = (torch.rand(2, 2, 1, 5, generator=gen, dtype=torch.float64) + 0.5).requires_grad_(True)
    target = torch.poisson(torch.full((2, 2, 3, 5), 2.0, dtype=torch.float64), generator=gen)
    target[0, 1, :, 2:] = float("nan")
    torch.autograd.gradcheck(lambda p: mse_loss(p, target), (pred,))
    torch.autograd.gradcheck(lambda p: poisson_loss(p, target), (pred,))
    torch.autograd.gradcheck(lambda p: poisson_loss(p, target, log_input=True, reduction="none"), (pred,))


def test_float32_and_psth_targets(data):
    pred, x, _ = _inputs(data)
    psth = x.nanmean(dim=2, keepdim=True)
    torch.testing.assert_close(mse_loss(pred, psth), mse_loss(pred, x))
    out = poisson_loss(pred.detach().float(), x.float())
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(poisson_loss(pred.detach(), x).item(), rel=1e-5)


def test_errors():
    pred, target = torch.ones(1, 2, 1, 3), torch.ones(1, 2, 2, 3)
    with pytest.raises(ValueError, match="`eps` must be >= 0, got -1"):
        poisson_loss(pred, target, eps=-1)
    with pytest.raises(TypeError, match="`log_input` must be a bool, got str"):
        poisson_loss(pred, target, log_input="yes")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        mse_loss(pred, target, reduction="batchmean")
    with pytest.raises(ValueError, match=r"`target` must have shape \(B, N, R, T\)"):
        mse_loss(pred, torch.ones(1, 3, 2, 3))
    with pytest.raises(ValueError, match=r"`pred` must have shape \(B, N, 1, T\)"):
        poisson_loss(target, target)
    with pytest.raises(TypeError, match="`mask` must be a bool tensor"):
        mse_loss(pred, target, mask=torch.ones(1, 2, 1, 3))


def test_published_positional_order_and_default_reductions():
    """deepSTRF 0.1.0's order: poisson_loss(pred, target, mask, reduction, log_input); metrics reduce to the mean."""
    from deepSTRF import metrics

    gen = torch.Generator().manual_seed(3)
    pred = torch.rand(2, 3, 1, 30, generator=gen) + 0.1
    target = torch.poisson(pred.expand(2, 3, 4, 30), generator=gen)
    mask = torch.rand(2, 3, 1, 30, generator=gen) > 0.2
    assert torch.equal(
        poisson_loss(pred.log(), target, mask, "none", True),
        poisson_loss(pred.log(), target, mask=mask, reduction="none", log_input=True),
    )
    for name in ("corrcoef", "fve", "normalized_corrcoef", "feve"):
        fn = getattr(metrics, name)
        per_neuron = fn(pred, target, reduction="none")
        torch.testing.assert_close(fn(pred, target), per_neuron.nanmean())
    for name in ("signal_power", "noise_power", "snr", "explainable_variance", "cc_max"):
        fn = getattr(metrics, name)
        torch.testing.assert_close(fn(target), fn(target, reduction="none").nanmean())
