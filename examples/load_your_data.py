"""Bring your own data: NumPy arrays and an NWB file as deepSTRF datasets.

Part 1 builds a dataset from plain arrays of different lengths, with a neuron that did
not hear every stimulus, neuron metadata for selection, and an HDF5 round trip.
Part 2 writes a small NWB file (units with spike times, a table of stimulus
presentations) and reads it back with ``from_nwb``, which bins the spikes of each
presentation into half-open bins.

Writes ``dataset_summary.json`` and ``responses.png``.

    python examples/load_your_data.py [--quick] [--out DIR]
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from _common import parse_args, save_figure, write_json

from deepSTRF.datasets import from_arrays, from_nwb, load_hdf5, neural_collate, save_hdf5
from deepSTRF.utils.plotting import plot_responses

DT_MS = 5.0


def arrays_dataset(rng: np.random.Generator, n_stimuli: int, n_bands: int) -> dict:
    """Part 1: ragged arrays -> NeuralDataset, selection by metadata, HDF5 round trip."""
    lengths = rng.integers(150, 300, n_stimuli)  # time bins of each stimulus
    stims = [rng.random((n_bands, t)) for t in lengths]  # (F, T_s) spectrograms
    responses = []
    for s, t in enumerate(lengths):
        row = [rng.poisson(1.0, (8, t)).astype(float) for _ in range(3)]  # 3 neurons x 8 trials
        row.append(rng.poisson(2.0, (4, t)).astype(float) if s % 2 == 0 else None)  # heard only even stimuli
        responses.append(row)
    areas = [{"area": "A1"}, {"area": "A1"}, {"area": "AAF"}, {"area": "A1"}]
    data = from_arrays(stims, responses, dt_ms=DT_MS, nrn_meta=areas, name="my-recording")
    a1 = data.subset(neurons={"area": "A1"})
    batch = neural_collate([data[0], data[1]])
    return {
        "dataset": repr(data),
        "valid_pairs": data.valid_mask,
        "trials_per_pair": data.n_trials,
        "a1_neurons": a1.n_neurons,
        "batch_shapes": {k: list(v.shape) for k, v in batch.items() if isinstance(v, torch.Tensor)},
        "data": data,
    }


def write_nwb(path: Path, rng: np.random.Generator, spectrograms: dict[str, np.ndarray], repeats: int) -> None:
    """A small NWB file: 3 units, each stimulus presented ``repeats`` times, 0.5 s apart."""
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(
        session_description="example session", identifier="example-0", session_start_time=datetime.now(timezone.utc)
    )
    nwb.add_trial_column(name="stimulus_name", description="which sound was played")
    onsets, names, clock = [], [], 1.0
    for _ in range(repeats):
        for name, spec in spectrograms.items():
            duration = spec.shape[-1] * DT_MS / 1000
            nwb.add_trial(start_time=clock, stop_time=clock + duration, stimulus_name=name)
            onsets.append(clock)
            names.append(name)
            clock += duration + 0.5
    nwb.add_unit_column(name="area", description="recording area")
    for unit in range(3):
        # spikes locked to the loudness of band `unit` of each stimulus, plus background spikes
        spikes = [rng.uniform(0, clock, 200)]
        for onset, name in zip(onsets, names):
            drive = spectrograms[name][unit * 4]
            bins = np.flatnonzero(rng.random(drive.size) < 0.4 * drive)
            spikes.append(onset + (bins + rng.random(bins.size)) * DT_MS / 1000)
        nwb.add_unit(spike_times=np.sort(np.concatenate(spikes)), area="A1" if unit < 2 else "MGB")
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def main() -> None:
    args = parse_args("load_your_data", __doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    summary = arrays_dataset(rng, n_stimuli=4 if args.quick else 12, n_bands=16)
    data = summary.pop("data")
    print(data)
    save_hdf5(data, args.out / "my_recording.h5")
    again = load_hdf5(args.out / "my_recording.h5")
    summary["hdf5_round_trip_equal"] = all(
        torch.equal(torch.nan_to_num(again[s]["responses"], -1.0), torch.nan_to_num(data[s]["responses"], -1.0))
        for s in range(len(data))
    )

    spectrograms = {f"sound_{k}": rng.random((16, 200)) for k in range(2 if args.quick else 5)}
    write_nwb(args.out / "session.nwb", rng, spectrograms, repeats=5 if args.quick else 10)
    recorded = from_nwb(args.out / "session.nwb", dt_ms=DT_MS, stimuli=spectrograms)
    print(recorded)
    summary["nwb_dataset"] = repr(recorded)
    summary["nwb_neuron_metadata"] = recorded.nrn_meta
    summary["nwb_stimulus_metadata"] = recorded.stim_meta
    write_json(args.out / "dataset_summary.json", summary)

    item = recorded[0]
    fig = plot_responses(item["stims"], item["responses"], dt_ms=DT_MS, neuron=0,
                         title="NWB unit 0: responses to sound_0")  # fmt: skip
    save_figure(fig, args.out / "responses.png")


if __name__ == "__main__":
    main()
