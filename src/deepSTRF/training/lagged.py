"""Time-lagged designs of ragged spectrograms, and the sums of squares a ridge fit needs.

A lagged design has one row per time bin and one column per (frequency, lag):
row ``t`` of stimulus ``s`` holds ``stim_s[f, t - (L - 1) + k]`` in column
``f * L + k``, so column ``k = L - 1`` is the present bin and ``k = 0`` the oldest,
the layout of a causal STRF kernel ``(F, L)``. Lags that reach before the start of
a stimulus are zero: a row never sees another stimulus.

The stimuli are laid end to end in one *stream*, each preceded by ``L - 1`` zeros
(and the stream followed by ``L - 1`` zeros). The Gram matrix ``X^T X`` of the design
is Toeplitz in the lags: its ``(f, k), (f', k')`` entry is the stream's cross-product
of bands ``f`` and ``f'`` at lag ``k' - k``, less the few windows that straddle a
stimulus's end. :class:`RidgeStatistics` computes it from ``L`` products of ``(F, M)``
matrices, and ``X^T y`` from ``L`` products with the responses, so the design itself is
never built; rows are only materialised, in chunks, for bins where some neurons'
responses are missing.

Example:
    >>> import torch
    >>> x = lagged_design([torch.arange(1.0, 4.0)[None], torch.arange(4.0, 6.0)[None]], n_lags=2)
    >>> x.tolist()
    [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [0.0, 4.0], [4.0, 5.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepSTRF._validation import check_int

__all__ = ["LaggedStream", "RidgeStatistics", "lagged_design"]


class LaggedStream:
    """Ragged spectrograms laid end to end, with the rows of their lagged design on demand.

    Args:
        stims: ``S`` spectrograms of shape ``(F, T_s)`` with the same ``F``.
        n_lags: Number ``L`` of lags (the STRF's temporal extent), at least 1.

    Raises:
        TypeError: If ``n_lags`` is not an int.
        ValueError: If the list is empty, a spectrogram is not 2-D or the ``F`` differ.

    Shape:
        - ``rows(index)``: ``(len(index), F * L)``; row ``i`` is time bin ``i`` of the
          stimuli laid end to end.

    Example:
        >>> stream = LaggedStream([torch.ones(2, 3)], n_lags=2)
        >>> stream.rows(torch.arange(3)).shape, stream.n_rows
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
        ref = stims[0]
        self.lengths = torch.tensor([stim.shape[1] for stim in stims], dtype=torch.long)
        pad = torch.zeros(self.n_bands, self.n_lags - 1, dtype=ref.dtype, device=ref.device)
        #: (F, M + L - 1): L - 1 zeros before each stimulus, and after the last one
        self.stream = torch.cat([*(part for stim in stims for part in (pad, stim.to(ref))), pad], dim=1)
        sizes = self.lengths + self.n_lags - 1
        #: stream position of each stimulus's block (its zeros, then its bins); blocks[S] ends the last one
        self.blocks = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sizes, 0)])
        self.stim_of_row = torch.repeat_interleave(torch.arange(len(stims)), self.lengths)
        first_row = torch.cumsum(self.lengths, 0) - self.lengths
        # row i (time bin t of stimulus s) has the window stream[:, start : start + L], start = block_s + t
        starts = self.blocks[self.stim_of_row] + torch.arange(int(self.lengths.sum())) - first_row[self.stim_of_row]
        self.starts = starts.to(ref.device)
        self._windows = self.stream.unfold(1, self.n_lags, 1)

    @property
    def n_rows(self) -> int:
        """Total number of time bins over all stimuli."""
        return int(self.starts.numel())

    @property
    def n_features(self) -> int:
        """Number of columns, ``F * L``."""
        return self.n_bands * self.n_lags

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Design rows at ``index`` (a 1-D tensor of row numbers), as a new ``(len(index), F * L)`` tensor."""
        picked = self._windows[:, self.starts[index.to(self.starts.device)], :]  # (F, rows, L)
        return picked.permute(1, 0, 2).reshape(-1, self.n_features)


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
    return stream.rows(torch.arange(stream.n_rows))


def _with_intercept(gram: torch.Tensor, sums: torch.Tensor, count: float) -> torch.Tensor:
    """``[[X^T X, X^T 1], [1^T X, n]]`` from ``X^T X``, the column sums and the row count."""
    top = torch.cat([gram, sums[:, None]], dim=1)
    bottom = torch.cat([sums, sums.new_full((1,), count)])[None]
    return torch.cat([top, bottom], dim=0)


class RidgeStatistics:
    """Sums of squares and cross-products of a lagged design, per group of stimuli and per missing-data pattern.

    Each neuron's valid bins (finite response) form its *pattern*; neurons with the
    same valid bins share one Gram matrix, so a neuron's statistics ignore every bin
    where its response is missing.

    Args:
        stream: The lagged design.
        responses: ``(N, n_rows)`` responses aligned with the stream's rows, NaN where missing.
        stim_group: ``(S,)`` non-decreasing group of each stimulus (e.g. its fold).
        n_groups: Number of groups.
        chunk_size: Rows materialised at once for bins with missing responses.

    Attributes:
        gram: ``(n_groups, P, D, D)`` with ``D = F * L + 1`` (the last column is the intercept).
        cross: ``(n_groups, D, N)`` sums of design times response (missing responses count as 0).
        sq: ``(n_groups, N)`` sums of squared responses.
        pattern: ``(N,)`` index of each neuron's pattern.

    Example:
        >>> stream = LaggedStream([torch.ones(2, 5)], n_lags=3)
        >>> stats = RidgeStatistics(stream, torch.ones(1, 5), torch.zeros(1, dtype=torch.long), 1, chunk_size=16)
        >>> stats.gram.shape, float(stats.gram[0, 0, -1, -1])  # 5 rows
        (torch.Size([1, 1, 7, 7]), 5.0)
    """

    def __init__(
        self,
        stream: LaggedStream,
        responses: torch.Tensor,
        stim_group: torch.Tensor,
        n_groups: int,
        chunk_size: int,
    ) -> None:
        valid = torch.isfinite(responses)
        patterns, self.pattern = torch.unique(valid.to(torch.uint8), dim=0, return_inverse=True)
        patterns = patterns.bool()  # (P, n_rows): the distinct sets of valid bins
        filled = torch.where(valid, responses, torch.zeros((), dtype=responses.dtype, device=responses.device))
        self.stream, self.chunk_size = stream, chunk_size
        n_neurons, dim = responses.shape[0], stream.n_features + 1
        self.gram = responses.new_zeros(n_groups, patterns.shape[0], dim, dim)
        self.cross = responses.new_zeros(n_groups, dim, n_neurons)
        self.sq = responses.new_zeros(n_groups, n_neurons)
        stim_bounds = torch.searchsorted(stim_group.cpu(), torch.arange(n_groups + 1)).tolist()
        row_bounds = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(stream.lengths, 0)])
        for group in range(n_groups):
            s0, s1 = stim_bounds[group], stim_bounds[group + 1]
            if s0 == s1:
                continue
            r0, r1 = int(row_bounds[s0]), int(row_bounds[s1])
            full = self._segment(s0, s1, filled[:, r0:r1], r0, group)
            for p, mask in enumerate(patterns[:, r0:r1]):
                missing = torch.nonzero(~mask).flatten() + r0
                if missing.numel() == 0:
                    self.gram[group, p] = full
                elif 2 * missing.numel() <= r1 - r0:
                    self.gram[group, p] = full - self._gram_of_rows(missing)
                else:
                    self.gram[group, p] = self._gram_of_rows(torch.nonzero(mask).flatten() + r0)

    def _segment(self, s0: int, s1: int, targets: torch.Tensor, r0: int, group: int) -> torch.Tensor:
        """Gram (with intercept) of the rows of stimuli ``s0:s1``; fills ``cross`` and ``sq`` of ``group``."""
        lags = self.stream.n_lags
        start = int(self.stream.blocks[s0])
        w = self.stream.stream[:, start : int(self.stream.blocks[s1]) + lags - 1]  # trailing L - 1 zeros included
        windows = w.shape[1] - lags + 1  # every window start in the segment, rows and straddling windows
        # the responses on the stream, at the present bin (last column) of each row's window
        present = self.stream.starts[r0 : r0 + targets.shape[1]] - start + lags - 1
        yw = targets.new_zeros(targets.shape[0], w.shape[1])
        yw[:, present] = targets
        # products at lag d >= 0: prod[d][f, f'] = sum_u w[f, u] w[f', u + d]
        prod = torch.stack([w[:, : w.shape[1] - d] @ w[:, d:].T for d in range(lags)])
        steps = torch.arange(lags, device=w.device)
        shift = steps[None, :] - steps[:, None]  # k' - k
        both = torch.cat([prod.flip(0)[:-1].transpose(1, 2), prod])  # lag -(L-1) .. L-1
        gram = both[shift + lags - 1].permute(2, 0, 3, 1).reshape(self.stream.n_features, -1)
        sums = w.sum(1).repeat_interleave(lags)
        # remove the L - 1 windows after each stimulus's end (their present bin is a padding zero)
        ends = self.stream.blocks[s0 + 1 : s1 + 1] - (lags - 1) - start  # first window after each stimulus
        straddle = (ends[:, None] + torch.arange(lags - 1)).flatten().to(w.device)
        extra = w.unfold(1, lags, 1)[:, straddle, :].permute(1, 0, 2).reshape(-1, self.stream.n_features)
        gram = gram - extra.T @ extra
        sums = sums - extra.sum(0)
        cross = torch.stack([w[:, k : k + windows] @ yw[:, lags - 1 : lags - 1 + windows].T for k in range(lags)])
        self.cross[group] = torch.cat([cross.permute(1, 0, 2).reshape(self.stream.n_features, -1), yw.sum(1)[None]])
        self.sq[group] = targets.square().sum(1)
        return _with_intercept(gram, sums, float(windows - straddle.numel()))

    def _gram_of_rows(self, index: torch.Tensor) -> torch.Tensor:
        """Gram (with intercept) of the design rows at ``index``, built chunk by chunk."""
        dim = self.stream.n_features
        gram = self.gram.new_zeros(dim, dim)
        sums = self.gram.new_zeros(dim)
        for chunk in index.split(self.chunk_size):
            rows = self.stream.rows(chunk)
            gram += rows.T @ rows
            sums += rows.sum(0)
        return _with_intercept(gram, sums, float(index.numel()))
