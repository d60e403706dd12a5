import numpy as np
import pytest
import torch

from deepSTRF.models.wav2spec import PCEN
from deepSTRF.testing import assert_causal


def pcen_reference(energy, alpha, delta, r, s, eps):
    """Direct frame-by-frame recursion in float64 NumPy; parameters are per channel (F,)."""
    out = np.empty_like(energy)
    smooth = energy[..., 0].copy()
    for t in range(energy.shape[-1]):
        smooth = (1 - s) * smooth + s * energy[..., t]
        gain = (eps + smooth) ** -alpha
        out[..., t] = (energy[..., t] * gain + delta) ** r - delta**r
    return out


def test_matches_the_direct_recursion_with_per_channel_parameters():
    pcen = PCEN(3, eps=1e-6).double()
    params = {
        "alpha": [0.5, 0.9, 1.0],
        "delta": [0.0, 1.0, 2.0],
        "r": [0.25, 0.5, 1.0],
        "smooth_coef": [0.02, 0.3, 1.0],
    }
    with torch.no_grad():
        for name, values in params.items():
            getattr(pcen, name).copy_(torch.tensor(values, dtype=torch.float64))
    energy = np.random.default_rng(0).exponential(size=(2, 1, 3, 150))
    expected = pcen_reference(energy, *(np.array(params[k]) for k in ("alpha", "delta", "r", "smooth_coef")), eps=1e-6)
    got = pcen(torch.from_numpy(energy)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_chunk_length_is_only_a_speed_setting():
    energy = torch.rand(2, 4, 100, dtype=torch.float64)
    ref = PCEN(4, chunk=1).double()(energy)
    for chunk in (3, 32, 500):
        torch.testing.assert_close(PCEN(4, chunk=chunk).double()(energy), ref, rtol=1e-12, atol=1e-12)


def test_causal_and_differentiable():
    pcen = PCEN(3)
    energy = torch.rand(1, 3, 40)
    assert_causal(pcen, energy, t0=17)
    pcen = pcen.double()
    inputs = ((torch.rand(1, 3, 12, dtype=torch.float64) + 0.1).requires_grad_(),)
    torch.autograd.gradcheck(pcen, inputs)
    # gradients reach every parameter, and the parameters are per channel
    pcen(torch.rand(2, 3, 30, dtype=torch.float64)).sum().backward()
    for name in ("alpha", "delta", "r", "smooth_coef"):
        grad = getattr(pcen, name).grad
        assert grad.shape == (3,) and bool((grad != 0).all()), name


def test_parameter_gradcheck():
    pcen = PCEN(2).double()
    energy = torch.rand(1, 2, 20, dtype=torch.float64)

    names = ("alpha", "delta", "r", "smooth_coef")

    def run(*values):
        return torch.func.functional_call(pcen, dict(zip(names, values)), (energy,))

    start = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for v in ([0.8, 0.9], [1.5, 2.0], [0.4, 0.6], [0.1, 0.3])
    ]
    torch.autograd.gradcheck(run, start)


def test_not_learnable():
    assert all(not p.requires_grad for p in PCEN(2, learnable=False).parameters())


def test_errors():
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\], got 1.5"):
        PCEN(2, alpha=1.5)
    with pytest.raises(ValueError, match=r"`smooth_coef` must be > 0, got 0"):
        PCEN(2, smooth_coef=0)
    with pytest.raises(ValueError, match=r"`energy` must be \(\.\.\., F=2, T\), got shape \(1, 3, 10\)"):
        PCEN(2)(torch.rand(1, 3, 10))
    with pytest.raises(TypeError, match="floating-point"):
        PCEN(2)(torch.ones(1, 2, 10, dtype=torch.long))
