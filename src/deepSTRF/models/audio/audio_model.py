"""The base class of auditory encoding models, with gradient-based receptive-field maps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from deepSTRF._validation import check_choice, check_int, check_tensor
from deepSTRF.models.neural_model import NeuralModel


@contextmanager
def _probing(model: nn.Module) -> Iterator[None]:
    """Run a block in eval mode with autograd on, then restore every submodule's own mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        for module, mode in modes:
            module.training = mode


class AudioEncodingModel(NeuralModel):
    """Base class for models predicting neural responses to sounds.

    Subclasses fill ``core`` and ``readout``; this class sets up the optional
    waveform front-end (``wav2spec``) and spectrogram prefilter (``prefiltering``),
    and provides receptive-field maps computed by automatic differentiation.

    Args:
        n_frequency_bands: Number ``F`` of spectrogram frequency bands.
        temporal_window_size: Temporal extent ``T`` of the receptive field, in frames.
        out_neurons: Number ``N`` of neurons.
        prefiltering: Optional spectrogram prefilter (e.g. ``AdapTrans``) with an int
            ``out_channels`` attribute, which sets ``C_in``. ``None`` gives ``C_in = 1``.
        wav2spec: Optional waveform front-end ``(B, 1, T_audio) -> (B, 1, F, T)`` whose
            ``out_channels`` equals ``n_frequency_bands``; the model then takes waveforms.

    Raises:
        TypeError: If a size is not an int, or a module argument is not an ``nn.Module``
            (or its ``out_channels`` is not an int).
        ValueError: If a size is < 1, or ``wav2spec.out_channels != n_frequency_bands``.

    Shape:
        - Input: spectrogram ``(B, 1, F, T)``, or waveform ``(B, 1, T_audio)`` with ``wav2spec``.
        - Output: ``(B, N, 1, T)``.

    Example:
        >>> class Bandsum(AudioEncodingModel):
        ...     def __init__(self, n_frequency_bands: int = 4, out_neurons: int = 2):
        ...         super().__init__(n_frequency_bands, 1, out_neurons)
        ...         self.readout = nn.Conv2d(self.C_in, out_neurons, kernel_size=(n_frequency_bands, 1))
        >>> model = Bandsum()
        >>> (model.F, model.T, model.C_in)
        (4, 1, 1)
        >>> model.STRF_gradmap().shape
        torch.Size([2, 1, 4, 1])
    """

    def __init__(
        self,
        n_frequency_bands: int,
        temporal_window_size: int,
        out_neurons: int = 1,
        prefiltering: nn.Module | None = None,
        wav2spec: nn.Module | None = None,
    ) -> None:
        super().__init__(out_neurons)
        self.F = check_int("n_frequency_bands", n_frequency_bands)
        self.T = check_int("temporal_window_size", temporal_window_size)
        if wav2spec is not None:
            if not isinstance(wav2spec, nn.Module):
                raise TypeError(f"`wav2spec` must be an nn.Module or None, got {type(wav2spec).__name__}")
            bands = getattr(wav2spec, "out_channels", None)
            if bands != self.F:
                raise ValueError(
                    f"`wav2spec.out_channels` must equal n_frequency_bands={self.F}, got {bands!r} "
                    f"({type(wav2spec).__name__})"
                )
            self.wav2spec = wav2spec
        self.C_in = 1
        if prefiltering is not None:
            if not isinstance(prefiltering, nn.Module):
                raise TypeError(f"`prefiltering` must be an nn.Module or None, got {type(prefiltering).__name__}")
            self.C_in = check_int("prefiltering.out_channels", getattr(prefiltering, "out_channels", None))
            self.prefiltering = prefiltering

    def validate(self) -> None:
        """Check the :class:`NeuralModel` contract plus ``F``, ``T`` and ``C_in``.

        Raises:
            TypeError: If ``F``, ``T`` or ``C_in`` is not an int, or a slot is not an ``nn.Module``.
            ValueError: If one of them is < 1, ``readout`` is unset, or a front-end's
                ``out_channels`` differs from ``F``.
        """
        super().validate()
        for name in ("F", "T", "C_in"):
            check_int(name, getattr(self, name))
        if not isinstance(self.wav2spec, nn.Identity) and getattr(self.wav2spec, "out_channels", None) != self.F:
            raise ValueError(
                f"`wav2spec.out_channels` must equal F={self.F}, got {getattr(self.wav2spec, 'out_channels', None)!r}"
            )

    def _reference(self) -> torch.Tensor:
        """A tensor carrying the model's floating dtype and device."""
        return self._floating_reference()

    def _check_stimulus_shape(self, x: torch.Tensor) -> None:
        """A spectrogram ``(B, 1, F, T)`` with this model's ``F``; a waveform ``(B, 1, T_audio)`` with a front-end."""
        modules = self._modules  # direct look-ups: this runs on every call
        shape = x.shape
        if not isinstance(modules["wav2spec"], nn.Identity):
            if len(shape) != 3 or shape[1] != 1:
                raise ValueError(
                    f"{type(self).__name__} has a waveform front-end: `stimulus` must be a mono waveform "
                    f"(B, 1, T_audio), got shape {tuple(shape)}"
                )
            return
        prefilter = modules["prefiltering"]
        channels = 1 if isinstance(prefilter, nn.Identity) else getattr(prefilter, "in_channels", 1)
        if len(shape) != 4 or shape[1] != channels or shape[2] != self.F:
            name = type(self).__name__
            hint = ""
            if x.dim() == 3 and x.shape[1] == self.F:
                hint = "; add the channel axis with `stimulus.unsqueeze(1)`"
            elif x.dim() == 4 and x.shape[2] != self.F:
                hint = f": the model has F={self.F} frequency bands, the stimulus {x.shape[2]}"
            raise ValueError(
                f"{name}: `stimulus` must be a spectrogram (B, C, F, T) = (B, {channels}, {self.F}, T), "
                f"got shape {tuple(x.shape)}{hint}"
            )

    def STRF_gradmap(self, T: int | None = None, baseline: torch.Tensor | None = None) -> torch.Tensor:
        """Gradient map of each neuron's response with respect to the spectrogram.

        For neuron ``n``, returns ``+d r_n(t_last) / d x`` where ``r_n(t_last)`` is its
        predicted response at the last time step of a stimulus ``x`` equal to
        ``baseline``. For a linear model this is the STRF itself (times the
        readout's gain). All neurons are computed in one batched pass.

        The map is taken in eval mode in the spectrogram domain: a ``wav2spec``
        front-end is bypassed while it runs. Afterwards the model is exactly as
        before: same train/eval mode of every submodule, parameters, their
        ``.grad`` and running statistics untouched.

        Models whose prefilter rectifies at zero (``AdapTrans``, ``ICAdaptation``)
        have a zero gradient around the default silent baseline; pass a non-zero
        ``baseline`` (e.g. a constant level or an average stimulus) for them.

        Args:
            T: Number of time bins of the probe stimulus; defaults to the baseline's
                length, or ``self.T``.
            baseline: Stimulus around which the gradient is taken, ``(1, F, T)`` or
                ``(F, T)``; zeros by default.

        Returns:
            Detached tensor ``(N, 1, F, T)`` in the model's dtype and device.

        Raises:
            TypeError: If ``T`` is not an int or ``baseline`` is not a floating tensor.
            ValueError: If ``T`` < 1, or ``baseline`` has the wrong shape.
            RuntimeError: If the model output is not ``(N, N, 1, T')``.
        """
        ref = self._reference()
        if baseline is None:
            T = self.T if T is None else check_int("T", T)
            probe = torch.zeros(self.F, T, dtype=ref.dtype, device=ref.device)
        else:
            check_tensor("baseline", baseline, ndim=(2, 3), floating=True)
            expected_T = baseline.shape[-1] if T is None else check_int("T", T)
            allowed = [(self.F, expected_T), (1, self.F, expected_T)]
            if tuple(baseline.shape) not in allowed:
                raise ValueError(
                    f"`baseline` must have shape {allowed[1]} or {allowed[0]}, got {tuple(baseline.shape)}"
                )
            probe = baseline.detach().to(dtype=ref.dtype, device=ref.device).reshape(self.F, expected_T)
        x = probe.expand(self.O, 1, *probe.shape).clone().requires_grad_(True)
        front_end = self.wav2spec
        self.wav2spec = nn.Identity()
        try:
            with _probing(self):
                response = self(x)
                if response.dim() != 4 or tuple(response.shape[:3]) != (self.O, self.O, 1):
                    raise RuntimeError(
                        f"expected the model output to be (N, N, 1, T) = ({self.O}, {self.O}, 1, T), "
                        f"got {tuple(response.shape)}"
                    )
                last = response[:, :, 0, -1].diagonal()
                (grad,) = torch.autograd.grad(last.sum(), x)
        finally:
            self.wav2spec = front_end
        return grad.detach()

    def waveform_gradmap(self, stimulus: Any, neuron: int | None = None, reduce: str = "last") -> torch.Tensor:
        """Gradient of a neuron's response with respect to the input waveform.

        The response is differentiated through the ``wav2spec`` front-end down to
        the audio samples, giving a time-domain receptive field. It is computed in
        eval mode and leaves the model exactly as it was (modes, parameters, their
        ``.grad``, running statistics).

        Args:
            stimulus: Waveform ``(T_audio,)``, ``(1, T_audio)`` or ``(1, 1, T_audio)`` (tensor or
                array-like). A real sound is a better probe than silence for adaptive front-ends.
            neuron: Index of the neuron; ``None`` sums over all neurons.
            reduce: How the response is reduced over time before differentiation:
                ``'last'`` (last bin: a receptive field), ``'peak'`` (the largest bin) or
                ``'sum'`` (all bins: a whole-stimulus saliency map, not a receptive field).

        Returns:
            Detached tensor ``(T_audio,)`` in the model's dtype and device.

        Raises:
            RuntimeError: If the model has no waveform front-end.
            TypeError: If ``neuron`` is not an int.
            ValueError: If ``neuron`` is out of range, ``reduce`` is unknown, or the
                stimulus has the wrong shape.
        """
        if isinstance(self.wav2spec, nn.Identity):
            raise RuntimeError(
                f"{type(self).__name__} has no waveform front-end (`wav2spec` is Identity): "
                "waveform_gradmap needs one; use STRF_gradmap for spectrogram models"
            )
        check_choice("reduce", reduce, ("last", "peak", "sum"))
        if neuron is not None:
            check_int("neuron", neuron, minimum=0)
            if neuron >= self.O:
                raise ValueError(f"`neuron` must be < out_neurons={self.O}, got {neuron}")
        ref = self._reference()
        x = torch.as_tensor(stimulus).detach().to(dtype=ref.dtype, device=ref.device)
        if x.dim() == 0 or x.dim() > 3 or any(size != 1 for size in x.shape[:-1]):
            raise ValueError(f"`stimulus` must be (T_audio,), (1, T_audio) or (1, 1, T_audio), got {tuple(x.shape)}")
        x = x.reshape(1, 1, -1).clone().requires_grad_(True)
        with _probing(self):
            response = self(x)[0, :, 0, :]
            if neuron is not None:
                response = response[neuron]
            if reduce == "last":
                objective = response[..., -1].sum()
            elif reduce == "peak":
                objective = response.amax(dim=-1).sum()
            else:
                objective = response.sum()
            (grad,) = torch.autograd.grad(objective, x)
        return grad.detach().reshape(-1)
