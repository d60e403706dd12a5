"""Experiment loggers for :class:`~deepSTRF.training.fitter.Fitter`: TensorBoard and Weights & Biases.

Both backends belong to the ``loggers`` extra and are imported only when a
logger is created. A logger receives the run configuration once
(:meth:`TrainingLogger.log_config`), scalars after each epoch
(:meth:`TrainingLogger.log_scalars`) and is closed at the end.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     logger = make_logger(None, tmp)
    >>> logger is None
    True
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from deepSTRF._optional import require
from deepSTRF._validation import check_choice

__all__ = ["LOGGERS", "TensorBoardLogger", "TrainingLogger", "WandbLogger", "make_logger"]

#: Names accepted by :func:`make_logger`.
LOGGERS = ("tensorboard", "wandb")


class TrainingLogger(ABC):
    """Interface of the loggers the fitter calls.

    Example:
        >>> class Printer(TrainingLogger):
        ...     def log_config(self, config): pass
        ...     def log_scalars(self, values, step): print(step, values)
        ...     def close(self): pass
        >>> Printer().log_scalars({"train/loss": 0.5}, step=0)
        0 {'train/loss': 0.5}
    """

    @abstractmethod
    def log_config(self, config: dict[str, Any]) -> None:
        """Record the run configuration (JSON-compatible values)."""

    @abstractmethod
    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Record scalar values (e.g. ``{"train/loss": 0.3}``) at a step (the epoch)."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release the backend."""


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if math.isfinite(float(v))}


class TensorBoardLogger(TrainingLogger):
    """Write scalars to TensorBoard event files.

    Args:
        log_dir: Folder of the event files (created if needed).

    Raises:
        ImportError: If ``tensorboard`` is not installed (the ``loggers`` extra).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     logger = TensorBoardLogger(tmp)
        ...     logger.log_scalars({"train/loss": 0.5}, step=0)
        ...     logger.close()
    """

    def __init__(self, log_dir: str | Path) -> None:
        module = require("torch.utils.tensorboard", extra="loggers", purpose="TensorBoard logging")
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = module.SummaryWriter(log_dir=str(self.log_dir))

    def log_config(self, config: dict[str, Any]) -> None:
        """Store the configuration as a JSON text entry named ``config``."""
        self._writer.add_text("config", f"```\n{json.dumps(config, indent=2, default=str)}\n```")

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Add each finite value as a scalar at ``step``."""
        for key, value in _finite(values).items():
            self._writer.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.flush()
        self._writer.close()


class WandbLogger(TrainingLogger):
    """Log to Weights & Biases.

    Args:
        log_dir: Folder where wandb writes its run files.
        project: W&B project name.
        name: Run name; W&B picks one when ``None``.
        mode: ``'online'``, ``'offline'`` or ``'disabled'``; ``None`` lets wandb decide
            (it honours the ``WANDB_MODE`` environment variable).

    Raises:
        ImportError: If ``wandb`` is not installed (the ``loggers`` extra).
        ValueError: If ``mode`` is not one of the accepted values.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     logger = WandbLogger(tmp, mode="disabled")
        ...     logger.log_scalars({"train/loss": 0.5}, step=0)
        ...     logger.close()
    """

    def __init__(
        self, log_dir: str | Path, *, project: str = "deepSTRF", name: str | None = None, mode: str | None = None
    ) -> None:
        if mode is not None:
            check_choice("mode", mode, ["online", "offline", "disabled"])
        wandb = require("wandb", extra="loggers", purpose="Weights & Biases logging")
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._run = wandb.init(project=project, name=name, dir=str(self.log_dir), mode=mode)

    def log_config(self, config: dict[str, Any]) -> None:
        """Merge the configuration into the run's config."""
        self._run.config.update(json.loads(json.dumps(config, default=str)), allow_val_change=True)

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Log the finite values at ``step``."""
        self._run.log(_finite(values), step=step)

    def close(self) -> None:
        """Finish the run."""
        self._run.finish()


def make_logger(kind: str | None, log_dir: str | Path, *, project: str = "deepSTRF") -> TrainingLogger | None:
    """Build a logger by name.

    Args:
        kind: ``'tensorboard'``, ``'wandb'`` or ``None`` (no logger).
        log_dir: Folder of the logger's files.
        project: W&B project (ignored by TensorBoard).

    Returns:
        The logger, or ``None`` when ``kind`` is ``None``.

    Raises:
        ValueError: If ``kind`` is unknown.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     logger = make_logger("tensorboard", tmp)
        ...     logger.close()
        >>> type(logger).__name__
        'TensorBoardLogger'
    """
    if kind is None:
        return None
    check_choice("kind", kind, LOGGERS)
    if kind == "tensorboard":
        return TensorBoardLogger(log_dir)
    return WandbLogger(log_dir, project=project)
