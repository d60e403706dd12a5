"""Exact, causal recursive (IIR) filtering without a Python loop over time.

A bank of single-input single-output linear filters, one per channel, in
state-space form::

    s[t + 1] = A s[t] + B u[t]
    y[t]     = C s[t] + D u[t]

is applied blockwise. The signal is cut into chunks of ``L`` samples; inside a
chunk the zero-state response is a product with a lower-triangular Toeplitz
matrix of the impulse response (exact: the impulse response is needed only up
to lag ``L - 1``), the state carried from chunk to chunk follows
``S[c] = A^L S[c - 1] + e[c]``, which is solved by a parallel prefix scan over
chunks (``log2`` of their number steps), and the carried state adds ``C A^i S``
to sample ``i`` of the next chunk. Every step uses only the past, so the
result is strictly causal, and it equals the sample-by-sample recursion up to
floating-point rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class ChunkOperators(NamedTuple):
    """Matrices applying a filter bank chunk by chunk (see :func:`chunk_operators`)."""

    toeplitz: torch.Tensor  # (C, L, L): zero-state response inside a chunk
    to_state: torch.Tensor  # (C, L, d): inputs of a chunk -> state at its end
    from_state: torch.Tensor  # (C, L, d): state at a chunk start -> outputs of the chunk
    transition: torch.Tensor  # (C, d, d): A^L


def matrix_powers(A: torch.Tensor, n: int) -> torch.Tensor:
    """Return ``A^0 .. A^n`` stacked on a new dimension ``-3``: ``(C, d, d) -> (C, n + 1, d, d)``."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    powers = eye.expand(A.shape[0], 1, *A.shape[-2:])
    while powers.shape[1] <= n:
        step = powers[:, -1] @ A  # A^m, m = number of powers so far
        powers = torch.cat([powers, powers @ step.unsqueeze(1)], dim=1)
    return powers[:, : n + 1]


def chunk_operators(A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor, chunk: int) -> ChunkOperators:
    """Build the operators that apply a state-space filter bank in chunks of ``chunk`` samples.

    Args:
        A: State matrices ``(C, d, d)``, one per channel.
        B: Input vectors ``(C, d)``.
        C: Output vectors ``(C, d)``.
        D: Direct feed-through ``(C,)``.
        chunk: Chunk length ``L``.

    Returns:
        The :class:`ChunkOperators`; differentiable with respect to the inputs.
    """
    powers = matrix_powers(A, chunk)  # (C, L + 1, d, d)
    lagged = torch.einsum("cd,ckde,ce->ck", C, powers[:, : chunk - 1], B)  # C A^(k-1) B, k = 1..L-1
    impulse = torch.cat([D.unsqueeze(1), lagged], dim=1)  # (C, L)
    lag = torch.arange(chunk, device=A.device)
    lag = lag.view(-1, 1) - lag.view(1, -1)
    toeplitz = impulse[:, lag.clamp(min=0)] * (lag >= 0).to(impulse.dtype)
    to_state = torch.einsum("ckde,ce->ckd", powers[:, :chunk].flip(1), B)
    from_state = torch.einsum("cd,ckde->cke", C, powers[:, :chunk])
    return ChunkOperators(toeplitz, to_state, from_state, powers[:, chunk])


def _prefix_scan(e: torch.Tensor, transition: torch.Tensor) -> torch.Tensor:
    """Solve ``S[c] = M S[c - 1] + e[c]`` (``S[-1] = 0``) along dim ``-2`` with a Hillis-Steele scan."""
    states, step, power = e, 1, transition
    n = e.shape[-2]
    while step < n:
        carried = states[..., :-step, :] @ power.transpose(-1, -2)
        states = torch.cat([states[..., :step, :], states[..., step:, :] + carried], dim=-2)
        power = power @ power
        step *= 2
    return states


def chunked_filter(x: torch.Tensor, ops: ChunkOperators, initial_state: torch.Tensor | None = None) -> torch.Tensor:
    """Apply a filter bank built by :func:`chunk_operators` along the last axis of ``x``.

    Args:
        x: Input ``(..., C, T)``, or ``(..., 1, T)`` to feed one signal to all ``C`` filters.
        ops: Operators of the ``C`` filters.
        initial_state: Optional state ``(..., C, d)`` before the first sample (zeros by default).

    Returns:
        Output ``(..., C, T)``.
    """
    length = x.shape[-1]
    chunk = ops.toeplitz.shape[-1]
    n_chunks = -(-length // chunk)
    u = torch.nn.functional.pad(x, (0, n_chunks * chunk - length))
    u = u.reshape(*x.shape[:-1], n_chunks, chunk)
    y = u @ ops.toeplitz.transpose(-1, -2)
    ends = u @ ops.to_state  # (..., C, n, d): state at each chunk end from that chunk alone
    if initial_state is None:
        states = _prefix_scan(ends, ops.transition)
        start = torch.zeros_like(states[..., :1, :])
    else:
        start = initial_state.unsqueeze(-2)
        first = ends[..., :1, :] + start @ ops.transition.transpose(-1, -2)
        states = _prefix_scan(torch.cat([first, ends[..., 1:, :]], dim=-2), ops.transition)
    previous = torch.cat([start, states[..., :-1, :]], dim=-2)  # state at each chunk start
    y = y + previous @ ops.from_state.transpose(-1, -2)
    return y.reshape(*y.shape[:-2], n_chunks * chunk)[..., :length]
