"""StateNet: a per-frame spectral encoder feeding a recurrent or state-space backbone."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as nnf

from deepSTRF._optional import require
from deepSTRF._validation import check_choice, check_int
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.dependencies.lmu import LMU, LMUFFT
from deepSTRF.models.dependencies.s4 import S4Block
from deepSTRF.models.layers import (
    CausalLayerNorm,
    LocallyConnected1d,
    gru_sequence,
    rnn_sequence,
    supports_gru_sequence,
    supports_rnn_sequence,
)
from deepSTRF.models.readouts import LinearReadout

__all__ = ["StateNet"]

CONNECTIVITIES = ("LC", "FC", "CONV")
RNN_TYPES = ("GRU", "LSTM", "RNN", "vanilla", "LMU", "LMUFFT", "Mamba", "S4", "S4D")


_SCAN_CHUNK = 32  # time steps per chunk of the selective scan


def _to_chunks(t: torch.Tensor, chunk: int, n_chunks: int) -> torch.Tensor:
    """``(B, L, k) -> (chunk, B, n_chunks, k)``, zero-padded to whole chunks, contiguous."""
    batch, length = t.shape[:2]
    t = nnf.pad(t, (0, 0, 0, n_chunks * chunk - length))
    return t.view(batch, n_chunks, chunk, -1).permute(2, 0, 1, 3).contiguous()


def _from_chunks(t: torch.Tensor, length: int) -> torch.Tensor:
    """Inverse of :func:`_to_chunks`: ``(chunk, B, n_chunks, k) -> (B, length, k)``."""
    chunk, batch, n_chunks = t.shape[:3]
    return t.permute(1, 2, 0, 3).reshape(batch, n_chunks * chunk, -1)[:, :length]


def _linear_scan_(decay: torch.Tensor, state: torch.Tensor, reverse: bool = False) -> None:
    """In place, ``state[t] += decay[t] * state[t - 1]`` along time (``t + 1`` if ``reverse``).

    Both tensors are ``(chunk, B, n_chunks, ...)``; ``decay`` is overwritten. Positions
    within a chunk are combined in order (every chunk at once), then the chunk totals
    by a doubling scan across chunks, then each chunk receives its incoming state.
    """
    chunk, n_chunks = decay.shape[0], decay.shape[2]
    for t in range(chunk - 2, -1, -1) if reverse else range(1, chunk):
        previous = t + 1 if reverse else t - 1
        state[t].addcmul_(decay[t], state[previous])
        decay[t].mul_(decay[previous])
    edge = 0 if reverse else -1
    carry, gain = state[edge].clone(), decay[edge].clone()  # (B, n_chunks, ...): whole-chunk effect
    if reverse:
        carry, gain = carry.flip(1), gain.flip(1)
    span = 1
    while span < n_chunks:
        carry[:, span:] = torch.addcmul(carry[:, span:], gain[:, span:], carry[:, :-span])
        gain[:, span:] = gain[:, span:] * gain[:, :-span]
        span *= 2
    if reverse:
        state[:, :, :-1].addcmul_(decay[:, :, :-1], carry.flip(1)[:, 1:].unsqueeze(0))
    else:
        state[:, :, 1:].addcmul_(decay[:, :, 1:], carry[:, :-1].unsqueeze(0))


class _SelectiveScan(torch.autograd.Function):
    """Mamba's selective scan ``h_t = exp(Δ_t A) h_{t-1} + Δ_t x_t B_t``, ``y_t = h_t C_t``, with an adjoint backward.

    Shapes: ``x, delta (B, L, E)``, ``A (E, N)``, ``B, C (B, L, N)``, output ``(B, L, E)``.
    The backward pass runs the adjoint recursion ``g_t = y'_t C_t + exp(Δ_{t+1} A) g_{t+1}``
    with the same scan, so only the states are stored and few large tensors are allocated.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
    ) -> torch.Tensor:
        length = x.shape[1]
        chunk = min(_SCAN_CHUNK, length)
        n_chunks = -(-length // chunk)
        d, u, b, c = (_to_chunks(t, chunk, n_chunks) for t in (delta, delta * x, B, C))
        decay = torch.exp_(d.unsqueeze(-1) * A)
        state = u.unsqueeze(-1) * b.unsqueeze(-2)
        _linear_scan_(decay, state)
        ctx.save_for_backward(x, delta, A, B, C, state)
        return _from_chunks((state @ c.unsqueeze(-1)).squeeze(-1), length)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, delta, A, B, C, state = ctx.saved_tensors
        length, chunk, n_chunks = x.shape[1], state.shape[0], state.shape[2]
        d, u, b, c, gy = (_to_chunks(t, chunk, n_chunks) for t in (delta, delta * x, B, C, grad_y))
        decay = torch.exp_(d.unsqueeze(-1) * A)
        grad_C = (gy.unsqueeze(-2) @ state).squeeze(-2)
        adjoint = gy.unsqueeze(-1) * c.unsqueeze(-2)
        scratch = torch.empty_like(decay)  # decay of the next step, then reused
        scratch[:-1] = decay[1:]
        scratch[-1, :, :-1] = decay[0, :, 1:]
        scratch[-1, :, -1] = 0
        _linear_scan_(scratch, adjoint, reverse=True)
        grad_u = _from_chunks((adjoint @ b.unsqueeze(-1)).squeeze(-1), length)
        grad_B = (u.unsqueeze(-2) @ adjoint).squeeze(-2)
        adjoint[1:] *= state[:-1]  # times h_{t-1} and exp(Δ_t A): gradient of the log-decay Δ_t A
        adjoint[0, :, 1:] *= state[-1, :, :-1]
        adjoint[0, :, 0] = 0
        adjoint *= decay
        grad_A = torch.mul(adjoint, d.unsqueeze(-1), out=scratch).sum((0, 1, 2))
        grad_delta = _from_chunks(torch.mul(adjoint, A, out=scratch).sum(-1), length) + grad_u * x
        return (
            (grad_u * delta).to(x.dtype),
            grad_delta.to(delta.dtype),
            grad_A.to(A.dtype),
            _from_chunks(grad_B, length).to(B.dtype),
            _from_chunks(grad_C, length).to(C.dtype),
        )


def _selective_scan(
    x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor
) -> torch.Tensor:
    """Drop-in replacement of ``mambapy.mamba.MambaBlock.selective_scan`` (same arguments and result)."""
    return _SelectiveScan.apply(x, delta, A, B, C) + D * x


def _encoder(connectivity: str, F: int, C_in: int, C: int, kernel_size: int, stride: int) -> nn.Sequential:
    """Stateless spectral encoder ``(M, C_in, F) -> (M, C, F_down)`` applied to every frame alone."""
    f_down = (F - kernel_size) // stride + 1
    if connectivity == "LC":
        layer: nn.Module = LocallyConnected1d(F, C_in, C, kernel_size, stride=stride)
    elif connectivity == "FC":
        layer = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Linear(C_in * F, C * f_down),
            nn.Unflatten(dim=1, unflattened_size=(C, f_down)),
        )
    else:
        layer = nn.Conv1d(C_in, C, kernel_size, stride=stride)
    return nn.Sequential(layer, CausalLayerNorm(C, dim=1), nn.Sigmoid())


