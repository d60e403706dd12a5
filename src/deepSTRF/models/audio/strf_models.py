"""STRF-based encoding models: Linear, LinearNonlinear, NetworkReceptiveField and DNet.

All four convolve the (optionally prefiltered) spectrogram causally with
spectro-temporal receptive fields of ``temporal_window_size`` frames
(:class:`~deepSTRF.models.layers.CausalSTRFConv`), so the prediction at frame ``t``
depends on frames ``t - T + 1 .. t`` only (DNet adds a causal exponential decay).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from deepSTRF._validation import check_int, check_positive_float
from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.layers import CausalLayerNorm, CausalSTRFConv, LearnableExponentialDecay
from deepSTRF.models.readouts import LinearReadout, STRFReadout

__all__ = ["DNet", "Linear", "LinearNonlinear", "NetworkReceptiveField"]

_POLARITIES = {"ON": 0, "OFF": 1}


def _polarity_channel(polarity: str | int, n_channels: int) -> int:
    """Map ``'ON'``/``'OFF'`` (any case) or ``0``/``1`` to an input channel of the STRF kernel."""
    if isinstance(polarity, str) and polarity.upper() in _POLARITIES:
        channel = _POLARITIES[polarity.upper()]
    elif isinstance(polarity, int) and not isinstance(polarity, bool) and polarity in (0, 1):
        channel = polarity
    else:
        raise ValueError(f"`polarity` must be 'ON' or 'OFF' (or 0 / 1), got {polarity!r}")
    if channel >= n_channels:
        raise ValueError(
            f"`polarity` {polarity!r} needs ON/OFF input channels (e.g. an AdapTrans prefilter), "
            f"but the model has {n_channels} input channel(s)"
        )
    return channel


def _hidden_strf(core: nn.Module, hidden_idx: int, polarity: str | int) -> torch.Tensor:
    """One hidden unit's ``(F, T)`` STRF from a core whose first layer is the hidden STRF convolution."""
    conv = cast(CausalSTRFConv, cast(nn.Sequential, core)[0])
    n_hidden = conv.C_out
    index = check_int("hidden_idx", hidden_idx, minimum=0)
    if index >= n_hidden:
        raise ValueError(f"`hidden_idx` must be < n_hidden={n_hidden}, got {hidden_idx}")
    return conv.STRF_weight()[index, _polarity_channel(polarity, conv.C_in)]


class Linear(AudioEncodingModel):
    """Linear STRF model: one causal STRF per neuron applied to the spectrogram.

    ``r_n(t) = g_n(sum_{c,f,k} w_n[c, f, k] x[c, f, t - T + 1 + k] + b_n)``, where the
    readout (:class:`~deepSTRF.models.readouts.STRFReadout`) holds the kernel
    ``model.readout.conv`` of shape ``(N, C_in, F, T)``, a per-neuron ``BatchNorm1d``
    and the output activation ``g`` (identity by default). The ``core`` is the identity.
    In eval mode the batch norm is a fixed per-neuron affine map, so the model stays a
    causal linear filter of its input (Theunissen, Sen & Doupe 2000; Sahani & Linden 2003).

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: STRF length ``T`` in frames.
        out_neurons: Number ``N`` of neurons.
        output_activation: Pointwise output nonlinearity; ``None`` for the identity.
        prefiltering: Optional spectrogram prefilter (e.g. ``AdapTrans``, two ON/OFF channels).
        kernel: Optional STRF kernel of shape ``(N, C_in, F, T)``, e.g.
            ``ParametricSTRF(F, T, C_in, N)`` or ``SeparableSTRF(F, T, C_in, N)``; a plain
            ``nn.Conv2d`` when ``None``.
        wav2spec: Optional waveform front-end; the model then takes ``(B, 1, T_audio)`` audio.

    Raises:
        TypeError, ValueError: For invalid sizes or modules.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = Linear(n_frequency_bands=12, temporal_window_size=5, out_neurons=3)
        >>> model(torch.randn(2, 1, 12, 37)).shape
        torch.Size([2, 3, 1, 37])
        >>> model.STRF_weight().shape
        torch.Size([3, 12, 5])
    """

    readout: STRFReadout

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 9,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        kernel: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.readout = STRFReadout(
            F=self.F,
            T=self.T,
            C_in=self.C_in,
            out_neurons=self.O,
            kernel=kernel,
            activation=nn.Identity() if output_activation is None else output_activation,
        )

    def STRF_weight(self, polarity: str | int = "ON") -> torch.Tensor:
        """Return the neurons' STRF kernels for one input channel, detached, on CPU.

        Args:
            polarity: ``'ON'`` (channel 0, the only one without an ON/OFF prefilter) or
                ``'OFF'`` (channel 1 of an ``AdapTrans`` prefilter).

        Returns:
            Tensor ``(N, F, T)``; the last frame is the current one.

        Raises:
            ValueError: If ``polarity`` is unknown or asks for a channel the model lacks.

        Example:
            >>> Linear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2).STRF_weight("ON").shape
            torch.Size([2, 6, 4])
        """
        conv = self.readout.conv
        return conv.STRF_weight()[:, _polarity_channel(polarity, conv.C_in)]


