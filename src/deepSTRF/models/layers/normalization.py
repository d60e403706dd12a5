"""Layer normalisation over one chosen axis, computed independently at every time step."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["CausalLayerNorm"]


class _LayerNormAlongDim(torch.autograd.Function):
    """Layer norm over dim 1 of ``(B, C, ...)`` without moving the axis last.

    ``nn.LayerNorm`` needs the normalised axis last, which costs two full copies and a
    slow kernel for small ``C``; reducing over dim 1 in place keeps every pass
    contiguous and vectorised. The backward uses the closed form
    ``dx = rstd * (g - mean_C(g) - xhat * mean_C(g * xhat))`` with ``g = dy * w``.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
    ) -> torch.Tensor:
        xhat = x - x.mean(1, keepdim=True)
        rstd = torch.rsqrt((xhat * xhat).mean(1, keepdim=True).add_(eps))
        xhat.mul_(rstd)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.has_bias = bias is not None
        if weight is None:
            return xhat.clone() if bias is None else xhat + bias
        return torch.addcmul(bias, xhat, weight) if bias is not None else xhat * weight

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        xhat, rstd, weight = ctx.saved_tensors
        if xhat.dim() == 4 and not xhat.is_contiguous() and xhat.is_contiguous(memory_format=torch.channels_last):
            dy = dy.contiguous(memory_format=torch.channels_last)  # keep channels-last gradients channels-last
        others = [0, *range(2, dy.dim())]
        grad_w = (dy * xhat).sum(others).view_as(weight) if weight is not None and ctx.needs_input_grad[1] else None
        grad_b = dy.sum(others).view(-1, *[1] * (dy.dim() - 2)) if ctx.has_bias and ctx.needs_input_grad[2] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            g = dy * weight if weight is not None else dy.clone()
            mean_gx = (g * xhat).mean(1, keepdim=True)
            grad_x = g.sub_(g.mean(1, keepdim=True)).sub_(xhat * mean_gx).mul_(rstd)
        return grad_x, grad_w, grad_b, None


