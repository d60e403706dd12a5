"""Readouts: the per-neuron last stage of a model, emitting predictions ``(B, N, 1, T)``.

- :class:`STRFReadout`: a causal STRF per neuron (:class:`~deepSTRF.models.layers.CausalSTRFConv`),
  a per-neuron ``BatchNorm1d`` and an output activation; the whole model for
  ``Linear`` / ``LinearNonlinear``.
- :class:`LinearReadout`: a per-frame linear map (or a one-hidden-layer MLP) from a
  core's feature vector to the neurons, then an output activation.

Activations are applied with the neuron axis last, the contract of
:mod:`deepSTRF.models.activations`.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_choice, check_int, check_tensor
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.layers import CausalSTRFConv

__all__ = ["LinearReadout", "STRFReadout"]


def _activation(activation: nn.Module | None) -> nn.Module:
    if activation is None:
        return nn.Identity()
    if not isinstance(activation, nn.Module):
        raise TypeError(f"`activation` must be an nn.Module or None, got {type(activation).__name__}")
    return activation


def _apply_last(activation: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Apply ``activation`` to ``(B, N, T)`` with N last, returning ``(B, N, 1, T)``."""
    return activation(y.transpose(1, 2)).transpose(1, 2).unsqueeze(2)


def _input_gain(activation: nn.Module, dtype: torch.dtype) -> torch.Tensor | None:
    """The per-neuron input gain of an activation that lets a readout fold it (``None`` otherwise).

    Only the library's own :class:`~deepSTRF.models.activations.ParametricSoftplus`
    qualifies (a subclass that overrides ``forward`` does not): its ``softplus(beta x)``
    takes ``beta`` from the readout's last affine map, one pass fewer over the output.
    """
    if isinstance(activation, ParametricSoftplus) and type(activation).forward is ParametricSoftplus.forward:
        return activation.input_gain().to(dtype)
    return None


