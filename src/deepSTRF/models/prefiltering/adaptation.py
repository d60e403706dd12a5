"""The adaptation prefilters: fixed ICAdaptation and learnable ON/OFF AdapTrans.

Both prefilters filter every frequency band causally along time with a kernel
that compares the current frame with an exponential average of the ``K - 1``
previous frames (``K = kernel_size``). With ``a`` the per-band decay factor,
``C = 1 / (1 + a + ... + a**(K-2))`` and ``w`` a weight, the ON kernel, oldest tap
first, is ``[-C w a**(K-2), ..., -C w a, -C w, +1]``: its past taps sum to ``-w`` and
``+1`` multiplies the current frame.

- :class:`ICAdaptation` (Willmore et al. 2016): the ON kernel with ``w = 1``, fixed,
  then half-wave rectification.
- :class:`AdapTrans` (Rançon, Masquelier & Cottereau 2024): learnable ON and OFF
  channels. The OFF kernel is the ON kernel negated and divided by
  ``w``, with its current tap set to ``-w``: ``[+C a'**(K-2), ..., +C a', +C, -w]``, i.e. the
  exponential average of the past (unit mass) minus ``w`` times the present. It
  responds to decrements, with a sustained part ``(1 - w)`` of a steady level, as the
  ON channel does to increments. ON and OFF have their own decay factors (``a_ON``,
  ``a_OFF``) and share ``w``: three parameters per band, as in the paper.

Frames before the first are taken to equal the first frame (replicate padding), so
a stimulus that starts at a steady level does not start with a spurious onset.
The filtering is an exact causal convolution (:func:`~deepSTRF.models.layers.causal_fir`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.configurable import ConfigurableModule
from deepSTRF.models.layers.temporal import causal_fir, decay_profile

__all__ = ["AdapTrans", "ICAdaptation", "Willmore_Adaptation"]


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p) - torch.log1p(-p)


def _unit_interval(name: str, value: object, size: int | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        values = value.detach().to(torch.float64)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        values = torch.tensor(list(value), dtype=torch.float64)
    else:
        raise TypeError(f"`{name}` must be a 1-D tensor or a sequence of floats, got {type(value).__name__}")
    if values.dim() != 1 or values.numel() == 0 or (size is not None and values.numel() != size):
        expected = f"({size},)" if size is not None else "(F,) with F >= 1"
        raise ValueError(f"`{name}` must have shape {expected}, got {tuple(values.shape)}")
    if not bool(((values > 0) & (values < 1)).all()):
        raise ValueError(f"`{name}` must lie strictly between 0 and 1, got values {values.tolist()}")
    return values


def _kernels(a: torch.Tensor, w: torch.Tensor, present: torch.Tensor, taps: int) -> torch.Tensor:
    """Kernels ``(C, F, taps)``: past taps ``w * C * a**(lag - 1)`` (oldest first), then ``present``."""
    past = decay_profile(a, taps - 1)
    past = past / past.sum(dim=-1, keepdim=True)
    return torch.cat([(w.unsqueeze(-1) * past).flip(-1), present.unsqueeze(-1)], dim=-1)


class _BandFilter(ConfigurableModule):
    """Shared input checks and filtering of the adaptation prefilters."""

    out_channels: int

    def __init__(self, n_frequency_bands: int, kernel_size: int) -> None:
        super().__init__()
        self.F = n_frequency_bands
        self.K = check_int("kernel_size", kernel_size, minimum=2)

    def build_kernels(self) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, spectro_in: torch.Tensor) -> torch.Tensor:
        """Filter every band causally along time and half-wave rectify: ``(B, 1, F, T)`` to ``(B, C, F, T)``."""
        check_tensor("spectro_in", spectro_in, ndim=4, floating=True)
        if spectro_in.shape[1:3] != (1, self.F):
            raise ValueError(f"`spectro_in` must have shape (B, 1, F={self.F}, T), got {tuple(spectro_in.shape)}")
        out = causal_fir(spectro_in.squeeze(1), self.build_kernels(), padding="replicate")
        return out.relu_()  # in place: the filtered tensor is new, and its product does not need it back

    def extra_repr(self) -> str:
        return f"F={self.F}, kernel_size={self.K}"


class ICAdaptation(_BandFilter):
    """Fixed midbrain adaptation prefilter (Willmore et al. 2016): present minus recent average, rectified.

    Each band ``f`` is filtered with the ON kernel of the module docstring with
    ``w = 1`` and its own decay factor ``a[f]``, then half-wave rectified. Nothing is
    learned: ``a`` is a buffer (it follows ``.to()`` and is saved in checkpoints).

    Args:
        init_a_vals: Decay factors per band, ``(F,)`` in ``(0, 1)`` (see :func:`tau_to_a`).
        kernel_size: Kernel length ``K >= 2`` in frames (the current frame and ``K - 1`` past ones).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If ``init_a_vals`` is not 1-D in ``(0, 1)``, ``kernel_size`` < 2, or the input
            has the wrong shape.

    Shape:
        - Input: ``(B, 1, F, T)``.
        - Output: ``(B, 1, F, T)``, non-negative.

    Example:
        >>> pre = ICAdaptation(torch.tensor([0.5, 0.9]), kernel_size=4)
        >>> step = torch.cat([torch.zeros(1, 1, 2, 3), torch.ones(1, 1, 2, 5)], dim=-1)
        >>> pre(step)[0, 0, 0]  # an onset, adapted away within K - 1 = 3 frames
        tensor([0.0000, 0.0000, 0.0000, 1.0000, 0.4286, 0.1429, 0.0000, 0.0000])
    """

    out_channels: int = 1
    a: torch.Tensor

    def __init__(self, init_a_vals: torch.Tensor | Sequence[float], kernel_size: int = 2) -> None:
        a = _unit_interval("init_a_vals", init_a_vals)
        super().__init__(a.numel(), kernel_size)
        self.register_buffer("a", a.to(torch.get_default_dtype()))

    def build_kernels(self) -> torch.Tensor:
        """Return the kernels ``(1, F, K)`` in the buffers' dtype; the last tap multiplies the current frame.

        Example:
            >>> ICAdaptation(torch.tensor([0.5]), kernel_size=3).build_kernels()
            tensor([[[-0.3333, -0.6667,  1.0000]]])
        """
        ones = torch.ones_like(self.a)
        return _kernels(self.a, -ones, ones, self.K).unsqueeze(0)


#: Alias of :class:`ICAdaptation`, after the authors of the model.
Willmore_Adaptation = ICAdaptation


class AdapTrans(_BandFilter):
    """Learnable ON/OFF adaptation prefilter (Rançon, Masquelier & Cottereau 2024, PLOS Comput. Biol. 20(8)).

    Band ``f`` is filtered with the ON kernel (decay ``a_ON[f]``, weight ``w[f]``) and
    the OFF kernel (decay ``a_OFF[f]``, weight ``w[f]``) of the module docstring; both
    outputs are half-wave rectified. ``a_ON`` and ``a_OFF`` both start at
    ``init_a_vals``. The parameters are stored as logits (``a = sigmoid(a_logit)``,
    ``w = sigmoid(w_logit)``), which keeps them in ``(0, 1)`` while learning; with
    ``learnable=False`` the same tensors are buffers. Kernels are built in the
    parameters' dtype, so ``.double()`` works.

    Args:
        init_a_vals: Initial decay factors per band, ``(F,)`` in ``(0, 1)``.
        init_w_vals: Initial weights of the past average, ``(F,)`` in ``(0, 1)``.
        kernel_size: Kernel length ``K >= 2`` in frames.
        learnable: Learn ``a_ON``, ``a_OFF`` and ``w``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If the initial values are not 1-D of equal length in ``(0, 1)``,
            ``kernel_size`` < 2, or the input has the wrong shape.

    Shape:
        - Input: ``(B, 1, F, T)``.
        - Output: ``(B, 2, F, T)``, non-negative; channel 0 is ON, channel 1 is OFF.

    Example:
        >>> pre = AdapTrans(torch.full((3,), 0.8), torch.full((3,), 0.75), kernel_size=10)
        >>> pre(torch.rand(2, 1, 3, 50)).shape
        torch.Size([2, 2, 3, 50])
        >>> pre.a.shape, pre.w.shape
        (torch.Size([2, 3]), torch.Size([3]))
    """

    out_channels: int = 2
    a_logit: torch.Tensor
    w_logit: torch.Tensor

    def __init__(
        self,
        init_a_vals: torch.Tensor | Sequence[float],
        init_w_vals: torch.Tensor | Sequence[float],
        kernel_size: int = 2,
        learnable: bool = True,
    ) -> None:
        a = _unit_interval("init_a_vals", init_a_vals)
        w = _unit_interval("init_w_vals", init_w_vals, size=a.numel())
        super().__init__(a.numel(), kernel_size)
        if not isinstance(learnable, bool):
            raise TypeError(f"`learnable` must be a bool, got {type(learnable).__name__}")
        self.learnable = learnable
        dtype = torch.get_default_dtype()
        for name, value in (("a_logit", _logit(a).repeat(2, 1)), ("w_logit", _logit(w))):
            if learnable:
                self.register_parameter(name, nn.Parameter(value.to(dtype)))
            else:
                self.register_buffer(name, value.to(dtype))

    @property
    def a(self) -> torch.Tensor:
        """Decay factors ``(2, F)``: row 0 for ON, row 1 for OFF."""
        return torch.sigmoid(self.a_logit)

    @property
    def w(self) -> torch.Tensor:
        """Weights of the past average ``(F,)``, shared by ON and OFF."""
        return torch.sigmoid(self.w_logit)

    def build_kernels(self) -> torch.Tensor:
        """Return the ON and OFF kernels ``(2, F, K)``; the last tap multiplies the current frame.

        Example:
            >>> AdapTrans([0.5], [0.75], kernel_size=3).build_kernels()
            tensor([[[-0.2500, -0.5000,  1.0000]],
            <BLANKLINE>
                    [[ 0.3333,  0.6667, -0.7500]]], grad_fn=<StackBackward0>)
        """
        a, w = self.a, self.w
        on = _kernels(a[0], -w, torch.ones_like(w), self.K)
        off = _kernels(a[1], torch.ones_like(w), -w, self.K)
        return torch.stack([on, off])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, learnable={self.learnable}"
