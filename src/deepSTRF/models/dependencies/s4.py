"""Diagonal structured state-space layer (S4D; Gu, Gupta, Goel & Ré, 2022) in plain PyTorch.

Each of the ``d_model`` channels is an independent linear state-space model with a
complex diagonal state matrix of ``d_state / 2`` modes (the conjugate modes are implied
by taking twice the real part):

.. math::
    x_t = \\bar A\\, x_{t-1} + \\bar B\\, u_t, \\qquad y_t = 2\\,\\mathrm{Re}(C x_t) + D u_t,

with ``A = -exp(log_A_real) + i·A_imag`` initialised as S4D-Lin (``-1/2 + iπn``), a
learnable step ``dt`` per channel and the zero-order-hold discretisation
``Ā = exp(dt·A)``, ``B̄ = (Ā - 1)/A`` (``B = 1``). The layer output is
``GLU(Linear(GELU(y)))``, as in the standard S4 block.

The convolution of the input with the SSM kernel ``K_k = 2 Re(C Ā^k B̄)`` is computed
exactly and causally, without FFT: within chunks of ``C`` frames by a Toeplitz product,
and across chunks through the states at chunk boundaries, which a log-depth doubling
scan accumulates. Outputs before any frame are therefore bit-identical whatever follows.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["S4Block"]

_CHUNK = 32  # frames per chunk of the causal convolution


class S4Block(ConfigurableModule):
    """S4D layer: a diagonal state-space convolution followed by GELU, dropout and a GLU projection.

    Args:
        d_model: Number of channels ``H``.
        d_state: State size per channel (even; ``d_state / 2`` complex modes).
        dt_min: Smallest initial discretisation step, in frames.
        dt_max: Largest initial discretisation step, in frames.
        dropout: Dropout probability after the activation.
        transposed: If True, inputs and outputs are ``(B, H, T)``; otherwise ``(B, T, H)``.

    Shape:
        - Input: ``(B, T, H)`` (``transposed=False``) or ``(B, H, T)``
        - Output: same shape as the input.

    Raises:
        TypeError, ValueError: For invalid arguments or a malformed input.

    Example:
        >>> layer = S4Block(d_model=6, d_state=8)
        >>> y, state = layer(torch.randn(2, 37, 6))
        >>> y.shape, state
        (torch.Size([2, 37, 6]), None)
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dropout: float = 0.0,
        transposed: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model)
        self.d_state = check_int("d_state", d_state, minimum=2)
        if self.d_state % 2:
            raise ValueError(f"`d_state` must be even, got {d_state}")
        dt_min = check_positive_float("dt_min", dt_min)
        dt_max = check_positive_float("dt_max", dt_max)
        if dt_min > dt_max:
            raise ValueError(f"`dt_min` must not exceed `dt_max`, got {dt_min} > {dt_max}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1), got {dropout}")
        self.transposed = bool(transposed)
        modes = self.d_state // 2
        log_dt = torch.rand(self.d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.log_A_real = nn.Parameter(torch.full((self.d_model, modes), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(modes, dtype=torch.float32).repeat(self.d_model, 1))
        self.C = nn.Parameter(torch.randn(self.d_model, modes, 2) * math.sqrt(0.5))  # real and imaginary parts
        self.D = nn.Parameter(torch.randn(self.d_model))
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Sequential(nn.Linear(self.d_model, 2 * self.d_model), nn.GLU(dim=-1))

    def _discretise(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``dt·A`` and ``C·B̄``, both complex of shape ``(H, modes)``."""
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dtA = A * torch.exp(self.log_dt)[:, None]
        CB = torch.view_as_complex(self.C) * torch.expm1(dtA) / A
        return dtA, CB

    def kernel(self, length: int) -> torch.Tensor:
        """The SSM convolution kernel ``K_k = 2 Re(C Ā^k B̄)`` for ``k < length``, shape ``(H, length)``.

        Example:
            >>> S4Block(d_model=3, d_state=4).kernel(5).shape
            torch.Size([3, 5])
        """
        dtA, CB = self._discretise()
        k = torch.arange(length, device=dtA.device, dtype=dtA.real.dtype)
        return 2 * torch.einsum("hq,hqk->hk", CB, torch.exp(dtA[..., None] * k)).real

    def convolve(self, u: torch.Tensor) -> torch.Tensor:
        """Causal convolution of ``u`` (``(B, H, T)``) with the SSM kernel, without the ``D`` term.

        Example:
            >>> S4Block(d_model=3, d_state=4).convolve(torch.randn(2, 3, 9)).shape
            torch.Size([2, 3, 9])
        """
        batch, channels, length = u.shape
        chunk = min(length, _CHUNK)
        n_chunks = -(-length // chunk)
        u = nn.functional.pad(u, (0, n_chunks * chunk - length)).view(batch, channels, n_chunks, chunk)
        dtA, CB = self._discretise()
        steps = torch.arange(chunk + 1, device=u.device, dtype=u.dtype)
        decay = torch.exp(dtA[..., None] * steps)  # (H, q, chunk + 1): Ā^0 .. Ā^chunk
        impulse = 2 * torch.einsum("hq,hqk->hk", CB, decay[..., :chunk]).real  # (H, chunk)
        lag = torch.arange(chunk, device=u.device)
        lag = lag[:, None] - lag[None, :]
        toeplitz = impulse[:, lag.clamp(min=0)] * (lag >= 0).to(u.dtype)  # (H, t, s)
        y = torch.einsum("hts,bhns->bhnt", toeplitz, u)
        # state (per unit B̄) at the end of each chunk from that chunk's input, then across chunks
        ends = torch.einsum("hqs,bhns->bhnq", decay[..., :chunk].flip(-1), u.to(decay.dtype))
        carry_step, span = decay[..., chunk], 1
        while span < n_chunks:
            ends = torch.cat([ends[:, :, :span], ends[:, :, span:] + carry_step[:, None] * ends[:, :, :-span]], dim=2)
            carry_step, span = carry_step * carry_step, 2 * span
        previous = nn.functional.pad(ends[:, :, :-1], (0, 0, 1, 0))  # state entering each chunk
        y = y + 2 * torch.einsum("hqt,bhnq->bhnt", CB[..., None] * decay[..., 1:], previous).real
        return y.reshape(batch, channels, n_chunks * chunk)[..., :length]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Apply the layer (see the class docstring).

        Returns:
            ``(y, state)``: the output sequence and ``None`` (the convolution mode keeps no state).
        """
        check_tensor("x", x, ndim=3, floating=True)
        channel_axis = 1 if self.transposed else 2
        if x.shape[channel_axis] != self.d_model:
            layout = "(B, H, T)" if self.transposed else "(B, T, H)"
            raise ValueError(f"`x` must have layout {layout} with H={self.d_model}, got shape {tuple(x.shape)}")
        u = x if self.transposed else x.transpose(1, 2)
        y = self.convolve(u) + self.D[:, None] * u
        y = self.dropout(self.activation(y)).transpose(1, 2)
        y = self.output(y)
        return (y.transpose(1, 2) if self.transposed else y), None
