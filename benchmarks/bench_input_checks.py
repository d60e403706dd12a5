"""Cost of the stimulus check every model runs on each call, on a small Linear eval forward.

``model(x)`` runs :meth:`NeuralModel.check_stimulus` then the forward pass;
``nn.Module.__call__(model, x)`` is the same call without the check. The difference is
the check's cost (shapes and dtype only, no device synchronisation). The opt-in
finiteness check (``check_finite``) is timed too.

Run from the repository root: ``python benchmarks/bench_input_checks.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _timing import time_calls  # noqa: E402

from deepSTRF.models.audio.strf_models import Linear  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    shapes = {"small": (1, 1, 16, 50), "medium": (8, 1, 34, 999)}
    print("| input (B, 1, F, T) | forward without check (µs) | with check (µs) | overhead (µs) | overhead | "
          "with check_finite (µs) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, shape in shapes.items():
        model = Linear(n_frequency_bands=shape[2], temporal_window_size=20, out_neurons=8).eval()
        x = torch.randn(shape)
        repeats = args.repeats if name == "small" else max(5, args.repeats // 40)
        bare, checked, finite = [], [], []
        with torch.no_grad():
            for _ in range(args.rounds):  # interleaved rounds: the shared machine drifts
                bare.append(time_calls(lambda: nn.Module.__call__(model, x), 50, repeats)["median"])
                checked.append(time_calls(lambda: model(x), 50, repeats)["median"])
                model.check_finite = True
                finite.append(time_calls(lambda: model(x), 50, repeats)["median"])
                model.check_finite = False
        b, c, f = (statistics.median(v) * 1e6 for v in (bare, checked, finite))
        print(f"| {name} {shape} | {b:.1f} | {c:.1f} | {c - b:.1f} | {100 * (c - b) / b:.1f} % | {f:.1f} |")
    check = Linear(n_frequency_bands=16).check_stimulus
    x = torch.randn(shapes["small"])
    alone = statistics.median(time_calls(lambda: check(x), 100, args.repeats)["median"] for _ in range(args.rounds))
    print(f"\n`check_stimulus` alone: {alone * 1e6:.2f} µs per call")


if __name__ == "__main__":
    main()
