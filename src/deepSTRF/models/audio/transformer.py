"""Transformer: causal (optionally windowed) self-attention over spectrogram frames."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_int
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.layers import SinusoidalPositionalEncoding, build_causal_window_mask
from deepSTRF.models.readouts import LinearReadout

__all__ = ["Transformer"]


class _CausalSelfAttention(nn.Module):
    """Multi-head self-attention where frame ``i`` sees frames ``j <= i`` (and ``i - j < window``).

    Without a window the attention uses the causal kernel of ``scaled_dot_product_attention``.
    With a window of ``w`` frames, queries are processed in blocks of ``w`` frames that
    attend to their own block and the previous one under the mask of
    :func:`~deepSTRF.models.layers.build_causal_window_mask` (explicit softmax over the
    ``2w`` keys of each block), so the cost grows as ``T * w`` instead of ``T**2``.
    """

    def __init__(self, d_model: int, n_heads: int, window: int | None, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.window, self.dropout = n_heads, window, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)  # (B, h, L, d)
        p = self.dropout if self.training else 0.0
        if self.window is None:
            y = nnf.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            y = self._windowed(q, k, v, p)
        return self.out(y.transpose(1, 2).reshape(batch, length, d_model))

    def _windowed(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
        length = q.shape[2]
        w = min(self.window or 1, length)
        n_blocks = -(-length // w)
        # pad to whole blocks after the end, then pair every block with the previous one (zeros before the start)
        q, k, v = (nnf.pad(t, (0, 0, 0, n_blocks * w - length)).unflatten(2, (n_blocks, w)) for t in (q, k, v))
        k, v = (torch.cat([nnf.pad(t[:, :, :-1], (0, 0, 0, 0, 1, 0)), t], dim=3) for t in (k, v))  # (B, h, n, 2w, d)
        forbidden = build_causal_window_mask(2 * w, self.window, device=q.device)[w:].repeat(n_blocks, 1, 1)
        forbidden[0, :, :w] = True  # the zero block before the start
        scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)).masked_fill_(forbidden, -math.inf)
        weights = nnf.dropout(torch.softmax(scores, dim=-1), p=p)
        return (weights @ v).flatten(2, 3)[:, :, :length]


class _EncoderBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, d_model: int, n_heads: int, dim_feedforward: int, window: int | None, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = _CausalSelfAttention(d_model, n_heads, window, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.feedforward = nn.Sequential(
            nn.Linear(d_model, dim_feedforward), nn.GELU(), nn.Linear(dim_feedforward, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x)))
        return x + self.dropout(self.feedforward(self.norm2(x)))


class Transformer(AudioEncodingModel):
    """Causal transformer over spectrogram frames with a per-frame readout.

    Each frame's ``(C_in, F)`` column becomes one token through a linear patch
    embedding to ``d_model``; sinusoidal positions are added
    (:class:`~deepSTRF.models.layers.SinusoidalPositionalEncoding`, any length);
    ``n_layers`` pre-norm blocks of causal multi-head self-attention and a GELU MLP
    follow, then a final layer norm and a per-frame linear readout with the output
    activation. Frame ``t`` attends to frames ``t - window + 1 .. t`` (all past frames
    when ``window`` is ``None``), so the model is strictly causal.

    The defaults (``d_model=32``, ``n_heads=2``, ``n_layers=2``, ``dim_feedforward=64``,
    ``window=32``) give a model the size of the other zoo models (about 21k parameters
    for ``F=34``, ``N=73``) whose receptive field spans the last ``63`` frames (each layer
    looks ``31`` frames back), at a cost linear in the stimulus length. ``window=None``
    attends over the whole past, at a cost quadratic in the length (several times
    slower on 1000-frame stimuli).

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: Default length of :meth:`STRF_gradmap` probes.
        d_model: Token width; must be even and divisible by ``n_heads``.
        n_heads: Attention heads.
        n_layers: Transformer blocks.
        dim_feedforward: Hidden width of each block's MLP.
        window: Attention look-back in frames, the current one included; ``None`` for the whole past.
        dropout: Dropout probability in attention and residual branches (training only).
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for ``ParametricSoftplus(out_neurons)``.
        prefiltering: Optional spectrogram prefilter.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError, ValueError: For invalid sizes, ``window`` or ``dropout``.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = Transformer(n_frequency_bands=12, d_model=16, n_heads=2, n_layers=1, window=8, out_neurons=3)
        >>> model(torch.rand(2, 1, 12, 37)).shape
        torch.Size([2, 3, 1, 37])
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 1,
        d_model: int = 32,
        n_heads: int = 2,
        n_layers: int = 2,
        dim_feedforward: int = 64,
        window: int | None = 32,
        dropout: float = 0.0,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.d_model = check_int("d_model", d_model)
        self.n_heads = check_int("n_heads", n_heads)
        if self.d_model % self.n_heads:
            raise ValueError(f"`d_model` must be divisible by n_heads={self.n_heads}, got {d_model}")
        self.window = None if window is None else check_int("window", window)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a float in [0, 1), got {dropout!r}")
        self.embedding = nn.Linear(self.C_in * self.F, self.d_model)
        self.positions = SinusoidalPositionalEncoding(self.d_model)
        self.core = nn.Sequential(
            *(
                _EncoderBlock(
                    self.d_model,
                    self.n_heads,
                    check_int("dim_feedforward", dim_feedforward),
                    self.window,
                    float(dropout),
                )
                for _ in range(check_int("n_layers", n_layers))
            ),
            nn.LayerNorm(self.d_model),
        )
        self.readout = LinearReadout(
            in_features=self.d_model,
            out_neurons=self.O,
            activation=ParametricSoftplus(self.O) if output_activation is None else output_activation,
        )

    def forward(self, stimulus: torch.Tensor) -> torch.Tensor:
        """Embed every frame, apply causal attention blocks and read out the neurons.

        Args:
            stimulus: Spectrogram ``(B, 1, F, T)`` (or waveform ``(B, 1, T_audio)`` with ``wav2spec``).

        Returns:
            Predictions ``(B, N, 1, T)``.
        """
        x = self.prefiltering(self.wav2spec(stimulus))
        if x.dim() != 4 or x.shape[1:3] != (self.C_in, self.F):
            raise ValueError(
                f"expected a spectrogram (B, {self.C_in}, {self.F}, T) after the front-end and prefilter, "
                f"got {tuple(x.shape)} from an input of shape {tuple(stimulus.shape)}"
            )
        tokens = self.embedding(x.flatten(1, 2).transpose(1, 2))  # (B, T, d_model)
        return self.readout(self.core(self.positions(tokens)).transpose(1, 2))
