"""Speed and memory of ICNet on 16 kHz audio against the published reference figures.

Setting (SPEC §9): 2 threads, batch 8, N = 73 neurons, 999 bins of 5 ms, so
T_audio = 79,920 samples at 16 kHz; default architecture (SincNet 48 x 64 taps,
five causal convolutions of 128 channels and 64 taps with strides [2, 2, 2, 2, 5],
a 64-channel bottleneck, linear readout and softplus).

- train step: forward, Poisson loss, backward and one Adam step;
- eval forward: one forward pass under ``torch.no_grad()`` in eval mode;
- the median over ``--repeats`` runs after ``--warmup`` untimed runs.

Three implementations of the same network are timed, each in a fresh subprocess:

- ``deepSTRF``: the library's ICNet; ``causal_conv1d`` chooses the overlap-save FFT
  for the 64-tap layers (all but SincNet at this size);
- ``direct``: the same with every causal convolution forced to ``method="direct"``
  (polyphase ``conv1d``, gradients computed by forward convolutions);
- ``plain``: every causal convolution computed the usual way (left padding, then a
  strided ``conv1d`` and PyTorch's own backward), as the published library does.

Each runs with glibc's default allocator and after
``deepSTRF.utils.performance.tune_allocator()`` ("tuned", as the ``deepstrf``
command runs): ICNet's activations are 100-300 MB, which glibc otherwise maps
afresh for every tensor and the kernel zeroes page by page.

Peak memory is the growth of the process's resident-set high-water mark
(``ru_maxrss``) during the eval runs and during the training runs (eval first).

The script also counts the multiply-accumulates (MACs) of the architecture and
prints the throughput each time implies: the training step costs about three
times the forward (input and weight gradients each cost one forward), which
bounds how fast a CPU can run it.

``--layers`` instead times each convolution of the encoder alone (forward, and
forward + backward) directly and by FFT, next to the cost model's prediction that
``causal_conv1d(method="auto")`` decides with.

Usage::

    python benchmarks/bench_icnet.py
    python benchmarks/bench_icnet.py --repeats 5 --json icnet.json
    python benchmarks/bench_icnet.py --implementations deepSTRF --allocators tuned
    python benchmarks/bench_icnet.py --layers
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from _timing import time_calls, time_model

AUDIO_FS, DT_MS, B, T_BINS, N = 16000, 5.0, 8, 999, 73
REFERENCE_TRAIN_S, REFERENCE_EVAL_S = 26.0, 5.5
IMPLEMENTATIONS = ("deepSTRF", "direct", "plain")
ALLOCATORS = ("default", "tuned")


def forward_macs(model: Any, t_audio: int, batch: int) -> dict[str, int]:
    """Multiply-accumulates of one forward pass, per stage of the encoder and readout."""
    encoder = model.wav2spec
    sinc = encoder.sincnet
    macs = {"sincnet": batch * t_audio * sinc.out_channels * sinc.kernel_size}
    length = t_audio
    for i, block in enumerate([*encoder.encoder, encoder.bottleneck]):
        conv = block.conv
        length //= block.stride
        name = f"conv{i + 1}" if i < len(encoder.encoder) else "bottleneck"
        macs[name] = batch * length * conv.out_channels * conv.in_channels * conv.kernel_size[0]
    macs["readout"] = batch * length * model.readout.in_features * model.readout.out_features
    return macs


def _plain_causal_conv1d(x: Any, weight: Any, bias: Any = None, stride: int = 1) -> Any:
    import torch.nn.functional as F

    return F.conv1d(F.pad(x, (weight.shape[-1] - stride, 0)), weight, bias, stride=stride)


def measure(implementation: str, allocator: str, repeats: int, warmup: int, threads: int) -> dict[str, Any]:
    """Time one implementation in this process and return its figures."""
    import functools

    import torch

    from deepSTRF.models.audio import icnet
    from deepSTRF.models.wav2spec import causal_conv1d, sincnet
    from deepSTRF.utils.performance import tune_allocator

    if allocator == "tuned":
        tune_allocator()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if implementation == "plain":
        icnet.causal_conv1d = sincnet.causal_conv1d = _plain_causal_conv1d  # type: ignore[assignment]
    elif implementation == "direct":
        direct = functools.partial(causal_conv1d, method="direct")
        icnet.causal_conv1d = sincnet.causal_conv1d = direct  # type: ignore[assignment]
    model = icnet.ICNet(AUDIO_FS, out_neurons=N, dt_ms=DT_MS)
    hop = model.wav2spec.hop
    x = 0.1 * torch.randn(B, 1, T_BINS * hop)
    target = torch.poisson(torch.full((B, N, 1, T_BINS), 0.5))
    poisson = lambda pred, y: torch.nn.functional.poisson_nll_loss(pred, y, log_input=False)  # noqa: E731
    times = time_model(model, x, target, poisson, warmup, repeats)
    return {
        "implementation": implementation,
        "allocator": allocator,
        "train_s": times["train"]["median"],
        "eval_s": times["eval"]["median"],
        "train_cpu_s": times["train"]["cpu"],
        "eval_cpu_s": times["eval"]["cpu"],
        "peak_eval_mb": times["peak_eval_mb"],
        "peak_train_mb": times["peak_train_mb"],
        "macs": forward_macs(model, x.shape[-1], B),
        "strides": model.wav2spec.strides,
    }


def _run_isolated(implementation: str, allocator: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", f"{implementation}:{allocator}", "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        error = proc.stderr.strip().splitlines()[-1] if proc.stderr else "?"
        return {"implementation": implementation, "allocator": allocator, "error": error}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_layers(repeats: int, threads: int) -> None:
    """Time every convolution of the encoder alone, directly and by FFT, against the cost model."""
    import functools

    import torch

    from deepSTRF.models.audio.icnet import ICNet
    from deepSTRF.models.wav2spec import _conv
    from deepSTRF.utils.performance import tune_allocator

    tune_allocator()
    torch.set_num_threads(threads)
    encoder = ICNet(AUDIO_FS, out_neurons=N, dt_ms=DT_MS).wav2spec
    sinc = encoder.sincnet
    layers = [("sincnet", 1, sinc.out_channels, sinc.kernel_size, 1)]
    for i, block in enumerate([*encoder.encoder, encoder.bottleneck]):
        name = f"conv{i + 1}" if i < len(encoder.encoder) else "bottleneck"
        layers.append((name, block.conv.in_channels, block.conv.out_channels, block.kernel_size, block.stride))
    print(f"Each layer alone, batch {B}, {threads} threads, tuned allocator, best of {repeats}; ms forward / train")
    print(f"{'layer':<11}{'shape':>26}{'n_fft':>7}{'direct':>16}{'fft':>16}{'measured':>10}{'model':>8}{'auto':>8}")
    length = T_BINS * encoder.hop
    for name, n_in, n_out, kernel, stride in layers:
        x = torch.randn(B, n_in, length, requires_grad=name != "sincnet")
        weight = torch.randn(n_out, n_in, kernel, requires_grad=True)
        bias = torch.zeros(n_out, requires_grad=True)
        taps = -(-kernel // stride)
        times = {}
        for method in ("direct", "fft"):
            call = functools.partial(_conv.causal_conv1d, x, weight, bias, stride, method)
            with torch.no_grad():
                forward = time_calls(call, 1, repeats)
            train = time_calls(lambda call=call: call().sum().backward(), 1, repeats)
            times[method] = (1e3 * forward["min"], 1e3 * train["min"])
        model = _conv._fft_speedup(B, n_in * stride, n_out, taps, length // stride)
        auto = _conv._fft_pays(B, n_in * stride, n_out, taps, length // stride, x.dtype)
        shape = f"{n_in}x{stride}->{n_out}, {taps} taps, {length // stride}"
        print(
            f"{name:<11}{shape:>26}{_conv._fft_size(taps):>7}{times['direct'][0]:>8.0f}/{times['direct'][1]:<7.0f}"
            f"{times['fft'][0]:>8.0f}/{times['fft'][1]:<7.0f}{times['direct'][1] / times['fft'][1]:>9.2f}x"
            f"{model:>7.2f}x{'fft' if auto else 'direct':>8}"
        )
        length //= stride
    print("measured: train-time ratio direct / fft; model: the cost model's predicted ratio (fft above 1.5x).")


def print_report(results: list[dict[str, Any]]) -> None:
    """Print the timing table and the FLOP analysis."""
    header = (
        f"{'implementation':<16}{'allocator':<10}{'train s':>9}{'ref':>6}{'speed-up':>10}"
        f"{'eval s':>9}{'ref':>6}{'speed-up':>10}{'train eff. GFLOP/s':>20}{'eval eff. GFLOP/s':>19}"
        f"{'train cpu-s':>13}{'eval cpu-s':>12}"
        f"{'peak train MB':>15}{'peak eval MB':>14}"
    )
    print(header)
    print("-" * len(header))
    macs = None
    for r in results:
        if "error" in r:
            print(f"{r['implementation']:<16}{r['allocator']:<10}  error: {r['error']}")
            continue
        macs = r["macs"]
        forward_gflop = 2 * sum(macs.values()) / 1e9
        print(
            f"{r['implementation']:<16}{r['allocator']:<10}{r['train_s']:>9.2f}{REFERENCE_TRAIN_S:>6.1f}"
            f"{REFERENCE_TRAIN_S / r['train_s']:>9.2f}x{r['eval_s']:>9.2f}{REFERENCE_EVAL_S:>6.1f}"
            f"{REFERENCE_EVAL_S / r['eval_s']:>9.2f}x{3 * forward_gflop / r['train_s']:>20.0f}"
            f"{forward_gflop / r['eval_s']:>19.0f}{r['train_cpu_s']:>13.1f}{r['eval_cpu_s']:>12.1f}"
            f"{r['peak_train_mb']:>15.0f}{r['peak_eval_mb']:>14.0f}"
        )
    if macs is None:
        return
    total = sum(macs.values())
    print(f"\nForward cost by stage (batch {B}, T_audio = {T_BINS * AUDIO_FS * DT_MS / 1000:,.0f}):")
    for name, value in macs.items():
        print(f"  {name:<11}{value / 1e9:>8.1f} GMAC  {100 * value / total:>5.1f} %")
    print(f"  {'total':<11}{total / 1e9:>8.1f} GMAC = {2 * total / 1e9:.0f} GFLOP forward,")
    print(f"  about {6 * total / 1e12:.2f} TFLOP per training step (forward + input gradient + weight gradient)")
    implied_train, implied_eval = 6 * total / 1e9 / REFERENCE_TRAIN_S, 2 * total / 1e9 / REFERENCE_EVAL_S
    print(f"Reference implied throughput: train {implied_train:.0f} GFLOP/s, eval {implied_eval:.0f} GFLOP/s")
    print(
        "eff. GFLOP/s: the direct convolutions' FLOPs divided by the time; above the machine's peak, "
        "fewer operations were done (the FFT)."
    )
    print(
        "cpu-s: CPU time of all threads, a steadier figure than wall time on a shared machine "
        "(wall time is about cpu-s / threads on an idle one)."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS), help=f"subset of {IMPLEMENTATIONS}")
    parser.add_argument("--allocators", default=",".join(ALLOCATORS), help=f"subset of {ALLOCATORS}")
    parser.add_argument("--layers", action="store_true", help="time each convolution alone instead")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        implementation, allocator = args.worker.split(":")
        print(json.dumps(measure(implementation, allocator, args.repeats, args.warmup, args.threads)))
        return
    if args.layers:
        time_layers(args.repeats, args.threads)
        return
    names = [m.strip() for m in args.implementations.split(",") if m.strip()]
    allocators = [m.strip() for m in args.allocators.split(",") if m.strip()]
    unknown = sorted(set(names) - set(IMPLEMENTATIONS)) + sorted(set(allocators) - set(ALLOCATORS))
    if unknown:
        parser.error(f"unknown {unknown}; implementations: {IMPLEMENTATIONS}, allocators: {ALLOCATORS}")
    print(
        f"ICNet, {AUDIO_FS} Hz, batch {B}, {T_BINS} bins of {DT_MS} ms, N={N}, {args.threads} threads, "
        f"median of {args.repeats} after {args.warmup}"
    )
    results = [_run_isolated(name, allocator, args) for name in names for allocator in allocators]
    print_report(results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
