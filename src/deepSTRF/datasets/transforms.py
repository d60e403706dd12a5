"""Stimulus standardisation and response normalisation without test-set leakage.

Statistics are fitted only on the stimuli you name (indices, or the name of one of the
dataset's ``splits`` such as ``'train'``), stored in a small frozen object that records
which stimuli of which dataset they came from, and applied to any compatible dataset (the
whole dataset, its test split, another recording). The transformed dataset lists the
transforms applied to it in ``dataset.normalization['stims']`` / ``['responses']``, and
``to_dict`` / ``from_dict`` store them as JSON-ready values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from deepSTRF._validation import check_choice
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.selection import resolve_selection

__all__ = ["ResponseNormalizer", "StimulusStandardizer", "normalize_responses", "standardize_stimuli"]

RESPONSE_METHODS = ("zscore", "std", "max")


def _named_stimuli(dataset: NeuralDataset, stimuli: Sequence[int] | str) -> list[int]:
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    if isinstance(stimuli, str):
        if stimuli not in dataset.splits:
            raise ValueError(f"`stimuli`={stimuli!r} is not one of the dataset's splits {sorted(dataset.splits)}")
        stimuli = dataset.splits[stimuli]
    if stimuli is None or isinstance(stimuli, bool):
        raise TypeError("`stimuli` must name the stimuli to fit on: indices, a split name or a metadata filter")
    chosen = resolve_selection(stimuli, dataset.stim_meta, what="stimuli")
    if not chosen:
        raise ValueError("`stimuli` must name at least one stimulus to fit the statistics on, got none")
    return chosen


def _record(out: NeuralDataset, key: str, transform: Any) -> NeuralDataset:
    out.normalization = {k: list(v) for k, v in out.normalization.items()}
    out.normalization.setdefault(key, []).append(transform)
    return out


def _safe_scale(scale: torch.Tensor, what: str) -> torch.Tensor:
    bad = ~(torch.isfinite(scale) & (scale > 0))
    if bool(bad.any()):
        warnings.warn(
            f"{what} {torch.nonzero(bad).flatten().tolist()} have zero or undefined spread on the fitted stimuli; "
            "they are not rescaled",
            UserWarning,
            stacklevel=3,
        )
    return torch.where(bad, torch.ones_like(scale), scale)


@dataclass(frozen=True)
class StimulusStandardizer:
    """``(x - mean) / std`` per frequency band (or over everything), fitted on chosen stimuli.

    Attributes:
        mean: ``(F,)`` band means, or a 0-d tensor (waveforms, or ``per_band=False``).
        std: Standard deviations of the same shape (zero spread is replaced by 1, with a warning).
        stimuli: Indices of the stimuli the statistics came from.
        source: Name of the dataset they came from.

    Example:
        >>> import torch
        >>> ds = NeuralDataset([torch.arange(12.0).reshape(1, 3, 4), torch.ones(1, 3, 2)], [[None], [None]], 5.0)
        >>> std = StimulusStandardizer.fit(ds, stimuli=[0])  # statistics of stimulus 0 only
        >>> out = std.apply(ds)
        >>> out.stims[0][0, 0]
        tensor([-1.3416, -0.4472,  0.4472,  1.3416])
        >>> out.normalization["stims"] == [std]
        True
    """

    mean: torch.Tensor
    std: torch.Tensor
    stimuli: tuple[int, ...]
    source: str | None = None

    @classmethod
    def fit(
        cls, dataset: NeuralDataset, stimuli: Sequence[int] | str, *, per_band: bool = True
    ) -> StimulusStandardizer:
        """Fit on ``dataset``'s ``stimuli`` only (indices or a split name).

        Fit on the training stimuli and apply the result to every split, so that no
        statistic of the test stimuli leaks into the fit.

        Args:
            dataset: The dataset whose stimuli give the statistics.
            stimuli: Stimulus indices, or the name of one of ``dataset.splits``.
            per_band: One mean and standard deviation per frequency band; ``False`` (and
                always for waveforms) pools every value.

        Returns:
            The fitted standardiser.

        Raises:
            TypeError, ValueError: If ``stimuli`` is missing, empty or invalid.

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.arange(12.0).reshape(1, 3, 4)], [[None]], 5.0)
            >>> StimulusStandardizer.fit(ds, stimuli=[0]).mean
            tensor([1.5000, 5.5000, 9.5000], dtype=torch.float64)
            >>> StimulusStandardizer.fit(ds, stimuli=[0], per_band=False).mean
            tensor(5.5000, dtype=torch.float64)
        """
        chosen = _named_stimuli(dataset, stimuli)
        x = torch.cat(
            [dataset.stims[s].to(torch.float64).reshape(-1, dataset.stims[s].shape[-1]) for s in chosen], dim=-1
        )
        dims = (-1,) if per_band and not dataset.waveform else tuple(range(x.dim()))
        mean = x.mean(dim=dims)
        std = _safe_scale(x.std(dim=dims, unbiased=False), "frequency bands" if mean.dim() else "stimuli")
        return cls(mean=mean, std=std, stimuli=tuple(chosen), source=dataset.name)

    def apply(self, dataset: NeuralDataset) -> NeuralDataset:
        """A copy of ``dataset`` with standardised stimuli.

        Raises:
            ValueError: If ``dataset`` has another number of bands than the fitted one.
        """
        if not isinstance(dataset, NeuralDataset):
            raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
        if self.mean.dim() and (dataset.waveform or dataset.F != self.mean.shape[0]):
            raise ValueError(
                f"fitted on F = {self.mean.shape[0]} bands, cannot apply to a dataset with F = {dataset.F}"
            )
        mean = self.mean.reshape(-1, 1) if self.mean.dim() else self.mean
        std = self.std.reshape(-1, 1) if self.std.dim() else self.std
        stims = [((x.to(torch.float64) - mean) / std).to(dataset.dtype) for x in dataset.stims]
        return _record(dataset._evolve(stims=stims), "stims", self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``from_dict`` rebuilds the object)."""
        return {
            "kind": "stimulus_standardizer",
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "stimuli": list(self.stimuli),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> StimulusStandardizer:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            torch.tensor(state["mean"], dtype=torch.float64),
            torch.tensor(state["std"], dtype=torch.float64),
            tuple(state["stimuli"]),
            state.get("source"),
        )


