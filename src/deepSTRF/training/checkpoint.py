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

import io
import math
from pathlib import Path
from typing import Any

import torch

from deepSTRF._io import atomic_write_bytes
from deepSTRF._validation import check_choice
from deepSTRF.models.neural_model import NeuralModel

__all__ = ["STATE_FORMAT", "BestWeights", "EarlyStopping", "load_state", "save_state"]

#: Value of the ``format`` field of a training-state file.
STATE_FORMAT = "deepSTRF-training-state"


def save_state(state: dict[str, Any], path: str | Path) -> Path:
    """Write a training state atomically (temporary file, flush to disk, rename).

    Args:
        state: Plain data: tensors, numbers, strings, ``None``, lists, tuples and dicts.
        path: Destination file; its folder is created if needed.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_state({"epoch": 0}, f"{tmp}/a/state.pt").name
        'state.pt'
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training state written by :func:`save_state` (``weights_only=True``: nothing is unpickled).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a readable training state.

    Example:
        >>> load_state("/no/such/state.pt")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no training state at /no/such/state.pt
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


class BestWeights:
    """The weights of the best epoch and, optionally, each neuron's best readout.

    Args:
        readout_keys: ``state_dict`` keys of the readout tensors whose first axis is the
            neuron axis; per-neuron tracking is off when empty.
        mode: ``'max'`` or ``'min'``: which scores are better.

    Attributes:
        state: Copy of the model's ``state_dict`` at the best epoch (``None`` before any).
        neuron_scores: ``(N,)`` per-neuron scores of the kept weights (or of each neuron's
            own best epoch with per-neuron tracking).
        neuron_readout: ``{key: tensor}`` readout tensors holding each neuron's best slice.

    Example:
        >>> model = torch.nn.Linear(2, 3)  # weight (3, 2) and bias (3,): neuron axis first
        >>> best = BestWeights(["weight", "bias"], mode="max")
        >>> best.remember_neurons(model, torch.tensor([0.1, 0.5, 0.2]))
        >>> with torch.no_grad():
        ...     _ = model.weight.fill_(1.0)
        >>> best.remember_neurons(model, torch.tensor([0.3, 0.1, 0.2]))
        >>> best.neuron_scores.tolist()
        [0.30000001192092896, 0.5, 0.20000000298023224]
    """

    def __init__(self, readout_keys: list[str], mode: str) -> None:
        self.readout_keys = list(readout_keys)
        self.mode = check_choice("mode", mode, ["max", "min"])
        self.state: dict[str, torch.Tensor] | None = None
        self.neuron_scores: torch.Tensor | None = None
        self.neuron_readout: dict[str, torch.Tensor] | None = None

    @staticmethod
    def neuron_axis_keys(model: torch.nn.Module) -> list[str]:
        """Keys of the readout tensors of a NeuralModel, checked to have the neuron axis first.

        Raises:
            ValueError: If ``model`` is not a NeuralModel with a readout, or a floating readout
                tensor's first axis is not of size ``N``.
        """
        if not isinstance(model, NeuralModel) or model.readout is None:
            raise ValueError("`per_neuron_best` needs a NeuralModel with a readout")
        keys = []
        for key, value in model.readout.state_dict().items():
            if not value.is_floating_point():
                continue  # e.g. BatchNorm's shared batch counter
            if value.dim() == 0 or value.shape[0] != model.O:
                raise ValueError(
                    f"`per_neuron_best` needs readout tensors whose first axis is the neuron axis "
                    f"(N = {model.O}); readout.{key} has shape {tuple(value.shape)}"
                )
            keys.append(f"readout.{key}")
        return keys

    def remember(self, model: torch.nn.Module, scores: torch.Tensor | None) -> None:
        """Keep a copy of the model's current weights as the best."""
        self.state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        if not self.readout_keys:
            self.neuron_scores = scores

    def remember_neurons(self, model: torch.nn.Module, scores: torch.Tensor) -> None:
        """Keep the readout slices of the neurons whose score beat their best so far (NaN never does)."""
        state = model.state_dict()
        if self.neuron_readout is None or self.neuron_scores is None:
            self.neuron_scores = torch.full_like(scores, -math.inf if self.mode == "max" else math.inf)
            self.neuron_readout = {key: state[key].detach().clone() for key in self.readout_keys}
        better = scores > self.neuron_scores if self.mode == "max" else scores < self.neuron_scores
        better &= torch.isfinite(scores)
        self.neuron_scores = torch.where(better, scores, self.neuron_scores)
        for key in self.readout_keys:
            rows = better.to(state[key].device)
            self.neuron_readout[key][rows] = state[key][rows].detach()

    def restore(self, model: torch.nn.Module) -> bool:
        """Load the best weights (and per-neuron readouts) into ``model``; False if there are none yet."""
        if self.state is None:
            return False
        model.load_state_dict(self.state)
        if self.neuron_readout is not None:
            state = model.state_dict()
            for key, value in self.neuron_readout.items():
                state[key].copy_(value)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Tensors and ``None`` only, for a training-state file."""
        return {"state": self.state, "neuron_scores": self.neuron_scores, "neuron_readout": self.neuron_readout}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        self.state, self.neuron_scores = saved["state"], saved["neuron_scores"]
        self.neuron_readout = saved["neuron_readout"]
