"""Streamed sums of a time-lagged design: memory set by features x lags, never by recording length.

For trials of stimulus features ``x`` ``(T, F)`` and responses ``y`` ``(T, N)``, the
lagged design has one row per bin and one column per (feature, lag): column
``f * L + j`` of row ``t`` holds ``x[t - j, f]`` for lags ``j = 0 .. L - 1`` (zero
before the trial starts, so no trial sees another). A ridge fit needs only

- ``X^T X``: Toeplitz in the lags, so it follows from the ``L`` lag products
  ``R_d = sum_t x[t - d]^T x[t]`` (``L`` products of ``F x F``) less the few rows that
  would run past the trial's end (built from its last ``L - 1`` bins);
- ``X^T y``, the column sums, the row count and ``sum y``, ``sum y^2``.

:class:`LaggedMoments` accumulates these chunk by chunk (keeping only the last
``L - 1`` bins of context), so a recording of any length is read once and never
held whole. :class:`TrialMoments` keeps them per trial, which is what cross-validation
over trials needs: the sums of any set of trials are sums of per-trial sums.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    >>> y = torch.randn(50, 2, generator=g, dtype=torch.float64)
    >>> moments = LaggedMoments(n_features=3, n_lags=4, n_outputs=2)
    >>> for start in range(0, 50, 16):  # any chunking gives the same sums
    ...     moments.update(x[start : start + 16], y[start : start + 16])
    >>> moments.end_trial()
    >>> design = torch.stack([torch.cat([torch.zeros(j, 3, dtype=x.dtype), x[: 50 - j]]) for j in range(4)], 2)
    >>> design = design.reshape(50, 12)
    >>> torch.allclose(moments.gram()[:-1, :-1], design.T @ design)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepSTRF._validation import check_int

__all__ = ["LaggedMoments", "TrialMoments", "lagged_rows", "toeplitz_gram"]


def lagged_rows(x: torch.Tensor, n_lags: int) -> torch.Tensor:
    """The design rows ``(T, F L)`` of the first ``T`` bins of a trial ``x`` ``(T, F)`` (small ``T``; for checks).

    Example:
        >>> lagged_rows(torch.tensor([[1.0], [2.0]]), n_lags=2).tolist()
        [[1.0, 0.0], [2.0, 1.0]]
    """
    padded = torch.cat([x.new_zeros(n_lags - 1, x.shape[1]), x])
    idx = (n_lags - 1 + torch.arange(x.shape[0], device=x.device)[:, None]) - torch.arange(n_lags, device=x.device)
    return padded[idx].permute(0, 2, 1).reshape(x.shape[0], -1)


def toeplitz_gram(products: torch.Tensor) -> torch.Tensor:
    """The ``(F L, F L)`` Gram matrix of a lagged design from its lag products.

    Args:
        products: ``(L, F, F)`` with ``products[d][f, g] = sum_t x[t - d, f] x[t, g]``.

    Returns:
        ``G`` with ``G[f L + j, g L + k] = sum_t x[t - j, f] x[t - k, g]`` (rows past the end included).

    Example:
        >>> toeplitz_gram(torch.ones(3, 2, 2)).shape
        torch.Size([6, 6])
    """
    n_lags, n_feat = products.shape[0], products.shape[1]
    lag = torch.arange(n_lags, device=products.device)
    diff = lag[:, None] - lag[None, :]  # j - k
    # entry (j, k): for j >= k it is R_{j-k}[f, g]; for j < k it is R_{k-j}[g, f]
    both = torch.cat([products.transpose(1, 2).flip(0)[:-1], products])  # index d + L - 1 for d = j - k
    block = both[diff + n_lags - 1]  # (L, L, F, F) indexed [j, k, f, g]
    return block.permute(2, 0, 3, 1).reshape(n_feat * n_lags, n_feat * n_lags)


def _tail_rows(tail: torch.Tensor, n_lags: int) -> torch.Tensor:
    """The ``L - 1`` design rows past a trial's end, from its last ``L - 1`` bins ``(L - 1, F)``."""
    ext = torch.cat([tail, tail.new_zeros(n_lags - 1, tail.shape[1])])  # bins T - L + 1 .. T + L - 2
    # row T + i has x[T + i - j] = ext[L - 1 + i - j]
    idx = (n_lags - 1 + torch.arange(n_lags - 1, device=tail.device)[:, None]) - torch.arange(
        n_lags, device=tail.device
    )
    return ext[idx].permute(0, 2, 1).reshape(n_lags - 1, -1)  # (L - 1, F * L)


