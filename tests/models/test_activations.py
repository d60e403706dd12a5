import numpy as np
import pytest
import torch

from deepSTRF.models.activations import ParametricDoubleExponential, ParametricSigmoid, ParametricSoftplus
from deepSTRF.models.configurable import decode_value, encode_value
from deepSTRF.testing import assert_gradcheck


def softplus(v):
    return np.logaddexp(0.0, v)


def raw(module, name):
    return getattr(module, name).detach().numpy().astype(np.float64)


def numpy_sigmoid(m, x):
    b = softplus(raw(m, "raw_b")) if m.non_negative_output else raw(m, "raw_b")
    out = b / (1.0 + np.exp(-(x - raw(m, "c")) / raw(m, "d")))
    if m.bias:
        out = out + (softplus(raw(m, "raw_a")) if m.non_negative_output else raw(m, "raw_a"))
    return out


def numpy_double_exponential(m, x):
    a = softplus(raw(m, "raw_a")) if m.non_negative_output else raw(m, "raw_a")
    out = a * np.exp(-np.exp(raw(m, "k") * x - raw(m, "s")))
    if m.bias:
        out = out + (softplus(raw(m, "raw_b")) if m.non_negative_output else raw(m, "raw_b"))
    return out


def numpy_softplus(m, x):
    beta = softplus(raw(m, "raw_beta"))
    b = softplus(raw(m, "raw_b")) if m.non_negative_output else raw(m, "raw_b")
    return softplus(beta * x) / beta + b


CASES = [
    (ParametricSigmoid, {"bias": True}, numpy_sigmoid),
    (ParametricSigmoid, {"bias": False}, numpy_sigmoid),
    (ParametricDoubleExponential, {"bias": True}, numpy_double_exponential),
    (ParametricDoubleExponential, {"bias": False}, numpy_double_exponential),
    (ParametricSoftplus, {}, numpy_softplus),
]
IDS = ["sigmoid", "sigmoid-nobias", "doubleexp", "doubleexp-nobias", "softplus"]


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES, ids=IDS)
@pytest.mark.parametrize("non_negative", [True, False])
def test_activation_matches_numpy_formula(cls, kwargs, reference, non_negative):
    act = cls(5, non_negative_output=non_negative, **kwargs).double()
    x = torch.randn(3, 7, 5, dtype=torch.float64) * 3
    out = act(x)
    assert out.shape == x.shape and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), reference(act, x.numpy()), rtol=1e-10, atol=1e-12)
    if non_negative:
        assert bool((act(torch.linspace(-50, 50, 200, dtype=torch.float64).unsqueeze(-1).expand(200, 5)) >= 0).all())


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES, ids=IDS)
def test_activation_gradcheck(cls, kwargs, reference):
    act = cls(3, **kwargs).double()
    assert_gradcheck(act, [torch.randn(4, 3)])


SIGMOID_RANGES = {
    True: {"c": (-0.5, 0.5), "d": (0.5, 1.5), "raw_b": (-0.43, 1.40), "raw_a": (-1.43, 0.43)},
    False: {"c": (-0.5, 0.5), "d": (0.5, 1.5), "raw_b": (0.5, 1.5), "raw_a": (0.0, 1.0)},
}
DOUBLE_EXP_RANGES = {
    True: {"k": (-0.5, 0.5), "s": (0.5, 1.5), "raw_a": (-0.43, 1.40), "raw_b": (-1.43, 0.43)},
    False: {"k": (-0.5, 0.5), "s": (0.5, 1.5), "raw_a": (0.5, 1.5), "raw_b": (0.0, 1.0)},
}
SOFTPLUS_RANGES = {
    True: {"raw_beta": (5.0, 6.0), "raw_b": (-5.0, -3.0)},
    False: {"raw_beta": (5.0, 6.0), "raw_b": (-0.1, 0.1)},
}


