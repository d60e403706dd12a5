"""Training-state files that let an interrupted fit resume, and the early-stopping rule.

A training state is a dict of tensors, numbers, strings, lists and dicts only. It
is written with ``torch.save`` to a temporary file that is then renamed over the
previous state, so a process killed at any moment leaves either the old or the
new state, never a torn one; it is read with ``torch.load(weights_only=True)``,
which refuses pickled objects.

Example:
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_state({"epoch": 3, "w": torch.ones(2)}, f"{tmp}/state.pt")
    ...     load_state(path)["epoch"]
    3
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from deepSTRF._validation import check_choice

__all__ = ["STATE_FORMAT", "EarlyStopping", "load_state", "save_state"]

STATE_FORMAT = "deepSTRF-training-state"


def save_state(state: dict[str, Any], path: str | Path) -> Path:
    """Write a training state atomically (temporary file, flush to disk, rename).

    Args:
        state: Plain data: tensors, numbers, strings, ``None``, lists, tuples and dicts.
        path: Destination file; its folder is created if needed.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training state written by :func:`save_state` (``weights_only=True``: nothing is unpickled).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a readable training state.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training state at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a readable training state: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a training state dict (found {type(state).__name__})")
    return state


class EarlyStopping:
    """Track the best score and count the epochs since it improved.

    Args:
        patience: Epochs without improvement before :attr:`should_stop` turns True;
            ``None`` never stops.
        mode: ``'max'`` (higher is better) or ``'min'``.
        min_delta: Smallest change that counts as an improvement.

    Example:
        >>> stopper = EarlyStopping(patience=2)
        >>> [stopper.update(s, epoch=e) for e, s in enumerate([0.1, 0.3, 0.2, 0.25])]
        [True, True, False, False]
        >>> stopper.best_epoch, stopper.should_stop
        (1, True)
    """

    def __init__(self, patience: int | None, mode: str = "max", min_delta: float = 0.0) -> None:
        self.patience = patience
        self.mode = check_choice("mode", mode, ["max", "min"])
        self.min_delta = min_delta
        self.best_score = -math.inf if mode == "max" else math.inf
        self.best_epoch = -1
        self.bad_epochs = 0

    def update(self, score: float, epoch: int) -> bool:
        """Record the score of an epoch; returns whether it is a new best (NaN never is)."""
        if self.mode == "max":
            better = score > self.best_score + self.min_delta
        else:
            better = score < self.best_score - self.min_delta
        if better:
            self.best_score, self.best_epoch, self.bad_epochs = float(score), int(epoch), 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """The tracker's state as plain numbers."""
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