class LinearNonlinear(Linear):
    """Linear-nonlinear (LN) STRF model: :class:`Linear` with a per-neuron output nonlinearity.

    Identical to :class:`Linear` except that ``output_activation`` defaults to
    :class:`~deepSTRF.models.activations.ParametricSoftplus` ``(out_neurons)``, a
    non-negative, non-saturating curve suited to spike counts.

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: STRF length ``T`` in frames.
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for ``ParametricSoftplus(out_neurons)``.
        prefiltering: Optional spectrogram prefilter.
        kernel: Optional STRF kernel of shape ``(N, C_in, F, T)``.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError, ValueError: For invalid sizes or modules.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = LinearNonlinear(n_frequency_bands=12, temporal_window_size=5, out_neurons=3).eval()
        >>> bool((model(torch.randn(2, 1, 12, 37)) >= 0).all())
        True
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 9,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        kernel: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        if output_activation is None:
            output_activation = ParametricSoftplus(check_int("out_neurons", out_neurons))
        super().__init__(
            n_frequency_bands, temporal_window_size, out_neurons, output_activation, prefiltering, kernel, wav2spec
        )


class NetworkReceptiveField(AudioEncodingModel):
    """Network receptive field (NRF) model: a hidden layer of STRF units read out per neuron.

    ``core``: causal STRF convolution to ``n_hidden`` units -> causal layer norm over
    the units -> tanh; ``readout``: per-frame linear map to the ``N`` neurons followed by
    the output activation (Harper et al. 2016, PLOS Comput. Biol. 12: e1005113). The
    layer norm and the causal padding (any input length) are additions to the original.

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: STRF length ``T`` in frames.
        n_hidden: Number ``H`` of hidden STRF units.
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for ``ParametricSoftplus(out_neurons)``.
        prefiltering: Optional spectrogram prefilter.
        kernel: Optional hidden STRF kernel of shape ``(H, C_in, F, T)``.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError, ValueError: For invalid sizes or modules.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = NetworkReceptiveField(n_frequency_bands=12, temporal_window_size=5, n_hidden=4, out_neurons=3)
        >>> model(torch.randn(2, 1, 12, 37)).shape, model.STRFs(hidden_idx=1).shape
        (torch.Size([2, 3, 1, 37]), torch.Size([12, 5]))
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 9,
        n_hidden: int = 20,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        kernel: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.H = check_int("n_hidden", n_hidden)
        self.core = nn.Sequential(
            CausalSTRFConv(self.F, self.T, self.C_in, self.H, kernel=kernel),
            CausalLayerNorm(self.H, dim=1),
            nn.Tanh(),
        )
        self.readout = LinearReadout(
            in_features=self.H,
            out_neurons=self.O,
            activation=ParametricSoftplus(self.O) if output_activation is None else output_activation,
        )

    def STRFs(self, hidden_idx: int = 0, polarity: str | int = "ON") -> torch.Tensor:
        """Return one hidden unit's STRF ``(F, T)`` for one input channel, detached, on CPU.

        Args:
            hidden_idx: Hidden unit, in ``[0, n_hidden)``.
            polarity: ``'ON'`` or ``'OFF'`` (the latter needs an ON/OFF prefilter).

        Returns:
            Tensor ``(F, T)``; the last frame is the current one.

        Raises:
            TypeError, ValueError: For an invalid unit or polarity.

        Example:
            >>> NetworkReceptiveField(n_frequency_bands=6, temporal_window_size=4, n_hidden=3).STRFs(2).shape
            torch.Size([6, 4])
        """
        return _hidden_strf(self.core, hidden_idx, polarity)


