"""ConvNet2D: a causal 2-D convolutional network over the spectrogram with a per-frame MLP readout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import nn
from torch.autograd.function import once_differentiable

from deepSTRF._validation import check_int
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.layers import CausalLayerNorm
from deepSTRF.models.readouts import LinearReadout

__all__ = ["ConvNet2D"]

_N_CONV = 3  # convolutional blocks


class _LeftPad(torch.autograd.Function):
    """Zero-pad the last axis on the left; the gradient keeps the input's memory format.

    ``ZeroPad2d``'s gradient is a strided slice, which turns every later gradient
    back into ``(B, C, F, T)`` order and sends the convolutions' backward down a slow
    path when the activations are channels-last.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, left: int) -> torch.Tensor:
        ctx.left = left
        ctx.channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        return nnf.pad(x, (left, 0))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        fmt = torch.channels_last if ctx.channels_last else torch.contiguous_format
        return grad[..., ctx.left :].contiguous(memory_format=fmt), None


class _CausalPad(nn.Module):
    """Pad ``left`` zero frames before the first one (no parameters)."""

    def __init__(self, left: int) -> None:
        super().__init__()
        self.left = left

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LeftPad.apply(x, self.left) if self.left else x

    def extra_repr(self) -> str:
        return f"left={self.left}"


class _ChannelsLastSequential(nn.Sequential):
    """``nn.Sequential`` that keeps its 4-D activations in channels-last memory order.

    With few channels, PyTorch's CPU convolutions (above all their backward pass) and
    the channel layer norm run several times faster on ``(B, F, T, C)``-ordered memory;
    the values are unchanged and the state dict keys are those of a plain Sequential.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A LeakyReLU overwrites its input when there is no graph, or when the input is a layer
        # norm's fresh output (the norm keeps its normalised values, not its output, and the
        # LeakyReLU's backward needs only its own output): one activation less kept for backward.
        no_graph = not torch.is_grad_enabled()
        previous: nn.Module | None = None
        for module in self:
            x = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
            if isinstance(module, nn.LeakyReLU) and (no_graph or isinstance(previous, CausalLayerNorm)):
                x = nnf.leaky_relu(x, module.negative_slope, inplace=True)
            elif isinstance(module, nn.Conv2d) and x.shape[1] == 1 and x.is_contiguous():
                # one channel: the memory is both layouts at once, but PyTorch reads it as channels-first
                # and would return a channels-first output; channels-last strides (no copy) keep it
                # channels-last, which saves a reordering copy of the output and a slower kernel
                x = module(x.as_strided(x.shape, (x.stride(0), 1, x.stride(2), x.stride(3))))
            else:
                x = module(x)
            previous = module
        return x


class ConvNet2D(AudioEncodingModel):
    """Three causal 2-D convolutions over ``(F, T)`` followed by a 2-layer per-frame readout.

    Adapted from the 2D-CNN of Pennington & David (2023, PLOS Comput. Biol. 19:
    e1011110). The core pads ``3 (K_T - 1)`` zero frames once, on the left of its
    input, then applies three blocks of a valid ``(K_F, K_T)`` convolution (each block
    shortens time by ``K_T - 1`` frames and frequency by ``K_F - 1`` bands), a
    :class:`~deepSTRF.models.layers.CausalLayerNorm` over channels (per frequency and
    frame) and ``LeakyReLU(0.1)``, so the output has the input's length. The
    ``c_hidden * F_down`` features of each frame (``F_down = F - 3 (K_F - 1)``) feed an
    MLP ``-> n_hidden -> N`` and the output activation. The receptive field is
    ``3 (K_T - 1) + 1`` frames; ``self.T = 3 (K_T - 1)`` (the left padding).

    ``core`` is a flat sequence with the published layout: ``core[0]`` the padding,
    ``core[1 + 3 i]``, ``core[2 + 3 i]``, ``core[3 + 3 i]`` the convolution, layer norm
    and LeakyReLU of block ``i``, ``core[10]`` the flattening. It runs in channels-last
    memory order (same values, faster few-channel convolutions on CPU).

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        kernel_size: Convolution kernel ``(K_F, K_T)`` shared by the three blocks.
        c_hidden: Channels of each convolution.
        n_hidden: Width of the readout's hidden layer.
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for ``ParametricSoftplus(out_neurons)``.
        prefiltering: Optional spectrogram prefilter.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError, ValueError: For invalid sizes, or a kernel too tall for ``F``.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> import torch
        >>> model = ConvNet2D(n_frequency_bands=12, kernel_size=(3, 5), c_hidden=4, n_hidden=8, out_neurons=3)
        >>> model(torch.rand(2, 1, 12, 37)).shape
        torch.Size([2, 3, 1, 37])
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        kernel_size: Sequence[int] = (3, 9),
        c_hidden: int = 10,
        n_hidden: int = 20,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        if not isinstance(kernel_size, Sequence) or len(kernel_size) != 2:
            raise TypeError(f"`kernel_size` must be a pair (K_F, K_T), got {kernel_size!r}")
        k_f, k_t = (check_int(f"kernel_size[{i}]", k) for i, k in enumerate(kernel_size))
        super().__init__(n_frequency_bands, _N_CONV * (k_t - 1) or 1, out_neurons, prefiltering, wav2spec)
        f_down = self.F - _N_CONV * (k_f - 1)
        if f_down < 1:
            raise ValueError(
                f"`kernel_size` {tuple(kernel_size)} is too tall for n_frequency_bands={self.F}: "
                f"{_N_CONV} convolutions need F > {_N_CONV} * (K_F - 1) = {_N_CONV * (k_f - 1)}"
            )
        self.K = (k_f, k_t)
        self.C = check_int("c_hidden", c_hidden)
        self.H = check_int("n_hidden", n_hidden)
        channels = [self.C_in] + [self.C] * _N_CONV
        blocks: list[nn.Module] = []
        for i in range(_N_CONV):
            blocks += [
                nn.Conv2d(channels[i], channels[i + 1], kernel_size=self.K),
                CausalLayerNorm(channels[i + 1], dim=1),
                nn.LeakyReLU(0.1),
            ]
        self.core = _ChannelsLastSequential(
            _CausalPad(_N_CONV * (k_t - 1)),
            *blocks,
            nn.Flatten(start_dim=1, end_dim=2),  # (B, C, F_down, T) -> (B, C * F_down, T)
        )
        self.readout = LinearReadout(
            in_features=self.C * f_down,
            out_neurons=self.O,
            hidden=self.H,
            activation=ParametricSoftplus(self.O) if output_activation is None else output_activation,
        )
