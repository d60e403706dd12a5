"""NS1 files: waveform names, unit metadata, spike times, published cochleagrams, causal cochleagram."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deepSTRF.datasets.audio._matfile import as_float, as_str, as_vector, field, items, load_mat
from deepSTRF.datasets.audio._spectro import causal_mel_spectrogram


def ns1_wav_name(s: int) -> str:
    """Waveform file name of natural sound ``s`` (0-based) in ``spikesandwav/SH.En.C/``.

    Args:
        s: Stimulus index, 0-19 (0-11 are source 1, 12-19 source 2).

    Returns:
        The extension-less file name.

    Example:
        >>> ns1_wav_name(12)
        'source.2.sound.0.snr.0.token.0.fw.1.frozen.1'
    """
    if s < 12:
        return f"source.1.sound.0.snr.0.token.0.fw.2.frozen.{s + 1}"
    return f"source.2.sound.0.snr.0.token.0.fw.1.frozen.{s - 11}"


def read_ns1_metadata(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read ``MetadataSHEnCneurons.mat`` into one dict per unit (see :class:`NS1Dataset` for the keys).

    The cell id is the first field of each struct (a file name) without ``.mat``, or the stem of
    ``path`` when the first field is not a ``.mat`` name.

    Args:
        path: The metadata file.

    Returns:
        One metadata dict per unit, in file order.

    Raises:
        ValueError: If the file has no ``neuron`` struct array with the documented fields.

    Example:
        >>> import tempfile, scipy.io
        >>> unit = {"name": "c7.mat", "path": "SH.En.C/c7.mat", "depth": 120.0, "NoiseRatio": 35.0,
        ...         "singleN": 1.0, "singleT": "Maybe", "NrOfElectrodes": 32.0, "ElectrodeNumber": 4.0}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     scipy.io.savemat(f"{d}/m.mat", {"neuron": unit})
        ...     meta = read_ns1_metadata(f"{d}/m.mat")[0]
        >>> meta["cell_id"], meta["valid_noise_ratio"], meta["valid_single_depth"]
        ('c7', True, True)
    """
    out = []
    for unit in items(field(load_mat(path), "neuron", path)):
        rel = as_str(field(unit, "path", path)).replace("\\", "/")
        first = as_str(next(iter(unit.values()))) if isinstance(unit, dict) else ""
        depth, single_t = as_float(field(unit, "depth", path)), as_str(field(unit, "singleT", path))
        noise_ratio = as_float(field(unit, "NoiseRatio", path))
        out.append(
            {
                "cell_id": first[:-4] if first.endswith(".mat") else Path(rel).stem,
                "area": "A1",
                "depth_um": depth,
                "noise_ratio": noise_ratio,
                "single_n": bool(as_float(unit.get("singleN"), 0.0)),
                "single_t": single_t,
                "n_electrodes": as_float(unit.get("NrOfElectrodes")),
                "electrode_number": as_float(unit.get("ElectrodeNumber")),
                "spike_file": rel,
                "valid_noise_ratio": bool(noise_ratio < 40),
                "valid_single_depth": single_t in ("Yes", "Maybe") and depth >= 0,
            }
        )
    return out


def read_ns1_spike_file(path: str | os.PathLike[str]) -> list[list[np.ndarray]]:
    """Spike times (ms from sound onset) of one unit: ``sets[k][r]``, a 1-D array per repeat.

    Sets 0-19 are the natural sounds; sets 20-31 are dynamic random chords (5 repeats each,
    no published spectrogram), returned too so that they stay reachable.

    Args:
        path: A spike file (variable ``data``, field ``set``, sub-field ``repeats.t``).

    Returns:
        ``sets[k][r]``: float64 spike times; an empty trial gives an empty array.

    Raises:
        ValueError: If the file lacks the documented variables or fields.

    Example:
        >>> import tempfile, scipy.io
        >>> data = {"set": {"repeats": {"t": np.array([[1.5, 7.25]])}}}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     scipy.io.savemat(f"{d}/c.mat", {"data": data})
        ...     read_ns1_spike_file(f"{d}/c.mat")[0][0].tolist()
        [1.5, 7.25]
    """
    data = field(load_mat(path), "data", path)
    return [
        [as_vector(field(rep, "t", path)) for rep in items(field(one, "repeats", path))]
        for one in items(field(data, "set", path))
    ]


def read_ns1_cochleagrams(path: str | os.PathLike[str]) -> np.ndarray:
    """``X_nfht`` of ``test_data_5ms.mat`` as float64 ``(S, F, T)`` (the history axis of size 1 dropped).

    Args:
        path: The cochleagram file.

    Returns:
        The cochleagrams, ``(S, F, T)``.

    Raises:
        ValueError: If ``X_nfht`` is absent or not of shape ``(S, F, 1, T)``.

    Example:
        >>> import tempfile, scipy.io
        >>> with tempfile.TemporaryDirectory() as d:
        ...     scipy.io.savemat(f"{d}/x.mat", {"X_nfht": np.zeros((2, 34, 1, 9))})
        ...     read_ns1_cochleagrams(f"{d}/x.mat").shape
        (2, 34, 9)
    """
    x = np.asarray(field(load_mat(path, simplify=False), "X_nfht", path), dtype=np.float64)
    if x.ndim != 4 or x.shape[2] != 1:
        raise ValueError(f"{path}: expected X_nfht of shape (n_stimuli, n_freqs, 1, n_frames), got {x.shape}")
    return x[:, :, 0, :]


def delay_frames(spec: np.ndarray, n: int) -> np.ndarray:
    """Shift a ``(F, T)`` spectrogram ``n`` frames later, filling the start with its minimum value.

    Args:
        spec: Spectrogram ``(F, T)``.
        n: Frames of delay (0 returns ``spec`` unchanged).

    Returns:
        The delayed spectrogram, same shape.

    Example:
        >>> delay_frames(np.array([[3.0, 1.0, 2.0]]), 1)
        array([[1., 3., 1.]])
    """
    if n == 0:
        return spec
    out = np.full_like(spec, spec.min())
    out[:, n:] = spec[:, : spec.shape[1] - n]
    return out


def ns1_cochleagram(audio: np.ndarray, audio_fs: float, dt_ms: float, n_frames: int) -> np.ndarray:
    """Causal cochleagram following the published recipe: 10 ms Hann windows, amplitude, 34 mel bands
    from 500 Hz to 22,627 Hz, natural log floored at 1e-6. Close to, but not identical with, ``X_nfht``.

    Frame ``t`` ends at the end of response bin ``t`` (no look-ahead).

    Args:
        audio: Mono waveform.
        audio_fs: Its sample rate (Hz).
        dt_ms: Frame period = bin width (ms).
        n_frames: Number of frames.

    Returns:
        ``(34, n_frames)`` log amplitudes.

    Example:
        >>> ns1_cochleagram(np.random.default_rng(0).normal(size=4883), 48828.125, 5.0, 20).shape
        (34, 20)
    """
    mel = causal_mel_spectrogram(
        audio, audio_fs, dt_ms, n_frames, n_mels=34, f_min_hz=500.0, f_max_hz=22627.0, window_ms=10.0, power=1.0
    )
    return np.log(np.maximum(mel, 1e-6))
