"""Reproducible seeding, and random-number-generator states stored as plain tensors.

:func:`seed_everything` seeds Python's :mod:`random`, NumPy's global generator and
torch (CPU and every CUDA device). :func:`get_rng_state` captures all of them as a
dict of tensors (nothing that needs pickling), so a training checkpoint written
with ``torch.save`` can be read back with ``torch.load(weights_only=True)`` and
:func:`set_rng_state` continues every stream exactly where it stopped.

Example:
    >>> import torch
    >>> _ = seed_everything(3)
    >>> state = get_rng_state()
    >>> a = torch.rand(2)
    >>> set_rng_state(state)
    >>> torch.equal(a, torch.rand(2))
    True
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from deepSTRF._validation import check_int

__all__ = ["get_rng_state", "seed_everything", "seed_worker", "set_random_seed", "set_rng_state"]


def seed_everything(seed: int, *, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer.

    Args:
        seed: Non-negative seed.
        deterministic: Also ask torch for deterministic algorithms (``warn_only``: an
            operation without a deterministic version warns instead of failing) and turn
            off the cuDNN autotuner. CUDA matrix products additionally need
            ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which is set here if unset.

    Returns:
        A fresh CPU ``torch.Generator`` seeded with ``seed``, handy for samplers.

    Raises:
        TypeError: If ``seed`` is not an int.
        ValueError: If ``seed`` is negative.

    Example:
        >>> g = seed_everything(0)
        >>> g.initial_seed()
        0
    """
    seed = check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the global generator is what we seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def set_random_seed(seed: int, *, strict: bool = False) -> None:
    """deepSTRF 0.1.0's name: :func:`seed_everything`, with ``strict`` for ``deterministic``.

    Example:
        >>> set_random_seed(3, strict=False)
    """
    seed_everything(seed, deterministic=strict)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for a ``DataLoader``: seed Python and NumPy in each worker from torch's seed.

    Args:
        worker_id: Index of the worker (unused: torch already gives each worker its own seed).

    Example:
        >>> seed_worker(0)
    """
    del worker_id
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002


def get_rng_state() -> dict[str, torch.Tensor]:
    """Capture the states of Python's, NumPy's and torch's global generators as tensors.

    Returns:
        A dict of tensors: ``torch`` (the CPU state), ``cuda`` (one row per device,
        absent without CUDA), ``numpy_keys``/``numpy_meta``/``numpy_gauss`` and
        ``python_state``/``python_gauss``. It can be saved with ``torch.save`` and loaded
        with ``torch.load(..., weights_only=True)``.

    Example:
        >>> sorted(get_rng_state())[:2]
        ['numpy_gauss', 'numpy_keys']
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    if name != "MT19937":  # pragma: no cover - NumPy's legacy global generator is always MT19937
        raise RuntimeError(f"unexpected NumPy generator {name!r}")
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_meta": torch.tensor([int(pos), int(has_gauss)], dtype=torch.int64),
        "numpy_gauss": torch.tensor(float(cached), dtype=torch.float64),
        "python_state": torch.tensor([version, *internal], dtype=torch.int64),
        "python_gauss": torch.tensor(float("nan") if gauss is None else gauss, dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore generator states captured by :func:`get_rng_state`.

    Args:
        state: The dict returned by :func:`get_rng_state` (possibly after a save/load round trip).

    Raises:
        ValueError: If an entry is missing.

    Example:
        >>> saved = get_rng_state()
        >>> x = random.random()
        >>> set_rng_state(saved)
        >>> x == random.random()
        True
    """
    required = ("torch", "numpy_keys", "numpy_meta", "numpy_gauss", "python_state", "python_gauss")
    missing = [key for key in required if key not in state]
    if missing:
        raise ValueError(f"`state` lacks the generator entries {missing}; got keys {sorted(state)}")
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"].cpu()))
    pos, has_gauss = (int(v) for v in state["numpy_meta"])
    keys = state["numpy_keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_gauss"])))  # noqa: NPY002
    py = [int(v) for v in state["python_state"]]
    gauss = float(state["python_gauss"])
    random.setstate((py[0], tuple(py[1:]), None if gauss != gauss else gauss))