def _neuron_stats(dataset: NeuralDataset, chosen: list[int], method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-neuron (offset, scale) from the valid values of the chosen stimuli (float64)."""
    n = dataset.n_neurons
    total, sq, count = (torch.zeros(n, dtype=torch.float64) for _ in range(3))
    peak = torch.full((n,), -torch.inf, dtype=torch.float64)
    counts = dataset.n_trials
    for s in chosen:
        if method == "max":
            psth = dataset[s]["responses"].to(torch.float64).nanmean(dim=1)
            peak = torch.maximum(peak, psth.nan_to_num(nan=-torch.inf).amax(dim=-1))
            continue
        rows = dataset._resp[s].to(torch.float64)
        neuron = torch.repeat_interleave(torch.arange(n), counts[s])
        valid = ~torch.isnan(rows)
        filled = torch.where(valid, rows, torch.zeros((), dtype=torch.float64))
        total.index_add_(0, neuron, filled.sum(1))
        sq.index_add_(0, neuron, (filled**2).sum(1))
        count.index_add_(0, neuron, valid.sum(1).to(torch.float64))
    zeros = torch.zeros(n, dtype=torch.float64)
    if method == "max":
        return zeros, torch.where(torch.isinf(peak), torch.nan, peak)
    mean = total / count
    std = (sq / count - mean**2).clamp_min(0).sqrt()
    return (torch.nan_to_num(mean) if method == "zscore" else zeros), std


@dataclass(frozen=True)
class ResponseNormalizer:
    """``(r - offset) / scale`` per neuron, fitted on chosen stimuli.

    Methods: ``'zscore'`` (offset = mean, scale = standard deviation over all valid trials
    and bins), ``'std'`` (scale = standard deviation, no offset: zeros stay zeros) and
    ``'max'`` (scale = the largest value of the trial-mean PSTH). A neuron with zero or
    undefined spread on the fitted stimuli is left unscaled, with a warning.

    Attributes:
        offset: ``(N,)`` offsets.
        scale: ``(N,)`` scales.
        method: One of ``'zscore'``, ``'std'``, ``'max'``.
        stimuli: Indices of the stimuli the statistics came from.
        source: Name of the dataset they came from.

    Example:
        >>> import torch
        >>> ds = NeuralDataset([torch.zeros(1, 2, 4)] * 2, [[torch.tensor([[0.0, 2, 0, 2]])]] * 2, 5.0)
        >>> norm = ResponseNormalizer.fit(ds, stimuli=[0], method="zscore")
        >>> norm.apply(ds)[1]["responses"].flatten().tolist()
        [-1.0, 1.0, -1.0, 1.0]
    """

    offset: torch.Tensor
    scale: torch.Tensor
    method: str
    stimuli: tuple[int, ...]
    source: str | None = None

    @classmethod
    def fit(cls, dataset: NeuralDataset, stimuli: Sequence[int] | str, *, method: str = "zscore") -> ResponseNormalizer:
        """Fit on ``dataset``'s ``stimuli`` only (indices or a split name).

        Args:
            dataset: The dataset whose responses give the statistics.
            stimuli: Stimulus indices, or the name of one of ``dataset.splits``.
            method: ``'zscore'`` (subtract each neuron's mean, divide by its standard
                deviation), ``'std'`` (divide by the standard deviation only) or ``'max'``
                (divide by the peak of the trial-averaged response).

        Returns:
            The fitted normaliser.

        Raises:
            TypeError, ValueError: If ``stimuli`` is missing, empty or invalid, or ``method`` is unknown.

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.zeros(1, 2, 4)], [[torch.tensor([[0.0, 2, 0, 4]])]], 5.0)
            >>> norm = ResponseNormalizer.fit(ds, stimuli=[0], method="max")
            >>> norm.offset.tolist(), norm.scale.tolist()
            ([0.0], [4.0])
        """
        check_choice("method", method, RESPONSE_METHODS)
        chosen = _named_stimuli(dataset, stimuli)
        offset, scale = _neuron_stats(dataset, chosen, method)
        return cls(offset, _safe_scale(scale, "neurons"), method, tuple(chosen), dataset.name)

    def apply(self, dataset: NeuralDataset) -> NeuralDataset:
        """A copy of ``dataset`` with normalised responses.

        Raises:
            ValueError: If ``dataset`` has another number of neurons than the fitted one.
        """
        if not isinstance(dataset, NeuralDataset):
            raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
        if dataset.n_neurons != self.scale.shape[0]:
            raise ValueError(
                f"fitted on {self.scale.shape[0]} neurons, cannot apply to a dataset of {dataset.n_neurons}"
            )
        counts = dataset.n_trials
        packed = []
        for s, rows in enumerate(dataset._resp):
            neuron = torch.repeat_interleave(torch.arange(dataset.n_neurons), counts[s])
            out = (rows.to(torch.float64) - self.offset[neuron, None]) / self.scale[neuron, None]
            packed.append(out.to(dataset.dtype))
        return _record(dataset._evolve(packed=packed), "responses", self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``from_dict`` rebuilds the object)."""
        return {
            "kind": "response_normalizer",
            "offset": self.offset.tolist(),
            "scale": self.scale.tolist(),
            "method": self.method,
            "stimuli": list(self.stimuli),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ResponseNormalizer:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            torch.tensor(state["offset"], dtype=torch.float64),
            torch.tensor(state["scale"], dtype=torch.float64),
            state["method"],
            tuple(state["stimuli"]),
            state.get("source"),
        )


