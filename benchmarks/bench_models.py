"""Speed and memory of the audio model zoo, ours against the published deepSTRF 0.1.0.

Setting (SPEC §9): 2 threads, batch 8, F = 34 frequency bands, T = 999 frames,
N = 73 neurons. For each model:

- train step: forward, loss (Poisson NLL for non-negative outputs, MSE for linear
  outputs), backward and one Adam step;
- eval forward: one forward pass under ``torch.no_grad()`` in eval mode.

Two modes:

- default: every model runs in a fresh worker process of this interpreter, ``--warmup``
  untimed runs then ``--repeats`` timed runs; median and minimum are reported next to
  the published library's reference figures of SPEC §9 (taken on another machine).
- ``--published PYTHON``: the interleaved comparison. ``PYTHON`` is the interpreter of an
  environment holding the published deepSTRF 0.1.0 (e.g. ``/work/published-venv/bin/python``).
  For each model, ``--repeats`` rounds each start one worker process of ours and one of
  the published library (alternating which goes first), both running this same file and
  the same timing loop on the same shapes; a worker reports the median of ``--inner``
  timed calls after ``--warmup`` untimed ones. The table gives the minimum and the
  median over the rounds, and the speed-up ``published median / our median``. Both
  sides run in the same process tree, one after the other, so machine load affects
  both alike. ``--jobs J`` compares ``J`` models at the same time (each model's rounds
  still alternate between the two libraries), for a machine too busy to run them one
  after the other in reasonable time.

Peak memory: ``resource.getrusage`` gives a worker's high-water resident set size
(``ru_maxrss``); it is recorded once the model, optimiser and data exist, again after
the eval runs and again after the training runs. The increases are the extra peak
memory of evaluation and of training (eval runs first because its peak is the lower
one); they are whole-process figures, allocator caching included, measured in the
same way for both libraries (the table gives the median over the rounds).

Usage::

    python benchmarks/bench_models.py
    python benchmarks/bench_models.py --published /work/published-venv/bin/python --repeats 5
    python benchmarks/bench_models.py --models linear,convnet2d --repeats 5 --json results.json
    python benchmarks/bench_models.py --tune-allocator   # as the ``deepstrf`` command runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
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
    """Build the benchmark configuration ``name`` with the default architecture.

    The imports go through ``deepSTRF.models.audio`` and ``deepSTRF.models.prefiltering``,
    which hold the same names in this library and in the published one, so the same
    call builds either, depending on which ``deepSTRF`` the interpreter finds.
    """
    from deepSTRF.models.audio import (
        ConvNet2D,
        DNet,
        Linear,
        LinearNonlinear,
        NetworkReceptiveField,
        StateNet,
        Transformer,
    )
    from deepSTRF.models.prefiltering import make_prefiltering

    def adaptrans() -> Any:
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
        "train_faults": times["train"]["faults"],
        "eval_faults": times["eval"]["faults"],
        "peak_eval_mb": times["peak_eval_mb"],
        "peak_train_mb": times["peak_train_mb"],
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def _tune_allocator() -> None:
    """Apply ``deepSTRF.utils.performance.tune_allocator()``'s glibc settings in this worker.

    Our worker calls the library's function; the published library has none, so its
    worker sets the same three ``mallopt`` values here: both are then measured with the
    same allocator.
    """
    try:
        from deepSTRF.utils.performance import tune_allocator
    except ImportError:  # the published deepSTRF 0.1.0
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        for option, value in ((-1, 1024**3), (-3, 32 * 1024**2), (-4, 0)):  # trim, mmap threshold, mmap max
            libc.mallopt(option, value)
    else:
        tune_allocator()


_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _worker_env(published: bool) -> dict[str, str]:
    """Environment of a worker: ours finds ``src/`` first; the published one never sees it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not published:
        env["PYTHONPATH"] = _SRC
    return env


