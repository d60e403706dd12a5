"""Locally connected 1-D layer: a convolution whose filters differ at every output position."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["LocallyConnected1d"]


class LocallyConnected1d(ConfigurableModule):
    """Locally connected layer over a 1-D axis (between ``nn.Linear`` and ``nn.Conv1d``).

    It slides windows like ``nn.Conv1d(in_channels, out_channels, kernel_size, stride,
    padding, dilation)`` but learns a separate filter (and bias) for each of the
    ``output_size`` positions:
    ``y[b, o, l] = bias[o, l] + sum_{i, k} weight[l, o, i, k] * x_pad[b, i, l * stride + k * dilation]``.

    The input is unfolded into its ``output_size`` windows once (a strided view, no
    copy per output channel) and all positions are computed by one batched matrix
    product. Weights and biases are initialised uniformly in ``±1/sqrt(in_channels *
    kernel_size)`` (fan-in scaling, as ``nn.Conv1d``).

    Args:
        input_size: Length of the input axis.
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Window length.
        stride: Step between windows.
        padding: Zeros added on both ends.
        dilation: Spacing between window taps.
        bias: Learn a per-(channel, position) bias.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is out of range or the windows do not fit in the padded input.

    Shape:
        - Input: ``(B, in_channels, input_size)``.
        - Output: ``(B, out_channels, output_size)`` with
          ``output_size = (input_size + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1``.

    Example:
        >>> lc = LocallyConnected1d(input_size=34, in_channels=1, out_channels=7, kernel_size=7, stride=3)
        >>> lc.output_size
        10
        >>> lc(torch.randn(5, 1, 34)).shape
        torch.Size([5, 7, 10])
    """

    def __init__(
        self,
        input_size: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.stride = check_int("stride", stride)
        self.padding = check_int("padding", padding, minimum=0)
        self.dilation = check_int("dilation", dilation)
        if not isinstance(bias, bool):
            raise TypeError(f"`bias` must be a bool, got {type(bias).__name__}")
        span = self.dilation * (self.kernel_size - 1) + 1
        if span > self.input_size + 2 * self.padding:
            raise ValueError(
                f"the window (kernel_size={kernel_size}, dilation={dilation}, span {span}) does not fit in the "
                f"padded input (input_size={input_size} + 2 * padding={padding})"
            )
        self.output_size = (self.input_size + 2 * self.padding - span) // self.stride + 1
        fan_in = self.in_channels * self.kernel_size
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(
            torch.empty(self.output_size, self.out_channels, self.in_channels, self.kernel_size).uniform_(-bound, bound)
        )
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_channels, self.output_size).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the position-specific filters (see the class docstring for shapes)."""
        check_tensor("x", x, ndim=3)
        if x.shape[1:] != (self.in_channels, self.input_size):
            raise ValueError(
                f"`x` must have shape (B, in_channels={self.in_channels}, input_size={self.input_size}), "
                f"got {tuple(x.shape)}"
            )
        if self.padding:
            x = nnf.pad(x, (self.padding, self.padding))
        span = self.dilation * (self.kernel_size - 1) + 1
        windows = x.unfold(-1, span, self.stride)[..., :: self.dilation]  # (B, C_in, L, K), a view
        y = torch.einsum("bilk,loik->bol", windows, self.weight)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, bias={self.bias is not None}, output_size={self.output_size}"
        )
