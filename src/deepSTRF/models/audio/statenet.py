"""StateNet: a per-frame spectral encoder feeding a recurrent or state-space backbone."""

from __future__ import annotations

import torch
from torch import nn

from deepSTRF._optional import require
from deepSTRF._validation import check_choice, check_int
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.dependencies.lmu import LMU
from deepSTRF.models.dependencies.s4 import S4Block
from deepSTRF.models.layers import CausalLayerNorm, LocallyConnected1d
from deepSTRF.models.readouts import LinearReadout

__all__ = ["StateNet"]

CONNECTIVITIES = ("LC", "FC", "CONV")
RNN_TYPES = ("GRU", "LSTM", "RNN", "vanilla", "LMU", "Mamba", "S4")


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
    if rnn_type == "S4":
        return S4Block(d_model=size, transposed=False)
    mamba = require("mambapy.mamba", extra="mamba", purpose="StateNet(rnn_type='Mamba')")
    return mamba.MambaBlock(mamba.MambaConfig(d_model=size, n_layers=1))


class StateNet(AudioEncodingModel):
    """Stateful encoding model: per-frame spectral encoder, recurrent backbone, per-frame readout.

    Every frame ``(C_in, F)`` is encoded on its own (no mixing across time) into
    ``hidden_channels x F_down`` features, ``F_down = (F - kernel_size) // stride + 1``,
    by a locally connected (``'LC'``), fully connected (``'FC'``) or convolutional
    (``'CONV'``) layer, a :class:`~deepSTRF.models.layers.CausalLayerNorm` over channels
    and a sigmoid. The ``H = hidden_channels * F_down`` features of successive frames
    drive a causal sequence model of width ``H``: ``'GRU'``, ``'LSTM'``, ``'RNN'`` (alias
    ``'vanilla'``), ``'LMU'`` (:class:`~deepSTRF.models.dependencies.lmu.LMU`, memory 128,
    window 99 frames), ``'Mamba'`` (``mambapy``, needs the ``mamba`` extra) or ``'S4'``
    (:class:`~deepSTRF.models.dependencies.s4.S4Block`). A per-frame linear readout with
    the output activation maps the ``H`` states to the ``N`` neurons (Rançon, Masquelier
    & Cottereau 2025, Commun. Biol. 8: 1456). Temporal context comes only from the
    backbone's state; the published encoder's BatchNorm, which pools statistics across
    time, is replaced by the causal layer norm.

    Mamba's selective scan runs in mambapy's parallel mode when gradients are needed
    and in its sequential mode otherwise (inference), which is faster on CPU.

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: Default length of :meth:`STRF_gradmap` probes (the model's
            memory is not limited to a window).
        kernel_size: Frequency extent of the encoder's filters.
        stride: Frequency stride of the encoder's filters.
        hidden_channels: Encoder channels ``C``.
        connectivity: ``'LC'``, ``'FC'`` or ``'CONV'``.
        rnn_type: ``'GRU'``, ``'LSTM'``, ``'RNN'``, ``'vanilla'``, ``'LMU'``, ``'Mamba'`` or ``'S4'``.
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
        """Run the backbone on ``(B, T, H)`` features."""
        if self.rnn_type == "Mamba":
            self.rnn.config.pscan = torch.is_grad_enabled()
            return self.rnn(features)
        return self.rnn(features)[0]

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
