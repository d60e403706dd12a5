"""Causal spectro-temporal receptive field (STRF) convolution and its pluggable kernels.

A kernel maps a left-padded spectrogram ``(B, C_in, F, T_in + T - 1)`` to
``(B, C_out, 1, T_in)``. It is either a plain ``nn.Conv2d(C_in, C_out, (F, T))`` or an
:class:`STRFKernel`, whose :meth:`~STRFKernel.build_kernel` returns the effective
``(C_out, C_in, F, T)`` weight from fewer parameters (:class:`ParametricSTRF`,
:class:`SeparableSTRF`). Write your own kernel by subclassing :class:`STRFKernel`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_int, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["CausalSTRFConv", "ParametricSTRF", "STRFKernel", "SeparableSTRF", "strf_conv"]

# Smallest Gaussian width (grid units) of ParametricSTRF, added to the softplus.
SIGMA_MIN = 1e-2


def strf_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Valid 2-D convolution of ``x`` with kernels spanning the whole frequency axis.

    Equal to ``conv2d(x, weight, bias)`` for ``weight.shape[2] == x.shape[2]``, but
    computed as a 1-D convolution over time with ``C_in * F`` input channels,
    which is several times faster on CPU (above all its backward pass).

    Args:
        x: Input ``(B, C_in, F, L)``.
        weight: Kernels ``(C_out, C_in, F, T)``.
        bias: Optional ``(C_out,)``.

    Returns:
        Tensor ``(B, C_out, 1, L - T + 1)``.

    Example:
        >>> x, w = torch.randn(2, 3, 8, 20), torch.randn(4, 3, 8, 5)
        >>> torch.allclose(strf_conv(x, w), nnf.conv2d(x, w), atol=1e-5)
        True
    """
    batch, c_in, bands, length = x.shape
    c_out, _, _, taps = weight.shape
    out = nnf.conv1d(x.reshape(batch, c_in * bands, length), weight.reshape(c_out, c_in * bands, taps), bias)
    return out.unsqueeze(2)


