"""The published model definitions against deepSTRF 0.1.0 itself: StateNet LMU, StateNet S4 and Transformer.

Same architecture on both sides: StateNet with the full LMU cell (``rnn_type='LMU'``,
hidden-to-memory feedback, memory 128, window 99) and the Transformer with 0.1.0's
defaults, and StateNet with S4 (``rnn_type='S4'``: the DPLR kernel, state size 64, on both
sides; 0.1.0 without its optional CUDA/pykeops kernels, which it does not ship, so on its
plain-PyTorch Cauchy fallback), in the SPEC §9 setting (2 threads, batch 8, F = 34, T = 999,
N = 73). Our feedback-free ``rnn_type='LMUFFT'`` and diagonal ``rnn_type='S4D'`` are timed
too, labelled as the different models they are.
Each (library, model) pair runs in its own subprocess (0.1.0 under its own interpreter,
without this repository on the path); rounds alternate between the libraries so that
both see the same load on a shared machine, and the medians over all rounds are
reported. Train step = forward, MSE loss, backward, Adam step; eval = forward under
``no_grad`` in eval mode.

Usage::

    python benchmarks/bench_published_cells.py --published-python /path/to/published-venv/bin/python
    python benchmarks/bench_published_cells.py --published-python ... --rounds 3 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import types
import warnings
from pathlib import Path

B, F, T, N = 8, 34, 999, 73
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = {  # label -> (library, model)
    "StateNet LMU (full cell), 0.1.0": ("published", "lmu"),
    "StateNet LMU (full cell), here": ("ours", "lmu"),
    "StateNet LMUFFT (no feedback), here": ("ours", "lmufft"),
    "StateNet S4 (DPLR), 0.1.0": ("published", "s4"),
    "StateNet S4 (DPLR), here": ("ours", "s4"),
    "StateNet S4D (diagonal, a different model), here": ("ours", "s4d"),
    "Transformer (0.1.0 defaults), 0.1.0": ("published", "transformer"),
    "Transformer (0.1.0 defaults), here": ("ours", "transformer"),
}


def _child(model_name: str, warmup: int, repeats: int, threads: int) -> None:
    import torch
    from _timing import time_model

    warnings.filterwarnings("ignore")
    if "pytorch_lightning" not in sys.modules:  # 0.1.0's S4 module imports it for a logging decorator only
        stub, utilities = types.ModuleType("pytorch_lightning"), types.ModuleType("pytorch_lightning.utilities")
        utilities.rank_zero_only = lambda fn: fn  # type: ignore[attr-defined]
        stub.utilities = utilities  # type: ignore[attr-defined]
        sys.modules.setdefault("pytorch_lightning", stub)
        sys.modules.setdefault("pytorch_lightning.utilities", utilities)
    logging.disable(logging.WARNING)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from deepSTRF.models.audio import StateNet, Transformer

    if model_name == "transformer":
        model = Transformer(n_frequency_bands=F, out_neurons=N)
    else:
        rnn_type = {"lmu": "LMU", "lmufft": "LMUFFT", "s4": "S4", "s4d": "S4D"}[model_name]
        model = StateNet(n_frequency_bands=F, rnn_type=rnn_type, out_neurons=N)
    x = torch.rand(B, 1, F, T)
    target = torch.rand(B, N, 1, T)
    result = time_model(model, x, target, lambda y, t: ((y - t) ** 2).mean(), warmup, repeats)
    print(json.dumps({"train": result["train"]["median"], "eval": result["eval"]["median"]}))


def _run(library: str, model: str, python: str, warmup: int, repeats: int, threads: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = str(threads)
    if library == "ours":
        env["PYTHONPATH"] = str(ROOT / "src")
    command = [python, str(Path(__file__).resolve()), "--child", model, "--warmup", str(warmup)]
    command += ["--repeats", str(repeats), "--threads", str(threads)]
    done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{library} {model} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published-python", required=False, help="interpreter with deepSTRF 0.1.0 installed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (SPEC: 2; 1 on a loaded machine)")
    parser.add_argument("--models", default="lmu,lmufft,s4,s4d,transformer", help="comma-separated subset")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.warmup, args.repeats, args.threads)
        return
    if not args.published_python:
        parser.error("--published-python is required")
    wanted = set(args.models.split(","))
    cases = {label: case for label, case in CASES.items() if case[1] in wanted}
    times: dict[str, dict[str, list[float]]] = {label: {"train": [], "eval": []} for label in cases}
    for _ in range(args.rounds):
        for label, (library, model) in cases.items():
            python = args.published_python if library == "published" else sys.executable
            result = _run(library, model, python, args.warmup, args.repeats, args.threads)
            for phase in ("train", "eval"):
                times[label][phase].append(result[phase])
    medians = {label: {p: statistics.median(v) for p, v in phases.items()} for label, phases in times.items()}
    print("| model | train step (ms) | eval forward (ms) | speed-up vs 0.1.0 (train / eval) |")
    print("| --- | --- | --- | --- |")
    for label, m in medians.items():
        model = cases[label][1]
        reference = medians[next(k for k, (lib, mod) in cases.items() if lib == "published" and mod in model)]
        ratio = f"{reference['train'] / m['train']:.2f}x / {reference['eval'] / m['eval']:.2f}x"
        print(f"| {label} | {1000 * m['train']:.0f} | {1000 * m['eval']:.0f} | {ratio} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"medians_s": medians, "all_s": times}, indent=2) + "\n")


if __name__ == "__main__":
    main()
