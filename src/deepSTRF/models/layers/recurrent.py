"""One-layer GRU and LSTM over a whole sequence with hand-written backward passes.

``torch.nn.GRU`` and ``torch.nn.LSTM`` on CPU record about ten autograd nodes per time
step, so the backward pass of a 1000-frame stimulus walks ten thousand small nodes.
:func:`gru_sequence` and :func:`lstm_sequence` compute the same recurrences as one
autograd node each: the input projection of every frame is one matrix product, the
forward loop runs a few in-place operations per step and keeps the gates, and so does
the backward loop, with every product that does not depend on the recurrence (weight
gradients, gate derivatives) done once over the whole sequence.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as nnf

from deepSTRF._validation import check_tensor

__all__ = ["gru_sequence", "lstm_sequence", "supports_gru_sequence", "supports_lstm_sequence"]


def _run_forward(gates: torch.Tensor, new: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """Run the recurrence in place; return the states ``(T, B, H)``.

    On entry ``gates[t]`` holds ``W_ir x_t + b_ir + b_hr``, ``W_iz x_t + b_iz + b_hz`` and
    ``b_hn``, and ``new[t]`` holds ``W_in x_t + b_in``. On return ``gates[t]`` holds ``r_t``,
    ``z_t`` and ``W_hn h_{t-1} + b_hn``, and ``new[t]`` the candidate ``n_t``.
    """
    size = h0.shape[-1]
    out = new.new_empty(new.shape)
    w_t = w_hh.t()
    h = h0
    for t in range(gates.shape[0]):
        step = gates[t].addmm_(h, w_t)
        rz = step[:, : 2 * size].sigmoid_()
        n = new[t].addcmul_(rz[:, :size], step[:, 2 * size :]).tanh_()
        h = torch.lerp(n, h, rz[:, size:], out=out[t])  # n + z (h - n)
    return out


class _GRUSequence(torch.autograd.Function):
    """``(gi, h0, w_hh, b_hh) -> h_1..h_T`` of a GRU, time-major, as one autograd node."""

    @staticmethod
    def forward(
        ctx: Any, gi: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor | None
    ) -> torch.Tensor:
        size = h0.shape[-1]
        new = gi[..., 2 * size :].clone()
        gates = gi.clone()
        if b_hh is None:
            gates[..., 2 * size :] = 0
        else:
            gates[..., : 2 * size] += b_hh[: 2 * size]
            gates[..., 2 * size :] = b_hh[2 * size :]
        out = _run_forward(gates, new, h0, w_hh)
        ctx.save_for_backward(gates, new, out, h0, w_hh)
        ctx.has_bias = b_hh is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gates, new, out, h0, w_hh = ctx.saved_tensors
        length, batch, size = out.shape
        r, z, hn = gates[..., :size], gates[..., size : 2 * size], gates[..., 2 * size :]
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
        # the gradient of each pre-activation is dL/dh_t times a coefficient known before the loop
        d_new = (1 - z) * (1 - new * new)
        coefficient = torch.cat([d_new * hn * r * (1 - r), (h_prev - new) * z * (1 - z), d_new * r], dim=-1)
        coefficient = coefficient.view(length, batch, 3, size)
        grad_gates = torch.empty_like(coefficient)  # gradient of W_hh h_{t-1} + b_hh
        grad_h = grad_out.clone(memory_format=torch.contiguous_format)  # becomes dL/dh_t, from the last step back
        for t in range(length - 1, -1, -1):
            dh = grad_h[t]
            torch.mul(dh.unsqueeze(1), coefficient[t], out=grad_gates[t])
            if t > 0:
                grad_h[t - 1].addcmul_(dh, z[t]).addmm_(grad_gates[t].view(batch, 3 * size), w_hh)
        grad_gates = grad_gates.view(length, batch, 3 * size)
        grad_h0 = None
        if ctx.needs_input_grad[1]:
            grad_h0 = torch.addcmul(grad_gates[0] @ w_hh, grad_h[0], z[0])
        grad_gi = None
        if ctx.needs_input_grad[0]:
            grad_gi = grad_gates.clone()
            torch.mul(grad_h, d_new, out=grad_gi[..., 2 * size :])
        flat = grad_gates.view(length * batch, 3 * size)
        grad_w = flat.t() @ h_prev.view(length * batch, size) if ctx.needs_input_grad[2] else None
        grad_b = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return grad_gi, grad_h0, grad_w, grad_b


class _LSTMSequence(torch.autograd.Function):
    """``(gi, h0, c0, w_hh, b_hh) -> h_1..h_T`` of an LSTM, time-major, as one autograd node."""

    @staticmethod
    def forward(
        ctx: Any, gi: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor | None
    ) -> torch.Tensor:
        size = h0.shape[-1]
        gates = gi.clone() if b_hh is None else gi + b_hh  # becomes i, f, g, o step by step
        out, cells, tanh_cells = (gi.new_empty(gi.shape[0], gi.shape[1], size) for _ in range(3))
        w_t = w_hh.t()
        h, c = h0, c0
        for t in range(gates.shape[0]):
            step = gates[t].addmm_(h, w_t)
            step[:, : 2 * size].sigmoid_()
            step[:, 2 * size : 3 * size].tanh_()
            step[:, 3 * size :].sigmoid_()
            c = torch.mul(step[:, size : 2 * size], c, out=cells[t]).addcmul_(
                step[:, :size], step[:, 2 * size : 3 * size]
            )
            h = torch.mul(step[:, 3 * size :], torch.tanh(c, out=tanh_cells[t]), out=out[t])
        ctx.save_for_backward(gates, cells, tanh_cells, out, h0, c0, w_hh)
        ctx.has_bias = b_hh is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        gates, cells, tanh_cells, out, h0, c0, w_hh = ctx.saved_tensors
        length, batch, size = out.shape
        i, f, g, o = (gates[..., k * size : (k + 1) * size] for k in range(4))
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
        c_prev = torch.cat([c0.unsqueeze(0), cells[:-1]])
        # dL/dc_t = dL/dc_{t+1} f_{t+1} + dL/dh_t K_t; the gate pre-activations' gradients are
        # dL/dc_t (input, forget, cell) or dL/dh_t (output) times coefficients known before the loop
        through_cell = o * (1 - tanh_cells * tanh_cells)
        coefficient = torch.stack([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], dim=2)  # (T, B, 3, H)
        output_coefficient = tanh_cells * o * (1 - o)
        grad_gates = gates.new_empty(length, batch, 4, size)
        grad_h = grad_out.clone(memory_format=torch.contiguous_format)  # becomes dL/dh_t, from the last step back
        grad_c = torch.zeros_like(h0)
        for t in range(length - 1, -1, -1):
            dh = grad_h[t]
            grad_c.addcmul_(dh, through_cell[t])
            torch.mul(grad_c.unsqueeze(1), coefficient[t], out=grad_gates[t, :, :3])
            torch.mul(dh, output_coefficient[t], out=grad_gates[t, :, 3])
            if t > 0:
                grad_h[t - 1].addmm_(grad_gates[t].view(batch, 4 * size), w_hh)
            grad_c.mul_(f[t])
        flat = grad_gates.view(length * batch, 4 * size)
        grad_h0 = flat[:batch] @ w_hh if ctx.needs_input_grad[1] else None
        grad_c0 = grad_c if ctx.needs_input_grad[2] else None
        grad_gi = grad_gates.view(length, batch, 4 * size) if ctx.needs_input_grad[0] else None
        grad_w = flat.t() @ h_prev.view(length * batch, size) if ctx.needs_input_grad[3] else None
        grad_b = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[4] else None
        return grad_gi, grad_h0, grad_c0, grad_w, grad_b


def _supported(module: nn.Module, kind: type[nn.RNNBase], x: torch.Tensor) -> bool:
    """A one-layer, one-direction, batch-first ``kind`` without projection, and a float CPU input of its dtype."""
    return (
        type(module) is kind
        and module.num_layers == 1
        and not module.bidirectional
        and module.batch_first
        and getattr(module, "proj_size", 0) == 0
        and x.dim() == 3
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and module.weight_hh_l0.dtype == x.dtype
    )


def _checked_call(
    name: str, module: object, kind: type[nn.RNNBase], x: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Check ``module`` and ``x`` for ``name``; return ``x``'s time-major input projection, ``w_hh`` and the biases."""
    label = kind.__name__
    if not isinstance(module, kind):
        raise TypeError(f"`{label.lower()}` must be an nn.{label}, got {type(module).__name__}")
    x = check_tensor("x", x)
    if not _supported(module, kind, x):
        raise ValueError(
            f"{name} needs a one-layer, one-direction, batch-first nn.{label} (`{label.lower()}`) without "
            f"projection and a float32/float64 CPU input `x` (B, T, input_size) of its dtype; got {module!r} and "
            f"`x` of shape {tuple(x.shape)}, {x.dtype}, on {x.device}"
        )
    w_ih, w_hh = cast(torch.Tensor, module.weight_ih_l0), cast(torch.Tensor, module.weight_hh_l0)
    biases = (cast(torch.Tensor, module.bias_ih_l0), cast(torch.Tensor, module.bias_hh_l0)) if module.bias else None
    gi = nnf.linear(x.transpose(0, 1), w_ih, None if biases is None else biases[0])  # every frame at once
    return gi.contiguous(), w_hh, None if biases is None else biases[0], None if biases is None else biases[1]


