"""Transformer: causal (optionally windowed) self-attention over spectrogram frames."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_int
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.layers import SinusoidalPositionalEncoding, build_causal_window_mask
from deepSTRF.models.readouts import LinearReadout

__all__ = ["Transformer"]


_QUERY_BLOCK = 128  # queries per block of the causal attention with dropout


class _CausalSelfAttention(nn.Module):
    """Multi-head self-attention where frame ``i`` sees frames ``j <= i`` (and ``i - j < window``).

    Without a window the attention uses the causal kernel of ``scaled_dot_product_attention``
    (in training with dropout, :meth:`_blocked_causal`).
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
        if self.window is None and p > 0.0:
            y = self._blocked_causal(q, k, v, p)
        elif self.window is None:
            y = nnf.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = self._windowed(q, k, v, p)
        return self.out(y.transpose(1, 2).reshape(batch, length, d_model))

    def _blocked_causal(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
        """Causal attention with dropout, computed on the lower triangle only, in blocks of queries.

        ``scaled_dot_product_attention`` with dropout falls back to the full ``L x L``
        product on CPU and draws a dropout mask for every pair, half of them masked anyway.
        Here each block of queries meets only the keys up to its last frame, and the
        dropout mask comes from one uniform draw per kept pair: the same distribution
        (keep with probability ``1 - p``, scale by ``1 / (1 - p)``) at about half the cost.
        """
        length = q.shape[2]
        block = min(_QUERY_BLOCK, length)
        scale = q.shape[-1] ** -0.5
        upper = torch.ones(block, block, dtype=torch.bool, device=q.device).triu_(1)
        outputs = []
        for start in range(0, length, block):
            stop = min(start + block, length)
            scores = (q[:, :, start:stop] * scale) @ k[:, :, :stop].transpose(-1, -2)  # (B, h, b, stop)
            scores[..., start:].masked_fill_(upper[: stop - start, : stop - start], -math.inf)
            weights = torch.softmax(scores, dim=-1)
            keep = torch.rand_like(weights).ge_(p)
            outputs.append((weights * keep) @ v[:, :, :stop])
        return torch.cat(outputs, dim=2).mul_(1.0 / (1.0 - p))

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


class _EncoderLayer(nn.Module):
    """Post-norm transformer layer of ``nn.TransformerEncoderLayer`` (ReLU MLP, dropout), causal attention.

    ``x = LN1(x + drop(attn(x)))`` then ``x = LN2(x + drop(W2 drop(relu(W1 x))))``.
    """

    def __init__(self, d_model: int, n_heads: int, dim_feedforward: int, window: int | None, dropout: float) -> None:
        super().__init__()
        self.attention = _CausalSelfAttention(d_model, n_heads, window, dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attention(x)))
        return self.norm2(x + self.dropout(self.linear2(self.dropout(torch.relu(self.linear1(x))))))


