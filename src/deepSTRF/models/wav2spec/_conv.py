"""Causal (optionally strided) 1-d convolution, fast on CPU in both directions.

``causal_conv1d(x, w, b, stride=s)`` computes, for an input of length ``T`` (a
multiple of ``s``) and a kernel of length ``K``,

    y[:, :, t] = b + sum_k w[:, :, k] @ x[:, :, (t + 1) s - K + k],    t = 0 .. T / s - 1,

with zeros before the start: output ``t`` sees the ``K`` samples ending at the
end of its stride block. The strided convolution becomes a stride-1 convolution
over the ``s`` phases of the input (polyphase form), computed either directly
(``_ValidConv1d``: ``conv1d``, with gradients by forward convolutions, which
oneDNN runs two to three times faster on CPU than its backward kernels for these
shapes) or by overlap-save FFT (``_FFTCausalConv1d``), whichever the cost model
of ``_fft_speedup`` prefers.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from deepSTRF.functional.framing import align_frames

ConvMethod = Literal["auto", "direct", "fft"]

# Length of the pieces the time axis is cut into when computing weight gradients.
_PIECE = 256
# The cost model of the FFT path (``_fft_speedup``): per block, the complex channel mixing
# (4 real MACs per complex MAC at each frequency) plus ``_FFT_OVERHEAD`` MAC-equivalents per
# transformed sample and channel (the transforms and layout changes), a figure fitted to
# the training-step timings of ``benchmarks/bench_icnet.py --layers`` on the reference
# machine. ``"auto"`` takes the FFT when it is predicted ``_FFT_MARGIN`` times cheaper than
# the direct convolution and the direct one costs at least ``_FFT_MIN_MACS``.
_FFT_OVERHEAD = 160
_FFT_MARGIN = 1.5
_FFT_MIN_MACS = 50_000_000


def _weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Gradient of ``conv1d(x, w)`` with respect to ``w``, as one forward convolution.

    The correlation ``sum_(b, t) grad[b, o, t] x[b, i, t + k]`` is computed with time
    cut into pieces that are stacked with the batch as input channels, which keeps the
    convolution's kernel short.
    """
    batch, n_out, length = grad.shape
    pieces = -(-length // _PIECE)
    extra = pieces * _PIECE - length
    g = F.pad(grad, (0, extra)).view(batch, n_out, pieces, _PIECE)
    g = g.permute(1, 0, 2, 3).reshape(n_out, batch * pieces, _PIECE)
    xs = F.pad(x, (0, extra)).unfold(-1, _PIECE + kernel_size - 1, _PIECE)  # (B, C_in, pieces, span)
    xs = xs.permute(1, 0, 2, 3).reshape(x.shape[1], batch * pieces, -1)
    return F.conv1d(xs, g).transpose(0, 1)


class _ValidConv1d(torch.autograd.Function):
    """``conv1d(x, w, b)`` with stride 1 and no padding; gradients computed by forward convolutions."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv1d(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        k = weight.shape[-1]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv1d(F.pad(grad, (k - 1, k - 1)), weight.flip(-1).transpose(0, 1))
        if ctx.needs_input_grad[1]:
            grad_w = _weight_grad(x, grad, k)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2))
        return grad_x, grad_w, grad_b


def _to_frequency_major(spectra: torch.Tensor) -> torch.Tensor:
    """``(B, C, blocks, n_freq)`` -> ``(n_freq, C, B * blocks)``, the layout of one matrix product per frequency."""
    batch, channels, blocks, n_freq = spectra.shape
    return spectra.permute(3, 1, 0, 2).reshape(n_freq, channels, batch * blocks)


def _from_frequency_major(spectra: torch.Tensor, batch: int, n_fft: int) -> torch.Tensor:
    """Inverse transform ``(n_freq, C, B * blocks)`` -> blocks ``(B, C, blocks, n_fft)`` (a permuted view)."""
    blocks = torch.fft.irfft(spectra, n=n_fft, dim=0)  # transforming along the slow axis spares a transpose
    return blocks.view(n_fft, spectra.shape[1], batch, -1).permute(2, 1, 3, 0)


def _cut_blocks(x: torch.Tensor, stride: int, taps: int, n_fft: int, blocks: int) -> torch.Tensor:
    """Overlapping blocks of the decimated phases of ``x``, ``(B, C_in * stride, blocks, n_fft)``, in one copy.

    Block ``j`` holds the phase samples ``j * L - (taps - 1) .. j * L - (taps - 1) + n_fft - 1``
    (``L = n_fft - taps + 1``), zeros outside the signal; channel ``i * stride + p`` is phase
    ``p`` of input channel ``i``. Blocks wholly inside the signal are copied at once, the
    few at the edges one by one.
    """
    batch, n_in, length = x.shape
    steps, advance, lead = length // stride, n_fft - taps + 1, taps - 1
    phases = x.view(batch, n_in, steps, stride)
    out = x.new_empty(batch, n_in, stride, blocks, n_fft)
    first = -(-lead // advance)  # blocks first..last start and end inside the signal
    last = min(blocks - 1, (steps + lead - n_fft) // advance)
    if last >= first:
        start = first * advance - lead
        inner = phases[:, :, start:].unfold(2, n_fft, advance)[:, :, : last - first + 1]
        out[:, :, :, first : last + 1] = inner.transpose(2, 3)
    for j in [*range(min(first, blocks)), *range(max(last + 1, first), blocks)]:
        start = j * advance - lead
        lo, hi = max(0, -start), max(0, min(n_fft, steps - start))
        out[:, :, :, j, :lo] = 0
        out[:, :, :, j, max(lo, hi) :] = 0
        if hi > lo:
            out[:, :, :, j, lo:hi] = phases[:, :, start + lo : start + hi].transpose(2, 3)
    return out.view(batch, n_in * stride, blocks, n_fft)


class _FFTCausalConv1d(torch.autograd.Function):
    """:func:`causal_conv1d` by overlap-save FFT (see the module docstring), in polyphase form.

    ``weight`` is the polyphase kernel ``(C_out, C_in * stride, K)``. With ``K`` taps,
    blocks of ``n_fft`` samples of the decimated phases advance by ``L = n_fft - K + 1``
    and each yields ``L`` outputs; the blocks are cut from the input in one copy.
    In the frequency domain (real FFTs of length ``n_fft``), per block and frequency:
    ``Y = conj(W) X`` for the output (a correlation), ``dX = W G`` for the input
    gradient (a full convolution of the ``L`` output gradients with the kernel,
    ``L + K - 1 = n_fft`` samples, overlap-added), and ``dW = sum_blocks conj(G) X`` for
    the weight gradient, where ``G`` is the transform of a block's output gradients
    zero-padded to ``n_fft``. None of these wraps around the circular transform.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, n_fft: int
    ) -> torch.Tensor:
        batch, n_in, length = x.shape
        n_out, _, taps = weight.shape
        steps, advance = length // stride, n_fft - taps + 1
        blocks = -(-steps // advance)
        x_freq = _to_frequency_major(torch.fft.rfft(_cut_blocks(x, stride, taps, n_fft, blocks)))
        w_freq = torch.fft.rfft(weight, n=n_fft).permute(2, 0, 1).conj_physical()  # (n_freq, C_out, C_in)
        y = _from_frequency_major(torch.matmul(w_freq, x_freq), batch, n_fft)[..., :advance]
        out = y.new_empty(batch, n_out, blocks, advance)
        if bias is None:
            out.copy_(y)
        else:
            torch.add(y, bias.view(-1, 1, 1), out=out)
        ctx.save_for_backward(x_freq, w_freq)
        ctx.geometry = (batch, n_in, length, stride, taps, blocks, n_fft)
        return out.view(batch, n_out, blocks * advance)[..., :steps]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x_freq, w_freq = ctx.saved_tensors
        batch, n_in, length, stride, taps, blocks, n_fft = ctx.geometry
        advance, steps = n_fft - taps + 1, length // stride
        grad_x = grad_w = grad_b = None
        g = F.pad(grad, (0, blocks * advance - steps)).view(batch, grad.shape[1], blocks, advance)
        g_freq = _to_frequency_major(torch.fft.rfft(g, n=n_fft))
        if ctx.needs_input_grad[0]:
            pieces = _from_frequency_major(torch.matmul(w_freq.mH, g_freq), batch, n_fft)
            pieces = pieces.unflatten(1, (n_in, stride))  # (B, C_in, stride, blocks, n_fft)
            # overlap-add the blocks straight into the (time, phase) order of the input
            added = pieces.new_zeros(batch, n_in, blocks + 1, advance, stride)
            added_phases = added.permute(0, 1, 4, 2, 3)  # (B, C_in, stride, blocks + 1, L)
            added_phases[:, :, :, :blocks] = pieces[..., :advance]
            added_phases[:, :, :, 1:, : taps - 1] += pieces[..., advance:]
            left = (taps - 1) * stride
            grad_x = added.view(batch, n_in, -1)[..., left : left + length]
        if ctx.needs_input_grad[1]:
            w_grad_freq = torch.matmul(g_freq, x_freq.mH).conj_physical()  # (n_freq, C_out, C_in)
            grad_w = torch.fft.irfft(w_grad_freq, n=n_fft, dim=0)[:taps].permute(1, 2, 0)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2))
        return grad_x, grad_w, grad_b, None, None