@pytest.mark.parametrize(
    ("cls", "ranges"),
    [
        (ParametricSigmoid, SIGMOID_RANGES),
        (ParametricDoubleExponential, DOUBLE_EXP_RANGES),
        (ParametricSoftplus, SOFTPLUS_RANGES),
    ],
)
@pytest.mark.parametrize("non_negative", [True, False])
def test_initialisation_ranges(cls, ranges, non_negative):
    act = cls(4000, non_negative_output=non_negative)
    expected = ranges[non_negative]
    assert {name for name, _ in act.named_parameters()} == set(expected)
    for name, (low, high) in expected.items():
        values = getattr(act, name).detach()
        width = high - low
        assert low <= values.min() < low + 0.01 * width, name
        assert high - 0.01 * width < values.max() <= high, name
        assert abs(float(values.mean()) - (low + high) / 2) < 0.03 * width, name


def test_reparameterised_properties():
    sig = ParametricSigmoid(3)
    torch.testing.assert_close(sig.b, torch.nn.functional.softplus(sig.raw_b))
    torch.testing.assert_close(sig.a, torch.nn.functional.softplus(sig.raw_a))
    assert ParametricSigmoid(3, bias=False).a is None
    signed = ParametricSigmoid(3, non_negative_output=False)
    assert signed.b is signed.raw_b
    dexp = ParametricDoubleExponential(3, bias=False)
    assert dexp.b is None and not hasattr(dexp, "raw_b")
    torch.testing.assert_close(dexp.a, torch.nn.functional.softplus(dexp.raw_a))
    soft = ParametricSoftplus(3, non_negative_output=False)
    assert bool((soft.beta > 0).all()) and soft.b is soft.raw_b
    torch.testing.assert_close(soft.beta, torch.nn.functional.softplus(soft.raw_beta))


def test_softplus_starts_near_a_rectifier():
    act = ParametricSoftplus(100)
    zero = act(torch.zeros(1, 100))
    assert bool((zero > 0.1).all() and (zero < 0.2).all())


@pytest.mark.parametrize("cls", [ParametricSigmoid, ParametricDoubleExponential, ParametricSoftplus])
def test_activation_config_round_trip(cls):
    act = cls(4, non_negative_output=False)
    rebuilt = decode_value(encode_value(act))
    assert type(rebuilt) is cls and rebuilt.init_config == act.init_config
    rebuilt.load_state_dict(act.state_dict())
    x = torch.randn(2, 4)
    assert torch.equal(rebuilt(x), act(x))


@pytest.mark.parametrize("cls", [ParametricSigmoid, ParametricDoubleExponential, ParametricSoftplus])
def test_activation_errors(cls):
    with pytest.raises(ValueError, match=r"`num_features` must be an int >= 1, got 0"):
        cls(0)
    with pytest.raises(TypeError, match=r"`non_negative_output` must be a bool"):
        cls(2, non_negative_output="yes")
    act = cls(3)
    with pytest.raises(ValueError, match=r"neuron axis \(N=3\) last, got shape \(2, 3, 5\)"):
        act(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"neuron axis \(N=3\) last, got shape \(\)"):
        act(torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"`x` must be a torch.Tensor"):
        act(np.zeros((2, 3)))


@pytest.mark.parametrize("cls", [ParametricSigmoid, ParametricDoubleExponential])
def test_bias_flag_is_checked(cls):
    with pytest.raises(TypeError, match=r"`bias` must be a bool"):
        cls(2, bias=1)


def test_softplus_prescaled_overwrites_only_where_no_gradient_flows():
    act = ParametricSoftplus(3)
    z = torch.randn(2, 3, 7) * 4
    expected = act.forward_prescaled(z.clone(), dim=1)
    # default: a new tensor, z unchanged
    kept = z.clone()
    assert torch.equal(act.forward_prescaled(kept, dim=1), expected) and torch.equal(kept, z)
    # overwrite with parameters that need gradients and grad mode on: ignored, gradients flow
    out = act.forward_prescaled(kept, dim=1, overwrite=True)
    assert out.requires_grad and torch.equal(kept, z) and torch.equal(out.detach(), expected)
    # overwrite without autograd: the result is written into z, bit for bit the same
    with torch.no_grad():
        written = act.forward_prescaled(kept, dim=1, overwrite=True)
    assert written.data_ptr() == kept.data_ptr() and torch.equal(written, expected)
    # a z that needs a gradient is never overwritten
    leaf = z.clone().requires_grad_()
    assert act.forward_prescaled(leaf, dim=1, overwrite=True).data_ptr() != leaf.data_ptr()
    assert torch.equal(leaf.detach(), z)
