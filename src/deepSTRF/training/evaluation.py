"""Scoring a saved model: what ``deepstrf evaluate`` does.

:func:`evaluate_checkpoint` loads a model from a run folder, a checkpoint folder or the
Hub, rebuilds the dataset it was fitted on and returns an :class:`EvaluationResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from deepSTRF._validation import check_choice
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.config import FitConfig
from deepSTRF.training.data_spec import match_data_spec
from deepSTRF.training.fitter import Fitter
from deepSTRF.training.objectives import DEFAULT_METRICS
from deepSTRF.training.run_config import load_dataset, read_run

__all__ = ["EvaluationResult", "evaluate_checkpoint", "resolve_run"]


@dataclass
class EvaluationResult:
    """Per-neuron scores of a saved model.

    Attributes:
        checkpoint: The checkpoint folder (or Hub id) that was scored.
        model: The loaded model.
        dataset: Dataset name.
        dataset_kwargs: Its constructor arguments.
        stimuli: The stimulus indices scored.
        scores: ``{metric: (N,) tensor}``.

    Example:
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> model = Linear(n_frequency_bands=4, temporal_window_size=3, out_neurons=2)
        >>> result = EvaluationResult("my-model", model, "simulated", {}, [5], {"cc": torch.tensor([0.25, 0.75])})
        >>> {name: round(float(values.mean()), 2) for name, values in result.scores.items()}
        {'cc': 0.5}
    """

    checkpoint: str
    model: NeuralModel
    dataset: str
    dataset_kwargs: dict[str, Any]
    stimuli: list[int]
    scores: dict[str, torch.Tensor]


def resolve_run(path: str | Path) -> tuple[str | Path, dict[str, Any]]:
    """The checkpoint of a run folder and its record, or ``(path, {})`` for anything else.

    Raises:
        ValueError: If ``path`` is a run folder without a single model (a cross-validation run).

    Example:
        >>> resolve_run("owner/model-on-the-hub")
        ('owner/model-on-the-hub', {})
    """
    folder = Path(path)
    try:
        record = read_run(folder)
    except (FileNotFoundError, ValueError):
        return path, {}  # a checkpoint (its own config.json is not a run record) or a Hub id
    if not (folder / "model").is_dir():
        raise ValueError(f"{folder} holds no single model (a cross-validation run?); evaluate a fold's model")
    return folder / "model", record


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    dataset: str | None = None,
    dataset_kwargs: dict[str, Any] | None = None,
    part: str = "test",
    metrics: Sequence[str] = DEFAULT_METRICS,
    batch_size: int = 8,
    device: str | torch.device | None = None,
) -> EvaluationResult:
    """Load a model from a run folder, checkpoint folder or Hub id, and score it per neuron.

    Given a run folder, the run's dataset, its arguments and its test stimuli are the
    defaults; otherwise the simulated dataset and its canonical test split.

    Args:
        checkpoint: Run folder written by ``deepstrf fit``, checkpoint folder or Hub id.
        dataset: Dataset name (default: the run's, else ``'simulated'``).
        dataset_kwargs: Dataset arguments (default: the run's when the dataset is the run's).
        part: ``'test'`` (the run's test stimuli, else the dataset's canonical test split) or
            ``'all'``.
        metrics: Metric names (see :meth:`~deepSTRF.training.fitter.Fitter.evaluate`).
        batch_size: Stimuli per batch.
        device: Device of the evaluation.

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        ValueError: If ``part`` is unknown, there is no test split to use, or the dataset's
            ``dt_ms`` (or ``audio_fs``) differs from the one the model was fitted at.
        FileNotFoundError: If the checkpoint does not exist.

    Example:
        >>> import tempfile
        >>> from deepSTRF.models.audio.strf_models import Linear
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = Linear(n_frequency_bands=32, temporal_window_size=5, out_neurons=2).save_pretrained(f"{tmp}/m")
        ...     result = evaluate_checkpoint(f"{tmp}/m", dataset_kwargs={"n_neurons": 2, "n_stimuli": 6},
        ...                                  metrics=("cc",), device="cpu")
        >>> result.dataset, result.stimuli, result.scores["cc"].shape
        ('simulated', [5], torch.Size([2]))
    """
    check_choice("part", part, ["test", "all"])
    checkpoint, record = resolve_run(checkpoint)
    recorded = record.get("config", {})
    name = dataset or recorded.get("dataset", "simulated")
    same = name == recorded.get("dataset")
    kwargs = dict(dataset_kwargs or {}) if dataset_kwargs or not same else dict(recorded.get("dataset_kwargs", {}))
    data = load_dataset(name, kwargs)
    splits = getattr(data, "splits", None) or {}
    if part == "all":
        stimuli = list(range(len(data)))
    elif same and record.get("split", {}).get("test"):
        stimuli = list(record["split"]["test"])
    elif "test" in splits:
        stimuli = list(splits["test"])
    else:
        raise ValueError(f"dataset {name!r} has no canonical test split; use part='all'")
    model = NeuralModel.from_pretrained(checkpoint)
    match_data_spec(model, data, record=False, source=f"dataset {name!r} ({kwargs or 'default arguments'})")
    fitter = Fitter(model, FitConfig(batch_size=batch_size), device=device, progress=False)
    scores = fitter.evaluate(Subset(data, stimuli), metrics=metrics)
    return EvaluationResult(str(checkpoint), model, name, kwargs, stimuli, scores)
