"""The timing loop shared by the benchmark scripts (imported as ``_timing`` from this folder)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_calls(fn: Callable[[], Any], warmup: int, repeats: int) -> dict[str, float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns:
        Seconds: ``median`` and ``min`` wall-clock time, and ``cpu``, the median process CPU
        time of a call (all threads together; steadier than wall time on a shared machine).
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"median": statistics.median(wall), "min": min(wall), "cpu": statistics.median(cpu)}