class Transformer(AudioEncodingModel):
    """Causal transformer over patchified spectrogram frames with a per-frame readout (deepSTRF 0.1.0's model).

    The (prefiltered) spectrogram ``(B, C_in, F, T)`` is left-padded with
    ``time_patch_size - 1`` zero frames and patchified by a ``nn.Conv2d`` with kernel
    ``(freq_patch_size, time_patch_size)`` and stride ``(freq_patch_size, 1)``: every
    frame gives ``F_p = F / freq_patch_size`` patches of ``embedding_dim`` features,
    flattened into one token of ``token_dim = embedding_dim * F_p``. Sinusoidal
    positions are added (:class:`~deepSTRF.models.layers.SinusoidalPositionalEncoding`,
    any length). ``n_layers`` post-norm encoder layers follow, as
    ``nn.TransformerEncoderLayer`` (feed-forward width ``4 * token_dim``, ReLU, dropout
    ``dropout``), whose attention lets frame ``t`` see frames ``t - context_window + 1 ..
    t`` (the whole past when ``context_window`` is ``None``), and a per-frame linear
    readout with the output activation (identity by default). The model is strictly
    causal. Without a window, attention uses PyTorch's causal kernel (in training with
    dropout, blocks of queries over the lower triangle only, about half the time and memory
    on CPU); with one, queries are processed in blocks, at a cost linear in the stimulus length.

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        freq_patch_size: Bands per patch; must divide ``F``; ``None`` for ``F`` (one patch per frame).
        time_patch_size: Frames per patch (the patch ends at the current frame).
        context_window: Attention look-back in frames, the current one included; ``None`` for the whole past.
        embedding_dim: Features per patch.
        n_heads: Attention heads; must divide ``token_dim``.
        n_layers: Encoder layers.
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for the identity.
        prefiltering: Optional spectrogram prefilter.
        wav2spec: Optional waveform front-end.
        dropout: Dropout probability in attention and residual branches (training only).

    Raises:
        TypeError, ValueError: For invalid sizes, a ``freq_patch_size`` that does not divide ``F``,
            an odd ``token_dim`` or ``n_heads`` that does not divide it, ``context_window`` or ``dropout``.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = Transformer(n_frequency_bands=12, freq_patch_size=4, context_window=8, embedding_dim=8,
        ...                     n_heads=2, out_neurons=3)
        >>> model.token_dim, model(torch.rand(2, 1, 12, 37)).shape
        (24, torch.Size([2, 3, 1, 37]))
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        freq_patch_size: int | None = None,
        time_patch_size: int = 1,
        context_window: int | None = None,
        embedding_dim: int = 48,
        n_heads: int = 1,
        n_layers: int = 1,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
        dropout: float = 0.1,
    ) -> None:
        self.K_T = check_int("time_patch_size", time_patch_size)
        self.context_window = None if context_window is None else check_int("context_window", context_window)
        probe = self.context_window if self.context_window is not None else max(self.K_T, 9)
        super().__init__(n_frequency_bands, probe, out_neurons, prefiltering, wav2spec)
        self.K_F = self.F if freq_patch_size is None else check_int("freq_patch_size", freq_patch_size)
        if self.F % self.K_F:
            raise ValueError(f"`freq_patch_size` must divide n_frequency_bands={self.F}, got {freq_patch_size}")
        self.embedding_dim = check_int("embedding_dim", embedding_dim)
        self.n_heads = check_int("n_heads", n_heads)
        self.n_layers = check_int("n_layers", n_layers)
        self.F_p = self.F // self.K_F
        self.token_dim = self.embedding_dim * self.F_p
        if self.token_dim % 2:
            raise ValueError(
                f"token_dim = embedding_dim * F_p must be even (sinusoidal positions), got "
                f"{self.embedding_dim} * {self.F_p} = {self.token_dim}"
            )
        if self.token_dim % self.n_heads:
            raise ValueError(f"token_dim = {self.token_dim} must be divisible by n_heads={self.n_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a float in [0, 1), got {dropout!r}")
        self.patchify = nn.Conv2d(self.C_in, self.embedding_dim, (self.K_F, self.K_T), stride=(self.K_F, 1))
        self.pos_encoding = SinusoidalPositionalEncoding(self.token_dim)
        self.core = nn.Sequential(
            *(
                _EncoderLayer(self.token_dim, self.n_heads, 4 * self.token_dim, self.context_window, float(dropout))
                for _ in range(self.n_layers)
            )
        )
        self.readout = LinearReadout(
            in_features=self.token_dim,
            out_neurons=self.O,
            activation=nn.Identity() if output_activation is None else output_activation,
        )

    def forward(self, stimulus: torch.Tensor) -> torch.Tensor:
        """Patchify every frame, apply the causal encoder layers and read out the neurons.

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
        patches = self.patchify(nnf.pad(x, (self.K_T - 1, 0)))  # (B, embedding_dim, F_p, T)
        tokens = patches.flatten(1, 2).transpose(1, 2)  # (B, T, token_dim)
        return self.readout(self.core(self.pos_encoding(tokens)).transpose(1, 2))
