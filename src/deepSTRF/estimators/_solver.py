"""Ridge solutions for a whole penalty path from one factorisation, and the thread count to run it with.

:class:`PenaltyPath` centres a training set's Gram matrix (the intercept is never
penalised) and factorises it once (on first use); every penalty of a grid is then solved in
``O(D^2)`` per right-hand side:

- on CPU with SciPy available, by reduction to tridiagonal form ``C = Q T Q^T``
  (LAPACK ``sytrd``, about a third of the work of an eigendecomposition with
  eigenvectors), then one tridiagonal solve ``(T + lambda I) z = Q^T b`` per penalty;
- otherwise (GPU, or no SciPy) by ``torch.linalg.eigh``.

A solve with at most three distinct penalties (the final fit) uses one Cholesky
factorisation per penalty instead, which is cheaper. Per-feature penalties (banded
ridge) are handled by rescaling the features, so a path over a common factor still
needs one factorisation.

:func:`solver_threads` picks the number of threads: on a machine whose other work
already occupies the cores, extra threads only wait on each other, so it uses the
cores the load average leaves idle (at least one).

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 6, generator=g, dtype=torch.float64)
    >>> y = x @ torch.randn(6, 2, generator=g, dtype=torch.float64) + 1.0
    >>> aug = torch.cat([x, torch.ones(200, 1, dtype=x.dtype)], 1)
    >>> path = PenaltyPath(aug.T @ aug)
    >>> full = path.solve(aug.T @ y, torch.tensor([1e-6, 1e3], dtype=x.dtype))
    >>> full.shape, bool(torch.allclose(aug @ full[0], y, atol=1e-5))
    (torch.Size([2, 7, 2]), True)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Iterator

import numpy as np
import torch

from deepSTRF._optional import require

__all__ = ["PenaltyPath", "limit_threads", "solver_threads"]

_HAS_SCIPY = importlib.util.find_spec("scipy") is not None
#: Up to this many distinct penalties are solved by Cholesky factorisations instead of one shared reduction.
_FEW_PENALTIES = 3


def solver_threads(requested: int | str | None = "auto") -> int:
    """Threads for the linear algebra: ``requested`` if an int, else the cores left idle by the load.

    Args:
        requested: A positive int, or ``'auto'`` / ``None``.

    Returns:
        At least 1, at most the usable cores.

    Raises:
        ValueError: If ``requested`` is neither a positive int nor ``'auto'``.

    Example:
        >>> solver_threads(1)
        1
    """
    if isinstance(requested, int) and not isinstance(requested, bool):
        if requested < 1:
            raise ValueError(f"`n_threads` must be a positive int or 'auto', got {requested}")
        return requested
    if requested not in ("auto", None):
        raise ValueError(f"`n_threads` must be a positive int or 'auto', got {requested!r}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    # the load counts this process's own runnable thread too
    return max(1, min(cores, round(cores - max(busy - 1.0, 0.0))))


@contextlib.contextmanager
def limit_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` threads in torch and in the BLAS behind NumPy/SciPy.

    Example:
        >>> with limit_threads(1):
        ...     torch.get_num_threads()
        1
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    limits: contextlib.AbstractContextManager = contextlib.nullcontext()
    if importlib.util.find_spec("threadpoolctl") is not None:
        limits = importlib.import_module("threadpoolctl").threadpool_limits(limits=n_threads)
    try:
        with limits:
            yield
    finally:
        torch.set_num_threads(before)


class PenaltyPath:
    """One training set's centred Gram matrix, factorised once for any number of ridge penalties.

    Args:
        gram: ``(D + 1, D + 1)`` Gram of the design with the intercept column last.
        scale: Optional ``(D,)`` per-feature penalty factors ``s``: penalty ``lambda * s_f``
            on feature ``f`` (banded ridge); all ones by default.
        method: ``'auto'`` (tridiagonal on CPU with SciPy, else eigendecomposition),
            ``'tridiagonal'`` or ``'eigh'``.

    Attributes:
        mean_eigenvalue: Mean eigenvalue of the centred Gram (its trace over ``D``), the
            unit of relative penalties.

    Raises:
        ValueError: If ``method`` is unknown or the Gram has no rows.
    """

    def __init__(self, gram: torch.Tensor, scale: torch.Tensor | None = None, method: str = "auto") -> None:
        if method not in ("auto", "tridiagonal", "eigh"):
            raise ValueError(f"`method` must be 'auto', 'tridiagonal' or 'eigh', got {method!r}")
        count = gram[-1, -1]
        if not bool(count > 0):
            raise ValueError("the training set has no rows")
        self.count = count
        self.mean = gram[:-1, -1] / count
        cov = gram[:-1, :-1] - count * torch.outer(self.mean, self.mean)
        self.mean_eigenvalue = torch.diagonal(cov).mean().clamp_min(torch.finfo(cov.dtype).tiny)
        self.root = None if scale is None else scale.to(cov).rsqrt()
        if self.root is not None:
            cov = cov * self.root[:, None] * self.root[None, :]
        if method == "auto":
            method = "tridiagonal" if _HAS_SCIPY and cov.device.type == "cpu" and cov.dtype == torch.float64 else "eigh"
        self.method = method
        self._cov = cov
        self._factorised = False

    def _factorise(self) -> None:
        cov = self._cov
        if self.method == "tridiagonal":
            lapack = require("scipy.linalg.lapack", extra="data", purpose="the tridiagonal ridge solver")
            self._lapack = lapack
            lwork = int(lapack.dsytrd_lwork(cov.shape[0], lower=1)[0])  # blocked reduction: about 2x the unblocked
            a, self._diag, self._off, self._tau, info = lapack.dsytrd(cov.cpu().numpy(), lower=1, lwork=lwork)
            if info != 0:
                raise RuntimeError(f"LAPACK sytrd failed with info = {info}")
            self._reflectors = np.asfortranarray(a[1:, :-1])
        else:
            evals, self._evecs = torch.linalg.eigh(cov)
            self._evals = evals.clamp_min(0)
        self._factorised = True

    def _q(self, c: np.ndarray, trans: str) -> np.ndarray:
        """``Q c`` (``trans='N'``) or ``Q^T c`` (``'T'``); ``Q`` fixes the first coordinate."""
        out = np.array(c, order="F", copy=True)
        if out.shape[0] > 1:
            part, _, info = self._lapack.dormqr(
                "L", trans, self._reflectors, self._tau, out[1:], lwork=max(1, out.shape[1]) * 64
            )
            if info != 0:
                raise RuntimeError(f"LAPACK ormqr failed with info = {info}")
            out[1:] = part
        return out

    def solve(self, cross: torch.Tensor, penalties: torch.Tensor) -> torch.Tensor:
        """Weights and intercepts for each penalty.

        Args:
            cross: ``(D + 1, N)`` design (intercept last) times responses of the training set.
            penalties: ``(A,)`` absolute penalties shared by all outputs, or ``(A, N)`` per output.

        Returns:
            ``(A, D + 1, N)``: weights, then the intercept in the last row.
        """
        n_out = cross.shape[1]
        pen = penalties.to(cross)
        pen = pen[:, None].expand(-1, n_out) if pen.dim() == 1 else pen
        centred = cross[:-1] - self.mean[:, None] * cross[-1][None]
        if self.root is not None:
            centred = centred * self.root[:, None]
        distinct = torch.unique(pen)
        if not self._factorised and distinct.numel() <= _FEW_PENALTIES:
            # a few penalties: one Cholesky each is cheaper than a factorisation shared by all
            weight = centred.new_empty(pen.shape[0], *centred.shape)
            eye = torch.eye(centred.shape[0], dtype=centred.dtype, device=centred.device)
            for value in distinct:
                a, n = torch.nonzero(pen == value, as_tuple=True)
                factor = torch.linalg.cholesky(self._cov + value * eye)
                weight[a, :, n] = torch.cholesky_solve(centred[:, n], factor).T
        else:
            if not self._factorised:
                self._factorise()
            if self.method == "tridiagonal":
                weight = self._solve_tridiagonal(centred, pen)
            else:
                rotated = self._evecs.T @ centred
                weight = self._evecs @ (rotated[None] / (self._evals[None, :, None] + pen[:, None, :]))
        if self.root is not None:
            weight = weight * self.root[:, None]
        bias = cross[-1] / self.count - torch.einsum("d,adn->an", self.mean, weight)
        return torch.cat([weight, bias[:, None]], dim=1)

    def _solve_tridiagonal(self, centred: torch.Tensor, pen: torch.Tensor) -> torch.Tensor:
        n_pen, n_out = pen.shape
        rotated = self._q(centred.cpu().numpy(), "T")
        pen_np = pen.cpu().numpy()
        z = np.empty((rotated.shape[0], n_pen * n_out), order="F")
        for value in np.unique(pen_np):
            a, n = np.nonzero(pen_np == value)
            _, _, sol, info = self._lapack.dptsv(self._diag + value, self._off, rotated[:, n])
            if info != 0:  # not positive definite at this precision: general tridiagonal solve
                _, _, _, sol, info = self._lapack.dgtsv(self._off, self._diag + value, self._off, rotated[:, n])
            z[:, a * n_out + n] = sol
        weight = self._q(z, "N").reshape(-1, n_pen, n_out).transpose(1, 0, 2)
        return torch.from_numpy(np.ascontiguousarray(weight)).to(centred)
