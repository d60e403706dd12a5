"""Reading the Wehr part of CRCNS AC1: recordings (membrane potential + triggers) and stimulus files.

A recording file ``Results/<session>/<session>-<RRR>.mat`` holds ``response`` (``trace``,
``scale`` to mV, ``sf``) and ``triggers`` (one struct, or a struct array, with ``type``,
``param.description``, ``param.duration`` in ms, ``time`` = 1-based onset sample, ``file``
= stimulus path under ``Stimuli/``). A stimulus file holds ``stimulus.samples`` and
``stimulus.param.sf`` / ``.description``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepSTRF._optional import require
from deepSTRF.datasets.audio._matfile import as_float, as_str, as_vector, field, items, load_mat
from deepSTRF.datasets.audio._spectro import stft_magnitude

NATURAL_TYPES = ("naturalsound", "nauralsound", "natural")


@dataclass
class Repeat:
    """One presentation of a natural sound: the mV trace slice from onset, and where it came from."""

    stim_file: str  # relative to Stimuli/, '/' separators
    description: str
    duration_ms: float
    trace_mv: np.ndarray
    sf: float
    source: str


def find_folder(root: Path, name: str, depth: int = 2) -> Path | None:
    """The first folder called ``name`` at most ``depth`` levels below ``root`` (breadth first)."""
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            if folder.name == name and folder != root:
                return folder
        level = [p for folder in level for p in sorted(folder.iterdir()) if p.is_dir()]
    return None


def detrend_trace(trace: np.ndarray, sf: float, method: str) -> np.ndarray:
    """Remove slow drift from a trace in mV sampled at ``sf`` Hz.

    ``'baseline'`` subtracts a running median over the odd number of samples nearest 100 ms
    (edges extended with the end values), smoothed by a σ = 10 ms Gaussian (edges mirrored); it
    is meant for a whole recording. ``'baseline_per_repeat'`` is the published pipeline's
    version, meant for one repeat's slice: a running median over round(100 ms) samples (even at
    4 kHz) and the same Gaussian, both with mirrored edges. ``'none'`` returns ``trace``.

    Example:
        >>> x = np.linspace(0.0, 5.0, 4000) + np.sin(np.arange(4000) / 3.0)
        >>> y = detrend_trace(x, 4000.0, "baseline_per_repeat")
        >>> bool(abs(y.mean()) < 0.05), y.shape
        (True, (4000,))
    """
    if method == "none" or trace.size == 0:
        return trace
    ndimage = require("scipy.ndimage", extra="data", purpose="detrending membrane potentials")
    if method == "baseline_per_repeat":
        size = max(round(0.1 * sf), 1)
        median = ndimage.median_filter(trace, size=size, mode="reflect")
        return trace - ndimage.gaussian_filter1d(median, max(0.01 * sf, 1e-3), mode="reflect")
    size = max(round(0.1 * sf) | 1, 1)
    baseline = ndimage.gaussian_filter1d(ndimage.median_filter(trace, size=size, mode="nearest"), 0.01 * sf)
    return trace - baseline


def read_wehr_recording(path: str | os.PathLike[str], detrend: str = "none") -> list[Repeat]:
    """Every natural-sound presentation of one recording file, as mV slices of its trace.

    A trigger without ``file`` gives an empty ``stim_file``; the caller matches its description.
    ``detrend`` is a :func:`detrend_trace` method, applied to the whole trace before slicing,
    or, for ``'baseline_per_repeat'``, to each repeat's slice alone.

    Raises:
        ValueError: If the file lacks ``response``/``triggers``, a trigger lacks ``type``, or a
            natural-sound trigger lacks ``param.duration`` or ``time``.
    """
    mat = load_mat(path)
    response = field(mat, "response", path)
    sf = as_float(field(response, "sf", path))
    trace = as_vector(field(response, "trace", path)) * as_float(field(response, "scale", path))
    per_repeat = detrend == "baseline_per_repeat"
    if not per_repeat:
        trace = detrend_trace(trace, sf, detrend)
    out = []
    for trig in items(field(mat, "triggers", path)):
        if as_str(field(trig, "type", path)).lower() not in NATURAL_TYPES:
            continue
        param = field(trig, "param", path)
        duration = as_float(field(param, "duration", path))
        onset = round(as_float(field(trig, "time", path))) - 1
        n = round(duration * sf / 1000.0)
        stim_file = as_str(trig.get("file", "")).replace("\\", "/").lstrip("/")  # empty: match the description
        desc = as_str(param.get("description", "")) if isinstance(param, dict) else ""
        piece = detrend_trace(trace[onset : onset + n], sf, detrend) if per_repeat else trace[onset : onset + n]
        out.append(Repeat(stim_file, desc, duration, piece, sf, Path(path).name))
    return out


def read_wehr_stimulus(path: str | os.PathLike[str]) -> tuple[np.ndarray, float, str]:
    """``(samples, sf, description)`` of a Wehr stimulus file."""
    stim = field(load_mat(path), "stimulus", path)
    param = field(stim, "param", path)
    return as_vector(field(stim, "samples", path)), as_float(field(param, "sf", path)), as_str(param.get("description"))


def stimulus_descriptions(stimuli: Path) -> dict[str, str]:
    """``{description: path relative to stimuli}`` of every readable stimulus file below ``stimuli``."""
    out: dict[str, str] = {}
    for path in sorted(stimuli.rglob("*.mat")):
        try:
            desc = read_wehr_stimulus(path)[2].strip()
        except ValueError:
            continue
        out.setdefault(desc, path.relative_to(stimuli).as_posix())
    return out


def apply_ramp(x: np.ndarray, audio_fs: float, ramp_ms: float) -> np.ndarray:
    """Multiply the first and last ``ramp_ms`` by a raised-cosine (cos²) onset and offset ramp.

    Example:
        >>> apply_ramp(np.ones(6), 1000.0, 3.0).round(2).tolist()
        [0.0, 0.25, 0.75, 0.75, 0.25, 0.0]
    """
    n = min(round(ramp_ms * audio_fs / 1000.0), x.shape[0] // 2)
    if n == 0:
        return x
    ramp = np.sin(0.5 * np.pi * np.arange(n) / n) ** 2
    out = x.copy()
    out[:n] *= ramp
    out[x.shape[0] - n :] *= ramp[::-1]
    return out


def logfreq_spectrogram(
    x: np.ndarray, audio_fs: float, dt_ms: float, n_frames: int, f_min_hz: float, f_max_hz: float, bands_per_octave: int
) -> np.ndarray:
    """``20 log10 |X|`` (floored at -120 dB) of a causal Hamming STFT with a ``2 dt`` window at log-spaced
    frequencies ``f_min_hz * 2**(k / bands_per_octave) <= f_max_hz``: the published AC1 recipe, end-aligned."""
    n_bands = int(np.floor(bands_per_octave * np.log2(f_max_hz / f_min_hz) + 1e-9)) + 1
    freqs = f_min_hz * 2.0 ** (np.arange(n_bands) / bands_per_octave)
    window_len = max(round(2 * dt_ms * audio_fs / 1000.0), 2)
    mag = stft_magnitude(x, audio_fs, dt_ms, n_frames, window_len, window="hamming", freqs_hz=freqs)
    return 20.0 * np.log10(np.maximum(mag, 1e-6))


@dataclass(frozen=True)
class RepeatGate:
    """Thresholds of the published pipeline's per-repeat artefact rejection (membrane potential, mV).

    A repeat is rejected, in this order, when its largest absolute value exceeds ``max_abs_mv``
    (``'range'``); when more than ``max_step_fraction`` of its samples, after a ``step_median_ms``
    running median, lie more than ``step_mv`` from that filtered trace's median (``'step'``); or, with
    at least 3 repeats, when its Pearson correlation with the median of the other repeats (all cut to
    the shortest repeat) is below ``min_correlation`` (``'xcorr'``).
    """

    max_abs_mv: float = 150.0
    step_mv: float = 30.0
    step_median_ms: float = 5.0
    max_step_fraction: float = 5e-3
    min_correlation: float = 0.05


def gate_repeat_traces(traces: list[np.ndarray], sf: float, gate: RepeatGate = RepeatGate()) -> list[str]:
    """Why each repeat of one stimulus is kept or rejected: ``'kept'``, ``'range'``, ``'step'`` or ``'xcorr'``.

    Args:
        traces: The (detrended) repeats in mV, 1-D, possibly of slightly different lengths.
        sf: Sample rate in Hz.
        gate: The thresholds.

    Returns:
        One reason per repeat.
    """
    ndimage = require("scipy.ndimage", extra="data", purpose="gating membrane-potential repeats")
    arrays = [np.asarray(t, dtype=np.float64) for t in traces]
    shortest = min((a.size for a in arrays), default=0)
    corr = np.ones(len(arrays))
    if len(arrays) >= 3 and shortest > 0 and gate.min_correlation > 0:
        stack = np.stack([a[:shortest] for a in arrays])
        for i in range(len(arrays)):
            ref = np.median(np.delete(stack, i, axis=0), axis=0)
            a, b = stack[i] - stack[i].mean(), ref - ref.mean()
            corr[i] = float(a @ b) / (float(np.sqrt(a @ a) * np.sqrt(b @ b)) + 1e-12)
    width = max(1, round(gate.step_median_ms * sf / 1000.0))
    reasons = []
    for i, a in enumerate(arrays):
        if a.size == 0 or np.nanmax(np.abs(a)) > gate.max_abs_mv:
            reasons.append("range")
            continue
        step = 0.0
        if a.size >= 3:
            filtered = ndimage.median_filter(a, size=width, mode="reflect") if 1 < width <= a.size else a
            step = float(np.mean(np.abs(filtered - np.median(filtered)) > gate.step_mv))
        if step > gate.max_step_fraction:
            reasons.append("step")
        elif corr[i] < gate.min_correlation:
            reasons.append("xcorr")
        else:
            reasons.append("kept")
    return reasons