class DNet(AudioEncodingModel):
    """Dynamic network (DNet): an NRF whose hidden units integrate their input with a learned decay.

    ``core``: causal STRF convolution to ``n_hidden`` units -> causal layer norm ->
    sigmoid -> per-unit causal exponential decay (learnable time constant, initial
    ``init_tau`` frames, kernel ``round(7 * init_tau)`` frames); ``readout``: per-frame
    linear map to the ``N`` neurons (Rahman et al. 2019, PLOS Comput. Biol. 15: e1006618).

    Args:
        n_frequency_bands: Number ``F`` of spectrogram bands.
        temporal_window_size: STRF length ``T`` in frames.
        n_hidden: Number ``H`` of hidden units.
        init_tau: Initial decay time constant of the hidden units, in frames.
        decay_input: Weight the input of the decay by ``1 - r`` (see
            :class:`~deepSTRF.models.layers.LearnableExponentialDecay`).
        out_neurons: Number ``N`` of neurons.
        output_activation: Output nonlinearity; ``None`` for the identity.
        prefiltering: Optional spectrogram prefilter.
        kernel: Optional hidden STRF kernel of shape ``(H, C_in, F, T)``.
        wav2spec: Optional waveform front-end.

    Raises:
        TypeError, ValueError: For invalid sizes, time constants or modules.

    Shape:
        - Input: ``(B, 1, F, T_in)`` (or ``(B, 1, T_audio)`` with ``wav2spec``).
        - Output: ``(B, N, 1, T_in)``.

    Example:
        >>> model = DNet(n_frequency_bands=12, temporal_window_size=5, n_hidden=4, out_neurons=3)
        >>> model(torch.randn(2, 1, 12, 37)).shape
        torch.Size([2, 3, 1, 37])
    """

    def __init__(
        self,
        n_frequency_bands: int = 34,
        temporal_window_size: int = 9,
        n_hidden: int = 20,
        init_tau: float = 2.0,
        decay_input: bool = True,
        out_neurons: int = 1,
        output_activation: nn.Module | None = None,
        prefiltering: nn.Module | None = None,
        kernel: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons, prefiltering, wav2spec)
        self.H = check_int("n_hidden", n_hidden)
        tau = check_positive_float("init_tau", init_tau)
        self.core = nn.Sequential(
            CausalSTRFConv(self.F, self.T, self.C_in, self.H, kernel=kernel),
            CausalLayerNorm(self.H, dim=1),
            nn.Sigmoid(),
            LearnableExponentialDecay(
                self.H, kernel_size=max(1, round(7 * tau)), init_tau=tau, decay_input=decay_input
            ),
        )
        self.readout = LinearReadout(
            in_features=self.H,
            out_neurons=self.O,
            activation=nn.Identity() if output_activation is None else output_activation,
        )

    def STRFs(self, hidden_idx: int = 0, polarity: str | int = "ON") -> torch.Tensor:
        """Return one hidden unit's STRF ``(F, T)`` for one input channel, detached, on CPU.

        Args:
            hidden_idx: Hidden unit, in ``[0, n_hidden)``.
            polarity: ``'ON'`` or ``'OFF'`` (the latter needs an ON/OFF prefilter).

        Returns:
            Tensor ``(F, T)``; the last frame is the current one.

        Raises:
            TypeError, ValueError: For an invalid unit or polarity.

        Example:
            >>> DNet(n_frequency_bands=6, temporal_window_size=4, n_hidden=3).STRFs(2).shape
            torch.Size([6, 4])
        """
        return _hidden_strf(self.core, hidden_idx, polarity)
