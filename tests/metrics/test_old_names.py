"""The metrics and losses that deepSTRF 0.1.0 called with ``gt=`` still take it, with a DeprecationWarning."""

import pytest
import torch

from deepSTRF.metrics import coherence, corrcoef, fve, mse_loss, poisson_loss

FUNCTIONS = [mse_loss, poisson_loss, corrcoef, fve, coherence]


def _data():
    generator = torch.Generator().manual_seed(3)
    pred = torch.rand(2, 3, 1, 64, generator=generator) + 0.1
    target = torch.poisson(torch.rand(2, 3, 4, 64, generator=generator) * 2, generator=generator)
    return pred, target


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_gt_warns_and_acts_as_target(function):
    pred, target = _data()
    extra = {"nperseg": 16} if function is coherence else {}
    expected = function(pred, target=target, **extra)
    with pytest.warns(DeprecationWarning, match=rf"{function.__name__}\(\): `gt` is deprecated, use `target`"):
        got = function(pred, gt=target, **extra)
    for a, b in zip(
        got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_gt_and_target_together_is_an_error(function):
    pred, target = _data()
    with pytest.raises(TypeError, match=r"both `gt` \(deprecated\) and `target`"):
        function(pred, gt=target, target=target)