def _batch_norm(bn: nn.BatchNorm1d, y: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """``gain * bn(y)`` per channel in one pass: ``bn``'s forward with its affine map scaled by ``gain``.

    Running statistics and ``num_batches_tracked`` are updated exactly as ``bn(y)`` does.
    """
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    use_batch = bn.training or (bn.running_mean is None and bn.running_var is None)
    weight = gain if bn.weight is None else bn.weight * gain
    bias = None if bn.bias is None else bn.bias * gain
    track = not bn.training or bn.track_running_stats
    return nnf.batch_norm(
        y,
        bn.running_mean if track else None,
        bn.running_var if track else None,
        weight,
        bias,
        use_batch,
        factor,
        bn.eps,
    )


class STRFReadout(ConfigurableModule):
    """One causal STRF per neuron, a per-neuron BatchNorm, then the output activation.

    ``self.conv`` is a :class:`~deepSTRF.models.layers.CausalSTRFConv` with ``N``
    output channels (kernel ``(N, C_in, F, T)``); ``self.bn`` is ``BatchNorm1d(N)``
    over its ``(B, N, T)`` output; ``self.activation`` sees ``(B, T, N)``. Every
    parameter and running statistic belongs to a single neuron. In eval mode the
    BatchNorm is a fixed per-neuron affine map, so the readout stays causal (and,
    with the identity activation, linear).

    Args:
        F: Frequency bands of the input.
        T: Temporal extent of the STRFs in frames.
        C_in: Input channels (2 after AdapTrans: ON and OFF).
        out_neurons: Number ``N`` of neurons.
        kernel: STRF kernel (see :class:`~deepSTRF.models.layers.CausalSTRFConv`); ``None`` for a
            plain ``nn.Conv2d``.
        activation: Output nonlinearity applied with N last; ``None`` for the identity.
        bias: Bias of the default kernel.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is < 1 or the kernel has the wrong shape.

    Shape:
        - Input: ``(B, C_in, F, T_in)``.
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> readout = STRFReadout(F=34, T=9, C_in=1, out_neurons=5).eval()
        >>> readout(torch.randn(2, 1, 34, 40)).shape
        torch.Size([2, 5, 1, 40])
        >>> readout.STRF_weight().shape
        torch.Size([5, 1, 34, 9])
    """

    def __init__(
        self,
        F: int,
        T: int,
        C_in: int,
        out_neurons: int,
        kernel: nn.Module | None = None,
        activation: nn.Module | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.N = check_int("out_neurons", out_neurons)
        self.conv = CausalSTRFConv(F, T, C_in, self.N, kernel=kernel, bias=bias)
        self.bn = nn.BatchNorm1d(self.N)
        self.activation = _activation(activation)

    def STRF_weight(self, polarity: str | None = None) -> torch.Tensor:
        """Return the STRFs, detached, on CPU.

        Args:
            polarity: ``None`` for all input channels, ``(N, C_in, F, T)``; ``'ON'`` or ``'OFF'``
                for channel 0 or 1 of a two-channel (ON/OFF) input, ``(N, F, T)``.

        Raises:
            ValueError: If ``polarity`` is unknown, or ``'OFF'`` is asked of a one-channel input.

        Example:
            >>> STRFReadout(F=8, T=3, C_in=2, out_neurons=4).STRF_weight("OFF").shape
            torch.Size([4, 8, 3])
        """
        check_choice("polarity", polarity, (None, "ON", "OFF"))
        weight = self.conv.STRF_weight()
        if polarity is None:
            return weight
        channel = 0 if polarity == "ON" else 1
        if channel >= weight.shape[1]:
            raise ValueError(f"polarity='OFF' needs C_in >= 2 input channels, got C_in={weight.shape[1]}")
        return weight[:, channel]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict ``(B, N, 1, T)`` from a spectrogram ``(B, C_in, F, T)``.

        In eval mode the batch norm is a fixed per-neuron affine map, folded into the
        STRF kernel so the convolution produces normalised outputs in one pass; the input
        gain of a ``ParametricSoftplus`` output is folded into the same affine map.
        """
        bn = self.bn
        gain = _input_gain(self.activation, x.dtype)
        if not self.training and bn.running_mean is not None and bn.running_var is not None:
            scale = torch.rsqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight
            shift = -bn.running_mean * scale
            if bn.bias is not None:
                shift = shift + bn.bias
            if gain is not None:
                scale, shift = scale * gain, shift * gain
            folded = self.conv._forward_affine(x, scale.to(x.dtype), shift.to(x.dtype))
            if folded is not None:
                if gain is not None:
                    return cast(ParametricSoftplus, self.activation).forward_prescaled(folded, dim=1, overwrite=True)
                return _apply_last(self.activation, folded.squeeze(2))
        y = self.conv(x).squeeze(2)
        if gain is not None:
            scaled = _batch_norm(bn, y, gain)
            activation = cast(ParametricSoftplus, self.activation)
            return activation.forward_prescaled(scaled, dim=1, overwrite=True).unsqueeze(2)
        return _apply_last(self.activation, bn(y))


def _pointwise(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``weight @ h + bias`` at every time step of feature-major ``h`` ``(B, C, T)``: ``(B, N, T)``.

    One batched matrix product keeps time last without a copy, whatever ``h``'s strides (a 1x1
    convolution would have oneDNN reorder a strided input first).
    """
    batch_weight = weight.unsqueeze(0).expand(h.shape[0], -1, -1)
    if bias is None:
        return torch.bmm(batch_weight, h)
    return torch.baddbmm(bias.view(1, -1, 1), batch_weight, h)


class LinearReadout(ConfigurableModule):
    """Per-frame linear readout from a feature vector to ``N`` neurons, with an optional hidden layer.

    Without ``hidden``: ``y = W x + b`` at every frame. With ``hidden``:
    ``Linear(in_features, hidden) -> LeakyReLU(0.1) -> Linear(hidden, N)``. All frames
    and neurons are computed by one matrix product per layer; the activation is
    applied with N last.

    Args:
        in_features: Features per frame produced by the core.
        out_neurons: Number ``N`` of neurons.
        hidden: Width of the hidden layer, ``None`` for a single linear map.
        activation: Output nonlinearity applied with N last; ``None`` for the identity.
        bias: Biases in the linear layer(s).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is < 1, or the input has the wrong shape.

    Shape:
        - Input: ``(B, in_features, T)`` or ``(B, in_features, 1, T)``.
        - Output: ``(B, N, 1, T)``.

    Example:
        >>> readout = LinearReadout(in_features=20, out_neurons=3, hidden=8)
        >>> readout(torch.randn(2, 20, 1, 50)).shape
        torch.Size([2, 3, 1, 50])
    """

    def __init__(
        self,
        in_features: int,
        out_neurons: int,
        hidden: int | None = None,
        activation: nn.Module | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features)
        self.N = check_int("out_neurons", out_neurons)
        if not isinstance(bias, bool):
            raise TypeError(f"`bias` must be a bool, got {type(bias).__name__}")
        self.projection: nn.Module
        if hidden is None:
            self.projection = nn.Linear(self.in_features, self.N, bias=bias)
        else:
            width = check_int("hidden", hidden)
            self.projection = nn.Sequential(
                nn.Linear(self.in_features, width, bias=bias),
                nn.LeakyReLU(0.1),
                nn.Linear(width, self.N, bias=bias),
            )
        self.activation = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict ``(B, N, 1, T)`` from features ``(B, in_features, T)`` or ``(B, in_features, 1, T)``.

        Features stored time-major (a transposed ``(B, T, in_features)`` tensor, as a
        recurrent core emits) go through ``nn.functional.linear`` with no copy; features
        stored feature-major go through 1x1 convolutions that keep time last, also without
        a copy. The input gain of a ``ParametricSoftplus`` output is folded into the last
        linear map.
        """
        check_tensor("x", x, ndim=(3, 4), floating=True)
        if x.shape[1] != self.in_features or (x.dim() == 4 and x.shape[2] != 1):
            raise ValueError(
                f"`x` must have shape (B, in_features={self.in_features}, T) or (B, {self.in_features}, 1, T), "
                f"got {tuple(x.shape)}"
            )
        features = x.reshape(x.shape[0], self.in_features, x.shape[-1])
        layers: list[nn.Module] = (
            [self.projection] if isinstance(self.projection, nn.Linear) else list(cast(nn.Sequential, self.projection))
        )
        last = cast(nn.Linear, layers[-1])
        gain = _input_gain(self.activation, x.dtype)
        weight: torch.Tensor = last.weight
        bias: torch.Tensor | None = last.bias
        if gain is not None:
            weight = weight * gain.unsqueeze(1)
            bias = None if bias is None else bias * gain
        time_major = features.stride(1) == 1 and features.shape[-1] > 1
        if time_major:
            h = features.transpose(1, 2)  # (B, T, in), contiguous
            for layer in layers[:-1]:
                h = layer(h)
            z = nnf.linear(h, weight, bias)  # (B, T, N)
            if gain is not None:
                y = cast(ParametricSoftplus, self.activation).forward_prescaled(z, dim=-1, overwrite=True)
            else:
                y = self.activation(z)
            return y.transpose(1, 2).unsqueeze(2)
        h = features
        for layer in layers[:-1]:
            h = _pointwise(h, layer.weight, layer.bias) if isinstance(layer, nn.Linear) else layer(h)
        z = _pointwise(h, weight, bias)  # (B, N, T)
        if gain is not None:
            return cast(ParametricSoftplus, self.activation).forward_prescaled(z, dim=1, overwrite=True).unsqueeze(2)
        return _apply_last(self.activation, z)