def _initial_state(name: str, value: object, x: torch.Tensor, size: int) -> torch.Tensor:
    """``value`` as ``(B, size)`` (zeros for ``None``), accepting ``(1, B, size)``."""
    batch = x.shape[0]
    if value is None:
        return x.new_zeros(batch, size)
    state = check_tensor(name, value)
    if tuple(state.shape) not in ((batch, size), (1, batch, size)):
        raise ValueError(
            f"`{name}` must have shape (B, hidden_size) = ({batch}, {size}) or (1, {batch}, {size}), "
            f"got {tuple(state.shape)}"
        )
    return state.reshape(batch, size)


def supports_gru_sequence(gru: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`gru_sequence` can run ``gru`` on ``x``.

    It needs a one-layer, one-direction, batch-first ``nn.GRU`` without projection and a
    float32 or float64 CPU input ``(B, T, input_size)``.

    Example:
        >>> supports_gru_sequence(nn.GRU(4, 5, batch_first=True), torch.zeros(2, 7, 4))
        True
        >>> supports_gru_sequence(nn.GRU(4, 5, num_layers=2, batch_first=True), torch.zeros(2, 7, 4))
        False
    """
    return _supported(gru, nn.GRU, x)


def gru_sequence(x: torch.Tensor, gru: nn.GRU, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Run a one-layer, batch-first ``nn.GRU`` over ``x`` and return every state.

    Equal to ``gru(x, h0)[0]`` up to float rounding, with ``gru``'s own parameters, and
    differentiable with respect to ``x``, ``h0`` and those parameters (first-order
    gradients only). The whole sequence is one autograd node (see the module docstring),
    which makes a training step on long stimuli faster on CPU than ``nn.GRU``.

    Args:
        x: Input ``(B, T, input_size)``, on CPU, float32 or float64.
        gru: An ``nn.GRU`` with ``num_layers=1``, ``bidirectional=False``, ``batch_first=True``.
        h0: Optional initial state ``(B, hidden_size)`` or ``(1, B, hidden_size)``; zeros when ``None``.

    Returns:
        The states ``h_1 .. h_T`` as ``(B, T, hidden_size)`` (a transposed view of time-major memory).

    Raises:
        TypeError: If ``gru`` is not an ``nn.GRU``, or ``x`` / ``h0`` not a tensor.
        ValueError: If :func:`supports_gru_sequence` is False for ``gru`` and ``x``, or ``h0``
            has the wrong shape.

    Example:
        >>> gru = nn.GRU(4, 5, batch_first=True)
        >>> x = torch.randn(2, 30, 4)
        >>> torch.allclose(gru_sequence(x, gru), gru(x)[0], atol=1e-5)
        True
    """
    gi, w_hh, _, b_hh = _checked_call("gru_sequence", gru, nn.GRU, x)
    h0 = _initial_state("h0", h0, x, gru.hidden_size)
    out: torch.Tensor = _GRUSequence.apply(gi, h0, w_hh, b_hh)
    return out.transpose(0, 1)


def supports_lstm_sequence(lstm: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`lstm_sequence` can run ``lstm`` on ``x``.

    It needs a one-layer, one-direction, batch-first ``nn.LSTM`` without projection and a
    float32 or float64 CPU input ``(B, T, input_size)``.

    Example:
        >>> supports_lstm_sequence(nn.LSTM(4, 5, batch_first=True), torch.zeros(2, 7, 4))
        True
        >>> supports_lstm_sequence(nn.LSTM(4, 5, proj_size=2, batch_first=True), torch.zeros(2, 7, 4))
        False
    """
    return _supported(lstm, nn.LSTM, x)


def lstm_sequence(
    x: torch.Tensor, lstm: nn.LSTM, state: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """Run a one-layer, batch-first ``nn.LSTM`` over ``x`` and return every hidden state.

    Equal to ``lstm(x, state)[0]`` up to float rounding, with ``lstm``'s own parameters,
    and differentiable with respect to ``x``, the initial state and those parameters
    (first-order gradients only), as one autograd node (see the module docstring).

    Args:
        x: Input ``(B, T, input_size)``, on CPU, float32 or float64.
        lstm: An ``nn.LSTM`` with ``num_layers=1``, ``bidirectional=False``,
            ``batch_first=True`` and ``proj_size=0``.
        state: Optional initial ``(h0, c0)``, each ``(B, hidden_size)`` or
            ``(1, B, hidden_size)``; zeros when ``None``.

    Returns:
        The hidden states ``h_1 .. h_T`` as ``(B, T, hidden_size)`` (a transposed view of
        time-major memory).

    Raises:
        TypeError: If ``lstm`` is not an ``nn.LSTM``, ``x`` not a tensor, or ``state`` not a
            pair of tensors.
        ValueError: If :func:`supports_lstm_sequence` is False for ``lstm`` and ``x``, or a
            state has the wrong shape.

    Example:
        >>> lstm = nn.LSTM(4, 5, batch_first=True)
        >>> x = torch.randn(2, 30, 4)
        >>> torch.allclose(lstm_sequence(x, lstm), lstm(x)[0], atol=1e-5)
        True
    """
    gi, w_hh, _, b_hh = _checked_call("lstm_sequence", lstm, nn.LSTM, x)
    if state is not None and not (isinstance(state, tuple | list) and len(state) == 2):
        raise TypeError(f"`state` must be a pair (h0, c0) of tensors, got {type(state).__name__}")
    h0, c0 = (None, None) if state is None else state
    size = lstm.hidden_size
    out: torch.Tensor = _LSTMSequence.apply(
        gi, _initial_state("h0", h0, x, size), _initial_state("c0", c0, x, size), w_hh, b_hh
    )
    return out.transpose(0, 1)
