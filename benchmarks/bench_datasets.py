"""Speed of the dataset layer: simulated data, items, batches, loaders and file formats.

Every row is the median over ``--repeats`` runs (after one untimed warm-up run) with
``--threads`` torch threads. Rows:

- ``SimulatedDataset()``: the default simulated dataset (16 neurons, 48 stimuli of 2 s,
  32 bands, 5 ms bins), which should build in well under 2 s;
- the same in waveform mode (16 kHz audio) and with ripple stimuli;
- one ``dataset[s]`` item, ``neural_collate`` of 8 items, and one pass of a
  ``DataLoader`` (batch 8) over the dataset with 0 and 2 workers;
- ``subset`` of half the neurons and stimuli; normalisation fitted on the training split;
- ``save_hdf5`` and ``load_hdf5`` of the default dataset.

Usage::

    python benchmarks/bench_datasets.py
    python benchmarks/bench_datasets.py --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from deepSTRF.datasets import (
    SimulatedDataset,
    load_hdf5,
    neural_collate,
    normalize_responses,
    save_hdf5,
    standardize_stimuli,
)

BUILD_BUDGET_S = 2.0


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in seconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_loader(data: SimulatedDataset, workers: int) -> None:
    for _ in DataLoader(data, batch_size=8, collate_fn=neural_collate, num_workers=workers):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = SimulatedDataset()
    train = data.splits["train"]
    items = [data[s] for s in range(8)]
    rows: list[tuple[str, float, str]] = []

    def add(name: str, fn: Callable[[], object], note: str = "", repeats: int = args.repeats) -> float:
        seconds = timed(fn, repeats)
        rows.append((name, seconds, note))
        return seconds

    build = add("SimulatedDataset() [default]", SimulatedDataset, f"budget {BUILD_BUDGET_S:.0f} s")
    add("SimulatedDataset(audio_fs=16000)", lambda: SimulatedDataset(audio_fs=16000), "waveform mode")
    add("SimulatedDataset(stimulus='ripple')", lambda: SimulatedDataset(stimulus="ripple"))
    add("dataset[s]", lambda: data[5], f"N={data.n_neurons}, R<=20, T=400")
    add("neural_collate(8 items)", lambda: neural_collate(items))
    add("DataLoader pass, 0 workers", lambda: run_loader(data, 0), f"{len(data)} stimuli, batch 8")
    add(
        "DataLoader pass, 2 workers", lambda: run_loader(data, 2), "includes worker start-up", max(1, args.repeats // 2)
    )
    add("subset(half stimuli, half neurons)", lambda: data.subset(stimuli=slice(0, 24), neurons=slice(0, 8)))
    add("standardize_stimuli(train)", lambda: standardize_stimuli(data, train))
    add("normalize_responses(train)", lambda: normalize_responses(data, train))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sim.h5"
        add("save_hdf5 (gzip)", lambda: save_hdf5(data, path))
        add("load_hdf5", lambda: load_hdf5(path))

    width = max(len(name) for name, _, _ in rows)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} runs\n")
    print(f"| {'operation'.ljust(width)} | time (ms) | note |")
    print(f"| {'-' * width} | ---: | --- |")
    for name, seconds, note in rows:
        print(f"| {name.ljust(width)} | {seconds * 1000:9.1f} | {note} |")
    verdict = "within" if build < BUILD_BUDGET_S else "OVER"
    print(f"\ndefault SimulatedDataset build: {build:.2f} s ({verdict} the {BUILD_BUDGET_S:.0f} s budget)")


if __name__ == "__main__":
    main()
