"""Dynamic STRFs: the locally linear receptive field of a model at every time point.

For a model ``r = f(x)`` and a stimulus spectrogram ``x`` ``(F, T)``, the dynamic STRF
(dSTRF) of neuron ``n`` at time ``t`` is the Jacobian of its predicted response with
respect to the recent input window,

.. math::
    D_{n,t}[f, L - 1 - \\ell] = \\frac{\\partial r_n(t)}{\\partial x(f, t - \\ell)},
    \\qquad \\ell = 0, \\dots, L - 1,

so that, as in a static STRF, the last column is lag 0. For a linear model every
dSTRF equals the STRF; for a nonlinear model it is the linear filter the model applies
to small changes of the stimulus around this very stimulus (Keshishian et al., 2020,
eLife 9:e53445).

Each requested (neuron, time) pair is one copy of the stimulus in a batch: the model
runs once on a chunk of copies and one backward pass gives all their gradients, so
there is no Python loop over time points or neurons, only over chunks, whose size
bounds the memory. Because every model is causal, a chunk only runs the stimulus up to
its latest time point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.audio.audio_model import AudioEncodingModel, _probing

__all__ = ["DynamicSTRFs", "dynamic_strfs"]


@dataclass(frozen=True)
class DynamicSTRFs:
    """Dynamic STRFs of some neurons at some time points of one stimulus.

    Attributes:
        dstrfs: ``(N_sel, K, F, L)`` Jacobians; the last column is lag 0. Lags before the
            stimulus onset (``t - lag < 0``) are zero.
        times: ``(K,)`` time bins (int64), in the order requested.
        neurons: ``(N_sel,)`` neuron indices (int64).
        response: ``(N_sel, T)`` the model's prediction for the stimulus (eval mode).
        stimulus: ``(F, T)`` the spectrogram the Jacobians were taken at (after the
            front-end for a waveform model).
    """

    dstrfs: torch.Tensor
    times: torch.Tensor
    neurons: torch.Tensor
    response: torch.Tensor
    stimulus: torch.Tensor

    @property
    def window(self) -> int:
        """Number ``L`` of lags in each dSTRF."""
        return int(self.dstrfs.shape[-1])

    @property
    def complete(self) -> torch.Tensor:
        """``(K,)`` bool: time points whose whole window lies after the stimulus onset."""
        return self.times >= self.window - 1


def _spectrogram(model: AudioEncodingModel, stimulus: object) -> torch.Tensor:
    """The ``(F, T)`` spectrogram of a stimulus given as a spectrogram or (front-end models) a waveform."""
    ref = model._reference()
    x = check_tensor("stimulus", stimulus, ndim=(1, 2, 3, 4), floating=True)
    x = x.detach().to(dtype=ref.dtype, device=ref.device)
    has_front_end = not isinstance(model.wav2spec, nn.Identity)
    if has_front_end and (x.dim() == 1 or (x.dim() == 3 and tuple(x.shape[:2]) == (1, 1))):
        with _probing(model), torch.no_grad():
            spec = model.wav2spec(x.reshape(1, 1, -1))
        return spec.reshape(spec.shape[-2], spec.shape[-1])
    if x.dim() == 1 or x.shape[-2] != model.F or any(size != 1 for size in x.shape[:-2]):
        kinds = "(F, T), (1, F, T) or (1, 1, F, T)"
        if has_front_end:
            kinds += ", or a waveform (T_audio,) or (1, 1, T_audio)"
        raise ValueError(f"`stimulus` must be a spectrogram {kinds} with F={model.F}, got shape {tuple(x.shape)}")
    return x.reshape(model.F, x.shape[-1])


def _indices(name: str, value: object, size: int) -> torch.Tensor:
    """A 1-D int64 tensor of indices in ``[0, size)`` from an int sequence or tensor."""
    if isinstance(value, torch.Tensor):
        index = value.detach().cpu()
    elif isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        index = torch.tensor(list(value), dtype=torch.int64)
    else:
        raise TypeError(f"`{name}` must be a sequence of ints or an int tensor, got {type(value).__name__}")
    if index.dim() != 1 or index.numel() == 0 or index.is_floating_point() or index.dtype == torch.bool:
        raise ValueError(f"`{name}` must be a non-empty 1-D int sequence, got shape {tuple(index.shape)}")
    index = index.to(torch.int64)
    if int(index.min()) < 0 or int(index.max()) >= size:
        raise ValueError(f"`{name}` must lie in [0, {size}), got values from {int(index.min())} to {int(index.max())}")
    return index


def dynamic_strfs(
    model: AudioEncodingModel,
    stimulus: torch.Tensor,
    window: int | None = None,
    times: torch.Tensor | Sequence[int] | None = None,
    neurons: torch.Tensor | Sequence[int] | None = None,
    chunk_size: int = 32,
) -> DynamicSTRFs:
    """Dynamic STRFs of a model for one stimulus: the Jacobian at every requested time point.

    Computed as :meth:`~deepSTRF.models.audio.AudioEncodingModel.STRF_gradmap` is: in eval
    mode, in the spectrogram domain (a waveform front-end only turns a waveform stimulus
    into its spectrogram first), and leaving the model exactly as it was (train/eval mode
    of every submodule, parameters, their ``.grad``, running statistics).

    Args:
        model: Any zoo model (an :class:`~deepSTRF.models.audio.AudioEncodingModel`).
        stimulus: Spectrogram ``(F, T)``, ``(1, F, T)`` or ``(1, 1, F, T)``; for a model
            with a front-end also a waveform ``(T_audio,)`` or ``(1, 1, T_audio)``.
        window: Number ``L`` of lags (frames) in each dSTRF; defaults to ``model.T``.
            Models with a long memory (recurrent, adaptive) deserve a longer window.
        times: Time bins at which to take the dSTRFs; all ``T`` bins by default.
        neurons: Neuron indices; all neurons by default.
        chunk_size: Number of (neuron, time) pairs computed in one batched pass. Memory
            grows linearly with it (about ``chunk_size`` forward passes' activations).

    Returns:
        A :class:`DynamicSTRFs` with ``dstrfs`` ``(N_sel, K, F, L)`` in the model's dtype and
        device, detached.

    Raises:
        TypeError: If ``model`` is not an ``AudioEncodingModel``, ``stimulus`` is not a
            floating tensor, or an index argument is not made of ints.
        ValueError: If a shape, a size or an index is out of range.
        RuntimeError: If the model output is not ``(B, N, 1, T)``.

    Shape:
        - stimulus: ``(F, T)`` (or a waveform, see above)
        - output ``dstrfs``: ``(N_sel, K, F, L)``

    Example:
        >>> from deepSTRF.models.audio import Linear
        >>> model = Linear(n_frequency_bands=6, temporal_window_size=4, out_neurons=2)
        >>> result = dynamic_strfs(model, torch.randn(6, 20), times=[10, 11, 12])
        >>> result.dstrfs.shape
        torch.Size([2, 3, 6, 4])
        >>> torch.allclose(result.dstrfs[:, 0], model.STRF_gradmap()[:, 0])  # linear: the STRF itself
        True
    """
    if not isinstance(model, AudioEncodingModel):
        raise TypeError(f"`model` must be an AudioEncodingModel, got {type(model).__name__}")
    spec = _spectrogram(model, stimulus)
    length = spec.shape[-1]
    window = model.T if window is None else check_int("window", window)
    chunk_size = check_int("chunk_size", chunk_size)
    time_index = torch.arange(length) if times is None else _indices("times", times, length)
    neuron_index = torch.arange(model.O) if neurons is None else _indices("neurons", neurons, model.O)
    n_sel, n_times = neuron_index.numel(), time_index.numel()

    # every (neuron, time) pair, computed in order of time so that a chunk runs the shortest prefix
    pair_time = time_index.repeat_interleave(n_sel)
    pair_neuron = neuron_index.repeat(n_times)
    order = torch.argsort(pair_time, stable=True)
    out = spec.new_zeros(n_sel * n_times, model.F, window)
    front_end = model.wav2spec
    model.wav2spec = nn.Identity()
    try:
        with _probing(model):
            with torch.no_grad():
                response = model(spec[None, None])
            _check_output(response, 1, model.O, length)
            for start in range(0, order.numel(), chunk_size):
                rows = order[start : start + chunk_size]
                t_pair, n_pair = pair_time[rows].to(spec.device), pair_neuron[rows].to(spec.device)
                out[rows.to(spec.device)] = _chunk(model, spec, t_pair, n_pair, window)
    finally:
        model.wav2spec = front_end
    dstrfs = out.view(n_times, n_sel, model.F, window).transpose(0, 1)
    return DynamicSTRFs(
        dstrfs=dstrfs.contiguous(),
        times=time_index,
        neurons=neuron_index,
        response=response[0, neuron_index.to(spec.device), 0].detach(),
        stimulus=spec,
    )


def _check_output(response: torch.Tensor, batch: int, neurons: int, length: int) -> None:
    if response.dim() != 4 or tuple(response.shape) != (batch, neurons, 1, length):
        raise RuntimeError(
            f"expected the model output to be (B, N, 1, T) = ({batch}, {neurons}, 1, {length}), "
            f"got {tuple(response.shape)}"
        )


def _chunk(
    model: AudioEncodingModel, spec: torch.Tensor, t_pair: torch.Tensor, n_pair: torch.Tensor, window: int
) -> torch.Tensor:
    """Windows ``(C, F, L)`` of ``d r_{n_c}(t_c) / d x`` for a chunk of C pairs, in one batched pass."""
    count = t_pair.numel()
    stop = int(t_pair.max()) + 1  # causal: later input cannot matter
    x = spec[None, None, :, :stop].expand(count, 1, -1, -1).clone().requires_grad_(True)
    response = model(x)
    _check_output(response, count, model.O, stop)
    picked = response[torch.arange(count, device=spec.device), n_pair, 0, t_pair]
    (grad,) = torch.autograd.grad(picked.sum(), x)
    padded = F.pad(grad[:, 0], (window - 1, 0))  # frames before onset read as zero
    windows = padded.unfold(-1, window, 1)  # (C, F, stop, L): window ending at each frame
    return windows[torch.arange(count, device=spec.device), :, t_pair]