def _backbone(rnn_type: str, size: int) -> nn.Module:
    """Sequence model ``(B, T, size) -> (B, T, size)`` of the given type."""
    if rnn_type == "GRU":
        return nn.GRU(size, size, batch_first=True)
    if rnn_type == "LSTM":
        return nn.LSTM(size, size, batch_first=True)
    if rnn_type in ("RNN", "vanilla"):
        return nn.RNN(size, size, batch_first=True)
    if rnn_type == "LMU":
        return LMU(input_size=size, hidden_size=size, memory_size=128, theta=99)
    if rnn_type == "LMUFFT":
        return LMUFFT(input_size=size, hidden_size=size, memory_size=128, theta=99)
    if rnn_type in ("S4", "S4D"):
        return S4Block(d_model=size, transposed=False, mode="dplr" if rnn_type == "S4" else "diag")
    mamba = require("mambapy.mamba", extra="mamba", purpose="StateNet(rnn_type='Mamba')")
    block = mamba.MambaBlock(mamba.MambaConfig(d_model=size, n_layers=1))
    block.selective_scan = _selective_scan  # the chunked scan below, instead of mambapy's
    return block


class StateNet(AudioEncodingModel):
    """Stateful encoding model: per-frame spectral encoder, recurrent backbone, per-frame readout.

    Every frame ``(C_in, F)`` is encoded on its own (no mixing across time) into
    ``hidden_channels x F_down`` features, ``F_down = (F - kernel_size) // stride + 1``,
    by a locally connected (``'LC'``), fully connected (``'FC'``) or convolutional
    (``'CONV'``) layer, a :class:`~deepSTRF.models.layers.CausalLayerNorm` over channels
    and a sigmoid. The ``H = hidden_channels * F_down`` features of successive frames
    drive a causal sequence model of width ``H``: ``'GRU'``, ``'LSTM'``, ``'RNN'`` (alias
    ``'vanilla'``), ``'LMU'`` (the full cell :class:`~deepSTRF.models.dependencies.lmu.LMU`, memory
    128, window 99 frames, fixed ``A``/``B``, as published), ``'LMUFFT'`` (the feedback-free parallel
    variant :class:`~deepSTRF.models.dependencies.lmu.LMUFFT`, same sizes; a different model),
    ``'Mamba'`` (``mambapy``, needs the ``mamba`` extra), ``'S4'``
    (:class:`~deepSTRF.models.dependencies.s4.S4Block` with the diagonal-plus-low-rank S4
    kernel, state size 64, as published) or ``'S4D'`` (the same block with the diagonal S4D
    kernel, ``mode="diag"``; a different model). A per-frame linear readout with
    the output activation maps the ``H`` states to the ``N`` neurons (Rançon, Masquelier
    & Cottereau 2025, Commun. Biol. 8: 1456). Temporal context comes only from the
    backbone's state. The encoder normalises with a causal layer norm (a batch norm
    would pool statistics across time and break causality).

    The Mamba block is mambapy's ``MambaBlock`` (``d_state=16``, expansion 2) with its
    selective scan replaced by an exact chunked scan with a hand-written adjoint backward
    pass, which allocates a few large tensors instead of dozens (several times faster on
    CPU than mambapy's parallel scan for 1000-frame stimuli).

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: Default length of :meth:`STRF_gradmap` probes (the model's
            memory is not limited to a window).
        kernel_size: Frequency extent of the encoder's filters.
        stride: Frequency stride of the encoder's filters.
        hidden_channels: Encoder channels ``C``.
        connectivity: ``'LC'``, ``'FC'`` or ``'CONV'``.
        rnn_type: ``'GRU'``, ``'LSTM'``, ``'RNN'``, ``'vanilla'``, ``'LMU'``, ``'LMUFFT'``, ``'Mamba'``,
            ``'S4'`` or ``'S4D'``.
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for ``ParametricSoftplus(out_neurons)``.
        prefiltering: Optional spectrogram prefilter.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For an unknown ``connectivity`` or ``rnn_type`` (the choices are listed),
            or a ``kernel_size`` larger than ``F``.
        ImportError: For ``rnn_type='Mamba'`` without ``mambapy`` (the ``mamba`` extra).

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = StateNet(n_frequency_bands=12, kernel_size=4, stride=2, hidden_channels=3, out_neurons=2)
        >>> model.H, model(torch.rand(2, 1, 12, 37)).shape
        (15, torch.Size([2, 2, 1, 37]))
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 1,
        kernel_size: int = 7,
        stride: int = 3,
        hidden_channels: int = 7,
        connectivity: str = "LC",
        rnn_type: str = "GRU",
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.K = check_int("kernel_size", kernel_size)
        self.S = check_int("stride", stride)
        self.C = check_int("hidden_channels", hidden_channels)
        self.connectivity = str(check_choice("connectivity", connectivity, CONNECTIVITIES))
        self.rnn_type = str(check_choice("rnn_type", rnn_type, RNN_TYPES))
        if self.K > self.F:
            raise ValueError(f"`kernel_size` must be <= n_frequency_bands={self.F}, got {kernel_size}")
        self.L = (self.F - self.K) // self.S + 1
        self.H = self.C * self.L
        self.encoder_layers = _encoder(self.connectivity, self.F, self.C_in, self.C, self.K, self.S)
        self.rnn = _backbone(self.rnn_type, self.H)
        self.readout = LinearReadout(
            in_features=self.H,
            out_neurons=self.O,
            activation=ParametricSoftplus(self.O) if output_activation is None else output_activation,
        )

    def _sequence(self, features: torch.Tensor) -> torch.Tensor:
        """Run the backbone on ``(B, T, H)`` features.

        When gradients are recorded, a GRU or an Elman RNN on CPU runs through
        :func:`~deepSTRF.models.layers.gru_sequence` /
        :func:`~deepSTRF.models.layers.rnn_sequence` (the same recurrence and parameters as
        one autograd node, a faster training step); without them the module's own forward
        is the faster one.
        """
        recording = torch.is_grad_enabled() and (
            features.requires_grad or any(p.requires_grad for p in self.rnn.parameters())
        )
        if recording and supports_gru_sequence(self.rnn, features):
            return gru_sequence(features, cast(nn.GRU, self.rnn))
        if recording and supports_rnn_sequence(self.rnn, features):
            return rnn_sequence(features, cast(nn.RNN, self.rnn))
        out = self.rnn(features)
        return out if self.rnn_type == "Mamba" else out[0]

    def forward(self, stimulus: torch.Tensor) -> torch.Tensor:
        """Encode every frame, run the backbone over time and read out the neurons.

        Args:
            stimulus: Spectrogram ``(B, 1, F, T)`` (or waveform ``(B, 1, T_audio)`` with ``wav2spec``).

        Returns:
            Predictions ``(B, N, 1, T)``.
        """
        x = self.prefiltering(self.wav2spec(stimulus))  # (B, C_in, F, T)
        if x.dim() != 4 or x.shape[1:3] != (self.C_in, self.F):
            raise ValueError(
                f"expected a spectrogram (B, {self.C_in}, {self.F}, T) after the front-end and prefilter, "
                f"got {tuple(x.shape)} from an input of shape {tuple(stimulus.shape)}"
            )
        batch, _, _, length = x.shape
        frames = x.permute(0, 3, 1, 2).reshape(batch * length, self.C_in, self.F)
        features = self.encoder_layers(frames).reshape(batch, length, self.H)
        return self.readout(self._sequence(features).transpose(1, 2))
