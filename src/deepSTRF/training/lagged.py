"""Time-lagged designs of ragged spectrograms, and the sums of squares a ridge fit needs.

A lagged design has one row per time bin and one column per (frequency, lag):
row ``t`` of stimulus ``s`` holds ``stim_s[f, t - (L - 1) + k]`` in column
``f * L + k``, so column ``k = L - 1`` is the present bin and ``k = 0`` the oldest,
the layout of a causal STRF kernel ``(F, L)``. Lags that reach before the start of
a stimulus are zero: a row never sees another stimulus.

Rows are produced in chunks from one zero-separated stream of all stimuli, so the
full design never has to exist in memory.

Example:
    >>> import torch
    >>> x = lagged_design([torch.arange(1.0, 4.0)[None], torch.arange(4.0, 6.0)[None]], n_lags=2)
    >>> x.tolist()
    [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [0.0, 4.0], [4.0, 5.0]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from deepSTRF._validation import check_int

__all__ = ["LaggedStream", "lagged_design"]


class LaggedStream:
    """Produce rows of the lagged design of ragged spectrograms, chunk by chunk.

    Args:
        stims: ``S`` spectrograms of shape ``(F, T_s)`` with the same ``F``.
        n_lags: Number ``L`` of lags (the STRF's temporal extent), at least 1.

    Raises:
        TypeError: If ``n_lags`` is not an int.
        ValueError: If the list is empty, a spectrogram is not 2-D or the ``F`` differ.

    Shape:
        - ``rows(i0, i1)``: ``(i1 - i0, F * L)``; row ``i`` is time bin ``i`` of the
          stimuli laid end to end.

    Example:
        >>> stream = LaggedStream([torch.ones(2, 3)], n_lags=2)
        >>> stream.rows(0, 3).shape, stream.n_rows
        (torch.Size([3, 4]), 3)
    """

    def __init__(self, stims: Sequence[torch.Tensor], n_lags: int) -> None:
        self.n_lags = check_int("n_lags", n_lags)
        if len(stims) == 0:
            raise ValueError("`stims` must hold at least one spectrogram, got an empty sequence")
        for s, stim in enumerate(stims):
            if not isinstance(stim, torch.Tensor) or stim.dim() != 2:
                what = tuple(stim.shape) if isinstance(stim, torch.Tensor) else type(stim).__name__
                raise ValueError(f"`stims[{s}]` must be a (F, T) tensor, got {what}")
        bands = {int(stim.shape[0]) for stim in stims}
        if len(bands) != 1:
            raise ValueError(f"all stimuli must have the same number of frequency bands, got {sorted(bands)}")
        self.n_bands = bands.pop()
        self.lengths = torch.tensor([stim.shape[1] for stim in stims], dtype=torch.long)
        ref = stims[0]
        pad = torch.zeros(self.n_bands, self.n_lags - 1, dtype=ref.dtype, device=ref.device)
        stream = torch.cat([part for stim in stims for part in (pad, stim.to(ref))], dim=1)
        # windows[:, j] = stream[:, j : j + L]; time bin t of stimulus s starts its window at block_s + t
        self._windows = stream.unfold(1, self.n_lags, 1)
        blocks = torch.cumsum(self.lengths + self.n_lags - 1, 0) - (self.lengths + self.n_lags - 1)
        first_row = torch.cumsum(self.lengths, 0) - self.lengths
        stim_of_row = torch.repeat_interleave(torch.arange(len(stims)), self.lengths)
        self._starts = (blocks[stim_of_row] + torch.arange(int(self.lengths.sum())) - first_row[stim_of_row]).to(
            ref.device
        )
        self.stim_of_row = stim_of_row

    @property
    def n_rows(self) -> int:
        """Total number of time bins over all stimuli."""
        return int(self._starts.numel())

    @property
    def n_features(self) -> int:
        """Number of columns, ``F * L``."""
        return self.n_bands * self.n_lags

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of the design, as a new ``(stop - start, F * L)`` tensor."""
        picked = self._windows[:, self._starts[start:stop], :]  # (F, rows, L)
        return picked.permute(1, 0, 2).reshape(-1, self.n_features)

    def chunks(self, start: int, stop: int, size: int) -> Iterator[tuple[int, int, torch.Tensor]]:
        """Yield ``(i0, i1, rows(i0, i1))`` covering ``start:stop`` in chunks of at most ``size`` rows."""
        for i0 in range(start, stop, size):
            i1 = min(i0 + size, stop)
            yield i0, i1, self.rows(i0, i1)


def lagged_design(stims: Sequence[torch.Tensor], n_lags: int) -> torch.Tensor:
    """The full lagged design of ragged spectrograms (for small data and checks).

    Args:
        stims: ``S`` spectrograms ``(F, T_s)``.
        n_lags: Number ``L`` of lags.

    Returns:
        The design, one row per time bin of the stimuli laid end to end.

    Raises:
        ValueError: See :class:`LaggedStream`.

    Shape:
        - Output: ``(sum_s T_s, F * L)``.

    Example:
        >>> lagged_design([torch.ones(3, 4)], n_lags=2).shape
        torch.Size([4, 6])
    """
    stream = LaggedStream(stims, n_lags)
    return stream.rows(0, stream.n_rows)


class RidgeStatistics:
    """Sums of squares and cross-products of a lagged design, per group of stimuli and per missing-data pattern.

    Rows must be sorted by group. Each neuron's valid bins (finite response) form
    its *pattern*; neurons with the same valid bins share one Gram matrix, so a
    neuron's statistics ignore every bin where its response is missing.

    Args:
        stream: The lagged design.
        responses: ``(N, n_rows)`` responses aligned with the stream's rows, NaN where missing.
        group_of_row: ``(n_rows,)`` non-decreasing group index of each row (e.g. its fold).
        n_groups: Number of groups.
        chunk_size: Rows per chunk; memory grows with ``chunk_size * F * L``.

    Attributes:
        gram: ``(n_groups, P, D, D)`` with ``D = F * L + 1`` (the last column is the intercept).
        cross: ``(n_groups, D, N)`` sums of design times response (missing responses count as 0).
        sq: ``(n_groups, N)`` sums of squared responses.
        pattern: ``(N,)`` index of each neuron's pattern.
    """

    def __init__(
        self,
        stream: LaggedStream,
        responses: torch.Tensor,
        group_of_row: torch.Tensor,
        n_groups: int,
        chunk_size: int,
    ) -> None:
        valid = torch.isfinite(responses)
        patterns, self.pattern = torch.unique(valid.to(torch.uint8), dim=0, return_inverse=True)
        patterns = patterns.to(responses.dtype)  # (P, n_rows)
        filled = torch.where(valid, responses, torch.zeros((), dtype=responses.dtype, device=responses.device))
        n_neurons, dim = responses.shape[0], stream.n_features + 1
        like = {"dtype": responses.dtype, "device": responses.device}
        self.gram = torch.zeros(n_groups, patterns.shape[0], dim, dim, **like)
        self.cross = torch.zeros(n_groups, dim, n_neurons, **like)
        self.sq = torch.zeros(n_groups, n_neurons, **like)
        bounds = torch.cumsum(torch.bincount(group_of_row.cpu(), minlength=n_groups), 0).tolist()
        for group in range(n_groups):
            start = bounds[group - 1] if group else 0
            for i0, i1, rows in stream.chunks(start, bounds[group], chunk_size):
                design = torch.cat([rows, torch.ones(i1 - i0, 1, **like)], dim=1)  # (rows, D)
                for p, mask in enumerate(patterns[:, i0:i1]):  # one product per distinct missing-data pattern
                    self.gram[group, p] += (design * mask[:, None]).T @ design
                self.cross[group] += design.T @ filled[:, i0:i1].T
                self.sq[group] += filled[:, i0:i1].square().sum(1)