class _LastAxisLayerNorm(torch.autograd.Function):
    """Affine layer norm over the last axis whose scale and shift gradients are column sums.

    The native backward computes those two gradients with a reduction that is slow for a
    few channels over millions of positions: a forward and backward of ConvNet2D's first
    activation (10 channels) takes 16.3 ms with it and 12.4 ms here on 2 CPU threads
    (``benchmarks/bench_training_paths.py``). Here the native kernel normalises without
    the affine map, which ``addcmul`` applies (the same bits as the native affine
    forward); the backward runs the native input gradient on the saved normalised values
    and sums columns for the rest. Saved: the normalised values and ``1 / std``, as much as
    the native layer keeps.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float) -> torch.Tensor:
        shape = (x.shape[-1],)
        xhat, _, rstd = torch.native_layer_norm(x, shape, None, None, eps)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.has_bias = bias is not None
        return xhat * weight if bias is None else torch.addcmul(bias, xhat, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        xhat, rstd, weight = ctx.saved_tensors
        dy = dy.contiguous()
        rows = list(range(dy.dim() - 1))
        scratch = torch.mul(dy, weight)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # the native input gradient of a layer norm of xhat itself (mean 0, 1/std 1), then times 1/std
            unit = torch.ones_like(rstd)
            grad_x = torch.ops.aten.native_layer_norm_backward(
                scratch, xhat, [xhat.shape[-1]], torch.zeros_like(rstd), unit, None, None, [True, False, False]
            )[0].mul_(rstd)
        grad_w = torch.mul(dy, xhat, out=scratch).sum(rows) if ctx.needs_input_grad[1] else None
        grad_b = dy.sum(rows) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None


def _layer_norm_dim1_no_grad(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    """:class:`_LayerNormAlongDim`'s forward when nothing needs a gradient, writing its result in place.

    The same operations in the same order (so the same bits), but the affine map
    overwrites the centred input instead of allocating the output.
    """
    xhat = x - x.mean(1, keepdim=True)
    xhat.mul_(torch.rsqrt((xhat * xhat).mean(1, keepdim=True).add_(eps)))
    if weight is None:
        return xhat if bias is None else xhat.add_(bias)
    return torch.addcmul(bias, xhat, weight, out=xhat) if bias is not None else xhat.mul_(weight)


class CausalLayerNorm(ConfigurableModule):
    """LayerNorm over one axis of the input, separately at every position of all other axes.

    Statistics are never pooled across time (nor across the batch), so the layer is
    strictly causal and behaves identically in training and evaluation: a causal
    replacement for ``nn.BatchNorm1d/2d`` inside encoding models.

    Along ``dim=1`` of a 3-D or 4-D input (the channel axis) the statistics are reduced
    in place by a dedicated kernel instead of moving the axis last, several times faster
    on CPU; it supports first-order gradients only (no double backward). A 4-D input
    stored channels-last already has the channels innermost and goes straight to the
    native ``layer_norm`` kernel, whose output stays channels-last.

    Args:
        normalized_shape: Size of the normalised axis.
        dim: The normalised axis: ``1`` for the channel axis of ``(B, C, ...)``,
            ``-2`` for the frequency axis of a ``(B, C, F, T)`` spectrogram.
        eps: Added to the variance for numerical stability.
        elementwise_affine: Learn a per-element scale and shift of the normalised axis.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``normalized_shape`` < 1 or ``eps`` < 0.

    Shape:
        - Input: any tensor with ``x.shape[dim] == normalized_shape``.
        - Output: same shape as the input.

    Example:
        >>> norm = CausalLayerNorm(4, dim=1)
        >>> y = norm(torch.randn(2, 4, 1, 10))
        >>> y.shape, bool(y.mean(dim=1).abs().max() < 1e-5)
        (torch.Size([2, 4, 1, 10]), True)
    """

    def __init__(self, normalized_shape: int, dim: int = 1, eps: float = 1e-5, elementwise_affine: bool = True) -> None:
        super().__init__()
        size = check_int("normalized_shape", normalized_shape)
        self.dim = check_int("dim", dim, minimum=None)
        if not isinstance(elementwise_affine, bool):
            raise TypeError(f"`elementwise_affine` must be a bool, got {type(elementwise_affine).__name__}")
        self.norm = nn.LayerNorm(
            size, eps=check_positive_float("eps", eps, allow_zero=True), elementwise_affine=elementwise_affine
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` along ``dim``."""
        check_tensor("x", x, floating=True)
        size = self.norm.normalized_shape[0]
        if not -x.dim() <= self.dim < x.dim() or x.shape[self.dim] != size:
            raise ValueError(f"`x` must have size {size} along dim={self.dim}, got shape {tuple(x.shape)}")
        dim = self.dim % x.dim()
        if dim == x.dim() - 1:
            return self.norm(x)
        if dim == 1 and x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            # channels-last memory: the channel-last view is contiguous, so the native kernel needs no copy
            return self._channels_last(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        if dim == 1 and x.dim() > 2:
            shape = (-1, *[1] * (x.dim() - 2))  # broadcast the affine parameters along dim 1
            weight = None if self.norm.weight is None else self.norm.weight.view(shape)
            bias = None if self.norm.bias is None else self.norm.bias.view(shape)
            if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias)):
                return _LayerNormAlongDim.apply(x, weight, bias, self.norm.eps)
            return _layer_norm_dim1_no_grad(x, weight, bias, self.norm.eps)
        return self.norm(x.movedim(dim, -1)).movedim(-1, dim)

    def _channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """Layer norm over the last axis of contiguous ``x``; see :class:`_LastAxisLayerNorm` for training."""
        norm = self.norm
        if norm.weight is None or not torch.is_grad_enabled():
            return norm(x)
        return _LastAxisLayerNorm.apply(x, norm.weight, norm.bias, norm.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
