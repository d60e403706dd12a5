"""How close the Linear STRF model's convolution runs to this CPU's float32 peak.

Times, in one process with the allocator tuned (so no page faults on either side):

- the matrix-product peak: a 2048 x 2048 x 2048 float32 ``torch.mm``;
- the Linear model's STRF convolution at the zoo benchmark's shape (batch 8, 34 bands,
  999 frames, 73 neurons, 9 lags), forward alone and forward plus weight gradient (a
  training step's convolution work), written both ways: the published library's (pad the
  input, valid 2-D convolution) and ours (2-D convolution padded inside the kernel);
- the same forward by the convolution theorem (FFTs along time, one complex matrix
  product per frequency bin), the one formulation with less arithmetic;
- from them, the arithmetic rate of each (2 x 34 x 9 x 73 x 999 x 8 = 0.357 GFLOP a
  forward) as a fraction of the peak, and the shortest time the same arithmetic could
  take at the peak.

That last figure is the bound a faster library can reach without doing less arithmetic,
which is what an "eval 1.5x / training 2x the published" target has to be compared with.

Usage (from the repository root)::

    python benchmarks/bench_strf_bound.py [--threads 2] [--repeats 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from _timing import time_calls

B, F, T, N, LAGS = 8, 34, 999, 73, 9
FORWARD_FLOP = 2 * F * LAGS * N * T * B


def _median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 10) -> tuple[float, float]:
    """Median and minimum of ``fn``'s wall time in milliseconds (the shared timing loop)."""
    times = time_calls(fn, warmup, repeats)
    return 1e3 * times["median"], 1e3 * times["min"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per measurement")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    import torch
    from torch.nn import functional as nnf

    from deepSTRF.utils.performance import tune_allocator

    tune_allocator()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    mm_ms, mm_min = _median_ms(lambda: torch.mm(a, b), max(10, args.repeats // 5), warmup=3)
    peak = 2 * 2048**3 / (mm_min * 1e-3) / 1e9  # GFLOP/s, best call

    x = torch.rand(B, 1, F, T)
    weight = torch.randn(N, 1, F, LAGS, requires_grad=True)
    bias = torch.randn(N, requires_grad=True)

    def published() -> torch.Tensor:
        return nnf.conv2d(nnf.pad(x, (LAGS - 1, 0)), weight, bias)

    def ours() -> torch.Tensor:
        return nnf.conv2d(x, weight, bias, padding=(0, LAGS - 1))[..., :T]

    rows: list[dict[str, Any]] = []
    for name, conv in (("published formulation", published), ("ours", ours)):  # direct convolution

        def forward(conv: Callable[[], torch.Tensor] = conv) -> None:
            with torch.no_grad():
                conv()

        def forward_backward(conv: Callable[[], torch.Tensor] = conv) -> None:
            weight.grad = bias.grad = None
            conv().sum().backward()

        phases = (("forward", forward, FORWARD_FLOP), ("forward + weight gradient", forward_backward, 2 * FORWARD_FLOP))
        for phase, fn, flop in phases:
            median, best = _median_ms(fn, args.repeats)
            rows.append(
                {
                    "formulation": name,
                    "phase": phase,
                    "median_ms": median,
                    "min_ms": best,
                    "gflops_at_min": flop / (best * 1e-3) / 1e9,
                    "fraction_of_peak": flop / (best * 1e-3) / 1e9 / peak,
                    "time_at_peak_ms": flop / (peak * 1e9) * 1e3,
                }
            )

    # The one way to do less arithmetic: the convolution theorem. Time-domain FFTs of the
    # input rows and of the (time-reversed) kernels, one complex product per frequency bin
    # summing the bands, and an inverse FFT: about 0.1 GFLOP instead of 0.36.
    n_fft = 1024
    with torch.no_grad():
        reversed_kernel = weight.detach().flip(-1).reshape(N, F, LAGS)

        def fft_forward() -> torch.Tensor:
            spectrum = torch.fft.rfft(x.reshape(B, F, T), n=n_fft).permute(2, 0, 1).contiguous()  # (bins, B, F)
            kernels = torch.fft.rfft(reversed_kernel, n=n_fft).permute(2, 1, 0).contiguous()  # (bins, F, N)
            product = torch.bmm(spectrum, kernels).permute(1, 2, 0).contiguous()  # (B, N, bins)
            out = torch.fft.irfft(product, n=n_fft)[..., :T]
            return out + bias.detach().view(1, N, 1)

        error = (fft_forward() - ours().detach().reshape(B, N, T)).abs().max().item()
        median, best = _median_ms(fft_forward, args.repeats)
        kernel_spectrum = torch.fft.rfft(reversed_kernel, n=n_fft).permute(2, 1, 0).contiguous()
        spectrum = torch.fft.rfft(x.reshape(B, F, T), n=n_fft).permute(2, 0, 1).contiguous()
        product_median, product_best = _median_ms(lambda: torch.bmm(spectrum, kernel_spectrum), args.repeats)
    rows.append(
        {
            "formulation": "FFT",
            "phase": "forward",
            "median_ms": median,
            "min_ms": best,
            "max_abs_error": error,
            "complex_product_median_ms": product_median,
            "complex_product_min_ms": product_best,
        }
    )

    print(f"{args.threads} threads; float32 matrix-product peak {peak:.0f} GFLOP/s (2048^3 mm: {mm_min:.1f} ms best)")
    print(
        f"{'formulation':<24}{'phase':<28}{'median ms':>10}{'min ms':>9}{'GFLOP/s':>9}{'of peak':>9}{'at peak ms':>12}"
    )
    for r in rows:
        line = f"{r['formulation']:<24}{r['phase']:<28}{r['median_ms']:>10.2f}{r['min_ms']:>9.2f}"
        if "gflops_at_min" in r:
            line += f"{r['gflops_at_min']:>9.0f}{r['fraction_of_peak']:>9.0%}{r['time_at_peak_ms']:>12.2f}"
        else:
            line += (
                f"   (of which the complex products alone {r['complex_product_min_ms']:.2f} ms; "
                f"largest difference from the direct convolution {r['max_abs_error']:.1e})"
            )
        print(line)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "peak_gflops": peak, "mm_ms": mm_ms, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