def _fft_size(taps: int) -> int:
    """FFT block length for a kernel of ``taps`` taps: the power of two >= 4 taps (at least 64).

    Each block then yields at least three quarters of its length in outputs, and longer
    blocks gain little while their transforms cost more.
    """
    return 1 << max(6, (4 * taps - 1).bit_length())


def _fft_speedup(batch: int, n_in: int, n_out: int, taps: int, length: int) -> float:
    """The cost model's predicted ratio of the direct to the FFT cost of a stride-1 convolution."""
    n_fft = _fft_size(taps)
    columns = batch * -(-length // (n_fft - taps + 1))
    fft = columns * (4 * (n_fft // 2 + 1) * n_out * n_in + _FFT_OVERHEAD * (n_in + n_out) * n_fft)
    return batch * length * n_out * n_in * taps / fft


def _fft_pays(batch: int, n_in: int, n_out: int, taps: int, length: int, dtype: torch.dtype) -> bool:
    """Whether ``"auto"`` takes the FFT: a large float32/float64 problem predicted ``_FFT_MARGIN`` times faster."""
    if batch * length * n_out * n_in * taps < _FFT_MIN_MACS or dtype not in (torch.float32, torch.float64):
        return False
    return _fft_speedup(batch, n_in, n_out, taps, length) >= _FFT_MARGIN


def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    method: ConvMethod = "auto",
) -> torch.Tensor:
    """Causal 1-d convolution: output ``t`` uses the ``K`` input samples ending at ``(t + 1) * stride``.

    A strided convolution runs as a stride-1 convolution over the ``stride``
    interleaved phases of the input (polyphase form), either directly (``conv1d``,
    gradients by forward convolutions) or by overlap-save FFT: blocks of about
    ``4 K / stride`` samples are transformed, the channels mixed by one complex matrix
    product per frequency, and transformed back, which costs a few multiply-accumulates
    per output and channel pair instead of ``K / stride``. ``"auto"`` takes the FFT on
    CPU where a cost model (calibrated with ``benchmarks/bench_icnet.py --layers``)
    predicts it 1.5 times faster, as for ICNet's 64-tap, 128-channel layers (five to six
    times faster there). Both agree with ``torch.nn.functional.conv1d`` to rounding. The
    FFT is causal in exact arithmetic, but a block's outputs share rounding errors, so a
    change of the input can move earlier outputs of its block by about ``1e-7``
    (float32) or ``1e-16`` (float64) of the signal's scale.

    Args:
        x: Input ``(B, C_in, T)`` with ``T`` a multiple of ``stride``.
        weight: Kernel ``(C_out, C_in, K)``; tap ``K - 1`` weighs the most recent sample.
        bias: Optional bias ``(C_out,)``.
        stride: Downsampling factor.
        method: ``"direct"``, ``"fft"`` (overlap-save) or ``"auto"`` (the FFT on CPU for
            float32/float64 problems where the cost model predicts a gain).

    Returns:
        ``(B, C_out, T // stride)``.

    Raises:
        ValueError: If ``method`` is not one of the three or ``T`` is not a multiple of ``stride``.

    Shape:
        - Input: ``(B, C_in, T)``.
        - Output: ``(B, C_out, T // stride)``.

    Example:
        >>> x = torch.arange(1.0, 7.0).view(1, 1, 6)
        >>> causal_conv1d(x, torch.tensor([[[1.0, 10.0]]]), stride=2)
        tensor([[[21., 43., 65.]]])
        >>> causal_conv1d(x, torch.tensor([[[1.0, 10.0]]]), stride=2, method="fft").round()
        tensor([[[21., 43., 65.]]])
    """
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"`method` must be 'auto', 'direct' or 'fft', got {method!r}")
    n_out, n_in, kernel_size = weight.shape
    batch, _, length = x.shape
    if length % stride:
        raise ValueError(f"input length {length} is not a multiple of stride={stride}")
    taps = -(-kernel_size // stride)  # taps per phase
    if stride > 1:
        weight = F.pad(weight, (taps * stride - kernel_size, 0))
        weight = weight.view(n_out, n_in, taps, stride).transpose(2, 3).reshape(n_out, n_in * stride, taps)
    use_fft = method == "fft" or (
        method == "auto"
        and x.device.type == "cpu"
        and _fft_pays(batch, n_in * stride, n_out, taps, length // stride, x.dtype)
    )
    if use_fft:
        return _FFTCausalConv1d.apply(x, weight, bias, stride, _fft_size(taps))
    x = align_frames(x, taps * stride, stride)
    if stride > 1:
        x = x.view(batch, n_in, -1, stride).transpose(2, 3).reshape(batch, n_in * stride, -1)
    return _ValidConv1d.apply(x, weight, bias)
