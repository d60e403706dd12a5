"""Causal (optionally strided) 1-d convolution, fast on CPU in both directions.

``causal_conv1d(x, w, b, stride=s)`` computes, for an input of length ``T`` (a
multiple of ``s``) and a kernel of length ``K``,

    y[:, :, t] = b + sum_k w[:, :, k] @ x[:, :, (t + 1) s - K + k],    t = 0 .. T / s - 1,

with zeros before the start: output ``t`` sees the ``K`` samples ending at the
end of its stride block. A strided convolution is rewritten as a stride-1
convolution over ``s`` interleaved phases of the input (the polyphase form), and
the stride-1 convolution computes its gradients with forward convolutions,
which oneDNN runs two to three times faster on CPU than its dedicated backward
kernels for these shapes. The results are those of ``torch.nn.functional.conv1d``
up to floating-point rounding.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from deepSTRF.models.wav2spec._base import align_frames

# Length of the pieces the time axis is cut into when computing weight gradients.
_PIECE = 256


def _weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Gradient of ``conv1d(x, w)`` with respect to ``w``, as one forward convolution.

    The correlation ``sum_(b, t) grad[b, o, t] x[b, i, t + k]`` is computed with time
    cut into pieces that are stacked with the batch as input channels, which keeps the
    convolution's kernel short.
    """
    batch, n_out, length = grad.shape
    pieces = -(-length // _PIECE)
    extra = pieces * _PIECE - length
    g = F.pad(grad, (0, extra)).view(batch, n_out, pieces, _PIECE)
    g = g.permute(1, 0, 2, 3).reshape(n_out, batch * pieces, _PIECE)
    xs = F.pad(x, (0, extra)).unfold(-1, _PIECE + kernel_size - 1, _PIECE)  # (B, C_in, pieces, span)
    xs = xs.permute(1, 0, 2, 3).reshape(x.shape[1], batch * pieces, -1)
    return F.conv1d(xs, g).transpose(0, 1)


class _ValidConv1d(torch.autograd.Function):
    """``conv1d(x, w, b)`` with stride 1 and no padding; gradients computed by forward convolutions."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv1d(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        k = weight.shape[-1]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv1d(F.pad(grad, (k - 1, k - 1)), weight.flip(-1).transpose(0, 1))
        if ctx.needs_input_grad[1]:
            grad_w = _weight_grad(x, grad, k)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2))
        return grad_x, grad_w, grad_b


def causal_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1
) -> torch.Tensor:
    """Causal 1-d convolution: output ``t`` uses the ``K`` input samples ending at ``(t + 1) * stride``.

    Args:
        x: Input ``(B, C_in, T)`` with ``T`` a multiple of ``stride``.
        weight: Kernel ``(C_out, C_in, K)``; tap ``K - 1`` weighs the most recent sample.
        bias: Optional bias ``(C_out,)``.
        stride: Downsampling factor.

    Returns:
        ``(B, C_out, T // stride)``.

    Example:
        >>> x = torch.arange(1.0, 7.0).view(1, 1, 6)
        >>> causal_conv1d(x, torch.tensor([[[1.0, 10.0]]]), stride=2)
        tensor([[[21., 43., 65.]]])
    """
    n_out, n_in, kernel_size = weight.shape
    taps = -(-kernel_size // stride)  # taps per phase
    x = align_frames(x, taps * stride, stride)
    if stride > 1:
        batch, _, length = x.shape
        x = x.view(batch, n_in, length // stride, stride).transpose(2, 3).reshape(batch, n_in * stride, -1)
        weight = F.pad(weight, (taps * stride - kernel_size, 0))
        weight = weight.view(n_out, n_in, taps, stride).transpose(2, 3).reshape(n_out, n_in * stride, taps)
    return _ValidConv1d.apply(x, weight, bias)
