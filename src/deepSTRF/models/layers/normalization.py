"""Layer normalisation over one chosen axis, computed independently at every time step."""

from __future__ import annotations

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["CausalLayerNorm"]


class CausalLayerNorm(ConfigurableModule):
    """LayerNorm over one axis of the input, separately at every position of all other axes.

    Statistics are never pooled across time (nor across the batch), so the layer is
    strictly causal and behaves identically in training and evaluation: a causal
    replacement for ``nn.BatchNorm1d/2d`` inside encoding models.

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
        return self.norm(x.movedim(self.dim, -1)).movedim(-1, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
