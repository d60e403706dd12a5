"""Speed and memory of ICNet on 16 kHz audio against the published reference figures.

Setting (SPEC §9): 2 threads, batch 8, N = 73 neurons, 999 bins of 5 ms, so
T_audio = 79,920 samples at 16 kHz; default architecture (SincNet 48 x 64 taps,
five causal convolutions of 128 channels and 64 taps with strides [2, 2, 2, 2, 5],
a 64-channel bottleneck, linear readout and softplus).

- train step: forward, Poisson loss, backward and one Adam step;
- eval forward: one forward pass under ``torch.no_grad()`` in eval mode;
- the median over ``--repeats`` runs after ``--warmup`` untimed runs.

Two implementations of the same network are timed, each in a fresh subprocess:

- ``deepSTRF``: the library's ICNet, whose causal convolutions run in polyphase
  form with gradients computed by forward convolutions;
- ``plain``: the same model with every causal convolution computed the usual
  way (left padding, then a strided ``conv1d`` and PyTorch's own backward), as the
  published library does.

Peak memory is the growth of the process's resident-set high-water mark
(``ru_maxrss``) during the eval runs and during the training runs (eval first).

The script also counts the multiply-accumulates (MACs) of the architecture and
prints the throughput each time implies: the training step costs about three
times the forward (input and weight gradients each cost one forward), which
bounds how fast a CPU can run it.

Usage::

    python benchmarks/bench_icnet.py
    python benchmarks/bench_icnet.py --repeats 5 --json icnet.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from _timing import time_model

AUDIO_FS, DT_MS, B, T_BINS, N = 16000, 5.0, 8, 999, 73
REFERENCE_TRAIN_S, REFERENCE_EVAL_S = 26.0, 5.5
IMPLEMENTATIONS = ("deepSTRF", "plain")


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


def measure(implementation: str, repeats: int, warmup: int, threads: int) -> dict[str, Any]:
    """Time one implementation in this process and return its figures."""
    import torch

    from deepSTRF.models.audio import icnet
    from deepSTRF.models.wav2spec import sincnet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if implementation == "plain":
        icnet.causal_conv1d = sincnet.causal_conv1d = _plain_causal_conv1d  # type: ignore[assignment]
    model = icnet.ICNet(AUDIO_FS, out_neurons=N, dt_ms=DT_MS)
    hop = model.wav2spec.hop
    x = 0.1 * torch.randn(B, 1, T_BINS * hop)
    target = torch.poisson(torch.full((B, N, 1, T_BINS), 0.5))
    poisson = lambda pred, y: torch.nn.functional.poisson_nll_loss(pred, y, log_input=False)  # noqa: E731
    times = time_model(model, x, target, poisson, warmup, repeats)
    return {
        "implementation": implementation,
        "train_s": times["train"]["median"],
        "eval_s": times["eval"]["median"],
        "train_cpu_s": times["train"]["cpu"],
        "eval_cpu_s": times["eval"]["cpu"],
        "peak_eval_mb": times["peak_eval_mb"],
        "peak_train_mb": times["peak_train_mb"],
        "macs": forward_macs(model, x.shape[-1], B),
        "strides": model.wav2spec.strides,
    }


def _run_isolated(implementation: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", implementation, "--repeats", str(args.repeats)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"implementation": implementation, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "?"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_report(results: list[dict[str, Any]]) -> None:
    """Print the timing table and the FLOP analysis."""
    header = (
        f"{'implementation':<16}{'train s':>9}{'ref':>6}{'speed-up':>10}{'eval s':>9}{'ref':>6}{'speed-up':>10}"
        f"{'train GFLOP/s':>15}{'eval GFLOP/s':>14}{'train cpu-s':>13}{'eval cpu-s':>12}"
        f"{'peak train MB':>15}{'peak eval MB':>14}"
    )
    print(header)
    print("-" * len(header))
    macs = None
    for r in results:
        if "error" in r:
            print(f"{r['implementation']:<16}  error: {r['error']}")
            continue
        macs = r["macs"]
        forward_gflop = 2 * sum(macs.values()) / 1e9
        print(
            f"{r['implementation']:<16}{r['train_s']:>9.2f}{REFERENCE_TRAIN_S:>6.1f}"
            f"{REFERENCE_TRAIN_S / r['train_s']:>9.2f}x{r['eval_s']:>9.2f}{REFERENCE_EVAL_S:>6.1f}"
            f"{REFERENCE_EVAL_S / r['eval_s']:>9.2f}x{3 * forward_gflop / r['train_s']:>15.0f}"
            f"{forward_gflop / r['eval_s']:>14.0f}{r['train_cpu_s']:>13.1f}{r['eval_cpu_s']:>12.1f}"
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
        "cpu-s: CPU time of all threads, a steadier figure than wall time on a shared machine "
        "(wall time is about cpu-s / threads on an idle one)."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS), help=f"subset of {IMPLEMENTATIONS}")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(measure(args.worker, args.repeats, args.warmup, args.threads)))
        return
    names = [m.strip() for m in args.implementations.split(",") if m.strip()]
    unknown = sorted(set(names) - set(IMPLEMENTATIONS))
    if unknown:
        parser.error(f"unknown implementations {unknown}; choose from {list(IMPLEMENTATIONS)}")
    print(
        f"ICNet, {AUDIO_FS} Hz, batch {B}, {T_BINS} bins of {DT_MS} ms, N={N}, {args.threads} threads, "
        f"median of {args.repeats} after {args.warmup}"
    )
    results = [_run_isolated(name, args) for name in names]
    print_report(results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
