"""Datasets in an HDF5 file: :func:`save_hdf5` writes the layout below, :func:`load_hdf5` reads it.

Layout (format version 1; ``S`` stimuli, ``N`` neurons)::

    /                     attributes:
                            format          = "deepSTRF.NeuralDataset"
                            format_version  = 1
                            dt_ms           = bin width in ms (float)
                            audio_fs        = sample rate in Hz (waveform datasets only)
                            name            = dataset name (optional)
    /stims/<s>            float array, s = "0" .. "S-1": spectrogram (1, F, T_s), or waveform
                          (1, T_s * hop) when audio_fs is set
    /responses/<s>        float array (sum_n R_sn, T_s): the trials of the neurons present for
                          stimulus s, stacked in neuron order (neuron 0's R_s0 trials first, ...)
    /n_trials             int array (S, N): R_sn, the number of trials of each pair; 0 = missing
    /stim_meta            string: JSON list of S dicts (stimulus metadata)
    /nrn_meta             string: JSON list of N dicts (neuron metadata)
    /info                 string: JSON dict (dataset-level metadata)           [optional]
    /splits               string: JSON dict {part: [stimulus indices]}         [optional]
    /normalization        string: JSON dict of the fitted transforms applied   [optional]

Counts stay exact in float32. NaN inside ``/responses`` marks missing bins. Metadata must be
JSON-serialisable (NumPy scalars and arrays are converted). Attributes that only a loader
class has (e.g. the ground truth of a simulated dataset) are not stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepSTRF._optional import require
from deepSTRF.datasets.core import NeuralDataset
from deepSTRF.datasets.transforms import ResponseNormalizer, StimulusStandardizer

__all__ = ["FORMAT", "FORMAT_VERSION", "load_hdf5", "save_hdf5"]

#: Value of the ``format`` attribute of a deepSTRF HDF5 dataset file.
FORMAT = "deepSTRF.NeuralDataset"
#: Version of the HDF5 layout written by :func:`save_hdf5`.
FORMAT_VERSION = 1
_TRANSFORMS: dict[str, type[StimulusStandardizer] | type[ResponseNormalizer]] = {
    "stimulus_standardizer": StimulusStandardizer,
    "response_normalizer": ResponseNormalizer,
}


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__} ({value!r}) in JSON")


def _dumps(what: str, value: Any) -> str:
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`dataset.{what}` must be JSON-serialisable to be saved: {err}") from err


def save_hdf5(dataset: NeuralDataset, path: str | os.PathLike[str], *, compression: str | None = "gzip") -> None:
    """Write ``dataset`` to ``path`` in the layout of the module documentation.

    Args:
        dataset: The dataset.
        path: Output file (overwritten).
        compression: h5py compression of the arrays (``None`` for none).

    Raises:
        TypeError: If ``dataset`` is not a NeuralDataset or its metadata is not JSON-serialisable.
        ImportError: If h5py is missing (extra ``data``).

    Example:
        >>> import tempfile, torch
        >>> ds = NeuralDataset([torch.zeros(1, 2, 3)], [[torch.ones(2, 3), None]], 5.0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_hdf5(ds, f"{d}/data.h5")
        ...     load_hdf5(f"{d}/data.h5").valid_mask.tolist()
        [[True, False]]
    """
    if not isinstance(dataset, NeuralDataset):
        raise TypeError(f"`dataset` must be a NeuralDataset, got {type(dataset).__name__}")
    h5py = require("h5py", extra="data", purpose="HDF5 datasets")
    texts = {
        "stim_meta": _dumps("stim_meta", dataset.stim_meta),
        "nrn_meta": _dumps("nrn_meta", dataset.nrn_meta),
        "info": _dumps("info", dataset.info),
        "splits": _dumps("splits", dataset.splits),
        "normalization": _dumps(
            "normalization", {k: [t.to_dict() for t in v] for k, v in dataset.normalization.items()}
        ),
    }
    with h5py.File(Path(path), "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["dt_ms"] = dataset.dt_ms
        if dataset.audio_fs is not None:
            f.attrs["audio_fs"] = dataset.audio_fs
        if dataset.name is not None:
            f.attrs["name"] = dataset.name
        stims, resp = f.create_group("stims"), f.create_group("responses")
        for s, (x, rows) in enumerate(zip(dataset.stims, dataset._resp)):
            stims.create_dataset(str(s), data=x.numpy(), compression=compression)
            resp.create_dataset(str(s), data=rows.numpy(), compression=compression)
        f.create_dataset("n_trials", data=dataset.n_trials.numpy())
        for key, text in texts.items():
            f.create_dataset(key, data=text)


def _text(f: Any, key: str, path: Path, default: Any) -> Any:
    if key not in f:
        if default is None:
            raise ValueError(f"{path}: missing the '/{key}' entry of a deepSTRF dataset file")
        return default
    raw = f[key][()]
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: '/{key}' must hold a JSON string ({err})") from err


def load_hdf5(path: str | os.PathLike[str], *, dtype: torch.dtype = torch.float32) -> NeuralDataset:
    """Read a dataset written by :func:`save_hdf5` (or by hand in the same layout).

    Args:
        path: The HDF5 file.
        dtype: Floating dtype of the loaded stimuli and responses.

    Returns:
        A :class:`NeuralDataset` (with its ``splits`` and ``normalization`` restored).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not HDF5, is corrupt, or does not follow the layout (the
            message names the offending entry).
        ImportError: If h5py is missing (extra ``data``).

    Example:
        >>> load_hdf5("no/such/file.h5")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no dataset file at no/such/file.h5
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset file at {path}")
    h5py = require("h5py", extra="data", purpose="HDF5 datasets")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file (corrupt or another format): {err}") from err
    with f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: root attribute 'format' must be {FORMAT!r}, got {f.attrs.get('format')!r}")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format_version {version} (this version reads {FORMAT_VERSION})")
        for key in ("stims", "responses", "n_trials"):
            if key not in f:
                raise ValueError(f"{path}: missing the '/{key}' entry of a deepSTRF dataset file")
        if "dt_ms" not in f.attrs:
            raise ValueError(f"{path}: missing the root attribute 'dt_ms'")
        n_trials = np.asarray(f["n_trials"][()])
        n_stim = n_trials.shape[0] if n_trials.ndim == 2 else -1
        if n_trials.ndim != 2 or n_trials.dtype.kind not in "iu":
            raise ValueError(
                f"{path}: '/n_trials' must be an integer (S, N) array, got {n_trials.dtype} {n_trials.shape}"
            )
        names = [str(s) for s in range(n_stim)]
        for group in ("stims", "responses"):
            if sorted(f[group].keys(), key=lambda k: (len(k), k)) != names:
                raise ValueError(f"{path}: '/{group}' must hold entries '0'..'{n_stim - 1}' (one per row of /n_trials)")
        try:
            out = NeuralDataset.from_packed(
                [torch.from_numpy(np.asarray(f["stims"][k][()])) for k in names],
                [torch.from_numpy(np.asarray(f["responses"][k][()])) for k in names],
                torch.from_numpy(n_trials.astype(np.int64)),
                float(f.attrs["dt_ms"]),
                stim_meta=_text(f, "stim_meta", path, None),
                nrn_meta=_text(f, "nrn_meta", path, None),
                audio_fs=float(f.attrs["audio_fs"]) if "audio_fs" in f.attrs else None,
                name=str(f.attrs["name"]) if "name" in f.attrs else None,
                info=_text(f, "info", path, {}),
                dtype=dtype,
            )
            out.splits = {str(k): [int(i) for i in v] for k, v in _text(f, "splits", path, {}).items()}
            for key, items in _text(f, "normalization", path, {}).items():
                out.normalization[key] = [_TRANSFORMS[t["kind"]].from_dict(t) for t in items]
        except (TypeError, ValueError, KeyError, AttributeError, OSError) as err:
            message = str(err) if str(err).startswith(str(path)) else f"{path}: {err}"
            raise ValueError(message) from err
    return out
