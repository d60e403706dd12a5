import numpy as np
import pytest
import scipy.linalg
import torch

from deepSTRF.models.dependencies.lmu import LMU, LMUFFT, legendre_delay_system, linear_memory
from deepSTRF.testing import assert_causal, assert_gradcheck


def _legendre_numpy(d, theta):
    """The Legendre delay network written entry by entry (Voelker et al. 2019, eq. 2)."""
    A = np.zeros((d, d))
    B = np.zeros((d, 1))
    for i in range(d):
        B[i, 0] = (2 * i + 1) * (-1) ** i / theta
        for j in range(d):
            A[i, j] = (2 * i + 1) / theta * (-1 if i < j else (-1) ** (i - j + 1))
    return A, B


def _sequential(lmu, x):
    """Step-by-step float64 reference: m_t = A m_{t-1} + B u_t, h_t = tanh(W_ih [x_t, m_t] + W_hh h_{t-1})."""
    A, B = lmu.A_bar.detach().numpy(), lmu.B_bar.detach().numpy()
    e = lmu.encoder.detach().numpy()
    w_ih, w_hh = lmu.cell.weight_ih_l0.detach().numpy(), lmu.cell.weight_hh_l0.detach().numpy()
    x = x.numpy()
    m = np.zeros((x.shape[0], lmu.memory_size))
    h = np.zeros((x.shape[0], lmu.hidden_size))
    memories, hiddens = [], []
    for t in range(x.shape[1]):
        m = m @ A.T + (x[:, t] @ e)[:, None] * B[None, :]
        h = np.tanh(np.concatenate([x[:, t], m], axis=1) @ w_ih.T + h @ w_hh.T)
        memories.append(m)
        hiddens.append(h)
    return np.stack(memories, 1), np.stack(hiddens, 1)


