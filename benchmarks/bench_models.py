"""Speed and memory of the audio model zoo against the published reference figures.

Setting (SPEC §9): 2 threads, batch 8, F = 34 frequency bands, T = 999 frames,
N = 73 neurons. For each model:

- train step: forward, loss (Poisson NLL for non-negative outputs, MSE for linear
  outputs), backward and one Adam step;
- eval forward: one forward pass under ``torch.no_grad()`` in eval mode;
- the median (and the minimum) wall-clock time over ``--repeats`` runs after
  ``--warmup`` untimed runs; speed-ups are taken on the medians. The JSON output also
  holds the median process CPU time of each run.

Peak memory: every model runs in a fresh subprocess. ``resource.getrusage`` gives the
process's high-water resident set size (``ru_maxrss``); we record it once the model,
optimiser and data exist, again after the eval runs, and again after the training
runs. The increases are the extra peak memory of evaluation and of training (eval
runs first because its peak is the lower one). These are whole-process figures, so
they include allocator caching.

Usage::

    python benchmarks/bench_models.py
    python benchmarks/bench_models.py --models linear,convnet2d --repeats 5 --json results.json
    python benchmarks/bench_models.py --tune-allocator   # as the ``deepstrf`` command runs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from _timing import time_model

B, F, T, N = 8, 34, 999, 73

# name -> (published train-step ms, published eval-forward ms); None where no figure exists.
REFERENCE: dict[str, tuple[float, float] | None] = {
    "linear": (31.0, 3.7),
    "ln": (36.0, 4.1),
    "nrf": (23.0, 4.0),
    "dnet": (18.0, 2.4),
    "convnet2d": (218.0, 63.0),
    "statenet-gru": (253.0, 61.0),
    "statenet-lstm": (92.0, 47.0),
    "statenet-rnn": None,
    "statenet-lmu": (473.0, 130.0),
    "statenet-mamba": (983.0, 316.0),
    "statenet-s4": None,
    "transformer": (184.0, 24.0),
    "linear+adaptrans": (198.0, 21.0),
    "convnet2d+adaptrans": (389.0, 91.0),
}

# models whose output activation is the identity are trained with MSE
MSE_MODELS = {"linear", "dnet", "linear+adaptrans"}


def build(name: str, dt_ms: float) -> Any:
    """Build the benchmark configuration ``name`` with the default architecture."""
    from deepSTRF.models.audio.convnet import ConvNet2D
    from deepSTRF.models.audio.statenet import StateNet
    from deepSTRF.models.audio.strf_models import DNet, Linear, LinearNonlinear, NetworkReceptiveField
    from deepSTRF.models.audio.transformer import Transformer

    def adaptrans() -> Any:
        from deepSTRF.models.prefiltering import make_prefiltering

        return make_prefiltering("adaptrans", n_frequency_bands=F, dt=dt_ms)

    builders: dict[str, Callable[[], Any]] = {
        "linear": lambda: Linear(n_frequency_bands=F, out_neurons=N),
        "ln": lambda: LinearNonlinear(n_frequency_bands=F, out_neurons=N),
        "nrf": lambda: NetworkReceptiveField(n_frequency_bands=F, out_neurons=N),
        "dnet": lambda: DNet(n_frequency_bands=F, out_neurons=N),
        "convnet2d": lambda: ConvNet2D(n_frequency_bands=F, out_neurons=N),
        "transformer": lambda: Transformer(n_frequency_bands=F, out_neurons=N),
        "linear+adaptrans": lambda: Linear(n_frequency_bands=F, out_neurons=N, prefiltering=adaptrans()),
        "convnet2d+adaptrans": lambda: ConvNet2D(n_frequency_bands=F, out_neurons=N, prefiltering=adaptrans()),
    }
    for rnn in ("GRU", "LSTM", "RNN", "LMU", "Mamba", "S4"):
        builders[f"statenet-{rnn.lower()}"] = lambda rnn=rnn: StateNet(n_frequency_bands=F, out_neurons=N, rnn_type=rnn)
    return builders[name]()


def measure(name: str, repeats: int, warmup: int, threads: int, dt_ms: float) -> dict[str, Any]:
    """Time one configuration in this process and return its figures."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(name, dt_ms)
    x = torch.rand(B, 1, F, T)
    target = torch.poisson(torch.full((B, N, 1, T), 0.5))
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    if name in MSE_MODELS:
        loss_fn = torch.nn.functional.mse_loss
    else:
        loss_fn = lambda pred, y: torch.nn.functional.poisson_nll_loss(pred, y, log_input=False)  # noqa: E731
    times = time_model(model, x, target, loss_fn, warmup, repeats)
    trains, evals = ({k: 1e3 * v for k, v in times[phase].items()} for phase in ("train", "eval"))
    return {
        "model": name,
        "train_ms": trains["median"],
        "train_min_ms": trains["min"],
        "train_cpu_ms": trains["cpu"],
        "eval_ms": evals["median"],
        "eval_min_ms": evals["min"],
        "eval_cpu_ms": evals["cpu"],
        "peak_eval_mb": times["peak_eval_mb"],
        "peak_train_mb": times["peak_train_mb"],
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def _run_isolated(name: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", name, "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    cmd += ["--threads", str(args.threads), "--dt-ms", str(args.dt_ms)] + ["--tune-allocator"] * args.tune_allocator
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"model": name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def print_table(results: list[dict[str, Any]]) -> None:
    """Print our figures next to the published ones with the speed-ups."""
    header = (
        f"{'model':<22}{'train ms':>10}{'(min)':>8}{'ref':>7}{'speed-up':>10}"
        f"{'eval ms':>9}{'(min)':>8}{'ref':>7}{'speed-up':>10}{'peak train MB':>15}{'peak eval MB':>14}{'params':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['model']:<22}  error: {r['error']}")
            continue
        ref = REFERENCE[r["model"]]
        ref_train, ref_eval = ref if ref is not None else (None, None)
        up_train = ref_train / r["train_ms"] if ref_train else None
        up_eval = ref_eval / r["eval_ms"] if ref_eval else None
        print(
            f"{r['model']:<22}{r['train_ms']:>10.1f}{r['train_min_ms']:>8.1f}{_fmt(ref_train, '.0f'):>7}"
            f"{_fmt(up_train, '.2f') + 'x':>10}{r['eval_ms']:>9.1f}{r['eval_min_ms']:>8.1f}{_fmt(ref_eval):>7}"
            f"{_fmt(up_eval, '.2f') + 'x':>10}{r['peak_train_mb']:>15.1f}{r['peak_eval_mb']:>14.1f}{r['params']:>9d}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(REFERENCE), help=f"comma-separated subset of {list(REFERENCE)}")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--dt-ms", type=float, default=5.0, help="frame width used to size the AdapTrans kernels")
    parser.add_argument(
        "--tune-allocator",
        action="store_true",
        help="call deepSTRF.utils.performance.tune_allocator() in each worker first (as `deepstrf fit` does)",
    )
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        if args.tune_allocator:
            from deepSTRF.utils.performance import tune_allocator

            tune_allocator()
        print(json.dumps(measure(args.worker, args.repeats, args.warmup, args.threads, args.dt_ms)))
        return
    names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(REFERENCE))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(REFERENCE)}")
    allocator = "tuned allocator" if args.tune_allocator else "default allocator"
    print(
        f"batch {B}, F={F}, T={T}, N={N}, {args.threads} threads, median of {args.repeats} after {args.warmup}, "
        f"{allocator}"
    )
    results = []
    for name in names:
        results.append(_run_isolated(name, args))
        print(f"  done: {name}", file=sys.stderr)
    print_table(results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "setting": {"B": B, "F": F, "T": T, "N": N, "threads": args.threads, "allocator": allocator},
                    "results": results,
                },
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