def _causal_strf_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Causal :func:`strf_conv` of an unpadded ``x`` ``(B, C_in, F, L)``: ``(B, C_out, 1, L)``.

    When the gradient with respect to ``x`` is needed, ``x`` is left-padded with ``T - 1``
    zero frames and convolved by :func:`strf_conv`, whose input gradient is about 3x
    faster here. Otherwise (evaluation, or only the kernel's gradient, as when ``x`` is
    the stimulus), a 2-D convolution pads inside the kernel (``T - 1`` zero frames on both
    sides) and the first ``L`` outputs are kept: no padded copy of the input and no
    reordering of ``C_in * F`` channels, so less memory and time (forward and weight
    gradient); the result is a view with ``T - 1`` unused frames after each row.
    """
    taps = weight.shape[-1]
    if x.requires_grad and torch.is_grad_enabled():
        return strf_conv(nnf.pad(x, (taps - 1, 0)), weight, bias)
    return nnf.conv2d(x, weight, bias, padding=(0, taps - 1))[..., : x.shape[-1]]


class STRFKernel(ConfigurableModule):
    """Base class of parameterised STRF kernels: a 2-D convolution whose weight is built on the fly.

    Subclasses implement :meth:`build_kernel`; ``forward`` convolves (valid padding)
    with the built weight and adds the optional per-output-channel ``bias``.

    Args:
        F: Frequency extent of the kernel.
        T: Temporal extent of the kernel in frames.
        C_in: Input channels.
        C_out: Output channels.
        bias: Learn a per-output-channel bias: zeros here; the library's subclasses draw it
            uniformly in ``±1/sqrt(fan_in)`` with ``_init_bias(fan_in)``.

    Shape:
        - Input: ``(B, C_in, F, T_in + T - 1)``.
        - Output: ``(B, C_out, 1, T_in)``.

    Example:
        >>> class Box(STRFKernel):  # one learnable gain per output channel, flat over (F, T)
        ...     def __init__(self, F: int, T: int, C_in: int, C_out: int):
        ...         super().__init__(F, T, C_in, C_out, bias=False)
        ...         self.gain = nn.Parameter(torch.ones(C_out))
        ...     def build_kernel(self, device=None):
        ...         flat = torch.ones(self.C_out, self.C_in, self.F, self.T) / (self.F * self.T)
        ...         return flat * self.gain.view(-1, 1, 1, 1)
        >>> conv = CausalSTRFConv(F=4, T=3, C_in=1, C_out=2, kernel=Box(4, 3, 1, 2))
        >>> conv(torch.ones(1, 1, 4, 5))[0, 0, 0]
        tensor([0.3333, 0.6667, 1.0000, 1.0000, 1.0000], grad_fn=<SelectBackward0>)
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, bias: bool = True) -> None:
        super().__init__()
        self.F, self.T = check_int("F", F), check_int("T", T)
        self.C_in, self.C_out = check_int("C_in", C_in), check_int("C_out", C_out)
        if not isinstance(bias, bool):
            raise TypeError(f"`bias` must be a bool, got {type(bias).__name__}")
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.zeros(self.C_out))  # subclasses draw it with _init_bias
        else:
            self.register_parameter("bias", None)

    def _init_bias(self, fan_in: int) -> None:
        if self.bias is not None:
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def build_kernel(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Return the effective ``(C_out, C_in, F, T)`` kernel (differentiable)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` with the built kernel (no padding)."""
        return strf_conv(x, self.build_kernel(), self.bias)

    def extra_repr(self) -> str:
        return f"F={self.F}, T={self.T}, C_in={self.C_in}, C_out={self.C_out}, bias={self.bias is not None}"


class ParametricSTRF(STRFKernel):
    """STRF kernel made of a weighted sum of axis-aligned 2-D Gaussians on the ``(F, T)`` grid.

    Each ``(C_out, C_in)`` slot holds ``num_gaussians`` Gaussians, each with a
    position ``(mu_f, mu_t)`` in absolute grid coordinates (``[0, F-1] x [0, T-1]``,
    initialised uniformly there), widths ``sigma = softplus(raw_sigmas) + 0.01``
    (initialised to ``max(1, F/8)`` bins and ``max(1, T/8)`` frames) and a weight
    (uniform in ``±1/sqrt(C_in * num_gaussians)``). Each Gaussian is normalised to
    unit mass on the grid, then scaled by its weight; this is the Gaussian
    interpolation of dilated convolution with learnable spacings (Khalfaoui-Hassani,
    Pellegrini & Masquelier 2023, ICLR) written directly on the STRF grid.

    Args:
        F: Frequency extent of the kernel.
        T: Temporal extent of the kernel in frames.
        C_in: Input channels.
        C_out: Output channels.
        num_gaussians: Gaussians per ``(C_out, C_in)`` slot.
        bias: Learn a per-output-channel bias.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is < 1.

    Shape:
        - Input: ``(B, C_in, F, T_in + T - 1)``.
        - Output: ``(B, C_out, 1, T_in)``.

    Example:
        >>> kernel = ParametricSTRF(F=8, T=5, C_in=1, C_out=3, num_gaussians=2)
        >>> kernel.build_kernel().shape
        torch.Size([3, 1, 8, 5])
        >>> conv = CausalSTRFConv(F=8, T=5, C_in=1, C_out=3, kernel=kernel)
        >>> conv(torch.randn(2, 1, 8, 20)).shape
        torch.Size([2, 3, 1, 20])
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, num_gaussians: int = 1, bias: bool = True) -> None:
        super().__init__(F, T, C_in, C_out, bias)
        self.num_gaussians = check_int("num_gaussians", num_gaussians)
        shape = (self.C_out, self.C_in, self.num_gaussians)
        self.positions = nn.Parameter(torch.empty(2, *shape))
        self.raw_sigmas = nn.Parameter(torch.empty(2, *shape))
        self.weight = nn.Parameter(torch.empty(shape))
        with torch.no_grad():
            self.positions[0].uniform_(0.0, self.F - 1)
            self.positions[1].uniform_(0.0, self.T - 1)
            for axis, extent in enumerate((self.F, self.T)):
                sigma = max(1.0, extent / 8.0) - SIGMA_MIN
                self.raw_sigmas[axis].fill_(math.log(math.expm1(sigma)))  # inverse softplus
        bound = 1.0 / math.sqrt(self.C_in * self.num_gaussians)
        nn.init.uniform_(self.weight, -bound, bound)
        self._init_bias(self.C_in * self.num_gaussians)

    @property
    def sigmas(self) -> torch.Tensor:
        """Gaussian widths ``(2, C_out, C_in, num_gaussians)``: row 0 in bins, row 1 in frames."""
        return nnf.softplus(self.raw_sigmas) + SIGMA_MIN

    def build_kernel(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Return the ``(C_out, C_in, F, T)`` sum of unit-mass Gaussians times their weights.

        Args:
            device: Optional device to move the kernel to (it is built on the parameters' device).
        """
        sigmas = self.sigmas
        profiles = []
        for axis, extent in enumerate((self.F, self.T)):
            grid = torch.arange(extent, dtype=self.positions.dtype, device=self.positions.device)
            z = (grid - self.positions[axis].unsqueeze(-1)) / sigmas[axis].unsqueeze(-1)
            profiles.append(torch.softmax(-0.5 * z**2, dim=-1))  # exp(-z^2/2) / its sum over the grid
        kernel = torch.einsum("oig,oigf,oigt->oift", self.weight, profiles[0], profiles[1])
        return kernel if device is None else kernel.to(device)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_gaussians={self.num_gaussians}"


class SeparableSTRF(STRFKernel):
    """Frequency-time separable STRF kernel: ``w[o, i, f, t] = w_F[o, i, f] * w_T[o, i, t]``.

    ``C_out * C_in * (F + T)`` parameters instead of ``C_out * C_in * F * T``. The
    factors are initialised uniformly in ``±sqrt(3 / F)`` and ``±1/sqrt(C_in * T)``,
    so the product has the variance of a fan-in initialised ``nn.Conv2d``.

    Args:
        F: Frequency extent of the kernel.
        T: Temporal extent of the kernel in frames.
        C_in: Input channels.
        C_out: Output channels.
        bias: Learn a per-output-channel bias.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is < 1.

    Shape:
        - Input: ``(B, C_in, F, T_in + T - 1)``.
        - Output: ``(B, C_out, 1, T_in)``.

    Example:
        >>> kernel = SeparableSTRF(F=8, T=5, C_in=2, C_out=3)
        >>> kernel.build_kernel().shape
        torch.Size([3, 2, 8, 5])
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, bias: bool = True) -> None:
        super().__init__(F, T, C_in, C_out, bias)
        self.weight_f = nn.Parameter(torch.empty(self.C_out, self.C_in, self.F))
        self.weight_t = nn.Parameter(torch.empty(self.C_out, self.C_in, self.T))
        nn.init.uniform_(self.weight_f, -math.sqrt(3.0 / self.F), math.sqrt(3.0 / self.F))
        bound_t = 1.0 / math.sqrt(self.C_in * self.T)
        nn.init.uniform_(self.weight_t, -bound_t, bound_t)
        self._init_bias(self.C_in * self.F * self.T)

    def build_kernel(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Return the ``(C_out, C_in, F, T)`` outer product of the two factors.

        Args:
            device: Optional device to move the kernel to (it is built on the parameters' device).
        """
        kernel = self.weight_f.unsqueeze(-1) * self.weight_t.unsqueeze(-2)
        return kernel if device is None else kernel.to(device)


class CausalSTRFConv(ConfigurableModule):
    """Causal STRF convolution: ``T - 1`` zero frames are prepended, then a ``(C_out, C_in, F, T)`` kernel.

    The output at frame ``t`` depends on input frames ``t - T + 1 .. t`` only, and
    has the input's length for any ``T_in >= 1``. A plain ``nn.Conv2d`` kernel is
    applied through :func:`strf_conv` with its own weight and bias (same result as
    calling it, faster); unless the gradient with respect to the input is needed, a 2-D
    convolution that pads inside the kernel replaces the padded copy, and the output is
    then a view with ``T - 1`` unused frames after each row. An :class:`STRFKernel` is called on the padded input. The
    kernel is ``self.kernel``; ``weight`` and ``bias`` give a plain kernel's parameters.

    Args:
        F: Frequency bands of the input (the kernel's height).
        T: Temporal extent of the STRF in frames.
        C_in: Input channels (1, or 2 after AdapTrans).
        C_out: Output channels (hidden units in a core, neurons in a readout).
        kernel: ``None`` for a plain ``nn.Conv2d(C_in, C_out, (F, T), bias=bias)``; otherwise an
            ``nn.Conv2d`` of that geometry, an :class:`STRFKernel` (e.g. :class:`ParametricSTRF`)
            whose built kernel is ``(C_out, C_in, F, T)``, or an ``nn.Sequential`` of unpadded
            ``nn.Conv2d`` layers mapping a ``(C_in, F, T)`` window to ``(C_out, 1, 1)``, e.g. the
            separable ``nn.Sequential(nn.Conv2d(C_in, C_out, (F, 1), bias=False),
            nn.Conv2d(C_out, C_out, (1, T), groups=C_out))``.
        bias: Bias of the default ``nn.Conv2d``; ignored when ``kernel`` is given.

    Raises:
        TypeError: If ``kernel`` is none of the above.
        ValueError: If a size is < 1, or the kernel's shape is not ``(C_out, C_in, F, T)``
            (or a given ``nn.Conv2d`` has padding, stride, dilation or groups).

    Shape:
        - Input: ``(B, C_in, F, T_in)``.
        - Output: ``(B, C_out, 1, T_in)``.

    Example:
        >>> conv = CausalSTRFConv(F=34, T=9, C_in=1, C_out=4)
        >>> conv(torch.randn(2, 1, 34, 50)).shape
        torch.Size([2, 4, 1, 50])
        >>> conv.STRF_weight().shape
        torch.Size([4, 1, 34, 9])
    """

    def __init__(
        self, F: int, T: int, C_in: int, C_out: int, kernel: nn.Module | None = None, bias: bool = True
    ) -> None:
        super().__init__()
        self.F, self.T = check_int("F", F), check_int("T", T)
        self.C_in, self.C_out = check_int("C_in", C_in), check_int("C_out", C_out)
        expected = (self.C_out, self.C_in, self.F, self.T)
        if kernel is None:
            if not isinstance(bias, bool):
                raise TypeError(f"`bias` must be a bool, got {type(bias).__name__}")
            kernel = nn.Conv2d(self.C_in, self.C_out, (self.F, self.T), bias=bias)
        elif isinstance(kernel, nn.Conv2d):
            geometry = (kernel.stride, kernel.padding, kernel.dilation, kernel.groups)
            if geometry != ((1, 1), (0, 0), (1, 1), 1):
                raise ValueError(
                    "an nn.Conv2d `kernel` must have stride 1, no padding, dilation 1 and groups 1, got "
                    f"stride={kernel.stride}, padding={kernel.padding}, dilation={kernel.dilation}, "
                    f"groups={kernel.groups}"
                )
        elif isinstance(kernel, nn.Sequential):
            if len(kernel) == 0 or not all(isinstance(m, nn.Conv2d) and m.padding == (0, 0) for m in kernel):
                raise TypeError(
                    "an nn.Sequential `kernel` must hold only unpadded nn.Conv2d layers (e.g. an (F, 1) then a "
                    f"(1, T) convolution), got {[type(m).__name__ for m in kernel]}"
                )
        elif not isinstance(kernel, STRFKernel):
            raise TypeError(
                "`kernel` must be None, an nn.Conv2d, an nn.Sequential of nn.Conv2d or an STRFKernel "
                f"(e.g. ParametricSTRF), got {type(kernel).__name__}"
            )
        self.kernel = kernel
        with torch.no_grad():
            shape = tuple(self._weight().shape)
        if shape != expected:
            raise ValueError(f"`kernel` must have shape (C_out, C_in, F, T) = {expected}, got {shape}")

    def _weight(self) -> torch.Tensor:
        if isinstance(self.kernel, nn.Conv2d):
            return self.kernel.weight
        if isinstance(self.kernel, nn.Sequential):
            return self._sequential_response()[0]
        return self.kernel.build_kernel()

    def _sequential_response(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Effective ``(C_out, C_in, F, T)`` kernel and ``(C_out,)`` bias of a stack of convolutions.

        The stack is linear: its kernel is its response to each unit impulse on the
        ``(C_in, F, T)`` window, minus its response to zeros (the bias).
        """
        reference = next(self.kernel.parameters())
        n = self.C_in * self.F * self.T
        probes = torch.cat([torch.eye(n, dtype=reference.dtype, device=reference.device), reference.new_zeros(1, n)])
        out = self.kernel(probes.reshape(n + 1, self.C_in, self.F, self.T))
        if out.shape != (n + 1, self.C_out, 1, 1):
            raise ValueError(
                f"an nn.Sequential `kernel` must map (B, C_in={self.C_in}, F={self.F}, T={self.T}) windows to "
                f"(B, C_out={self.C_out}, 1, 1), got {tuple(out.shape[1:])}"
            )
        bias = out[n, :, 0, 0]
        weight = (out[:n, :, 0, 0] - bias).transpose(0, 1).reshape(self.C_out, self.C_in, self.F, self.T)
        return weight, bias

    @property
    def weight(self) -> torch.Tensor:
        """The ``(C_out, C_in, F, T)`` weight parameter of a plain ``nn.Conv2d`` kernel (the live parameter).

        Raises:
            AttributeError: If the kernel is parameterised (``hasattr(conv, "weight")`` is then
                False); use :meth:`STRF_weight` for any kernel.
        """
        if not isinstance(self.kernel, nn.Conv2d):
            raise AttributeError(f"a {type(self.kernel).__name__} kernel has no plain weight; use STRF_weight()")
        return self.kernel.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The ``(C_out,)`` bias of the kernel (``None`` without bias; the effective one for an ``nn.Sequential``)."""
        if isinstance(self.kernel, nn.Sequential):
            return self._sequential_response()[1]
        return self.kernel.bias

    def STRF_weight(self) -> torch.Tensor:
        """Return the effective ``(C_out, C_in, F, T)`` kernel, detached, on CPU (a copy).

        Example:
            >>> CausalSTRFConv(F=4, T=3, C_in=2, C_out=5, kernel=SeparableSTRF(4, 3, 2, 5)).STRF_weight().shape
            torch.Size([5, 2, 4, 3])
        """
        with torch.no_grad():
            return self._weight().detach().to("cpu", copy=True)

    def _check_input(self, x: torch.Tensor) -> None:
        check_tensor("x", x, ndim=4)
        if x.shape[1] != self.C_in or x.shape[2] != self.F:
            raise ValueError(f"`x` must have shape (B, C_in={self.C_in}, F={self.F}, T), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the STRF causally (see the class docstring for shapes)."""
        self._check_input(x)
        if isinstance(self.kernel, nn.Conv2d):
            return _causal_strf_conv(x, self.kernel.weight, self.kernel.bias)
        return self.kernel(nnf.pad(x, (self.T - 1, 0)))

    def _forward_affine(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor | None:
        """``scale * forward(x) + shift`` per output channel with the affine map folded into the kernel.

        Returns ``None`` when the kernel is a custom module whose ``forward`` is not a plain
        convolution with its built kernel (nothing can be folded into it then).
        """
        if not isinstance(self.kernel, nn.Conv2d) and type(self.kernel).forward is not STRFKernel.forward:
            return None
        self._check_input(x)
        weight = self._weight() * scale.view(-1, 1, 1, 1)
        kernel_bias = self.bias
        bias = shift if kernel_bias is None else torch.addcmul(shift, kernel_bias, scale)
        return _causal_strf_conv(x, weight, bias)

    def extra_repr(self) -> str:
        return f"F={self.F}, T={self.T}, C_in={self.C_in}, C_out={self.C_out}"
