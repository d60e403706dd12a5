"""Per-channel energy normalisation (PCEN) with learnable, per-channel parameters."""

from __future__ import annotations

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.wav2spec._recursive import chunk_operators, chunked_filter


def smooth_energy(
    energy: torch.Tensor, smooth_coef: torch.Tensor, chunk: int = 32, start_at_zero: bool = False
) -> torch.Tensor:
    """First-order smoother of each channel: ``M[f, t] = (1 - s_f) M[f, t - 1] + s_f E[f, t]``, strictly causal.

    Computed as an exact recursion in chunks (:func:`chunked_filter`), with no loop over frames.

    Args:
        energy: ``E``, ``(..., F, T)``.
        smooth_coef: ``s``, ``(F,)``, in ``[0, 1]``.
        chunk: Chunk length of the recursion (a speed setting; results do not depend on it).
        start_at_zero: Start from ``M[f, -1] = 0`` (so ``M[f, 0] = s_f E[f, 0]``) instead of
            ``M[f, -1] = E[f, 0]`` (so ``M[f, 0] = E[f, 0]``).

    Returns:
        ``M``, same shape as ``energy``.

    Example:
        >>> energy = torch.ones(1, 2, 3)
        >>> smooth_energy(energy, torch.tensor([0.5, 1.0]), start_at_zero=True)
        tensor([[[0.5000, 0.7500, 0.8750],
                 [1.0000, 1.0000, 1.0000]]])
    """
    s = smooth_coef.to(energy.dtype)
    keep = 1.0 - s
    ops = chunk_operators(keep.view(-1, 1, 1), s.view(-1, 1), keep.view(-1, 1), s, chunk)
    return chunked_filter(energy, ops, initial_state=None if start_at_zero else energy[..., :1])


class PCEN(ConfigurableModule):
    """Per-channel energy normalisation (Wang et al., 2017), strictly causal.

    For an energy ``E[f, t] >= 0``, a first-order smoother

    ``M[f, t] = (1 - s_f) M[f, t - 1] + s_f E[f, t]``, with ``M[f, -1] = E[f, 0]``,

    tracks the recent level of each channel, and the output is

    ``(E / (eps + M)^alpha_f + delta_f)^r_f - delta_f^r_f``.

    The smoother runs as an exact recursion (no truncated kernel, no loop over
    frames), so each output frame depends only on frames up to itself. In
    :meth:`forward` the parameters are kept in their valid ranges by clamping:
    ``s`` and ``alpha`` in ``[0, 1]``, ``delta >= 0``, ``r`` in ``[1e-3, 1]``.

    Args:
        n_channels: Number of channels ``F`` (one parameter set each).
        alpha: Gain-normalisation exponent.
        delta: Bias added before root compression.
        r: Root-compression exponent.
        smooth_coef: Smoother coefficient ``s`` (weight of the current frame).
        eps: Floor of the smoothed energy.
        learnable: Whether ``alpha``, ``delta``, ``r`` and ``smooth_coef`` are trained.
        chunk: Chunk length of the recursive filter (a speed setting; results do not depend on it).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``n_channels`` or ``chunk`` < 1, or a coefficient is out of range.

    Shape:
        - Input: ``(..., F, T)`` non-negative energies.
        - Output: same shape.

    Example:
        >>> pcen = PCEN(4)
        >>> pcen(torch.rand(2, 1, 4, 50)).shape
        torch.Size([2, 1, 4, 50])
    """

    def __init__(
        self,
        n_channels: int,
        alpha: float = 0.96,
        delta: float = 2.0,
        r: float = 0.5,
        smooth_coef: float = 0.04,
        eps: float = 1e-6,
        learnable: bool = True,
        chunk: int = 32,
    ) -> None:
        super().__init__()
        self.n_channels = check_int("n_channels", n_channels)
        self.chunk = check_int("chunk", chunk)
        self.eps = check_positive_float("eps", eps)
        values = {"alpha": alpha, "delta": delta, "r": r, "smooth_coef": smooth_coef}
        for name, value in values.items():
            check_positive_float(name, value, allow_zero=name == "delta")
        for name in ("alpha", "r", "smooth_coef"):
            if values[name] > 1:
                raise ValueError(f"`{name}` must be in (0, 1], got {values[name]!r}")
        for name, value in values.items():
            tensor = torch.full((self.n_channels,), float(value))
            setattr(self, name, nn.Parameter(tensor, requires_grad=learnable))

    alpha: nn.Parameter
    delta: nn.Parameter
    r: nn.Parameter
    smooth_coef: nn.Parameter

    def smooth(self, energy: torch.Tensor) -> torch.Tensor:
        """Return the smoothed energy ``M`` (same shape as ``energy``, ``(..., F, T)``)."""
        return smooth_energy(energy, self.smooth_coef.clamp(0.0, 1.0), self.chunk)

    def forward(self, energy: torch.Tensor) -> torch.Tensor:
        """Normalise ``energy`` ``(..., F, T)``; see the class docstring.

        Raises:
            TypeError: If ``energy`` is not a floating tensor.
            ValueError: If its frequency axis (``-2``) is not ``n_channels`` long.
        """
        check_tensor("energy", energy, floating=True)
        if energy.dim() < 2 or energy.shape[-2] != self.n_channels:
            raise ValueError(f"`energy` must be (..., F={self.n_channels}, T), got shape {tuple(energy.shape)}")
        smoothed = self.smooth(energy)
        alpha = self.alpha.clamp(0.0, 1.0).unsqueeze(-1)
        delta = self.delta.clamp(min=0.0).unsqueeze(-1)
        r = self.r.clamp(1e-3, 1.0).unsqueeze(-1)
        gain = torch.exp(-alpha * torch.log(smoothed + self.eps))
        return (energy * gain + delta).pow(r) - delta.pow(r)

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, eps={self.eps:g}"
