"""Peak memory of a ridge fit streamed over a long recording: 10 h at 100 Hz, 128 bands x 30 lags.

A synthetic recording (smoothed noise in 128 bands, 8 responses that are a random
linear filter of it plus noise) is generated chunk by chunk and never held whole;
:class:`deepSTRF.estimators.LaggedMoments` accumulates the lagged sums, then one ridge
solve (one Cholesky factorisation of the 3840 x 3840 Gram) gives the filters. The
process's peak resident memory (``ru_maxrss``) is reported with what the same data
would take held in memory: the recording itself and its lagged design.

Usage::

    python benchmarks/bench_ridge_stream.py                  # 10 hours
    python benchmarks/bench_ridge_stream.py --hours 0.5      # same peak memory, 20x less time
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from deepSTRF.estimators import LaggedMoments
from deepSTRF.estimators._solver import PenaltyPath, limit_threads, solver_threads


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0, help="recording length (default: %(default)s)")
    parser.add_argument("--bands", type=int, default=128, help="stimulus features (default: %(default)s)")
    parser.add_argument("--lags", type=int, default=30, help="lags in bins (default: %(default)s)")
    parser.add_argument("--outputs", type=int, default=8, help="responses (default: %(default)s)")
    parser.add_argument("--chunk", type=int, default=8192, help="bins per chunk (default: %(default)s)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    n_bins = int(args.hours * 3600 * 100)
    gen = torch.Generator().manual_seed(0)
    kernel = torch.randn(args.outputs, args.bands * args.lags, generator=gen, dtype=torch.float64) / 60
    threads = solver_threads("auto")
    start_rss = rss_mb()
    start = time.perf_counter()
    with limit_threads(threads):
        moments = LaggedMoments(args.bands, args.lags, args.outputs)
        state = torch.zeros(args.bands, dtype=torch.float64)
        context = torch.zeros(args.lags - 1, args.bands, dtype=torch.float64)
        done = 0
        while done < n_bins:
            size = min(args.chunk, n_bins - done)
            noise = torch.randn(size, args.bands, generator=gen, dtype=torch.float64)
            x = torch.empty_like(noise)
            for t in range(0, size, 512):  # AR(1) smoothing, in blocks to stay fast
                block = noise[t : t + 512]
                decay = 0.8 ** torch.arange(1, block.shape[0] + 1, dtype=torch.float64)[:, None]
                csum = torch.cumsum(block / decay, 0) * decay
                x[t : t + 512] = csum + decay * state
                state = x[t + block.shape[0] - 1]
            ext = torch.cat([context, x])
            lagged = ext.unfold(0, args.lags, 1).flip(-1).reshape(size, -1)  # (size, F * L), this chunk only
            y = lagged @ kernel.T + torch.randn(size, args.outputs, generator=gen, dtype=torch.float64)
            context = ext[-(args.lags - 1) :]
            moments.update(x, y)
            done += size
        moments.end_trial()
        stream_s = time.perf_counter() - start
        path = PenaltyPath(moments.gram())
        full = path.solve(moments.cross_products(), (1e-3 * path.mean_eigenvalue)[None])[0]
    total_s = time.perf_counter() - start
    recovered = torch.corrcoef(torch.stack([full[:-1].T.flatten(), kernel.flatten()]))[0, 1]
    dim = args.bands * args.lags
    row = {
        "hours": args.hours,
        "bins": n_bins,
        "features_x_lags": dim,
        "threads": threads,
        "stream_seconds": stream_s,
        "total_seconds": total_s,
        "peak_rss_mb": rss_mb(),
        "rss_before_mb": start_rss,
        "recording_in_memory_mb": n_bins * (args.bands + args.outputs) * 8 / 2**20,
        "lagged_design_mb": n_bins * dim * 8 / 2**20,
        "gram_mb": (dim + 1) ** 2 * 8 / 2**20,
        "filter_correlation_with_truth": float(recovered),
    }
    print(
        f"{args.hours:g} h at 100 Hz ({n_bins} bins), {args.bands} bands x {args.lags} lags = {dim} features, "
        f"{args.outputs} outputs, chunks of {args.chunk}, {threads} thread(s)"
    )
    print(
        f"peak RSS {row['peak_rss_mb']:.0f} MB (after imports {start_rss:.0f} MB); one Gram matrix "
        f"{row['gram_mb']:.0f} MB; the recording held whole would be {row['recording_in_memory_mb']:.0f} MB and "
        f"its lagged design {row['lagged_design_mb'] / 1024:.0f} GB"
    )
    print(
        f"time: {stream_s:.0f} s streaming, {total_s:.0f} s with the solve; "
        f"filter correlation with the truth {row['filter_correlation_with_truth']:.4f}"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(row, handle, indent=2)


if __name__ == "__main__":
    main()
