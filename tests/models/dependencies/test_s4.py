import math

import numpy as np
import pytest
import torch

from deepSTRF.models.dependencies.s4 import S4Block
from deepSTRF.testing import assert_causal, assert_gradcheck


def _parameters(block):
    """Continuous-time parameters as complex NumPy arrays: A (H, q), C (H, q), dt (H,), D (H,)."""
    A = -np.exp(block.log_A_real.detach().numpy()) + 1j * block.A_imag.detach().numpy()
    C = block.C.detach().numpy()[..., 0] + 1j * block.C.detach().numpy()[..., 1]
    return A, C, np.exp(block.log_dt.detach().numpy()), block.D.detach().numpy()


def _recurrence(block, u):
    """Step-by-step zero-order-hold recurrence in complex128: x_t = Ā x_{t-1} + B̄ u_t, y_t = 2 Re(C x_t)."""
    A, C, dt, _ = _parameters(block)
    A_bar = np.exp(dt[:, None] * A)
    B_bar = (A_bar - 1.0) / A
    state = np.zeros(u.shape[:2] + A.shape[1:], dtype=complex)
    out = []
    for t in range(u.shape[-1]):
        state = A_bar * state + B_bar * u[..., t, None]
        out.append(2 * (C * state).sum(-1).real)
    return np.stack(out, -1)


@pytest.mark.parametrize("length", [1, 7, 31, 32, 33, 64, 150])
def test_convolution_matches_the_recurrence(length):
    torch.manual_seed(0)
    block = S4Block(d_model=5, d_state=8, dt_min=0.01, dt_max=0.5).double()
    u = torch.randn(3, 5, length, dtype=torch.float64)
    expected = _recurrence(block, u.numpy())
    np.testing.assert_allclose(block.convolve(u).detach().numpy(), expected, rtol=1e-9, atol=1e-11)


def test_kernel_is_the_impulse_response():
    block = S4Block(d_model=4, d_state=6, dt_min=0.05, dt_max=0.5).double()
    impulse = torch.zeros(1, 4, 40, dtype=torch.float64)
    impulse[..., 0] = 1.0
    expected = _recurrence(block, impulse.numpy())[0]
    np.testing.assert_allclose(block.kernel(40).detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    A, C, dt, _ = _parameters(block)
    k0 = 2 * (C * (np.exp(dt[:, None] * A) - 1.0) / A).sum(-1).real  # lag 0: 2 Re(C B̄)
    np.testing.assert_allclose(block.kernel(1)[:, 0].detach().numpy(), k0, rtol=1e-12)


def test_s4d_lin_initialisation():
    block = S4Block(d_model=3, d_state=8, dt_min=0.001, dt_max=0.1)
    A, _, dt, _ = _parameters(block)
    np.testing.assert_allclose(A.real, -0.5, rtol=1e-6)
    np.testing.assert_allclose(A.imag, np.tile(math.pi * np.arange(4), (3, 1)), rtol=1e-6)
    assert ((dt >= 0.001 - 1e-9) & (dt <= 0.1 + 1e-9)).all()


def test_full_block_output():
    """y = GLU(Linear(GELU(conv(u) + D u))), in both layouts."""
    block = S4Block(d_model=4, d_state=6).double()
    x = torch.randn(2, 30, 4, dtype=torch.float64)
    y, state = block(x)
    assert y.shape == (2, 30, 4) and state is None
    u = x.transpose(1, 2)
    inner = torch.nn.functional.gelu(block.convolve(u) + block.D[:, None] * u).transpose(1, 2)
    proj = block.output[0](inner)
    expected = proj[..., :4] * torch.sigmoid(proj[..., 4:])
    torch.testing.assert_close(y, expected)
    block.transposed = True
    y_t, _ = block(u)
    torch.testing.assert_close(y_t, expected.transpose(1, 2))


def test_causal_and_differentiable():
    block = S4Block(d_model=3, d_state=4, dt_min=0.05, dt_max=0.5).double()
    assert_causal(lambda x: block(x.transpose(1, 2))[0].transpose(1, 2), torch.randn(2, 3, 70), t0=40)
    assert_gradcheck(lambda x: block(x)[0], [torch.randn(1, 40, 3)])
    block(torch.randn(2, 40, 3, dtype=torch.float64))[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_invalid_arguments():
    with pytest.raises(ValueError, match="even"):
        S4Block(4, d_state=5)
    with pytest.raises(ValueError, match="dt_min"):
        S4Block(4, dt_min=0.5, dt_max=0.1)
    with pytest.raises(ValueError, match="dropout"):
        S4Block(4, dropout=1.0)
    with pytest.raises(ValueError, match="d_model"):
        S4Block(0)
    with pytest.raises(ValueError, match=r"\(B, T, H\) with H=4.*\(2, 4, 10\)"):
        S4Block(4)(torch.randn(2, 4, 10))