def standardize_stimuli(
    dataset: NeuralDataset, stimuli: Sequence[int] | str, *, per_band: bool = True
) -> NeuralDataset:
    """Standardise all stimuli with statistics from ``stimuli`` only.

    Equivalent to ``StimulusStandardizer.fit(dataset, stimuli, per_band=per_band).apply(dataset)``.

    Example:
        >>> import torch
        >>> ds = NeuralDataset([torch.rand(1, 3, 8)] * 2, [[None]] * 2, 5.0)
        >>> ds.splits = {"train": [0], "test": [1]}
        >>> type(standardize_stimuli(ds, "train").normalization["stims"][0]).__name__
        'StimulusStandardizer'
    """
    return StimulusStandardizer.fit(dataset, stimuli, per_band=per_band).apply(dataset)


def normalize_responses(
    dataset: NeuralDataset, stimuli: Sequence[int] | str, *, method: str = "zscore"
) -> NeuralDataset:
    """Normalise all responses with per-neuron statistics from ``stimuli`` only.

    Equivalent to ``ResponseNormalizer.fit(dataset, stimuli, method=method).apply(dataset)``.

    Example:
        >>> import torch
        >>> ds = NeuralDataset([torch.zeros(1, 1, 2)], [[torch.tensor([[1.0, 3.0]])]], 5.0)
        >>> normalize_responses(ds, [0], method="max")[0]["responses"].flatten().tolist()
        [0.3333333432674408, 1.0]
    """
    return ResponseNormalizer.fit(dataset, stimuli, method=method).apply(dataset)
