"""Wall and CPU time of the default ``deepstrf fit``, with the test CCnorm it reaches.

Each repeat runs ``python -m deepSTRF.cli fit --no-progress --out <temp dir>/run`` (every
other option at its default: an LN model on the embedded simulated dataset, seed 0) in a
fresh subprocess, so the imports are paid every time, as a user pays them. For each run
we record the wall-clock time of the subprocess, its CPU time (user + system of the
child, all threads together; steadier than wall time on a shared machine), the 1-minute
load average before and after, and the test CCnorm (mean over neurons) read from the
run folder's ``metrics.json``.

A separate run (``--phases``, on by default) splits one fit into phases by wrapping the
library's functions with timers in a fresh subprocess (nothing in the library is
changed; the OpenMP wait policy that ``main()`` sets before torch is imported is set
the same way): ``import`` (``deepSTRF.cli`` and the fitting modules, torch included),
``dataset`` (``load_dataset``), ``training`` (``Fitter.fit``), ``evaluation``
(``Fitter.predict``, the test scores, the true-rate ceiling, the STRF correlation) and
``saving`` (``_finish_folder``: metrics, checkpoint and the ``strfs.png`` figure, of which
``figure`` is the drawing and writing of the PNG); ``other`` is the rest of the process
(argument parsing, building the model and the optimiser, writing the per-seed folders).

Usage::

    python benchmarks/bench_cli_fit.py
    python benchmarks/bench_cli_fit.py --repeats 10 --json cli_fit.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Runs in a fresh interpreter: times the imports, wraps the phases' functions with timers,
# runs the CLI's main() and prints the phase times as one JSON line.
_PHASE_DRIVER = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import deepSTRF.cli as cli
    if hasattr(cli, "_passive_thread_wait"):  # what main() does before torch is imported
        cli._passive_thread_wait()
    import deepSTRF.training.experiment as experiment
    import deepSTRF.training.crossval as crossval
    import deepSTRF.utils.plotting as plotting
    from deepSTRF.training.fitter import Fitter
    phases = {"import": time.perf_counter() - t0}

    def timed(owner, name, phase):
        fn = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - start

        setattr(owner, name, wrapper)

    timed(experiment, "load_dataset", "dataset")
    timed(Fitter, "fit", "training")
    timed(Fitter, "predict", "evaluation")
    timed(crossval, "score_split", "evaluation")
    timed(experiment, "true_rate_scores", "evaluation")
    timed(experiment, "effective_strfs", "evaluation")
    timed(experiment, "strf_correlation", "evaluation")
    timed(experiment, "_finish_folder", "saving")
    for name in ("plot_learned_vs_true", "plot_strfs"):
        timed(experiment, name, "figure")
    import matplotlib.figure
    timed(matplotlib.figure.Figure, "savefig", "figure")
    status = cli.main(sys.argv[1:])
    phases["total"] = time.perf_counter() - t0
    print("PHASES " + json.dumps(phases))
    sys.exit(status)
    """
)


def _load() -> float:
    return os.getloadavg()[0]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env.pop("OMP_WAIT_POLICY", None)  # measure the command as a user runs it
    return env


def run_once(extra: list[str]) -> dict[str, float]:
    """One default ``deepstrf fit`` in a fresh subprocess: wall, CPU, load and test CCnorm."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "deepSTRF.cli", "fit", "--no-progress", "--out", str(out), *extra]
        load_start, cpu_start = _load(), _child_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, cwd=tmp, check=False)
        wall = time.perf_counter() - start
        cpu = _child_cpu() - cpu_start
        if proc.returncode != 0:
            raise RuntimeError(f"deepstrf fit failed ({proc.returncode}): {proc.stderr.strip()}")
        metrics = json.loads((out / "metrics.json").read_text())
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "load_start": load_start,
            "load_end": _load(),
            "ccnorm": metrics["summary"]["ccnorm"]["mean"],
        }


def run_phases(extra: list[str]) -> dict[str, float]:
    """One default fit in a fresh subprocess, split into phases (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-c", _PHASE_DRIVER, "fit", "--no-progress", "--out", str(out), *extra]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, cwd=tmp, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"deepstrf fit failed ({proc.returncode}): {proc.stderr.strip()}")
        line = next(x for x in proc.stdout.splitlines() if x.startswith("PHASES "))
        phases: dict[str, float] = json.loads(line[len("PHASES ") :])
        inner = ("import", "dataset", "training", "evaluation", "saving")
        phases["other"] = phases["total"] - sum(phases.get(k, 0.0) for k in inner)
        phases["process_wall"] = wall
        return phases


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default: %(default)s)")
    parser.add_argument("--no-phases", action="store_true", help="skip the phase breakdown run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument(
        "--src", type=Path, default=None, help="the deepSTRF sources to run (default: this checkout's src/)"
    )
    parser.add_argument("fit_args", nargs="*", help="extra `deepstrf fit` options (after --)")
    args = parser.parse_args(argv)
    global SRC
    if args.src is not None:
        SRC = args.src.resolve()
    runs = []
    for i in range(args.repeats):
        r = run_once(args.fit_args)
        runs.append(r)
        print(
            f"run {i + 1}: wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s, "
            f"load {r['load_start']:.2f} -> {r['load_end']:.2f}, test ccnorm {r['ccnorm']:.4f}",
            flush=True,
        )
    walls, cpus = [r["wall_s"] for r in runs], [r["cpu_s"] for r in runs]
    summary: dict[str, object] = {
        "command": "python -m deepSTRF.cli fit --no-progress --out <tmp>/run " + " ".join(args.fit_args),
        "src": str(SRC),
        "cores": os.cpu_count(),
        "wall_min_s": min(walls),
        "wall_median_s": statistics.median(walls),
        "cpu_min_s": min(cpus),
        "cpu_median_s": statistics.median(cpus),
        "ccnorm": sorted({round(r["ccnorm"], 6) for r in runs}),
        "runs": runs,
    }
    print(
        f"{args.repeats} runs: wall min {min(walls):.2f} s, median {statistics.median(walls):.2f} s; "
        f"cpu min {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s; "
        f"test ccnorm {', '.join(f'{c:.4f}' for c in summary['ccnorm'])}"  # type: ignore[attr-defined]
    )
    if not args.no_phases:
        load = _load()
        phases = run_phases(args.fit_args)
        summary["phases"] = phases
        summary["phases_load_start"] = load
        order = ("import", "dataset", "training", "evaluation", "saving", "figure", "other", "total", "process_wall")
        print(f"phases of one run (s; load {load:.2f}; 'figure' is part of 'saving'):")
        print("  " + ", ".join(f"{k} {phases[k]:.2f}" for k in order if k in phases))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
