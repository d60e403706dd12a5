import math

import numpy as np
import pytest
import torch

from deepSTRF.models import scales

FREQS = np.array([20.0, 100.0, 440.0, 1000.0, 4000.0, 16000.0, 60000.0])


@pytest.mark.parametrize(
    ("forward", "inverse", "reference"),
    [
        (scales.Hz_to_mel, scales.mel_to_Hz, lambda f: 2595.0 * np.log10(1.0 + f / 700.0)),
        (scales.Hz_to_ERB, scales.ERB_to_Hz, lambda f: 21.4 * np.log10(0.00437 * f + 1.0)),
    ],
)
def test_warps_match_their_formulas_and_invert(forward, inverse, reference):
    expected = reference(FREQS)
    got = forward(torch.tensor(FREQS, dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    back = inverse(got)
    np.testing.assert_allclose(back.numpy(), FREQS, rtol=1e-10)
    # Python floats in, Python floats out, same values.
    for f, e in zip(FREQS, expected):
        value = forward(float(f))
        assert isinstance(value, float)
        assert math.isclose(value, e, rel_tol=1e-12)
        assert math.isclose(inverse(value), f, rel_tol=1e-10)


def test_mel_and_erb_anchor_points():
    # HTK mel puts 1000 Hz close to 1000 mel; the ERB-rate of 1 kHz is about 15.6 Cams.
    assert abs(scales.Hz_to_mel(1000.0) - 1000.0) < 0.05
    assert abs(scales.Hz_to_ERB(1000.0) - 15.62) < 0.01
    assert scales.Hz_to_mel(0.0) == 0.0 and scales.Hz_to_ERB(0.0) == 0.0


def test_erb_bandwidth():
    expected = 24.7 * (0.00437 * FREQS + 1.0)
    got = scales.ERB_bandwidth(torch.tensor(FREQS))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert math.isclose(scales.ERB_bandwidth(1000), 132.639, rel_tol=1e-6)


@pytest.mark.parametrize(("animal", "A", "a", "k"), [("human", 165.4, 2.1, 0.88), ("mouse", 9800.0, 0.92, 0.680)])
def test_greenwood_formula_and_inverse(animal, A, a, k):
    x = np.linspace(0.0, 1.0, 11)
    expected = A * (10.0 ** (a * x) - k)
    got = scales.Greenwood(torch.tensor(x), animal=animal)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    assert np.all(np.diff(got.numpy()) > 0)
    np.testing.assert_allclose(scales.inverse_Greenwood(got, animal=animal).numpy(), x, atol=1e-12)
    assert math.isclose(scales.Greenwood(0.3, animal), A * (10 ** (0.3 * a) - k), rel_tol=1e-12)


def test_greenwood_ranges_are_plausible():
    # Human hearing spans roughly 20 Hz - 20 kHz; the mouse map about 3 - 75 kHz.
    assert 19 < scales.Greenwood(0.0) < 21 and 20_000 < scales.Greenwood(1.0) < 21_000
    assert 3_000 < scales.Greenwood(0.0, "mouse") < 3_300 and 74_000 < scales.Greenwood(1.0, "mouse") < 76_000


def test_tensor_dtype_and_shape_are_kept():
    f = torch.rand(3, 4, dtype=torch.float32) * 8000
    for fn in (scales.Hz_to_mel, scales.Hz_to_ERB, scales.ERB_bandwidth, scales.inverse_Greenwood):
        out = fn(f)
        assert out.shape == f.shape and out.dtype == torch.float32


def test_differentiable():
    f = torch.tensor([500.0, 2000.0], dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(scales.Hz_to_mel, (f,))
    torch.autograd.gradcheck(lambda v: scales.Greenwood(v / 4000.0), (f,))


@pytest.mark.parametrize("fn", [scales.Greenwood, scales.inverse_Greenwood])
def test_unknown_animal_names_the_choices(fn):
    with pytest.raises(ValueError, match=r"`animal` must be one of \['human', 'mouse'\], got 'cat'"):
        fn(0.5, animal="cat")


@pytest.mark.parametrize(
    "fn", [scales.Hz_to_mel, scales.mel_to_Hz, scales.Hz_to_ERB, scales.ERB_to_Hz, scales.ERB_bandwidth]
)
def test_non_numeric_input_is_rejected(fn):
    with pytest.raises(TypeError, match=r"must be a real number or a torch\.Tensor, got str"):
        fn("1000")
