"""Cost of the stimulus check every model runs on each call, on a small Linear eval forward.

``model(x)`` runs :meth:`NeuralModel.check_stimulus` then the forward pass;
``nn.Module.__call__(model, x)`` is the same call without the check; the check is also
timed alone (it reads shapes and dtype only, no device synchronisation), as is the
opt-in finiteness check (``check_finite``). Times are process CPU time, interleaved
blocks, on one thread.

Run from the repository root: ``python benchmarks/bench_input_checks.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from deepSTRF.models.audio.strf_models import Linear


def _cpu_us(fn: Callable[[], object], calls: int) -> float:
    """Process CPU time of one call in µs, averaged over ``calls`` (steadier than wall time on a shared machine)."""
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls per timed block")
    parser.add_argument("--blocks", type=int, default=15, help="interleaved blocks per variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    shape = (1, 1, 16, 50)
    model = Linear(n_frequency_bands=shape[2], temporal_window_size=20, out_neurons=8).eval()
    x = torch.randn(shape)

    def finite() -> object:
        with model.finite_checks():
            return model(x)

    variants: dict[str, Callable[[], object]] = {
        "forward without the check": lambda: nn.Module.__call__(model, x),
        "forward with the check (default)": lambda: model(x),
        "forward with check_finite": finite,
        "check_stimulus alone": lambda: model.check_stimulus(x),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with torch.no_grad():
        for fn in variants.values():
            _cpu_us(fn, 20)  # warm-up
        for _ in range(args.blocks):  # interleaved: the shared machine drifts
            for name, fn in variants.items():
                times[name].append(_cpu_us(fn, args.calls))
    bare = statistics.median(times["forward without the check"])
    print(f"Linear eval forward, input {shape}, 1 thread; CPU time per call, median (min) of {args.blocks} blocks")
    print("of", args.calls, "calls\n")
    print("| call | µs per call | vs forward without the check |")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        med = statistics.median(values)
        share = "" if name == "forward without the check" else f"{100 * med / bare:.1f} %"
        print(f"| {name} | {med:.1f} ({min(values):.1f}) | {share} |")


if __name__ == "__main__":
    main()
