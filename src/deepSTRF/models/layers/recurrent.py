"""One-layer GRU and Elman RNN over a whole sequence with hand-written backward passes.

``torch.nn.GRU`` and ``torch.nn.RNN`` on CPU record several autograd nodes per time step,
so the backward pass of a 1000-frame stimulus walks thousands of small nodes.
:func:`gru_sequence` and :func:`rnn_sequence` compute the same recurrences as one
autograd node each: the input projection of every frame is one matrix product, the
forward loop runs a few in-place operations per step and keeps what the backward needs,
and the backward loop does the same, with every product that does not depend on the
recurrence (weight gradients, gate derivatives) done once over the whole sequence.
(``nn.LSTM`` has a fused CPU training path of its own, faster than such a loop.)
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as nnf

from deepSTRF._validation import check_tensor

__all__ = ["gru_sequence", "rnn_sequence", "supports_gru_sequence", "supports_rnn_sequence"]


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


class _RNNSequence(torch.autograd.Function):
    """``(gi, h0, w_hh, b_hh) -> h_1..h_T`` of an Elman RNN (tanh or ReLU), time-major, as one autograd node."""

    @staticmethod
    def forward(
        ctx: Any, gi: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor | None, relu: bool
    ) -> torch.Tensor:
        out = gi.clone() if b_hh is None else gi + b_hh  # pre-activations, overwritten by the states
        w_t = w_hh.t()
        h = h0
        for t in range(out.shape[0]):
            step = out[t].addmm_(h, w_t)
            h = step.relu_() if relu else step.tanh_()
        ctx.save_for_backward(out, h0, w_hh)
        ctx.has_bias, ctx.relu = b_hh is not None, relu
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        out, h0, w_hh = ctx.saved_tensors
        length, batch, size = out.shape
        slope = (out > 0).to(out.dtype) if ctx.relu else 1 - out * out  # derivative, from the output
        grad_pre = torch.empty_like(out)
        grad_h = grad_out.clone(memory_format=torch.contiguous_format)  # becomes dL/dh_t, from the last step back
        for t in range(length - 1, -1, -1):
            torch.mul(grad_h[t], slope[t], out=grad_pre[t])
            if t > 0:
                grad_h[t - 1].addmm_(grad_pre[t], w_hh)
        flat = grad_pre.view(length * batch, size)
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]]).view(length * batch, size)
        grad_h0 = grad_pre[0] @ w_hh if ctx.needs_input_grad[1] else None
        grad_w = flat.t() @ h_prev if ctx.needs_input_grad[2] else None
        grad_b = flat.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return grad_pre if ctx.needs_input_grad[0] else None, grad_h0, grad_w, grad_b, None


def _supported(module: nn.Module, kind: type[nn.RNNBase], x: torch.Tensor) -> bool:
    """A one-layer, one-direction, batch-first ``kind`` and a float32/float64 CPU input of its dtype."""
    return (
        type(module) is kind
        and isinstance(x, torch.Tensor)
        and module.num_layers == 1
        and not module.bidirectional
        and module.batch_first
        and x.dim() == 3
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and module.weight_hh_l0.dtype == x.dtype
    )


def _checked_call(
    name: str, module: object, kind: type[nn.RNNBase], x: object, h0: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Check the arguments of ``name``; return the time-major input projection, ``h0``, ``w_hh`` and ``b_hh``."""
    label = kind.__name__
    if not isinstance(module, kind):
        raise TypeError(f"`{label.lower()}` must be an nn.{label}, got {type(module).__name__}")
    x = check_tensor("x", x)
    if not _supported(module, kind, x):
        raise ValueError(
            f"{name} needs a one-layer, one-direction, batch-first nn.{label} (`{label.lower()}`) and a "
            f"float32/float64 CPU input `x` (B, T, input_size) of its dtype; got {module!r} and `x` of shape "
            f"{tuple(x.shape)}, {x.dtype}, on {x.device}"
        )
    batch, size = x.shape[0], module.hidden_size
    if h0 is None:
        state = x.new_zeros(batch, size)
    else:
        state = check_tensor("h0", h0)
        if tuple(state.shape) not in ((batch, size), (1, batch, size)):
            raise ValueError(
                f"`h0` must have shape (B, hidden_size) = ({batch}, {size}) or (1, {batch}, {size}), "
                f"got {tuple(state.shape)}"
            )
        state = state.reshape(batch, size)
    w_ih, w_hh = cast(torch.Tensor, module.weight_ih_l0), cast(torch.Tensor, module.weight_hh_l0)
    b_ih, b_hh = (
        (cast(torch.Tensor, module.bias_ih_l0), cast(torch.Tensor, module.bias_hh_l0)) if module.bias else (None, None)
    )
    gi = nnf.linear(x.transpose(0, 1), w_ih, b_ih)  # (T, B, gates * H): every frame's input projection at once
    return gi.contiguous(), state, w_hh, b_hh


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
    gi, state, w_hh, b_hh = _checked_call("gru_sequence", gru, nn.GRU, x, h0)
    out: torch.Tensor = _GRUSequence.apply(gi, state, w_hh, b_hh)
    return out.transpose(0, 1)


def supports_rnn_sequence(rnn: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`rnn_sequence` can run ``rnn`` on ``x``.

    It needs a one-layer, one-direction, batch-first ``nn.RNN`` (tanh or ReLU) and a
    float32 or float64 CPU input ``(B, T, input_size)``.

    Example:
        >>> supports_rnn_sequence(nn.RNN(4, 5, batch_first=True), torch.zeros(2, 7, 4))
        True
        >>> supports_rnn_sequence(nn.RNN(4, 5, bidirectional=True, batch_first=True), torch.zeros(2, 7, 4))
        False
    """
    return _supported(rnn, nn.RNN, x)


def rnn_sequence(x: torch.Tensor, rnn: nn.RNN, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Run a one-layer, batch-first ``nn.RNN`` over ``x`` and return every state.

    Equal to ``rnn(x, h0)[0]`` up to float rounding, with ``rnn``'s own parameters and
    nonlinearity (tanh or ReLU), and differentiable with respect to ``x``, ``h0`` and those
    parameters (first-order gradients only), as one autograd node (see the module docstring).

    Args:
        x: Input ``(B, T, input_size)``, on CPU, float32 or float64.
        rnn: An ``nn.RNN`` with ``num_layers=1``, ``bidirectional=False``, ``batch_first=True``.
        h0: Optional initial state ``(B, hidden_size)`` or ``(1, B, hidden_size)``; zeros when ``None``.

    Returns:
        The states ``h_1 .. h_T`` as ``(B, T, hidden_size)`` (a transposed view of time-major memory).

    Raises:
        TypeError: If ``rnn`` is not an ``nn.RNN``, or ``x`` / ``h0`` not a tensor.
        ValueError: If :func:`supports_rnn_sequence` is False for ``rnn`` and ``x``, or ``h0``
            has the wrong shape.

    Example:
        >>> rnn = nn.RNN(4, 5, batch_first=True)
        >>> x = torch.randn(2, 30, 4)
        >>> torch.allclose(rnn_sequence(x, rnn), rnn(x)[0], atol=1e-5)
        True
    """
    gi, state, w_hh, b_hh = _checked_call("rnn_sequence", rnn, nn.RNN, x, h0)
    out: torch.Tensor = _RNNSequence.apply(gi, state, w_hh, b_hh, rnn.nonlinearity == "relu")
    return out.transpose(0, 1)
