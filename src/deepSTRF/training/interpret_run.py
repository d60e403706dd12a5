"""Dynamic STRFs of a saved model for one stimulus of its dataset: what ``deepstrf dstrf`` does.

:func:`run_dstrfs` loads the model of a run folder (or a checkpoint folder, or a Hub id),
rebuilds the run's dataset, picks a stimulus and computes the dSTRFs and the nonlinearity
indices; :func:`write_dstrfs` writes them to a folder.

Example:
    >>> import tempfile
    >>> from deepSTRF.models.audio import LinearNonlinear
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = LinearNonlinear(n_frequency_bands=32, temporal_window_size=5, out_neurons=2).save_pretrained(
    ...         f"{tmp}/m"
    ...     )
    ...     found = run_dstrfs(f"{tmp}/m", dataset_kwargs={"n_neurons": 2, "n_stimuli": 6, "duration_ms": 300.0})
    ...     files = write_dstrfs(found, f"{tmp}/out", plots=False)
    >>> found.result.dstrfs.shape, sorted(p.name for p in files)
    (torch.Size([2, 60, 32, 5]), ['dstrfs.safetensors', 'indices.json'])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from deepSTRF.models.audio.audio_model import AudioEncodingModel
from deepSTRF.models.interpret import DynamicSTRFs, dynamic_strfs, nonlinearity_indices
from deepSTRF.models.neural_model import NeuralModel
from deepSTRF.training.evaluation import resolve_run
from deepSTRF.training.results import listed
from deepSTRF.training.run_config import load_dataset
from deepSTRF.utils.plotting import plot_dstrf_strip, plot_nonlinearity_indices

__all__ = ["RunDSTRFs", "run_dstrfs", "write_dstrfs"]


@dataclass
class RunDSTRFs:
    """dSTRFs of a saved model for one stimulus, with their indices and where they come from.

    Attributes:
        result: The :class:`~deepSTRF.models.interpret.DynamicSTRFs`.
        indices: ``{'gain_change', 'temporal_hold', 'shape_change'}``, each ``(N_sel,)``.
        checkpoint: The checkpoint loaded.
        dataset: Dataset name.
        stimulus: Index of the stimulus in the dataset.
        stimulus_name: Its name in the dataset's metadata (``''`` if none).
        dt_ms: Bin width of the dataset in ms.
        frequencies_hz: Band centre frequencies when the dataset has them.
    """

    result: DynamicSTRFs
    indices: dict[str, torch.Tensor]
    checkpoint: str
    dataset: str
    stimulus: int
    stimulus_name: str
    dt_ms: float
    frequencies_hz: list[float] | None


def _pick_stimulus(data: Any, stimulus: int | str | None, record: dict[str, Any], same: bool) -> int:
    names = [str(data[s]["stim_meta"].get("name", "")) for s in range(len(data))]
    if stimulus is None:
        test = record.get("split", {}).get("test") if same else None
        test = test or (getattr(data, "splits", None) or {}).get("test") or [0]
        return int(test[0])
    if isinstance(stimulus, str) and not stimulus.isdigit():
        if stimulus not in names:
            raise ValueError(f"`stimulus` must be an index or a stimulus name of the dataset, got {stimulus!r}")
        return names.index(stimulus)
    index = int(stimulus)
    if not 0 <= index < len(data):
        raise ValueError(f"`stimulus` must be in [0, {len(data)}), got {index}")
    return index


def run_dstrfs(
    checkpoint: str | Path,
    *,
    dataset: str | None = None,
    dataset_kwargs: dict[str, Any] | None = None,
    stimulus: int | str | None = None,
    window: int | None = None,
    neurons: Sequence[int] | None = None,
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 32,
    device: str | torch.device | None = None,
) -> RunDSTRFs:
    """Load a saved model and its dataset, and compute the dSTRFs for one stimulus.

    Args:
        checkpoint: Run folder written by ``deepstrf fit``, checkpoint folder or Hub id.
        dataset: Dataset name (default: the run's, else ``'simulated'``).
        dataset_kwargs: Dataset arguments (default: the run's when the dataset is the run's).
        stimulus: Stimulus index or name; default the first test stimulus of the run (or of
            the dataset's canonical split).
        window: Lags per dSTRF (default: the model's ``T``).
        neurons: Neuron indices (default: all).
        start: First time bin.
        stop: One past the last time bin (default: the stimulus length).
        chunk_size: (neuron, time) pairs per batched pass; bounds the memory.
        device: Device to compute on (default: CPU).

    Returns:
        A :class:`RunDSTRFs`.

    Raises:
        TypeError: If the checkpoint does not hold an audio encoding model.
        ValueError: If the stimulus, the time range or another argument is out of range.
        FileNotFoundError: If the checkpoint does not exist.
    """
    path, record = resolve_run(checkpoint)
    recorded = record.get("config", {})
    name = dataset or recorded.get("dataset", "simulated")
    same = name == recorded.get("dataset")
    kwargs = dict(dataset_kwargs or {}) if dataset_kwargs or not same else dict(recorded.get("dataset_kwargs", {}))
    data = load_dataset(name, kwargs)
    model = NeuralModel.from_pretrained(path)
    if not isinstance(model, AudioEncodingModel):
        raise TypeError(f"the checkpoint must hold an AudioEncodingModel, got {type(model).__name__}")
    model = model.to(torch.device(device) if device is not None else torch.device("cpu"))
    index = _pick_stimulus(data, stimulus, record, same)
    item = data[index]
    length = int(item["responses"].shape[-1])
    stop = length if stop is None else stop
    if not 0 <= start < stop <= length:
        raise ValueError(f"`start` and `stop` must satisfy 0 <= start < stop <= {length}, got {start} and {stop}")
    result = dynamic_strfs(
        model, item["stims"], window=window, times=range(start, stop), neurons=neurons, chunk_size=chunk_size
    )
    complete = int(result.complete.sum())
    if complete < 2:
        raise ValueError(
            f"the indices need >= 2 time points at or after window - 1 = {result.window - 1}; "
            f"got {stop - start} from {start}: lower `start` or raise `stop`"
        )
    freqs = getattr(data, "frequencies_hz", None)
    return RunDSTRFs(
        result=result,
        indices=nonlinearity_indices(result),
        checkpoint=str(path),
        dataset=name,
        stimulus=index,
        stimulus_name=str(item["stim_meta"].get("name", "")),
        dt_ms=float(data.dt_ms),
        frequencies_hz=None if freqs is None else [float(f) for f in torch.as_tensor(freqs)],
    )


def write_dstrfs(found: RunDSTRFs, out: str | Path, *, plots: bool = True, n_panels: int = 8) -> list[Path]:
    """Write ``dstrfs.safetensors``, ``indices.json`` and (with ``plots``) two figures to ``out``.

    ``dstrfs.safetensors`` holds ``dstrfs`` ``(N_sel, K, F, L)``, ``times``, ``neurons``,
    ``response`` and ``stimulus``; ``indices.json`` the per-neuron indices (NaN as null),
    their medians and the provenance. The figures are ``dstrf_strip.png`` (the first
    selected neuron) and ``indices.png`` (they need the ``plot`` extra).

    Returns:
        The paths written.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result = found.result
    tensors = {
        "dstrfs": result.dstrfs,
        "times": result.times,
        "neurons": result.neurons,
        "response": result.response,
        "stimulus": result.stimulus,
    }
    written = [folder / "dstrfs.safetensors", folder / "indices.json"]
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(written[0]))
    payload = {
        "checkpoint": found.checkpoint,
        "dataset": found.dataset,
        "stimulus": found.stimulus,
        "stimulus_name": found.stimulus_name,
        "dt_ms": found.dt_ms,
        "window": result.window,
        "times": [int(result.times[0]), int(result.times[-1]) + 1],
        "neurons": result.neurons.tolist(),
        "per_neuron": {k: listed(v) for k, v in found.indices.items()},
        "median": {k: listed(v.nanmedian()[None])[0] for k, v in found.indices.items()},
    }
    written[1].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if plots:
        strip = plot_dstrf_strip(result, 0, n_panels=n_panels, dt_ms=found.dt_ms, freqs_hz=found.frequencies_hz)
        strip.savefig(folder / "dstrf_strip.png", dpi=110)
        plot_nonlinearity_indices(found.indices).savefig(folder / "indices.png", dpi=110)
        written += [folder / "dstrf_strip.png", folder / "indices.png"]
    return written
