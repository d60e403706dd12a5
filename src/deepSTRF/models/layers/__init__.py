"""Building blocks of the encoding models.

- Normalisation: :class:`CausalLayerNorm`.
- Spectro-temporal receptive fields: :class:`CausalSTRFConv` and its pluggable kernels
  :class:`ParametricSTRF` and :class:`SeparableSTRF` (base class :class:`STRFKernel`).
- Temporal filtering: :class:`LearnableExponentialDecay`, :func:`causal_fir`.
- Spectral encoders: :class:`LocallyConnected1d`.
- Attention: :class:`SinusoidalPositionalEncoding`, :func:`build_causal_window_mask`.
- Recurrence: :func:`gru_sequence` and :func:`rnn_sequence`, one-layer GRU and Elman RNN
  with hand-written backward passes.

Example:
    >>> import torch
    >>> from deepSTRF.models.layers import CausalSTRFConv, ParametricSTRF
    >>> conv = CausalSTRFConv(F=16, T=5, C_in=1, C_out=2, kernel=ParametricSTRF(16, 5, 1, 2, num_gaussians=3))
    >>> conv(torch.randn(1, 1, 16, 30)).shape
    torch.Size([1, 2, 1, 30])
"""

from deepSTRF.models.layers.attention import SinusoidalPositionalEncoding, build_causal_window_mask
from deepSTRF.models.layers.local import LocallyConnected1d
from deepSTRF.models.layers.normalization import CausalLayerNorm
from deepSTRF.models.layers.recurrent import (
    gru_sequence,
    rnn_sequence,
    supports_gru_sequence,
    supports_rnn_sequence,
)
from deepSTRF.models.layers.strf import CausalSTRFConv, ParametricSTRF, SeparableSTRF, STRFKernel, strf_conv
from deepSTRF.models.layers.temporal import LearnableExponentialDecay, causal_fir, decay_profile

__all__ = [
    "CausalLayerNorm",
    "CausalSTRFConv",
    "LearnableExponentialDecay",
    "LocallyConnected1d",
    "ParametricSTRF",
    "STRFKernel",
    "SeparableSTRF",
    "SinusoidalPositionalEncoding",
    "build_causal_window_mask",
    "causal_fir",
    "decay_profile",
    "gru_sequence",
    "rnn_sequence",
    "strf_conv",
    "supports_gru_sequence",
    "supports_rnn_sequence",
]
