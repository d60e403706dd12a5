"""The timing loop shared by the benchmark scripts (imported as ``_timing`` from this folder)."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any


def time_calls(fn: Callable[[], Any], warmup: int, repeats: int) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns:
        Seconds: ``median`` and ``min`` wall-clock time, and ``cpu``, the median process CPU
        time of a call (all threads together; steadier than wall time on a shared machine);
        and ``faults``, the mean number of minor page faults of a call (memory the process
        had handed back to the system and touches again).
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / max(repeats, 1)
    return {"median": statistics.median(wall), "min": min(wall), "cpu": statistics.median(cpu), "faults": faults}


def _maxrss_mb() -> float:
    """High-water resident set size of this process in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_model(
    model: Any, x: Any, target: Any, loss_fn: Callable[[Any, Any], Any], warmup: int, repeats: int
) -> dict[str, Any]:
    """Time an eval forward and an Adam training step of ``model``, with the memory each adds.

    Evaluation runs first (its peak is the lower one). ``peak_eval_mb`` and
    ``peak_train_mb`` are the growth of the process's high-water resident set during
    each phase, allocator caching included.

    Returns:
        ``{"eval": time_calls(...), "train": time_calls(...), "peak_eval_mb", "peak_train_mb"}``.
    """
    import torch

    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x), target).backward()
        optimiser.step()

    def eval_forward() -> None:
        with torch.no_grad():
            model(x)

    base = _maxrss_mb()
    model.eval()
    evals = time_calls(eval_forward, warmup, repeats)
    after_eval = _maxrss_mb()
    model.train()
    trains = time_calls(train_step, warmup, repeats)
    return {
        "eval": evals,
        "train": trains,
        "peak_eval_mb": after_eval - base,
        "peak_train_mb": _maxrss_mb() - base,
    }
