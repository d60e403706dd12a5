"""Time and memory of dynamic STRFs of a StateNet over a 5 s stimulus.

Setting: the default ``StateNet`` (GRU, locally connected front layer) with F = 34 bands
and N = 8 neurons, a 5 s stimulus at 10 ms bins (T = 500 frames), dSTRFs of every neuron
at every frame (4000 Jacobians) with a window of 50 lags (500 ms), 2 threads. Each chunk
size runs in a fresh subprocess, timed once after one untimed warm-up call on a 0.5 s
stimulus; peak memory is the growth of the process's high-water resident set
(``ru_maxrss``) during the timed call, allocator caching included. For comparison, the same
for the ``LinearNonlinear`` model, and one eval forward of the StateNet on the stimulus.

Cost model: one chunk of C (neuron, time) pairs is a forward and a backward pass of C copies
of the stimulus up to the chunk's latest frame, so the time grows with N x T^2 / 2 frames
and the memory with C x T.

Usage::

    python benchmarks/bench_dstrf.py
    python benchmarks/bench_dstrf.py --chunks 32 --json dstrf.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from _timing import _maxrss_mb

F, N, T, WINDOW, DT_MS = 34, 8, 500, 50, 10.0


def measure(model_name: str, chunk: int, threads: int) -> dict[str, Any]:
    """dSTRFs of every neuron at every frame, in this process."""
    import torch

    from deepSTRF.models.audio import LinearNonlinear, StateNet
    from deepSTRF.models.interpret import dynamic_strfs

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model_name == "statenet":
        model = StateNet(n_frequency_bands=F, out_neurons=N)
    else:
        model = LinearNonlinear(n_frequency_bands=F, temporal_window_size=WINDOW, out_neurons=N)
    stimulus = torch.randn(F, T)
    dynamic_strfs(model, stimulus[:, :50], window=WINDOW, chunk_size=chunk)  # warm-up
    with torch.no_grad():
        start = time.perf_counter()
        model.eval()(stimulus[None, None])
        forward_s = time.perf_counter() - start
    base = _maxrss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    result = dynamic_strfs(model, stimulus, window=WINDOW, chunk_size=chunk)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "model": model_name,
        "chunk": chunk,
        "seconds": wall,
        "cpu_seconds": cpu,
        "ms_per_dstrf": 1e3 * wall / (N * T),
        "peak_mb": _maxrss_mb() - base,
        "output_mb": result.dstrfs.numel() * result.dstrfs.element_size() / 2**20,
        "eval_forward_ms": 1e3 * forward_s,
    }


def _run_isolated(model_name: str, chunk: int, threads: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", model_name, "--chunks", str(chunk), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"model": model_name, "chunk": chunk, "error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", default="32,128", help="comma-separated chunk sizes (pairs per pass)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chunks = [int(c) for c in args.chunks.split(",")]
    if args.worker is not None:
        print(json.dumps(measure(args.worker, chunks[0], args.threads)))
        return
    print(
        f"F={F}, N={N}, T={T} frames ({T * DT_MS / 1000:g} s at {DT_MS:g} ms), window {WINDOW}, {args.threads} threads"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    header = f"{'model':<10}{'chunk':>7}{'seconds':>10}{'CPU s':>8}{'ms/dSTRF':>10}{'peak MB':>9}"
    header += f"{'output MB':>11}{'fwd ms':>8}"
    print(header)
    print("-" * len(header))
    results = []
    for model_name, sizes in (("statenet", chunks), ("ln", chunks[-1:])):
        for chunk in sizes:
            r = _run_isolated(model_name, chunk, args.threads)
            results.append(r)
            if "error" in r:
                print(f"{model_name:<10}{chunk:>7}  error: {r['error']}")
                continue
            print(
                f"{model_name:<10}{chunk:>7}{r['seconds']:>10.1f}{r['cpu_seconds']:>8.1f}{r['ms_per_dstrf']:>10.2f}"
                f"{r['peak_mb']:>9.0f}"
                f"{r['output_mb']:>11.1f}{r['eval_forward_ms']:>8.1f}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"setting": {"F": F, "N": N, "T": T, "window": WINDOW}, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
