"""The ragged neural dataset container, :class:`NeuralDataset`.

A dataset holds ``S`` stimuli of their own lengths ``T_s`` and ``N`` neurons. Each
(stimulus, neuron) pair has a response of ``R_sn`` trials ``(R_sn, T_s)``, or is
missing. Responses are stored packed, one ``(sum_n R_sn, T_s)`` tensor per stimulus
(the trials of the present neurons, stacked in neuron order) and a ``(S, N)`` table
of trial counts (0 = missing), so no ``(S, N, R_max, T_max)`` array is ever built.

Item ``s`` is the dict ``{'stims', 'responses', 'valid_mask', 'stim_meta'}`` with
responses ``(N, R_max_s, T_s)`` NaN-padded; :func:`~deepSTRF.datasets.neural_collate`
pads items into a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deepSTRF._validation import check_positive_float
from deepSTRF.datasets._arrays import (
    as_float_tensor,
    check_dtype,
    check_stimuli,
    hop_samples,
    meta_list,
    packed_rows,
    unpack_trials,
)
from deepSTRF.datasets.selection import select

__all__ = ["NeuralDataset", "hop_samples"]


class NeuralDataset(Dataset):
    """Ragged stimuli and trial-resolved responses, with missing (stimulus, neuron) pairs.

    Spectrogram mode (``audio_fs=None``): ``stims[s]`` is ``(1, F, T_s)`` (``(F, T_s)`` is
    accepted). Waveform mode (``audio_fs`` given): ``stims[s]`` is ``(1, T_audio_s)`` (or 1-D),
    the hop ``audio_fs * dt_ms / 1000`` must be an integer and ``T_audio_s = T_s * hop`` (the
    grid lock: audio sample ``j`` belongs to response bin ``j // hop``).

    ``responses[s][n]`` is a ``(R_sn, T_s)`` array of counts or signed values (1-D means one
    trial), or a missing marker: ``None``, an array holding only NaN (such as a ``(1, 1)`` NaN
    array) or an array with zero trials. NaN inside a present response marks missing bins.

    Args:
        stims: ``S`` stimuli (tensors or arrays), finite.
        responses: ``S`` sequences of ``N`` responses each.
        dt_ms: Width of a response bin in ms.
        stim_meta: ``S`` dicts of stimulus metadata (default: empty dicts).
        nrn_meta: ``N`` dicts of neuron metadata (default: empty dicts).
        audio_fs: Audio sample rate in Hz; turns on waveform mode.
        name: Name of the dataset (used as provenance when datasets are concatenated).
        info: Dataset-level metadata (e.g. the band frequencies).
        dtype: Floating dtype in which stimuli and responses are stored.

    Attributes:
        dt_ms: Width of a response bin in ms.
        audio_fs: Audio sample rate in Hz in waveform mode, else ``None``.
        hop: Audio samples per response bin in waveform mode.
        waveform: Whether the stimuli are waveforms.
        F: Number of frequency bands (``None`` in waveform mode unless a loader knows it).
        name: Name of the dataset.
        info: Dataset-level metadata.
        stim_meta: One dict of metadata per stimulus.
        nrn_meta: One dict of metadata per neuron.
        splits: Named lists of stimulus indices.
        normalization: Fitted transforms applied, by what they act on.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If shapes or lengths disagree, a stimulus holds NaN/Inf, a response holds
            Inf, or the waveform length breaks the grid lock.

    Shape:
        - item ``'stims'``: ``(1, F, T_s)`` or ``(1, T_s * hop)``
        - item ``'responses'``: ``(N, R_max_s, T_s)``, NaN where missing
        - item ``'valid_mask'``: ``(N,)`` bool

    Example:
        >>> import torch
        >>> stims = [torch.rand(1, 4, 10), torch.rand(1, 4, 7)]
        >>> responses = [[torch.ones(2, 10), None], [torch.zeros(1, 7), torch.ones(3, 7)]]
        >>> ds = NeuralDataset(stims, responses, dt_ms=5.0)
        >>> len(ds), ds.n_neurons, ds.F
        (2, 2, 4)
        >>> item = ds[0]
        >>> item["responses"].shape, item["valid_mask"].tolist()
        (torch.Size([2, 2, 10]), [True, False])
    """

    def __init__(
        self,
        stims: Sequence[Any],
        responses: Sequence[Sequence[Any]],
        dt_ms: float,
        *,
        stim_meta: Sequence[Mapping[str, Any]] | None = None,
        nrn_meta: Sequence[Mapping[str, Any]] | None = None,
        audio_fs: float | None = None,
        name: str | None = None,
        info: Mapping[str, Any] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if isinstance(stims, (str, bytes, torch.Tensor, np.ndarray)) or not isinstance(stims, Sequence):
            raise TypeError(f"`stims` must be a list of S arrays, got {type(stims).__name__}")
        if isinstance(responses, (str, bytes, torch.Tensor, np.ndarray)) or not isinstance(responses, Sequence):
            raise TypeError(f"`responses` must be a list of S lists of N responses, got {type(responses).__name__}")
        check_dtype(dtype)
        if len(responses) != len(stims):
            raise ValueError(f"`responses` must hold one entry per stimulus ({len(stims)}), got {len(responses)}")
        n_neurons = len(nrn_meta) if nrn_meta is not None and not responses else None
        entries = []
        for s, row in enumerate(responses):
            if isinstance(row, (str, bytes)) or not isinstance(row, (Sequence, torch.Tensor, np.ndarray)):
                raise TypeError(f"`responses[{s}]` must be a list of N responses, got {type(row).__name__}")
            n_neurons = len(row) if n_neurons is None else n_neurons
            if len(row) != n_neurons:
                raise ValueError(f"`responses[{s}]` has {len(row)} neurons but `responses[0]` has {n_neurons}")
            entries.append(row)
        stim_tensors = [as_float_tensor(f"stims[{s}]", x, dtype) for s, x in enumerate(stims)]
        self._init_checked(stim_tensors, dt_ms, audio_fs, dtype)
        lengths = self.lengths
        rows = [packed_rows(s, row, lengths[s], dtype) for s, row in enumerate(entries)]
        self._resp = [r[0] for r in rows]
        n = 0 if n_neurons is None else n_neurons
        self._n_trials = torch.tensor([r[1] for r in rows], dtype=torch.long).reshape(len(rows), n)
        self._finish(stim_meta, nrn_meta, name, info)

    # ------------------------------------------------------------------ construction
    def _init_checked(
        self, stims: list[torch.Tensor], dt_ms: float, audio_fs: float | None, dtype: torch.dtype
    ) -> None:
        self.dt_ms = check_positive_float("dt_ms", dt_ms)
        self.audio_fs = None if audio_fs is None else check_positive_float("audio_fs", audio_fs)
        self.waveform = self.audio_fs is not None
        self.hop = hop_samples(self.audio_fs, self.dt_ms) if self.audio_fs is not None else None
        self.dtype = dtype
        self._stims, self.F, self._lengths = check_stimuli(stims, self.hop)

    def _finish(
        self,
        stim_meta: Sequence[Mapping[str, Any]] | None,
        nrn_meta: Sequence[Mapping[str, Any]] | None,
        name: str | None,
        info: Mapping[str, Any] | None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str or None, got {type(name).__name__}")
        if info is not None and not isinstance(info, Mapping):
            raise TypeError(f"`info` must be a dict or None, got {type(info).__name__}")
        self.name = name
        self.info: dict[str, Any] = dict(info or {})
        self.stim_meta = meta_list("stim_meta", stim_meta, len(self._stims))
        self.nrn_meta = meta_list("nrn_meta", nrn_meta, self._n_trials.shape[1])
        self.splits: dict[str, list[int]] = {}
        self.normalization: dict[str, Any] = {}

    @classmethod
    def from_packed(
        cls,
        stims: Sequence[torch.Tensor],
        packed: Sequence[torch.Tensor],
        n_trials: torch.Tensor,
        dt_ms: float,
        *,
        stim_meta: Sequence[Mapping[str, Any]] | None = None,
        nrn_meta: Sequence[Mapping[str, Any]] | None = None,
        audio_fs: float | None = None,
        name: str | None = None,
        info: Mapping[str, Any] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> NeuralDataset:
        """Build a dataset from its packed storage (no per-pair work).

        Args:
            stims: ``S`` stimuli, as for the constructor.
            packed: ``S`` tensors ``(sum_n R_sn, T_s)``: the trials of the present neurons of
                each stimulus, stacked in neuron order.
            n_trials: ``(S, N)`` integer trial counts, 0 for a missing pair.
            dt_ms: As for the constructor.
            stim_meta: As for the constructor.
            nrn_meta: As for the constructor.
            audio_fs: As for the constructor.
            name: As for the constructor.
            info: As for the constructor.
            dtype: As for the constructor.

        Returns:
            A :class:`NeuralDataset` (always of this base class).

        Raises:
            ValueError: If the row counts or lengths disagree with ``n_trials`` and the stimuli.

        Example:
            >>> import torch
            >>> counts = torch.tensor([[2, 0, 1]])  # neuron 0: 2 trials, neuron 1: missing, neuron 2: 1 trial
            >>> ds = NeuralDataset.from_packed([torch.zeros(1, 3, 5)], [torch.ones(3, 5)], counts, dt_ms=10.0)
            >>> ds[0]["valid_mask"].tolist()
            [True, False, True]
        """
        counts = torch.as_tensor(n_trials)
        if counts.dim() != 2 or counts.shape[0] != len(stims) or counts.is_floating_point() or bool((counts < 0).any()):
            raise ValueError(
                f"`n_trials` must be a non-negative integer (S, N) table with S = {len(stims)}, "
                f"got shape {tuple(counts.shape)} and dtype {counts.dtype}"
            )
        check_dtype(dtype)
        if len(packed) != len(stims):
            raise ValueError(f"`packed` must hold one tensor per stimulus ({len(stims)}), got {len(packed)}")
        out = NeuralDataset.__new__(NeuralDataset)
        out._init_checked(
            [as_float_tensor(f"stims[{s}]", x, dtype) for s, x in enumerate(stims)], dt_ms, audio_fs, dtype
        )
        out._resp = []
        for s, rows in enumerate(packed):
            rows = as_float_tensor(f"packed[{s}]", rows, dtype)
            want = (int(counts[s].sum()), out._lengths[s])
            if tuple(rows.shape) != want:
                raise ValueError(
                    f"`packed[{s}]` must have shape {want} (trials of stimulus {s}, T_s), got {tuple(rows.shape)}"
                )
            if bool(torch.isinf(rows).any()):
                raise ValueError(f"`packed[{s}]` holds Inf values")
            out._resp.append(rows)
        out._n_trials = counts.to(torch.long).clone()
        out._finish(stim_meta, nrn_meta, name, info)
        return out

    def _evolve(
        self,
        *,
        stims: list[torch.Tensor] | None = None,
        packed: list[torch.Tensor] | None = None,
        nrn_meta: list[dict[str, Any]] | None = None,
    ) -> NeuralDataset:
        """A base-class copy with some parts replaced (already validated by the caller)."""
        out = NeuralDataset.__new__(NeuralDataset)
        out.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k in _STATE},
            _stims=list(self._stims if stims is None else stims),
            _resp=list(self._resp if packed is None else packed),
            stim_meta=[dict(m) for m in self.stim_meta],
            nrn_meta=[dict(m) for m in (self.nrn_meta if nrn_meta is None else nrn_meta)],
            info=dict(self.info),
            splits={k: list(v) for k, v in self.splits.items()},
            normalization=dict(self.normalization),
        )
        return out

    # ------------------------------------------------------------------ accessors
    def __len__(self) -> int:
        return len(self._stims)

    @property
    def n_stimuli(self) -> int:
        """Number of stimuli ``S``."""
        return len(self._stims)

    @property
    def n_neurons(self) -> int:
        """Number of neurons ``N``."""
        return int(self._n_trials.shape[1])

    @property
    def lengths(self) -> list[int]:
        """Length ``T_s`` of each stimulus, in response bins."""
        return list(self._lengths)

    @property
    def stims(self) -> list[torch.Tensor]:
        """The stored stimuli (shared storage: do not modify them in place)."""
        return list(self._stims)

    @property
    def n_trials(self) -> torch.Tensor:
        """``(S, N)`` long tensor of trial counts; 0 where a pair is missing."""
        return self._n_trials.clone()

    @property
    def valid_mask(self) -> torch.Tensor:
        """``(S, N)`` bool tensor, True where a (stimulus, neuron) pair is present."""
        return self._n_trials > 0

    def _index(self, s: int) -> int:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"a stimulus index must be an int, got {type(s).__name__}")
        if not -len(self) <= s < len(self):
            raise IndexError(f"stimulus index {s} out of range for a dataset of {len(self)} stimuli")
        return int(s) % len(self)

    def get_response(self, stimulus: int, neuron: int) -> torch.Tensor | None:
        """The ``(R, T_s)`` trials of one pair (a view of the storage), or ``None`` if missing.

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.zeros(1, 2, 3)], [[torch.ones(2, 3), None]], 5.0)
            >>> ds.get_response(0, 0).shape, ds.get_response(0, 1)
            (torch.Size([2, 3]), None)
        """
        s = self._index(stimulus)
        if (
            isinstance(neuron, bool)
            or not isinstance(neuron, (int, np.integer))
            or not -self.n_neurons <= neuron < self.n_neurons
        ):
            raise IndexError(f"neuron index {neuron!r} out of range for {self.n_neurons} neurons")
        counts = self._n_trials[s]
        n = int(neuron) % self.n_neurons
        if int(counts[n]) == 0:
            return None
        start = int(counts[:n].sum())
        return self._resp[s][start : start + int(counts[n])]

    def __getitem__(self, s: int) -> dict[str, Any]:
        s = self._index(s)
        counts = self._n_trials[s]
        return {
            "stims": self._stims[s],
            "responses": unpack_trials(self._resp[s], counts),
            "valid_mask": counts > 0,
            "stim_meta": dict(self.stim_meta[s]),
        }

    def __repr__(self) -> str:
        mode = f"waveform, audio_fs={self.audio_fs:g} Hz, hop={self.hop}" if self.waveform else f"F={self.F}"
        missing = int((self._n_trials == 0).sum())
        return (
            f"{type(self).__name__}(name={self.name!r}, stimuli={len(self)}, neurons={self.n_neurons}, "
            f"dt_ms={self.dt_ms:g}, {mode}, missing_pairs={missing})"
        )

    # ------------------------------------------------------------------ selection
    def subset(self, stimuli: Any = None, neurons: Any = None) -> NeuralDataset:
        """A new dataset with the chosen stimuli and neurons (storage of kept stimuli is shared).

        Each argument accepts what :func:`~deepSTRF.datasets.selection.resolve_selection` does:
        ``None`` (all), an index, a slice, indices, a boolean mask, a dict of metadata
        conditions, or a predicate on the metadata dict. A filter that matches nothing
        selects nothing and warns. Selecting neurons then stimuli gives the same dataset as
        stimuli then neurons. Named ``splits`` are carried over, renumbered to the kept stimuli.

        Args:
            stimuli: Which stimuli to keep, in this order.
            neurons: Which neurons to keep, in this order.

        Returns:
            A :class:`NeuralDataset`.

        Raises:
            TypeError, ValueError, IndexError: For an invalid selection (see ``resolve_selection``).

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.zeros(1, 2, 3)] * 3, [[torch.ones(1, 3)] * 2] * 3, 5.0,
            ...                    nrn_meta=[{"area": "A1"}, {"area": "PEG"}])
            >>> sub = ds.subset(stimuli=[2, 0], neurons={"area": "PEG"})
            >>> len(sub), sub.n_neurons
            (2, 1)
        """
        return select(self, stimuli, neurons)

    def select_neurons(self, neurons: Any) -> NeuralDataset:
        """Shortcut for ``subset(neurons=neurons)``.

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.zeros(1, 2, 3)], [[torch.ones(1, 3)] * 3], 5.0)
            >>> ds.select_neurons([0, 2]).n_neurons
            2
        """
        return self.subset(neurons=neurons)

    def select_stimuli(self, stimuli: Any) -> NeuralDataset:
        """Shortcut for ``subset(stimuli=stimuli)``.

        Example:
            >>> import torch
            >>> ds = NeuralDataset([torch.zeros(1, 2, 3)] * 4, [[torch.ones(1, 3)]] * 4, 5.0)
            >>> len(ds.select_stimuli(slice(1, 3)))
            2
        """
        return self.subset(stimuli=stimuli)


#: Attributes an evolved copy takes over unchanged.
_STATE = ("dt_ms", "audio_fs", "waveform", "hop", "dtype", "F", "name", "_lengths", "_n_trials")
