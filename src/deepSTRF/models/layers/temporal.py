"""Causal per-channel temporal filtering and the learnable exponential decay.

:func:`causal_fir` is the one place where a bank of short causal FIR filters is
applied along time; :class:`LearnableExponentialDecay` and the spectrogram
prefilters of :mod:`deepSTRF.models.prefiltering` all call it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as nnf

from deepSTRF._validation import check_choice, check_int, check_positive_float, check_tensor
from deepSTRF.models.configurable import ConfigurableModule

__all__ = ["LearnableExponentialDecay", "causal_fir", "decay_profile"]

# Output frames computed per matrix product in causal_fir (see its Notes).
_BLOCK = 32


def decay_profile(decay: torch.Tensor, n: int) -> torch.Tensor:
    """Powers ``decay**0, decay**1, ..., decay**(n-1)`` along a new last axis.

    Args:
        decay: Tensor of decay factors, any shape.
        n: Number of powers.

    Returns:
        Tensor of shape ``(*decay.shape, n)`` in the dtype of ``decay``.

    Example:
        >>> decay_profile(torch.tensor([0.5]), 3)
        tensor([[1.0000, 0.5000, 0.2500]])
    """
    exponents = torch.arange(n, dtype=decay.dtype, device=decay.device)
    return decay.unsqueeze(-1) ** exponents


def causal_fir(x: torch.Tensor, kernel: torch.Tensor, *, padding: str = "zeros") -> torch.Tensor:
    """Filter every channel of ``x`` along time with its own causal FIR kernels.

    ``out[b, c, f, t] = sum_j kernel[c, f, j] * x[b, f, t - (K - 1) + j]``: the last
    tap of a kernel multiplies the current frame, the first the frame ``K - 1``
    steps back (the orientation of ``torch.nn.functional.conv1d`` weights).

    Args:
        x: Input ``(B, F, T)``, time last.
        kernel: Kernels ``(C, F, K)``: ``C`` filters per channel.
        padding: Frames before the start are ``'zeros'``, or ``'replicate'`` the first frame
            (the signal is taken to have held its first value forever).

    Returns:
        Filtered tensor ``(B, C, F, T)``.

    Raises:
        TypeError: If an argument is not a tensor.
        ValueError: If the shapes do not match or ``padding`` is unknown.

    Notes:
        The convolution is evaluated in the time domain as a product with a banded
        Toeplitz matrix, ``32`` output frames at a time. Each output is a sum of
        its own past and present inputs only; later inputs enter with weights
        that are exactly zero, so outputs before any time ``t0`` are bit-identical
        whatever the input after ``t0``. This is several times faster on CPU than a
        grouped ``conv1d``, whose weight gradient is slow for long kernels. With a
        gradient to compute, each block of 32 outputs reads its own copy of its
        ``32 + K - 1`` input frames (one matrix product, the fastest backward pass).
        Without, the windows are not copied: the input is cut into blocks of 32
        frames and each output block sums one product per input block under its
        window, which holds ``(32 + K - 1) / 32`` times less memory (5 times less for
        ``K = 131``) at the same speed; the result is then contiguous. The two differ
        only by float rounding.

    Example:
        >>> x = torch.tensor([[[1.0, 2.0, 4.0]]])
        >>> causal_fir(x, torch.tensor([[[-1.0, 1.0]]]))  # first difference
        tensor([[[[1., 1., 2.]]]])
    """
    check_tensor("x", x, ndim=3, floating=True)
    check_tensor("kernel", kernel, ndim=3, floating=True)
    check_choice("padding", padding, ("zeros", "replicate"))
    batch, channels, length = x.shape
    n_filters, k_channels, taps = kernel.shape
    if k_channels != channels:
        raise ValueError(
            f"`kernel` must have shape (C, {channels}, K) for an input of shape {tuple(x.shape)}, "
            f"got {tuple(kernel.shape)}"
        )
    block = min(_BLOCK, length)
    n_blocks = math.ceil(length / block)
    mode = "replicate" if padding == "replicate" else "constant"
    if not (torch.is_grad_enabled() and (x.requires_grad or kernel.requires_grad)):
        return _causal_fir_blocks(x, kernel, mode, block)
    if taps > 1:
        x = nnf.pad(x, (taps - 1, 0), mode=mode)
    x = nnf.pad(x, (0, n_blocks * block - length))
    windows = x.unfold(-1, block + taps - 1, block)  # (B, F, n_blocks, block + K - 1)
    toeplitz = _toeplitz(kernel, block, block + taps - 1)
    out = torch.einsum("bfnq,cfpq->bcfnp", windows, toeplitz)
    return out.reshape(batch, n_filters, channels, n_blocks * block)[..., :length]


def _toeplitz(kernel: torch.Tensor, block: int, width: int) -> torch.Tensor:
    """The banded ``(C, F, block, width)`` matrices ``t[c, f, p, q] = kernel[c, f, q - p]``, 0 off the band."""
    taps = kernel.shape[-1]
    # row p is the kernel shifted right by p: a window of [0] * (block - 1) + kernel + [0] * width
    padded = nnf.pad(kernel, (block - 1, width - taps))
    return padded.unfold(-1, width, 1).flip(-2)


def _causal_fir_blocks(x: torch.Tensor, kernel: torch.Tensor, mode: str, block: int) -> torch.Tensor:
    """:func:`causal_fir` without copies of overlapping windows (no autograd graph needed).

    Every band becomes one row holding the ``B`` sequences one after the other, each
    left-padded with ``K - 1`` frames and right-padded with zeros to ``per_seq`` whole
    blocks, so that the window of output block ``r`` is the run of input blocks
    ``r .. r + n_in - 1`` of that row (plain views, no copy). The rows that straddle
    two sequences are computed and never read.
    """
    batch, channels, length = x.shape
    n_filters, _, taps = kernel.shape
    n_out = math.ceil(length / block)  # output blocks per sequence
    n_in = math.ceil((block + taps - 1) / block)  # input blocks under one output block's window
    per_seq = n_out + n_in - 1
    rows = batch * per_seq - (n_in - 1)  # output blocks computed (the last n_in - 1 would read past the end)
    seq = nnf.pad(x.transpose(0, 1), (taps - 1, 0), mode=mode) if taps > 1 else x.transpose(0, 1)
    blocks = nnf.pad(seq, (0, per_seq * block - seq.shape[-1])).reshape(channels, batch * per_seq, block)
    # weights[f, i, q, c * block + p]: the weight of frame q of input block i in output frame p of filter c
    toeplitz = _toeplitz(kernel, block, n_in * block).reshape(n_filters, channels, block, n_in, block)
    weights = toeplitz.permute(1, 3, 4, 0, 2).reshape(channels, n_in, block, n_filters * block)
    out = torch.bmm(blocks[:, :rows], weights[:, 0])  # (F, rows, C * block)
    for i in range(1, n_in):
        out.baddbmm_(blocks[:, i : i + rows], weights[:, i])
    step = n_filters * block
    framed = out.as_strided(  # (B, C, F, n_out, block): the rows of whole sequences
        (batch, n_filters, channels, n_out, block), (per_seq * step, block, rows * step, step, 1)
    )
    result = out.new_empty(batch, n_filters, channels, length)
    whole = length // block
    result[..., : whole * block].unflatten(-1, (whole, block)).copy_(framed[..., :whole, :])
    if whole < n_out:
        result[..., whole * block :].copy_(framed[..., whole, : length - whole * block])
    return result


class LearnableExponentialDecay(ConfigurableModule):
    """Causal exponential low-pass filter with one learnable time constant per channel.

    Each of the ``input_size`` channels is convolved along time with its own
    truncated exponential kernel ``h[l] = r**l`` for lags ``l = 0..K-1``, where
    the decay factor ``r = sigmoid(decay_logit)`` lies in ``(0, 1)`` and the time
    constant is ``tau = -1 / log(r)`` frames. Every channel starts at
    ``tau = init_tau``. With ``decay_input=True`` the kernel is scaled by ``1 - r``, the
    input weight of the leaky integrator ``y_t = r y_{t-1} + (1 - r) x_t`` (Rahman et
    al. 2019; deepSTRF 0.1.0), truncated to ``K`` lags: a constant input passes with
    gain ``1 - r**K``, close to 1 when ``K`` spans several time constants; with
    ``decay_input=False`` the current frame passes unscaled (``h[0] = 1``). The input
    is taken to have held its first value before the first frame (replicate padding),
    so a steady input gives a steady output.
    This is the hidden-unit decay of the dynamic network model (Rahman et al. 2019)
    with a PLIF-like sigmoid parameterisation (Fang et al. 2021).

    Args:
        input_size: Number of channels (hidden units or frequency bands), one time constant each.
        kernel_size: Temporal extent ``K`` of the kernel in frames.
        init_tau: Initial time constant in frames.
        decay_input: Weight the input by ``1 - r`` (see above).

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a size is < 1 or ``init_tau`` <= 0.

    Shape:
        - Input: ``(B, input_size, T)``, ``(B, input_size, 1, T)`` (hidden units) or
          ``(B, 1, input_size, T)`` (spectrogram bands).
        - Output: same shape as the input.

    Example:
        >>> decay = LearnableExponentialDecay(input_size=3, kernel_size=8, init_tau=2.0)
        >>> decay(torch.ones(2, 3, 1, 10)).shape
        torch.Size([2, 3, 1, 10])
        >>> round(float(decay.tau[0]), 4)
        2.0
    """

    def __init__(self, input_size: int, kernel_size: int, init_tau: float = 2.0, decay_input: bool = True) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.kernel_size = check_int("kernel_size", kernel_size)
        tau = check_positive_float("init_tau", init_tau)
        if not isinstance(decay_input, bool):
            raise TypeError(f"`decay_input` must be a bool, got {type(decay_input).__name__}")
        self.decay_input = decay_input
        # logit(exp(-1 / tau)), written to stay finite for very small and very large tau
        logit = -1.0 / tau - math.log(-math.expm1(-1.0 / tau))
        self.decay_logit = nn.Parameter(torch.full((self.input_size,), logit))

    @property
    def decay(self) -> torch.Tensor:
        """Per-channel decay factor per frame, ``r = sigmoid(decay_logit)``, shape ``(input_size,)``."""
        return torch.sigmoid(self.decay_logit)

    @property
    def tau(self) -> torch.Tensor:
        """Per-channel time constant in frames, ``-1 / log(r)`` (detached), shape ``(input_size,)``."""
        return (-1.0 / nnf.logsigmoid(self.decay_logit)).detach()

    def build_kernel(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Build the kernels in ``conv1d`` weight layout.

        Args:
            device: Optional device to move the kernel to (it is built on the parameters' device).

        Returns:
            Tensor ``(input_size, 1, kernel_size)``; the last tap multiplies the current frame.

        Example:
            >>> LearnableExponentialDecay(1, 3, init_tau=1.0, decay_input=False).build_kernel().shape
            torch.Size([1, 1, 3])
        """
        taps = decay_profile(self.decay, self.kernel_size)  # lag 0 first
        if self.decay_input:
            taps = taps * (1.0 - self.decay).unsqueeze(-1)
        kernel = taps.flip(-1).unsqueeze(1)
        return kernel if device is None else kernel.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Low-pass filter every channel along time (see the class docstring for shapes)."""
        check_tensor("x", x, ndim=(3, 4), floating=True)
        n = self.input_size
        layouts = [(n,)] if x.dim() == 3 else [(n, 1), (1, n)]
        if tuple(x.shape[1:-1]) not in layouts:
            expected = " or ".join(f"(B, {', '.join(map(str, s))}, T)" for s in layouts)
            raise ValueError(f"`x` must have shape {expected} for input_size={n}, got {tuple(x.shape)}")
        kernel = self.build_kernel()  # (input_size, 1, K)
        flat = x.reshape(x.shape[0], n, x.shape[-1])
        if not torch.is_grad_enabled():
            # inference: a depthwise convolution is the cheaper kernel (no gradient to compute)
            padded = nnf.pad(flat, (self.kernel_size - 1, 0), mode="replicate") if self.kernel_size > 1 else flat
            return nnf.conv1d(padded, kernel, groups=n).reshape(x.shape)
        out = causal_fir(flat, kernel.transpose(0, 1), padding="replicate")
        return out.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, kernel_size={self.kernel_size}, decay_input={self.decay_input}"