# glibc serves every block of 64 KiB or more by its own mmap and unmaps it when freed, so the
# resident set follows the live tensors: the peak of a worker run this way is the peak of what
# the model keeps alive, whatever the allocator would have cached (its timings mean nothing).
_EXACT_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def _run_isolated(
    name: str,
    args: argparse.Namespace,
    python: str | None = None,
    repeats: int | None = None,
    exact_memory: bool = False,
) -> dict[str, Any]:
    """Measure ``name`` in a fresh worker of ``python`` (this interpreter and our ``src/`` when ``None``)."""
    cmd = [python or sys.executable, os.path.abspath(__file__), "--worker", name]
    cmd += ["--repeats", str(repeats or args.repeats), "--warmup", str(args.warmup)]
    cmd += ["--threads", str(args.threads), "--dt-ms", str(args.dt_ms)]
    cmd += ["--tune-allocator"] * (args.tune_allocator and not exact_memory)
    env = _worker_env(python is not None) | (_EXACT_MEMORY_ENV if exact_memory else {})
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        return {"model": name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Minimum and median over the rounds of each worker's per-call medians; median peak memory."""
    if any("error" in r for r in runs):
        return next(r for r in runs if "error" in r)
    out: dict[str, Any] = {"model": runs[0]["model"], "params": runs[0]["params"], "rounds": len(runs)}
    for phase in ("train", "eval"):
        values = [r[f"{phase}_ms"] for r in runs]
        out[f"{phase}_ms"], out[f"{phase}_min_ms"] = statistics.median(values), min(values)
        out[f"{phase}_all_ms"] = values
        out[f"{phase}_cpu_ms"] = statistics.median(r[f"{phase}_cpu_ms"] for r in runs)
        out[f"peak_{phase}_mb"] = statistics.median(r[f"peak_{phase}_mb"] for r in runs)
        if all(f"{phase}_faults" in r for r in runs):
            out[f"{phase}_faults"] = statistics.median(r[f"{phase}_faults"] for r in runs)
    return out


def compare(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Interleave ``args.repeats`` rounds of our worker and the published one for model ``name``."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for round_ in range(args.repeats):
        order = [(ours, None), (theirs, args.published)]
        for sink, python in order if round_ % 2 == 0 else order[::-1]:
            sink.append(_run_isolated(name, args, python, repeats=args.inner))
    result = {"model": name, "ours": _summary(ours), "published": _summary(theirs)}
    for who, python in (("ours", None), ("published", args.published)):
        exact = _run_isolated(name, args, python, repeats=2, exact_memory=True)
        if "error" not in exact and "error" not in result[who]:
            result[who] |= {f"live_peak_{phase}_mb": exact[f"peak_{phase}_mb"] for phase in ("train", "eval")}
    return result


def print_comparison(results: list[dict[str, Any]], header: bool = True) -> None:
    """Print the interleaved figures: ours and the published library's, min / median, speed-ups, peaks."""
    title = (
        f"{'model':<21}{'train ms ours':>15}{'published':>15}{'speed-up':>9}"
        f"{'eval ms ours':>15}{'published':>15}{'speed-up':>9}"
        f"{'peak train MB':>16}{'peak eval MB':>16}"
    )
    if header:
        print(title)
        print("-" * len(title))
    for r in results:
        a, b = r["ours"], r["published"]
        bad = [f"{who}: {x['error']}" for who, x in (("ours", a), ("published", b)) if "error" in x]
        if bad:
            print(f"{r['model']:<21}  error: {'; '.join(bad)}")
            continue
        cells = []
        for phase in ("train", "eval"):
            mine = f"{a[f'{phase}_min_ms']:>6.1f} /{a[f'{phase}_ms']:>6.1f}"
            published = f"{b[f'{phase}_min_ms']:>6.1f} /{b[f'{phase}_ms']:>6.1f}"
            cells.append(f"{mine}  {published}{b[f'{phase}_ms'] / a[f'{phase}_ms']:>8.2f}x")
        peaks = "".join(f"{a[f'peak_{phase}_mb']:>8.0f} /{b[f'peak_{phase}_mb']:>6.0f}" for phase in ("train", "eval"))
        if "live_peak_train_mb" in a and "live_peak_train_mb" in b:
            peaks += "   live " + "  ".join(
                f"{a[f'live_peak_{phase}_mb']:.0f} / {b[f'live_peak_{phase}_mb']:.0f}" for phase in ("train", "eval")
            )
        print(f"{r['model']:<21}{cells[0]}{cells[1]}{peaks}")


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


def markdown_comparison(results: list[dict[str, Any]]) -> str:
    """The interleaved figures as a Markdown table (the form used in benchmarks/README.md)."""
    lines = [
        "| model | train ms, ours | train ms, published | train speed-up | eval ms, ours | eval ms, published "
        "| eval speed-up | CPU-time speed-up, train / eval | peak train MB, ours / published "
        "| peak eval MB, ours / published |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    faults = all("train_faults" in r.get(who, {}) for r in results for who in ("ours", "published"))
    if faults:  # page faults per call, where the JSON has them
        lines[0] += " page faults per call, train / eval, ours; published |"
        lines[1] += " ---: |"
    live = all("live_peak_train_mb" in r.get(who, {}) for r in results for who in ("ours", "published"))
    if live:  # peaks of the live tensors (a worker whose allocator caches nothing), where the JSON has them
        lines[0] += " live peak train MB, ours / published | live peak eval MB, ours / published |"
        lines[1] += " ---: | ---: |"
    for r in results:
        a, b = r["ours"], r["published"]
        if "error" in a or "error" in b:
            lines.append(f"| {r['model']} | error: {a.get('error', '')} {b.get('error', '')} | | | | | | | | |")
            continue
        row = [r["model"]]
        for phase in ("train", "eval"):
            row += [
                f"{a[f'{phase}_ms']:.1f} ({a[f'{phase}_min_ms']:.1f})",
                f"{b[f'{phase}_ms']:.1f} ({b[f'{phase}_min_ms']:.1f})",
                f"{b[f'{phase}_ms'] / a[f'{phase}_ms']:.2f}×",
            ]
        row.append(" / ".join(f"{b[f'{p}_cpu_ms'] / a[f'{p}_cpu_ms']:.2f}×" for p in ("train", "eval")))
        row += [f"{a[f'peak_{p}_mb']:.0f} / {b[f'peak_{p}_mb']:.0f}" for p in ("train", "eval")]
        if faults:
            row.append("; ".join(f"{x['train_faults']:.0f} / {x['eval_faults']:.0f}" for x in (a, b)))
        if live:
            row += [f"{a[f'live_peak_{p}_mb']:.0f} / {b[f'live_peak_{p}_mb']:.0f}" for p in ("train", "eval")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


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
        help="apply deepSTRF.utils.performance.tune_allocator()'s settings in each worker first, ours and the "
        "published one alike (as `deepstrf fit` does)",
    )
    parser.add_argument(
        "--published",
        default=None,
        metavar="PYTHON",
        help="interpreter of an environment with the published deepSTRF 0.1.0: interleaved comparison",
    )
    parser.add_argument("--inner", type=int, default=5, help="timed calls per worker in --published mode")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="models compared at the same time in --published mode (each model's rounds stay interleaved)",
    )
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument(
        "--markdown",
        default=None,
        metavar="JSON",
        help="print the Markdown table of a --published --json file, and exit",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.markdown is not None:
        with open(args.markdown) as fh:
            print(markdown_comparison(json.load(fh)["results"]))
        return
    if args.worker is not None:
        if args.tune_allocator:
            _tune_allocator()
        print(json.dumps(measure(args.worker, args.repeats, args.warmup, args.threads, args.dt_ms)))
        return
    names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(REFERENCE))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(REFERENCE)}")
    allocator = "tuned allocator" if args.tune_allocator else "default allocator"
    if args.published is not None:
        print(
            f"batch {B}, F={F}, T={T}, N={N}, {args.threads} threads, {args.repeats} interleaved rounds of "
            f"one worker each (median of {args.inner} calls after {args.warmup}), {allocator}"
        )
        compared = []
        setting = {"B": B, "F": F, "T": T, "N": N, "threads": args.threads, "allocator": allocator}
        setting |= {"rounds": args.repeats, "inner": args.inner, "warmup": args.warmup, "jobs": args.jobs}
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each model's rounds stay interleaved
            futures = [pool.submit(compare, name, args) for name in names]
            for future in as_completed(futures):
                compared.append(future.result())
                print_comparison(compared[-1:], header=not compared[:-1])  # one row as soon as it is measured
                sys.stdout.flush()
                if args.json:  # rewritten after every model, so a long run keeps what it has measured
                    order = {name: i for i, name in enumerate(names)}
                    compared.sort(key=lambda r: order[r["model"]])
                    with open(args.json, "w") as fh:
                        json.dump({"setting": setting, "results": compared}, fh, indent=2)
        print(
            "times: min / median over the rounds (ms); speed-up: published median / ours; peaks: ours / published "
            "(resident-set growth; live: with an allocator that caches nothing)"
        )
        return
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
