"""Pieces shared by the public dataset loaders: dataset folders, argument checks, checksum look-ups."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from deepSTRF._validation import check_positive_float
from deepSTRF.datasets.download import DownloadError, get_data_dir, redact
from deepSTRF.datasets.sources import RemoteFile


def dataset_root(root: str | os.PathLike[str] | None, name: str) -> Path:
    """The dataset folder: ``root`` itself when given, else ``<cache>/<name>``."""
    if root is None:
        return get_data_dir(name)
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"`root` must be a path or None, got {type(root).__name__}")
    return Path(root).expanduser()


def check_timing(dt_ms: float, waveform: bool, audio_fs: float | None) -> tuple[float, int | None]:
    """Validate ``dt_ms`` (and ``audio_fs`` in waveform mode); return ``(dt_ms, hop)``."""
    dt_ms = check_positive_float("dt_ms", dt_ms)
    if not isinstance(waveform, bool):
        raise TypeError(f"`waveform` must be a bool, got {type(waveform).__name__}")
    if not waveform:
        return dt_ms, None
    audio_fs = check_positive_float("audio_fs", audio_fs)
    hop = audio_fs * dt_ms / 1000.0
    if abs(hop - round(hop)) > 1e-9 or round(hop) < 1:
        raise ValueError(
            f"`audio_fs` * `dt_ms` / 1000 must be a positive integer (the audio samples per response bin), "
            f"got {audio_fs} * {dt_ms} / 1000 = {hop}"
        )
    return dt_ms, round(hop)


#: Environment variable that allows downloading a file whose published checksum cannot be read.
ENV_ALLOW_UNVERIFIED = "DEEPSTRF_ALLOW_UNVERIFIED"


def allow_unverified() -> bool:
    """Whether ``DEEPSTRF_ALLOW_UNVERIFIED`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get(ENV_ALLOW_UNVERIFIED, "").strip().lower() in ("1", "true", "yes", "on")


def with_published_checksums(
    files: list[RemoteFile], lookup: Callable[[RemoteFile], tuple[str | None, int | None]]
) -> list[RemoteFile]:
    """Fill in checksums and sizes from the host's API.

    When the host's API cannot answer, the download is refused with a
    :class:`DownloadError` unless ``DEEPSTRF_ALLOW_UNVERIFIED=1`` opts in to
    downloading the file unverified (with a warning).
    """
    out = []
    for f in files:
        if f.checksum is not None:
            out.append(f)
            continue
        try:
            checksum, size = lookup(f)
        except (DownloadError, KeyError) as err:
            if not allow_unverified():
                raise DownloadError(
                    f"could not read the published checksum of {f.filename} ({err}), so it cannot be verified; "
                    f"try again later, or set {ENV_ALLOW_UNVERIFIED}=1 to download it without verification"
                ) from err
            warnings.warn(
                redact(
                    f"could not read the published checksum of {f.filename} ({err}); it will be downloaded "
                    f"unverified ({ENV_ALLOW_UNVERIFIED} is set)"
                ),
                RuntimeWarning,
                stacklevel=3,
            )
            checksum, size = None, None
        out.append(replace(f, checksum=checksum or None, size=size if size is not None else f.size))
    return out


def as_tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 CPU tensor (contiguous copy) of an array."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