def test_continuous_system():
    A, B = legendre_delay_system(6, theta=7.5)
    A_ref, B_ref = _legendre_numpy(6, 7.5)
    np.testing.assert_allclose(A.numpy(), A_ref, rtol=0, atol=1e-15)
    np.testing.assert_allclose(B.numpy(), B_ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize(("d", "theta"), [(4, 3.0), (16, 20.0), (128, 99.0)])
def test_zero_order_hold_matches_scipy(d, theta):
    lmu = LMUFFT(3, 4, memory_size=d, theta=theta).double()
    A, B = _legendre_numpy(d, theta)
    A_bar = scipy.linalg.expm(A)
    B_bar = np.linalg.solve(A, (A_bar - np.eye(d)) @ B)[:, 0]
    # float32 default dtype at construction, so compare at float32 precision
    np.testing.assert_allclose(lmu.A_bar.numpy(), A_bar, rtol=0, atol=2e-6 * max(1.0, np.abs(A_bar).max()))
    np.testing.assert_allclose(lmu.B_bar.numpy(), B_bar, rtol=0, atol=2e-6 * max(1.0, np.abs(B_bar).max()))


def test_zero_order_hold_in_float64():
    torch.set_default_dtype(torch.float64)
    try:
        lmu = LMUFFT(3, 4, memory_size=12, theta=10.0)
    finally:
        torch.set_default_dtype(torch.float32)
    A, B = _legendre_numpy(12, 10.0)
    A_bar = scipy.linalg.expm(A)
    B_bar = np.linalg.solve(A, (A_bar - np.eye(12)) @ B)[:, 0]
    np.testing.assert_allclose(lmu.A_bar.numpy(), A_bar, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(lmu.B_bar.numpy(), B_bar, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("length", [1, 5, 31, 32, 33, 64, 100])
def test_parallel_memory_and_hidden_match_the_recurrence(length):
    torch.manual_seed(0)
    lmu = LMUFFT(input_size=5, hidden_size=6, memory_size=16, theta=12.0).double()
    x = torch.randn(3, length, 5, dtype=torch.float64)
    out, (h_n, m_n) = lmu(x)
    memories, hiddens = _sequential(lmu, x)
    np.testing.assert_allclose(lmu.memory(x @ lmu.encoder).detach().numpy(), memories, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(out.detach().numpy(), hiddens, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(h_n[0].detach().numpy(), hiddens[:, -1], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(m_n.detach().numpy(), memories[:, -1], rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_memory_holds_a_delayed_copy(fraction):
    """Decoding the memory with Legendre polynomials P_i(2r - 1) gives the input r * theta frames ago."""
    theta, d = 20.0, 12
    lmu = LMUFFT(1, 1, memory_size=d, theta=theta).double()
    t = torch.arange(300, dtype=torch.float64)
    m = lmu.memory(torch.sin(2 * np.pi * t / 80.0)[None])[0].numpy()
    decoder = np.array([np.polynomial.legendre.legval(2 * fraction - 1, np.eye(d)[i]) for i in range(d)])
    delayed = np.sin(2 * np.pi * (t.numpy() - fraction * theta) / 80.0)
    assert np.abs(m @ decoder - delayed)[100:].max() < 0.05


def test_causal_and_shapes():
    lmu = LMUFFT(4, 5, memory_size=8, theta=6.0)
    out, (h_n, m_n) = lmu(torch.randn(2, 37, 4))
    assert out.shape == (2, 37, 5) and h_n.shape == (1, 2, 5) and m_n.shape == (2, 8)
    assert_causal(lambda x: lmu.double()(x.transpose(1, 2))[0].transpose(1, 2), torch.randn(2, 4, 70), t0=33)


@pytest.mark.parametrize(("learn_a", "learn_b"), [(False, False), (True, False), (False, True), (True, True)])
def test_learnable_matrices(learn_a, learn_b):
    lmu = LMUFFT(3, 4, memory_size=6, theta=5.0, learn_a=learn_a, learn_b=learn_b).double()
    names = {name for name, _ in lmu.named_parameters()}
    assert ("A_bar" in names) is learn_a and ("B_bar" in names) is learn_b
    assert {"A_bar", "B_bar"} <= names | {name for name, _ in lmu.named_buffers()}
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    lmu(x)[0].sum().backward()
    assert (lmu.A_bar.grad is not None) is learn_a and (lmu.B_bar.grad is not None) is learn_b


def test_gradients():
    A = 0.3 * torch.randn(3, 3, dtype=torch.float64)
    u = torch.randn(1, 70, dtype=torch.float64)  # three chunks
    B = torch.randn(3, dtype=torch.float64)
    assert_gradcheck(linear_memory, [u, A, B])
    lmu = LMUFFT(2, 3, memory_size=4, theta=5.0).double()
    assert_gradcheck(lambda inp: lmu(inp)[0], [torch.randn(1, 35, 2)])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="theta"):
        LMUFFT(3, 4, 8, theta=0.0)
    with pytest.raises(ValueError, match="memory_size"):
        LMUFFT(3, 4, 0, theta=1.0)
    with pytest.raises(TypeError, match="learn_a"):
        LMUFFT(3, 4, 8, theta=1.0, learn_a="yes")
    with pytest.raises(ValueError, match=r"\(B, T, 3\).*\(2, 10, 4\)"):
        LMUFFT(3, 4, 8, theta=5.0)(torch.randn(2, 10, 4))
    with pytest.raises(ValueError, match="dimensions"):
        LMUFFT(3, 4, 8, theta=5.0)(torch.randn(10, 3))


def _full_cell_numpy(lmu, x):
    """Float64 step-by-step reference of the full cell (Voelker et al. 2019, eqs. 4, 6, 7)."""
    p = {k: v.detach().numpy() for k, v in [*lmu.named_parameters(), *lmu.named_buffers()]}
    x = x.numpy()
    h = np.zeros((x.shape[0], lmu.hidden_size))
    m = np.zeros((x.shape[0], lmu.memory_size))
    hiddens = []
    for t in range(x.shape[1]):
        u = x[:, t] @ p["e_x"].T + h @ p["e_h"].T + m @ p["e_m"].T
        m = m @ p["A"].T + u @ p["B"].T
        h = np.tanh(x[:, t] @ p["W_x"].T + h @ p["W_h"].T + m @ p["W_m"].T)
        hiddens.append(h)
    return np.stack(hiddens, 1), h, m


@pytest.mark.parametrize("length", [1, 7, 40])
def test_full_cell_matches_the_recurrence_with_feedback(length):
    torch.manual_seed(0)
    lmu = LMU(input_size=4, hidden_size=5, memory_size=8, theta=6.0).double()
    with torch.no_grad():
        lmu.e_m.normal_()  # zero at initialisation: exercise the memory feedback too
    x = torch.randn(3, length, 4, dtype=torch.float64)
    out, (h_n, m_n) = lmu(x)
    hiddens, h_ref, m_ref = _full_cell_numpy(lmu, x)
    np.testing.assert_allclose(out.detach().numpy(), hiddens, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), h_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m_n.detach().numpy(), m_ref, rtol=1e-10, atol=1e-12)


def test_full_cell_feedback_makes_it_differ_from_lmufft():
    torch.manual_seed(1)
    full = LMU(3, 4, memory_size=6, theta=5.0).double()
    x = torch.randn(2, 30, 3, dtype=torch.float64)
    before = full(x)[0]
    with torch.no_grad():
        full.e_h.zero_()
    assert not torch.allclose(before, full(x)[0])  # the hidden-to-memory feedback is used


def test_full_cell_causal_state_and_gradients():
    lmu = LMU(2, 3, memory_size=4, theta=5.0).double()
    assert_causal(lambda x: lmu(x.transpose(1, 2))[0].transpose(1, 2), torch.randn(2, 2, 50), t0=21)
    x = torch.randn(2, 20, 2, dtype=torch.float64)
    out, state = lmu(x[:, :12])
    rest, _ = lmu(x[:, 12:], state)
    torch.testing.assert_close(torch.cat([out, rest], 1), lmu(x)[0])  # chunked = whole
    assert_gradcheck(lambda inp: lmu(inp)[0], [torch.randn(1, 9, 2)])


@pytest.mark.parametrize(("learn_a", "learn_b"), [(False, False), (True, True)])
def test_full_cell_learnable_or_fixed_matrices(learn_a, learn_b):
    lmu = LMU(3, 4, memory_size=6, theta=5.0, learn_a=learn_a, learn_b=learn_b).double()
    names = {name for name, _ in lmu.named_parameters()}
    assert ("A" in names) is learn_a and ("B" in names) is learn_b
    assert {"A", "B"} <= set(lmu.state_dict())
    A_bar, B_bar = LMUFFT(3, 4, memory_size=6, theta=5.0).double().A_bar, LMUFFT(3, 4, 6, 5.0).double().B_bar
    torch.testing.assert_close(lmu.A, A_bar)
    torch.testing.assert_close(lmu.B[:, 0], B_bar)
    lmu(torch.randn(2, 10, 3, dtype=torch.float64))[0].sum().backward()
    assert (lmu.A.grad is not None) is learn_a