class LaggedMoments:
    """Running sums of a lagged design and its responses, fed in chunks of time.

    Args:
        n_features: Stimulus features ``F`` per bin.
        n_lags: Lags ``L`` (``0 .. L - 1`` bins).
        n_outputs: Responses ``N`` per bin.
        dtype: Dtype of the sums (float64 by default: sums over hours lose float32 precision).
        device: Device of the sums.

    Attributes:
        products: ``(L, F, F)`` lag products.
        tail_gram: ``(F L, F L)`` Gram of the rows past each trial's end (subtracted).
        cross: ``(F L, N)`` design times responses.
        sums: ``(F L,)`` column sums; ``count`` rows; ``y_sum``, ``y_sq`` ``(N,)``.

    Raises:
        TypeError, ValueError: On a bad count or a chunk of the wrong shape.

    Example:
        >>> m = LaggedMoments(n_features=2, n_lags=3, n_outputs=1)
        >>> m.update(torch.ones(10, 2, dtype=torch.float64), torch.ones(10, 1, dtype=torch.float64))
        >>> m.end_trial()
        >>> float(m.gram()[-1, -1]), float(m.gram()[0, 0])  # 10 rows; lag 0 of feature 0 is 1 in every row
        (10.0, 10.0)
    """

    def __init__(
        self,
        n_features: int,
        n_lags: int,
        n_outputs: int,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        self.n_features = check_int("n_features", n_features)
        self.n_lags = check_int("n_lags", n_lags)
        self.n_outputs = check_int("n_outputs", n_outputs)
        dim = self.n_features * self.n_lags
        self.products = torch.zeros(self.n_lags, self.n_features, self.n_features, dtype=dtype, device=device)
        self.tail_gram = torch.zeros(dim, dim, dtype=dtype, device=device)
        self.cross = torch.zeros(self.n_lags, self.n_features, self.n_outputs, dtype=dtype, device=device)
        self.col_sums = torch.zeros(self.n_lags, self.n_features, dtype=dtype, device=device)
        self.y_sum = torch.zeros(self.n_outputs, dtype=dtype, device=device)
        self.y_sq = torch.zeros(self.n_outputs, dtype=dtype, device=device)
        self.count = 0
        self._context = torch.zeros(self.n_lags - 1, self.n_features, dtype=dtype, device=device)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add the next bins of the current trial: ``x`` ``(C, F)`` and ``y`` ``(C, N)``."""
        if x.dim() != 2 or x.shape[1] != self.n_features or y.dim() != 2 or y.shape != (x.shape[0], self.n_outputs):
            raise ValueError(
                f"a chunk must be x (C, {self.n_features}) and y (C, {self.n_outputs}), "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        x = x.to(self.products)
        y = y.to(self.products)
        size, lags = x.shape[0], self.n_lags
        ext = torch.cat([self._context, x])  # bins t - L + 1 .. t + C - 1
        for d in range(lags):
            past = ext[lags - 1 - d : lags - 1 - d + size]  # x[t - d]
            self.products[d] += past.T @ x
            self.cross[d] += past.T @ y
            self.col_sums[d] += past.sum(0)
        self.y_sum += y.sum(0)
        self.y_sq += y.square().sum(0)
        self.count += size
        self._context = ext[ext.shape[0] - (lags - 1) :].clone()

    def end_trial(self) -> None:
        """Close the current trial: the next chunk starts a new one (zeros before it)."""
        if self.n_lags > 1:
            rows = _tail_rows(self._context, self.n_lags)
            self.tail_gram += rows.T @ rows
            self._context = torch.zeros_like(self._context)

    def drop_rows(self, rows: torch.Tensor) -> None:
        """Remove design rows ``(k, F L)`` (with zero responses) from the sums, e.g. rows that only pad the start."""
        rows = rows.to(self.products)
        self.tail_gram += rows.T @ rows
        self.col_sums -= rows.sum(0).reshape(self.n_features, self.n_lags).T
        self.count -= rows.shape[0]

    def gram(self) -> torch.Tensor:
        """``(D + 1, D + 1)`` Gram of the design with an intercept column last (``D = F L``)."""
        dim = self.n_features * self.n_lags
        out = self.products.new_empty(dim + 1, dim + 1)
        out[:dim, :dim] = toeplitz_gram(self.products) - self.tail_gram
        sums = self.col_sums.T.reshape(dim)
        out[:dim, dim] = sums
        out[dim, :dim] = sums
        out[dim, dim] = self.count
        return out

    def cross_products(self) -> torch.Tensor:
        """``(D + 1, N)`` design (and intercept) times responses."""
        return torch.cat([self.cross.permute(1, 0, 2).reshape(-1, self.n_outputs), self.y_sum[None]])


class TrialMoments:
    """Per-trial lagged sums of a list of trials, computed once and combined for any set of trials.

    Args:
        xs: ``S`` trials ``(T_s, F)``.
        ys: ``S`` responses ``(T_s, N)``.
        n_lags: Lags ``L``.
        chunk_size: Bins read at once.
        head: Leading rows of every trial to leave out of the sums (their responses must be 0):
            with a first lag of ``-head`` bins, the stimulus is padded with ``head`` zeros at the
            end and the responses delayed by ``head`` bins, so the first ``head`` rows only pad.
        groups: Trials summed together (e.g. the folds of a cross-validation), so memory holds
            one Gram matrix per group instead of one per trial; one group per trial by default.
            Indices of :meth:`total` and :meth:`excluding` then refer to groups.

    Attributes:
        grams: ``(G, D + 1, D + 1)``; ``cross``: ``(G, D + 1, N)``; ``y_sq``: ``(G, N)``.

    Example:
        >>> xs = [torch.randn(40, 2, dtype=torch.float64) for _ in range(3)]
        >>> ys = [torch.randn(40, 1, dtype=torch.float64) for _ in range(3)]
        >>> tm = TrialMoments(xs, ys, n_lags=5)
        >>> tm.grams.shape, float(tm.total([0, 2])[0][-1, -1])
        (torch.Size([3, 11, 11]), 80.0)
    """

    def __init__(
        self,
        xs: Sequence[torch.Tensor],
        ys: Sequence[torch.Tensor],
        n_lags: int,
        chunk_size: int = 16384,
        head: int = 0,
        groups: Sequence[Sequence[int]] | None = None,
    ) -> None:
        grams, cross, y_sq = [], [], []
        for group in [[s] for s in range(len(xs))] if groups is None else groups:
            x0, y0 = xs[group[0]], ys[group[0]]
            m = LaggedMoments(x0.shape[1], n_lags, y0.shape[1], dtype=x0.dtype, device=x0.device)
            for s in group:
                x, y = xs[s], ys[s]
                for start in range(0, x.shape[0], chunk_size):
                    m.update(x[start : start + chunk_size], y[start : start + chunk_size])
                m.end_trial()
                if head:
                    m.drop_rows(lagged_rows(x[:head], n_lags))
            grams.append(m.gram())
            cross.append(m.cross_products())
            y_sq.append(m.y_sq)
        self.grams = torch.stack(grams)
        self.cross = torch.stack(cross)
        self.y_sq = torch.stack(y_sq)
        self._gram_all = self.grams.sum(0)
        self._cross_all = self.cross.sum(0)

    def __len__(self) -> int:
        return int(self.grams.shape[0])

    def total(self, trials: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Gram and cross-products of the trials listed."""
        idx = list(trials)
        return self.grams[idx].sum(0), self.cross[idx].sum(0)

    def excluding(self, trials: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Gram and cross-products of every trial but those listed (two subtractions, no new pass)."""
        idx = list(trials)
        if not idx:
            return self._gram_all, self._cross_all
        return self._gram_all - self.grams[idx].sum(0), self._cross_all - self.cross[idx].sum(0)
