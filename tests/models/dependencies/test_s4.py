import math

import numpy as np
import pytest
import torch

from deepSTRF.models.audio import StateNet
from deepSTRF.models.dependencies.s4 import S4Block, hippo_legs_dplr
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.testing import assert_causal, assert_gradcheck, assert_roundtrip


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
    block = S4Block(d_model=5, d_state=8, dt_min=0.01, dt_max=0.5, mode="diag").double()
    u = torch.randn(3, 5, length, dtype=torch.float64)
    expected = _recurrence(block, u.numpy())
    np.testing.assert_allclose(block.convolve(u).detach().numpy(), expected, rtol=1e-9, atol=1e-11)


def test_kernel_is_the_impulse_response():
    block = S4Block(d_model=4, d_state=6, dt_min=0.05, dt_max=0.5, mode="diag").double()
    impulse = torch.zeros(1, 4, 40, dtype=torch.float64)
    impulse[..., 0] = 1.0
    expected = _recurrence(block, impulse.numpy())[0]
    np.testing.assert_allclose(block.kernel(40).detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    A, C, dt, _ = _parameters(block)
    k0 = 2 * (C * (np.exp(dt[:, None] * A) - 1.0) / A).sum(-1).real  # lag 0: 2 Re(C B̄)
    np.testing.assert_allclose(block.kernel(1)[:, 0].detach().numpy(), k0, rtol=1e-12)


def test_s4d_lin_initialisation():
    block = S4Block(d_model=3, d_state=8, dt_min=0.001, dt_max=0.1, mode="diag")
    A, _, dt, _ = _parameters(block)
    np.testing.assert_allclose(A.real, -0.5, rtol=1e-6)
    np.testing.assert_allclose(A.imag, np.tile(math.pi * np.arange(4), (3, 1)), rtol=1e-6)
    assert ((dt >= 0.001 - 1e-9) & (dt <= 0.1 + 1e-9)).all()


@pytest.mark.parametrize("mode", ["dplr", "diag"])
def test_full_block_output(mode):
    """y = GLU(Linear(GELU(conv(u) + D u))), in both layouts."""
    block = S4Block(d_model=4, d_state=6, mode=mode).double()
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


@pytest.mark.parametrize("mode", ["dplr", "diag"])
def test_causal_and_differentiable(mode):
    block = S4Block(d_model=3, d_state=4, dt_min=0.05, dt_max=0.5, mode=mode).double()
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
    with pytest.raises(ValueError, match=r"mode.*'dplr', 'diag'.*'s4d'"):
        S4Block(4, mode="s4d")
    with pytest.raises(ValueError, match=r"\(B, T, H\) with H=4.*\(2, 4, 10\)"):
        S4Block(4)(torch.randn(2, 4, 10))


# --- mode="dplr" (S4) -------------------------------------------------------------------------


def _dplr_system(block):
    """Bilinear discretisation of the DPLR system in complex128 NumPy, on the full state.

    Returns Ā (H, N, N), B̄ (H, N) and C (H, N), with A = diag(Λ) - p p^*, both members of each
    conjugate pair written out, Ā = (I - dt/2 A)^{-1} (I + dt/2 A) and B̄ = (I - dt/2 A)^{-1} dt B.
    """

    def full(x):
        return np.concatenate([x, x.conj()], axis=-1)

    def cplx(t):
        t = t.detach().numpy()
        return t[..., 0] + 1j * t[..., 1]

    lam = full(-np.exp(block.log_A_real.detach().numpy()) - 1j * block.A_imag.detach().numpy())
    p, b, c = full(cplx(block.P)), full(cplx(block.B)), full(cplx(block.C))
    dt = np.exp(block.log_dt.detach().numpy())
    eye = np.eye(lam.shape[-1])
    a_bar, b_bar = [], []
    for h in range(lam.shape[0]):
        a = np.diag(lam[h]) - np.outer(p[h], p[h].conj())
        left = np.linalg.inv(eye - dt[h] / 2 * a)
        a_bar.append(left @ (eye + dt[h] / 2 * a))
        b_bar.append(left @ (dt[h] * b[h]))
    return np.stack(a_bar), np.stack(b_bar), c


def _dplr_recurrence(block, u):
    """x_t = Ā x_{t-1} + B̄ u_t, y_t = C x_t (real), step by step in complex128."""
    a_bar, b_bar, c = _dplr_system(block)
    state = np.zeros(u.shape[:2] + b_bar.shape[-1:], dtype=complex)
    out = []
    for t in range(u.shape[-1]):
        state = np.einsum("hmn,bhn->bhm", a_bar, state) + b_bar * u[..., t, None]
        out.append((c * state).sum(-1))
    out = np.stack(out, -1)
    assert np.abs(out.imag).max() < 1e-9 * max(1.0, np.abs(out.real).max())
    return out.real


def _perturbed_dplr(d_model=3, d_state=8, seed=0):
    torch.manual_seed(seed)
    block = S4Block(d_model=d_model, d_state=d_state, dt_min=0.01, dt_max=0.5).double()
    with torch.no_grad():
        for name in ("log_A_real", "A_imag", "B", "P"):  # off the HiPPO values, so nothing relies on them
            getattr(block, name).add_(0.1 * torch.randn_like(getattr(block, name)))
    return block


@pytest.mark.parametrize("length", [1, 2, 7, 24, 33, 64])
def test_dplr_kernel_is_the_bilinear_recurrence_impulse_response(length):
    block = _perturbed_dplr()
    impulse = np.zeros((1, 3, length))
    impulse[..., 0] = 1.0
    expected = _dplr_recurrence(block, impulse)[0]
    np.testing.assert_allclose(block.kernel(length).detach().numpy(), expected, rtol=1e-9, atol=1e-10)


def test_dplr_convolution_matches_the_recurrence():
    block = _perturbed_dplr(seed=1)
    u = torch.randn(2, 3, 45, dtype=torch.float64)
    expected = _dplr_recurrence(block, u.numpy())
    np.testing.assert_allclose(block.convolve(u).detach().numpy(), expected, rtol=1e-9, atol=1e-10)


def test_dplr_kernel_prefix_does_not_depend_on_the_length():
    block = _perturbed_dplr(seed=2)
    np.testing.assert_allclose(block.kernel(20).detach().numpy(), block.kernel(57)[:, :20].detach().numpy(), atol=1e-11)


def test_hippo_legs_dplr_is_unitarily_equivalent_to_legs():
    """Λ - p p^* on the full state has the unitary invariants of the LegS matrix.

    (Its eigenvalues, -1, ..., -N, are too ill-conditioned to compare in float32: LegS is far from normal.)
    """
    n = 16
    lam, p, b = hippo_legs_dplr(n)
    lam = np.concatenate([lam.numpy(), lam.numpy().conj()]).astype(complex)
    p = np.concatenate([p.numpy(), p.numpy().conj()]).astype(complex)
    m = np.diag(lam) - np.outer(p, p.conj())
    k = np.arange(n)
    legs = -np.sqrt(np.outer(2 * k + 1, 2 * k + 1)) * (k[:, None] > k[None, :]) - np.diag(k + 1.0)
    for power in (1, 2, 3):
        ours, theirs = np.linalg.matrix_power(m, power), np.linalg.matrix_power(legs, power)
        np.testing.assert_allclose(np.trace(ours), np.trace(theirs), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(m), np.linalg.norm(legs), rtol=1e-5)
    hermitian, symmetric = np.linalg.eigvalsh(m + m.conj().T), np.linalg.eigvalsh(legs + legs.T)
    np.testing.assert_allclose(hermitian, symmetric, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lam.real, -0.5, rtol=1e-6)
    assert (lam.imag[: n // 2] < 0).all() and np.abs(b.imag.numpy()).max() <= 2.0


def test_dplr_initialisation():
    block = S4Block(d_model=3, d_state=8, dt_min=0.001, dt_max=0.1)
    lam, p, b = hippo_legs_dplr(8)
    torch.testing.assert_close(block.A_imag, (-lam.imag).clamp(min=1e-4).expand(3, 4))
    torch.testing.assert_close(torch.view_as_complex(block.P), p.expand(3, 4))
    torch.testing.assert_close(torch.view_as_complex(block.B), b.expand(3, 4))
    dt = block.log_dt.exp()
    assert ((dt >= 0.001 - 1e-9) & (dt <= 0.1 + 1e-9)).all()


def test_dplr_gradients_on_a_tiny_case():
    """Gradients with respect to the input and to every kernel parameter agree with finite differences."""
    block = _perturbed_dplr(d_model=2, d_state=4, seed=3)
    x = torch.randn(1, 9, 2, dtype=torch.float64)
    assert_gradcheck(lambda x: block(x)[0], [x])
    names = ["log_dt", "log_A_real", "A_imag", "B", "P", "C"]

    def output(*values):
        return torch.func.functional_call(block, dict(zip(names, values)), (x,), strict=False)[0]

    assert_gradcheck(output, [getattr(block, n).detach() for n in names])


@pytest.mark.parametrize(("rnn_type", "mode"), [("S4", "dplr"), ("S4D", "diag")])
def test_statenet_checkpoint_round_trip(rnn_type, mode):
    model = StateNet(10, kernel_size=4, stride=3, hidden_channels=2, rnn_type=rnn_type, out_neurons=2)
    assert model.rnn.mode == mode
    loaded = assert_roundtrip(model, torch.rand(2, 1, 10, 30))
    assert isinstance(loaded, NeuralModel) and loaded.rnn.mode == mode


@pytest.mark.parametrize("rnn_type", ["S4", "S4D"])
def test_statenet_is_causal(rnn_type):
    model = StateNet(10, kernel_size=4, stride=3, hidden_channels=2, rnn_type=rnn_type, out_neurons=2)
    assert_causal(model, torch.rand(2, 1, 10, 50), t0=31)
    assert_causal(model, torch.rand(2, 1, 10, 150), t0=97, dtype=None)  # float32, several chunks
