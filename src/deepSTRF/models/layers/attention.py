"""Helpers of causal self-attention over frames: sinusoidal positions and the (windowed) causal mask."""

from __future__ import annotations

import torch

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["SinusoidalPositionalEncoding", "build_causal_window_mask"]


class SinusoidalPositionalEncoding(ConfigurableModule):
    """Add the sinusoidal positional encoding of Vaswani et al. (2017) to a sequence.

    Position ``p`` receives ``sin(p * w_i)`` on channel ``2i`` and ``cos(p * w_i)`` on
    channel ``2i + 1``, with ``w_i = 10000 ** (-2i / d_model)``. The encoding is computed
    for the input's length at every call (any length works) in the input's dtype; the
    frequencies are a non-persistent buffer, so they follow ``.to(device)`` but are not
    saved in checkpoints.

    Args:
        d_model: Embedding size; must be even.

    Raises:
        TypeError: If ``d_model`` is not an int.
        ValueError: If ``d_model`` is not a positive even number.

    Shape:
        - Input: ``(B, L, d_model)``.
        - Output: ``(B, L, d_model)``.

    Example:
        >>> pe = SinusoidalPositionalEncoding(4)
        >>> pe(torch.zeros(1, 2, 4))[0, 1]  # position 1: sin(1), cos(1), sin(0.01), cos(0.01)
        tensor([0.8415, 0.5403, 0.0100, 0.9999])
    """

    inv_freq: torch.Tensor

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model)
        if self.d_model % 2:
            raise ValueError(f"`d_model` must be even, got {d_model}")
        exponents = torch.arange(0, self.d_model, 2, dtype=torch.float64) / self.d_model
        self.register_buffer("inv_freq", (10000.0**-exponents).to(torch.get_default_dtype()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` plus the encoding of positions ``0 .. L-1``."""
        check_tensor("x", x, ndim=3, floating=True)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"`x` must have shape (B, L, d_model={self.d_model}), got {tuple(x.shape)}")
        positions = torch.arange(x.shape[1], dtype=x.dtype, device=x.device)
        angles = positions.unsqueeze(1) * self.inv_freq.to(x.dtype).unsqueeze(0)  # (L, d_model / 2)
        encoding = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)
        return x + encoding

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}"


def build_causal_window_mask(
    L: int, window: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Boolean ``(L, L)`` mask for causal, optionally windowed, self-attention.

    Query ``i`` may attend to key ``j`` iff ``j <= i`` and, when ``window`` is set,
    ``i - j < window``. ``True`` marks a forbidden pair, the convention of
    ``nn.TransformerEncoderLayer`` (``src_mask``) and ``nn.MultiheadAttention``
    (``attn_mask``). Every row keeps its diagonal, so no query is left without keys.

    Args:
        L: Sequence length.
        window: Look-back in positions, the current one included; ``None`` for the whole past.
        device: Device of the mask.

    Returns:
        Bool tensor ``(L, L)``.

    Raises:
        TypeError: If ``L`` or ``window`` is not an int.
        ValueError: If ``L`` < 1 or ``window`` < 1.

    Example:
        >>> build_causal_window_mask(4, window=2).int()
        tensor([[0, 1, 1, 1],
                [0, 0, 1, 1],
                [1, 0, 0, 1],
                [1, 1, 0, 0]], dtype=torch.int32)
    """
    length = check_int("L", L)
    query = torch.arange(length, device=device).unsqueeze(1)
    key = torch.arange(length, device=device).unsqueeze(0)
    mask = key > query
    if window is not None:
        mask |= query - key >= check_int("window", window)
    return mask
