"""Legendre Memory Units (Voelker, Kajić & Eliasmith, 2019): the full cell and a parallel variant.

The LMU couples a linear memory that holds a Legendre-polynomial summary of the
last ``theta`` frames of a scalar signal ``u`` with a nonlinear hidden state:

.. math::
    u_t = e_x^\top x_t + e_h^\top h_{t-1} + e_m^\top m_{t-1}, \\qquad
    m_t = \bar A\\, m_{t-1} + \bar B\\, u_t, \\qquad
    h_t = \tanh(W_x x_t + W_h h_{t-1} + W_m m_t),

where ``(A, B)`` are the continuous-time Legendre delay matrices and
``(\bar A, \bar B)`` their zero-order-hold discretisation with a step of one frame.

- :class:`LMU` is that cell, with the hidden-to-memory and memory-to-memory feedback
  (``e_h``, ``e_m``), stepped through time (the model of deepSTRF 0.1.0's StateNet
  ``rnn_type='LMU'``). The per-frame input terms are computed for the whole sequence at
  once and the two feedback products of a step are fused into two matrix products.
- :class:`LMUFFT` drops the feedback, ``u_t = e_x^\top x_t`` (the parallel LMU of
  Chilkuri & Eliasmith, 2021), which makes the memory a linear time-invariant system of
  the input. Its whole sequence is then computed at once, without stepping through
  time: inside chunks of 32 frames by a causal Toeplitz product with the impulse
  response ``\bar A^k \bar B``, and across chunks by a log-depth doubling scan with
  powers of ``\bar A``. The hidden recurrence keeps its ``W_h h_{t-1}`` term and runs
  in the fused ``torch.nn.RNN`` kernel. The result is exact (no FFT, no truncated
  kernel), so the layer is strictly causal to the bit. It is a different model from
  :class:`LMU` (StateNet ``rnn_type='LMUFFT'``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["LMU", "LMUFFT", "legendre_delay_system", "linear_memory"]

_CHUNK = 32  # frames per chunk of the parallel memory computation


def legendre_delay_system(memory_size: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Continuous-time state-space matrices ``(A, B)`` of the Legendre delay network.

    Args:
        memory_size: Order ``d`` of the memory (number of Legendre polynomials).
        theta: Length of the sliding window the memory represents, in frames.

    Returns:
        ``A`` of shape ``(d, d)`` and ``B`` of shape ``(d, 1)``, in float64.

    Example:
        >>> A, B = legendre_delay_system(3, theta=10.0)
        >>> A.shape, B.flatten().tolist()
        (torch.Size([3, 3]), [0.1, -0.3, 0.5])
    """
    order = torch.arange(memory_size, dtype=torch.float64)
    i, j = order[:, None], order[None, :]
    scale = (2 * i + 1) / theta
    sign = torch.where(i < j, -1.0, (-1.0) ** (i - j + 1))
    A = scale * sign
    B = (2 * order[:, None] + 1) * (-1.0) ** order[:, None] / theta
    return A, B


