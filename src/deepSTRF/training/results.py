"""Per-neuron results of multi-seed runs, and their JSON / CSV files.

Example:
    >>> result = RunResult(seeds=[0, 1], per_seed={0: {"cc": torch.tensor([0.2, 0.4])},
    ...                                            1: {"cc": torch.tensor([0.4, 0.6])}})
    >>> result.aggregate()
    >>> result.mean["cc"].tolist(), result.summary()["cc"]["median"]
    ([0.30000001192092896, 0.5], 0.30000001192092896)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepSTRF._io import atomic_write_json, atomic_write_text
from deepSTRF.training.fitter import FitResult

__all__ = ["RunResult", "listed", "nan_to_none", "summarise", "write_scores", "write_table"]


def nan_to_none(value: torch.Tensor | float) -> float | None:
    """A float, with NaN turned into ``None`` (JSON ``null``).

    Example:
        >>> nan_to_none(float("nan")) is None, nan_to_none(torch.tensor(0.5))
        (True, 0.5)
    """
    number = float(value)
    return None if math.isnan(number) else number


def listed(values: torch.Tensor) -> list[float | None]:
    """A 1-D tensor as a JSON-ready list (NaN as ``None``).

    Example:
        >>> listed(torch.tensor([0.5, float("nan")]))
        [0.5, None]
    """
    return [nan_to_none(v) for v in values.tolist()]


def summarise(scores: dict[str, torch.Tensor]) -> dict[str, dict[str, float | None]]:
    """NaN-aware mean and median over neurons of each metric.

    Example:
        >>> summarise({"cc": torch.tensor([0.25, 0.75, float("nan")])})
        {'cc': {'mean': 0.5, 'median': 0.25}}
    """
    return {
        name: {"mean": nan_to_none(v.nanmean()), "median": nan_to_none(v.nanmedian())} for name, v in scores.items()
    }


@dataclass
class RunResult:
    """Per-neuron test scores of a multi-seed run.

    Attributes:
        seeds: The seeds, in order.
        per_seed: ``{seed: {metric: (N,) tensor}}``.
        mean: ``{metric: (N,)}`` NaN-aware mean over seeds.
        std: ``{metric: (N,)}`` standard deviation over seeds (0 with one seed).
        fits: ``{seed: [FitResult per fold]}``.
        models: ``{seed: [fitted model per fold]}``.

    Example:
        >>> result = RunResult(seeds=[3], per_seed={3: {"cc": torch.tensor([0.5])}})
        >>> result.aggregate()
        >>> result.std["cc"]
        tensor([0.])
    """

    seeds: list[int]
    per_seed: dict[int, dict[str, torch.Tensor]]
    mean: dict[str, torch.Tensor] = field(default_factory=dict)
    std: dict[str, torch.Tensor] = field(default_factory=dict)
    fits: dict[int, list[FitResult]] = field(default_factory=dict)
    models: dict[int, list[nn.Module]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Mean and median over neurons of the seed-averaged scores, per metric (``None`` for NaN)."""
        return summarise(self.mean)

    def aggregate(self) -> None:
        """Fill :attr:`mean` and :attr:`std` from :attr:`per_seed`."""
        for name in next(iter(self.per_seed.values())):
            stacked = torch.stack([self.per_seed[s][name] for s in self.seeds])  # (seeds, N)
            mean = stacked.nanmean(0)
            self.mean[name] = mean
            self.std[name] = (stacked - mean).square().nanmean(0).sqrt()

    def write(self, out_dir: str | Path, n_folds: int) -> None:
        """Write ``metrics.json`` and ``metrics.csv`` (per neuron, per seed and over seeds) to ``out_dir``."""
        out_dir = Path(out_dir)
        payload = {
            "seeds": self.seeds,
            "n_folds": n_folds,
            "summary": self.summary(),
            "per_neuron": {n: {"mean": listed(self.mean[n]), "std": listed(self.std[n])} for n in self.mean},
            "per_seed": {str(s): {n: listed(v) for n, v in self.per_seed[s].items()} for s in self.seeds},
            "best_epochs": {str(s): [fit.best_epoch for fit in self.fits.get(s, [])] for s in self.seeds},
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out_dir / "metrics.json", payload)
        columns: dict[str, torch.Tensor] = {}
        for name in self.mean:
            columns[f"{name}_mean"], columns[f"{name}_std"] = self.mean[name], self.std[name]
            columns.update({f"{name}_seed{s}": self.per_seed[s][name] for s in self.seeds})
        write_table(out_dir / "metrics.csv", columns)


def write_table(path: str | Path, columns: Mapping[str, torch.Tensor | Sequence[float | None]]) -> Path:
    """Write per-neuron columns to a CSV file (one row per neuron, empty cells for NaN).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(write_table(f"{tmp}/t.csv", {"cc": torch.tensor([0.5, float("nan")])}).read_text())
        neuron,cc
        0,0.5
        1,
        <BLANKLINE>
    """
    path = Path(path)
    lists = {k: listed(v) if isinstance(v, torch.Tensor) else list(v) for k, v in columns.items()}
    rows = max((len(v) for v in lists.values()), default=0)
    lines = [",".join(["neuron", *lists])]
    for n in range(rows):
        cells = ["" if v[n] is None else repr(float(v[n])) for v in lists.values()]  # type: ignore[arg-type]
        lines.append(",".join([str(n), *cells]))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_scores(folder: str | Path, scores: dict[str, torch.Tensor], extra: dict[str, Any] | None = None) -> None:
    """Write per-neuron scores to ``folder/metrics.json`` (with a summary and ``extra``) and ``folder/metrics.csv``.

    Example:
        >>> import json, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_scores(tmp, {"cc": torch.tensor([0.25, 0.5])})
        ...     json.loads((Path(tmp) / "metrics.json").read_text())["summary"]["cc"]["median"]
        0.25
    """
    folder = Path(folder)
    payload = {"per_neuron": {name: listed(v) for name, v in scores.items()}, "summary": summarise(scores)}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "metrics.json", {**payload, **(extra or {})})
    write_table(folder / "metrics.csv", scores)