def _zoh(A: torch.Tensor, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-order-hold discretisation with a unit step, via one block matrix exponential."""
    d = A.shape[0]
    block = torch.zeros(d + 1, d + 1, dtype=A.dtype)
    block[:d, :d] = A
    block[:d, d:] = B
    expm = torch.linalg.matrix_exp(block)
    return expm[:d, :d], expm[:d, d:]


def _matrix_powers(A: torch.Tensor, n: int) -> torch.Tensor:
    """Return ``stack([A^0, A^1, ..., A^(n-1)])`` by repeated doubling (log2(n) batched products)."""
    powers = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)[None]
    step = A
    while powers.shape[0] < n:
        powers = torch.cat([powers, powers @ step], dim=0)
        step = step @ step
    return powers[:n]


def linear_memory(u: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Run the linear system ``m_t = A m_{t-1} + B u_t`` (``m_{-1} = 0``) over whole sequences at once.

    Exact and causal: inside chunks of 32 steps the memory is a Toeplitz product with the
    impulse response ``A^k B``; the states at chunk ends are accumulated by a doubling scan
    with powers of ``A`` and carried into the following chunks. Differentiable in all inputs.

    Args:
        u: Scalar input per step, ``(B, T)``.
        A: State matrix ``(d, d)``.
        B: Input vector ``(d,)``.

    Returns:
        The state at every step, ``(B, T, d)``.

    Example:
        >>> m = linear_memory(torch.ones(1, 4), torch.eye(2) * 0.5, torch.ones(2))
        >>> m[0, :, 0]
        tensor([1.0000, 1.5000, 1.7500, 1.8750])
    """
    batch, length = u.shape
    chunk = min(length, _CHUNK)
    n_chunks = -(-length // chunk)
    u = nn.functional.pad(u, (0, n_chunks * chunk - length)).view(batch, n_chunks, chunk)
    powers = _matrix_powers(A, chunk + 1)  # A^0 .. A^chunk
    impulse = powers[:chunk] @ B  # (chunk, d): A^k B
    lag = torch.arange(chunk, device=u.device)
    lag = lag[:, None] - lag[None, :]  # t - s
    toeplitz = impulse[lag.clamp(min=0)] * (lag >= 0)[..., None].to(u.dtype)  # (t, s, d)
    local = torch.einsum("tsd,bns->bntd", toeplitz, u)  # memory from the current chunk only
    # state at the end of each chunk, accumulated over all previous chunks (doubling scan)
    ends = local[:, :, -1]
    carry_step, span = powers[chunk], 1
    while span < n_chunks:
        ends = torch.cat([ends[:, :span], ends[:, span:] + ends[:, :-span] @ carry_step.T], dim=1)
        carry_step, span = carry_step @ carry_step, 2 * span
    previous = nn.functional.pad(ends[:, :-1], (0, 0, 1, 0))  # (B, n, d): state entering each chunk
    total = local + torch.einsum("tij,bnj->bnti", powers[1:], previous)
    return total.reshape(batch, n_chunks * chunk, A.shape[0])[:, :length]


def _check_sizes(
    input_size: int, hidden_size: int, memory_size: int, theta: float, learn_a: bool, learn_b: bool
) -> tuple[int, int, int, float]:
    """The checked ``(input_size, hidden_size, memory_size, theta)`` of an LMU layer (both variants)."""
    for name, flag in (("learn_a", learn_a), ("learn_b", learn_b)):
        if not isinstance(flag, bool):
            raise TypeError(f"`{name}` must be a bool, got {type(flag).__name__}")
    return (
        check_int("input_size", input_size),
        check_int("hidden_size", hidden_size),
        check_int("memory_size", memory_size),
        check_positive_float("theta", theta),
    )


class LMUFFT(ConfigurableModule):
    """Feedback-free (parallel) Legendre Memory Unit layer over a whole sequence, batch first.

    See the module docstring for the equations and for how the memory is computed
    in parallel (the memory input does not receive the hidden-state feedback of the
    full cell, :class:`LMU`).

    Args:
        input_size: Features per time step of the input.
        hidden_size: Size of the hidden state ``h``.
        memory_size: Order ``d`` of the Legendre memory.
        theta: Window length of the memory, in frames (> 0).
        learn_a: Learn the discretised ``A`` matrix (otherwise a fixed buffer).
        learn_b: Learn the discretised ``B`` vector (otherwise a fixed buffer).

    Shape:
        - Input: ``(B, T, input_size)``
        - Output: ``(B, T, hidden_size)``; ``h_n``: ``(1, B, hidden_size)``; ``m_n``: ``(B, memory_size)``

    Raises:
        TypeError, ValueError: For invalid sizes or a malformed input.

    Example:
        >>> lmu = LMUFFT(input_size=5, hidden_size=8, memory_size=16, theta=20.0)
        >>> out, (h_n, m_n) = lmu(torch.randn(2, 37, 5))
        >>> out.shape, h_n.shape, m_n.shape
        (torch.Size([2, 37, 8]), torch.Size([1, 2, 8]), torch.Size([2, 16]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        memory_size: int,
        theta: float,
        learn_a: bool = False,
        learn_b: bool = False,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.memory_size, self.theta = _check_sizes(
            input_size, hidden_size, memory_size, theta, learn_a, learn_b
        )
        A, B = _zoh(*legendre_delay_system(self.memory_size, self.theta))
        dtype = torch.get_default_dtype()
        A_bar, B_bar = A.to(dtype), B[:, 0].to(dtype)
        if learn_a:
            self.A_bar = nn.Parameter(A_bar)
        else:
            self.register_buffer("A_bar", A_bar)
        if learn_b:
            self.B_bar = nn.Parameter(B_bar)
        else:
            self.register_buffer("B_bar", B_bar)
        bound = math.sqrt(3.0 / self.input_size)
        self.encoder = nn.Parameter(torch.empty(self.input_size).uniform_(-bound, bound))
        self.cell = nn.RNN(self.input_size + self.memory_size, self.hidden_size, bias=False, batch_first=True)
        for weight in self.cell.parameters():  # input-to-hidden and hidden-to-hidden (no biases)
            nn.init.xavier_normal_(weight)

    def memory(self, u: torch.Tensor) -> torch.Tensor:
        """Run the layer's linear memory over whole sequences (see :func:`linear_memory`).

        Args:
            u: Scalar memory input per step, shape ``(B, T)``.

        Returns:
            The memory at every step, shape ``(B, T, memory_size)``.

        Example:
            >>> LMUFFT(3, 4, memory_size=6, theta=5.0).memory(torch.randn(2, 9)).shape
            torch.Size([2, 9, 6])
        """
        return linear_memory(u, self.A_bar, self.B_bar)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run the layer over a batch of sequences (see the class docstring).

        Returns:
            ``(output, (h_n, m_n))`` like ``torch.nn.GRU(batch_first=True)``: the hidden
            states of every step, the last hidden state and the last memory.
        """
        check_tensor("x", x, ndim=3, floating=True)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"`x` must have shape (B, T, {self.input_size}), got {tuple(x.shape)}")
        m = self.memory(x @ self.encoder)
        h, h_n = self.cell(torch.cat([x, m], dim=-1))
        return h, (h_n, m[:, -1])


def _lecun_uniform(*shape: int) -> torch.Tensor:
    bound = math.sqrt(3.0 / shape[-1])
    return torch.empty(shape).uniform_(-bound, bound)


def _xavier_normal(*shape: int) -> torch.Tensor:
    return nn.init.xavier_normal_(torch.empty(shape))


class _Recurrence(torch.autograd.Function):
    """``s_t = [tanh(z_t[:H]), z_t[H:]]`` with ``z_t = s_{t-1} @ R + drive_t``, and its hand-written backward.

    Stepping through time with a preallocated ``(T + 1, B, K)`` buffer and no autograd graph
    per step; the backward pass runs the recurrence in reverse (backpropagation through
    time) and forms the gradient of ``R`` with one matrix product at the end.
    """

    @staticmethod
    def forward(ctx: Any, drive: torch.Tensor, recurrent: torch.Tensor, state: torch.Tensor, H: int) -> torch.Tensor:
        length = drive.shape[0]
        states = drive.new_empty(length + 1, *state.shape)
        states[0] = state
        for t in range(length):
            z = states[t + 1]
            torch.addmm(drive[t], states[t], recurrent, out=z)
            z[:, :H].tanh_()
        ctx.save_for_backward(states, recurrent)
        ctx.H = H
        return states

    @staticmethod
    def backward(ctx: Any, grad_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        states, recurrent = ctx.saved_tensors
        H = ctx.H
        length = states.shape[0] - 1
        grad_z = torch.empty_like(grad_states[1:])
        carry = torch.zeros_like(states[0])
        recurrent_t = recurrent.transpose(0, 1)
        for t in range(length - 1, -1, -1):
            g = grad_z[t]
            torch.add(grad_states[t + 1], carry, out=g)
            h = states[t + 1, :, :H]
            g[:, :H].mul_(1.0 - h * h)
            carry = g @ recurrent_t
        grad_recurrent = states[:-1].reshape(-1, states.shape[-1]).transpose(0, 1) @ grad_z.reshape(
            -1, grad_z.shape[-1]
        )
        return grad_z, grad_recurrent, carry + grad_states[0], None


class LMU(ConfigurableModule):
    """Legendre Memory Unit layer (the full cell, with feedback) over a whole sequence, batch first.

    Implements the equations of the module docstring: the memory input ``u_t`` receives
    the input, the previous hidden state and the previous memory. ``A`` and ``B`` hold
    the discretised ``(\\bar A, \\bar B)``; they are learned with ``learn_a`` /
    ``learn_b``, otherwise fixed buffers (saved with the weights either way). The tensors
    have the shapes and names of deepSTRF 0.1.0's LMU cell (``e_x (1, input)``,
    ``e_h (1, hidden)``, ``e_m (1, memory)``, ``W_x``, ``W_h``, ``W_m``, ``A (d, d)``,
    ``B (d, 1)``), initialised as in the original paper: LeCun-uniform encoders ``e_x``,
    ``e_h``, zero ``e_m``, Xavier-normal ``W_*``.

    Args:
        input_size: Features per time step of the input.
        hidden_size: Size of the hidden state ``h``.
        memory_size: Order ``d`` of the Legendre memory.
        theta: Window length of the memory, in frames (> 0).
        learn_a: Learn ``A`` (otherwise a fixed buffer).
        learn_b: Learn ``B`` (otherwise a fixed buffer).

    Shape:
        - Input: ``(B, T, input_size)``
        - Output: ``(B, T, hidden_size)``; ``h_n``: ``(B, hidden_size)``; ``m_n``: ``(B, memory_size)``

    Raises:
        TypeError, ValueError: For invalid sizes or a malformed input.

    Example:
        >>> lmu = LMU(input_size=5, hidden_size=8, memory_size=16, theta=20.0)
        >>> out, (h_n, m_n) = lmu(torch.randn(2, 37, 5))
        >>> out.shape, h_n.shape, m_n.shape
        (torch.Size([2, 37, 8]), torch.Size([2, 8]), torch.Size([2, 16]))
    """

    A: torch.Tensor
    B: torch.Tensor

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        memory_size: int,
        theta: float,
        learn_a: bool = False,
        learn_b: bool = False,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.memory_size, self.theta = _check_sizes(
            input_size, hidden_size, memory_size, theta, learn_a, learn_b
        )
        self.learn_a, self.learn_b = learn_a, learn_b
        A, B = _zoh(*legendre_delay_system(self.memory_size, self.theta))
        dtype = torch.get_default_dtype()
        for name, value, learn in (("A", A.to(dtype), learn_a), ("B", B.to(dtype), learn_b)):
            if learn:
                self.register_parameter(name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)
        self.e_x = nn.Parameter(_lecun_uniform(1, self.input_size))
        self.e_h = nn.Parameter(_lecun_uniform(1, self.hidden_size))
        self.e_m = nn.Parameter(torch.zeros(1, self.memory_size))
        self.W_x = nn.Parameter(_xavier_normal(self.hidden_size, self.input_size))
        self.W_h = nn.Parameter(_xavier_normal(self.hidden_size, self.hidden_size))
        self.W_m = nn.Parameter(_xavier_normal(self.hidden_size, self.memory_size))

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Step the cell through a batch of sequences (see the class docstring).

        Args:
            x: Input ``(B, T, input_size)``.
            state: Initial ``(h, m)``, ``(B, hidden_size)`` and ``(B, memory_size)``; zeros if omitted.

        Returns:
            ``(output, (h_n, m_n))``: the hidden states of every step, the last hidden state
            and the last memory.
        """
        check_tensor("x", x, ndim=3, floating=True)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"`x` must have shape (B, T, {self.input_size}), got {tuple(x.shape)}")
        batch = x.shape[0]
        H = self.hidden_size
        if state is None:
            h = x.new_zeros(batch, H)
            m = x.new_zeros(batch, self.memory_size)
        else:
            h, m = state
        # With s = [h, m]: m_t = s_{t-1} @ M + d_t and h_t = tanh(W_x x_t + h_{t-1} W_h^T + m_t W_m^T), where
        # M = [e_h^T B^T; A^T + e_m^T B^T] and d_t = (e_x x_t) B^T. Substituting m_t, one product per step
        # gives both: [pre-activation of h_t, m_t] = s_{t-1} @ [M_h W_m^T + [W_h^T; 0], M] + drive_t.
        b_row = self.B.transpose(0, 1)  # (1, d)
        to_memory = torch.cat(
            [self.e_h.transpose(0, 1) @ b_row, self.A.transpose(0, 1) + self.e_m.transpose(0, 1) @ b_row]
        )  # (H + d, d)
        w_m = self.W_m.transpose(0, 1)  # (d, H)
        recurrent_h = to_memory @ w_m
        recurrent_h[:H] += self.W_h.transpose(0, 1)
        recurrent = torch.cat([recurrent_h, to_memory], dim=1)  # (H + d, H + d)
        drive_m = (x @ self.e_x.transpose(0, 1)) * b_row  # (B, T, d)
        drive = torch.cat([x @ self.W_x.transpose(0, 1) + drive_m @ w_m, drive_m], dim=-1)  # (B, T, H + d)
        states = _Recurrence.apply(drive.transpose(0, 1).contiguous(), recurrent, torch.cat([h, m], dim=1), H)
        out = states[1:, :, :H].transpose(0, 1)  # (B, T, H)
        return out, (states[-1, :, :H], states[-1, :, H:])

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, memory_size={self.memory_size}, "
            f"theta={self.theta}, learn_a={self.learn_a}, learn_b={self.learn_b}"
        )
