"""One prepared CUDA check: the zoo benchmark, AMP training, the ridge solver and a 2-process DDP step.

Run it on a machine with a CUDA GPU (a short run: a few minutes), from the repository root::

    PYTHONPATH=src python benchmarks/gpu_check.py --out gpu_results
    PYTHONPATH=src python benchmarks/gpu_check.py --skip ddp --repeats 5

It writes ``gpu_check.json`` (every figure) and ``gpu_check.md`` (the same as tables, with
the card's name) into ``--out`` (default: ``$OUT`` when set, else ``benchmarks/gpu_results``).
Sections:

- ``zoo``: every configuration of ``bench_models.py`` (batch 8, F = 34, T = 999,
  N = 73) on the GPU: median and minimum of an Adam training step and of an eval forward
  (``torch.cuda.synchronize`` around each call), and the peak allocated memory of each
  phase (``torch.cuda.max_memory_allocated``);
- ``amp``: ConvNet2D and the Transformer trained 20 steps in float32 and under float16
  autocast with gradient scaling from the same start: step times and the relative gap
  between the final losses;
- ``ridge``: :func:`deepSTRF.training.fit_ridge` on the simulated dataset on the GPU in
  float64 and float32 against the CPU float64 fit: times and the largest relative
  difference of the STRFs;
- ``ddp``: two processes (NCCL with two or more GPUs, else Gloo, both on the one GPU)
  each take half of a batch through a ``DistributedDataParallel`` Linear model for one
  Adam step; the check is that both ranks end with the same weights, equal to one
  process stepping on the whole batch.

Without CUDA it stops at once with exit status 2 and a message saying so; nothing in
the test suite or CI depends on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import Subset

from deepSTRF.datasets import SimulatedDataset
from deepSTRF.training import fit_ridge

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import MSE_MODELS, REFERENCE, B, F, N, T, build

SECTIONS = ("zoo", "amp", "ridge", "ddp")


def _cuda_timed(fn: Callable[[], Any], warmup: int, repeats: int) -> dict[str, float]:
    """Median and minimum milliseconds of ``fn`` with the GPU synchronised around each call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(1e3 * (time.perf_counter() - start))
    return {"median_ms": statistics.median(times), "min_ms": min(times)}


def _loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name in MSE_MODELS:
        return torch.nn.functional.mse_loss
    return lambda pred, y: torch.nn.functional.poisson_nll_loss(pred, y, log_input=False)


def _zoo_row(name: str, device: torch.device, warmup: int, repeats: int) -> dict[str, Any]:
    """Train-step and eval-forward times and peak memory of one zoo configuration."""
    torch.manual_seed(0)
    model = build(name, 5.0).to(device)
    x = torch.rand(B, 1, F, T, device=device)
    target = torch.poisson(torch.full((B, N, 1, T), 0.5, device=device))
    loss_fn = _loss_fn(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x), target).backward()
        optimiser.step()

    def eval_forward() -> None:
        with torch.no_grad():
            model(x)

    model.eval()
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    evals = _cuda_timed(eval_forward, warmup, repeats)
    peak_eval = torch.cuda.max_memory_allocated(device) - base
    model.train()
    torch.cuda.reset_peak_memory_stats(device)
    trains = _cuda_timed(train_step, warmup, repeats)
    peak_train = torch.cuda.max_memory_allocated(device) - base
    return {
        "model": name,
        "train_ms": trains["median_ms"],
        "train_min_ms": trains["min_ms"],
        "eval_ms": evals["median_ms"],
        "eval_min_ms": evals["min_ms"],
        "peak_train_mb": peak_train / 2**20,
        "peak_eval_mb": peak_eval / 2**20,
    }


def check_zoo(device: torch.device, warmup: int, repeats: int) -> list[dict[str, Any]]:
    """Train-step and eval-forward times and peak memory of every zoo configuration."""
    rows = []
    for name in REFERENCE:
        try:
            rows.append(_zoo_row(name, device, warmup, repeats))
        except Exception as exc:  # one configuration failing must not hide the others
            rows.append({"model": name, "error": f"{type(exc).__name__}: {exc}"})
        torch.cuda.empty_cache()
    return rows


def _amp_run(name: str, amp: bool, device: torch.device, steps: int) -> tuple[float, list[float]]:
    """Median step milliseconds and the losses of ``steps`` Adam steps, float16 autocast when ``amp``."""
    torch.manual_seed(0)
    model = build(name, 5.0).to(device).train()
    x = torch.rand(B, 1, F, T, device=device)
    target = torch.poisson(torch.full((B, N, 1, T), 0.5, device=device))
    loss_fn = _loss_fn(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    losses: list[float] = []

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            pred = model(x)
        loss = loss_fn(pred.float(), target)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        losses.append(float(loss.detach()))

    return _cuda_timed(step, 0, steps)["median_ms"], losses


def check_amp(device: torch.device, steps: int = 20) -> list[dict[str, Any]]:
    """Float32 against float16-autocast training of two models from the same start."""
    rows = []
    for name in ("convnet2d", "transformer"):
        result: dict[str, Any] = {"model": name, "steps": steps}
        for amp in (False, True):
            step_ms, losses = _amp_run(name, amp, device, steps)
            key = "amp" if amp else "fp32"
            result[f"{key}_step_ms"] = step_ms
            result[f"{key}_final_loss"] = losses[-1]
            result[f"{key}_finite"] = all(math.isfinite(v) for v in losses)
        gap = abs(result["amp_final_loss"] - result["fp32_final_loss"]) / abs(result["fp32_final_loss"])
        result["final_loss_rel_gap"] = gap
        rows.append(result)
    return rows


def check_ridge(device: torch.device) -> dict[str, Any]:
    """GPU ridge fits (float64, float32) against the CPU float64 fit on the simulated dataset."""
    data = SimulatedDataset(n_neurons=16, n_stimuli=48, seed=0)
    train = Subset(data, data.splits["train"])
    n_lags = int(data.true_strfs.shape[-1])
    out: dict[str, Any] = {"neurons": 16, "stimuli": 48, "n_lags": n_lags}
    start = time.perf_counter()
    reference = fit_ridge(train, n_lags=n_lags, device="cpu", dtype=torch.float64)
    out["cpu_float64_s"] = time.perf_counter() - start
    ref_w = reference.weight.detach().cpu().double()
    for dtype in (torch.float64, torch.float32):
        torch.cuda.synchronize()
        start = time.perf_counter()
        result = fit_ridge(train, n_lags=n_lags, device=device, dtype=dtype)
        torch.cuda.synchronize()
        key = str(dtype).removeprefix("torch.")
        out[f"cuda_{key}_s"] = time.perf_counter() - start
        weights = result.weight.detach().cpu().double()
        out[f"cuda_{key}_max_rel_diff"] = float((weights - ref_w).abs().max() / ref_w.abs().max())
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, backend: str, result_dir: str) -> None:
    """One rank: half of the batch through DDP, one Adam step, weights saved for the parent to compare."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    device = torch.device("cuda", rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = build("linear", 5.0).to(device)
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
        optimiser = torch.optim.Adam(ddp.parameters(), lr=1e-2)
        gen = torch.Generator().manual_seed(1)
        x = torch.rand(B, 1, F, 200, generator=gen).to(device)
        y = torch.rand(B, N, 1, 200, generator=gen).to(device)
        shard = slice(rank * B // world, (rank + 1) * B // world)
        ddp.train()
        # BatchNorm statistics are per process in DDP; eval mode keeps the check exact
        model.readout.bn.eval()
        torch.cuda.synchronize()
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(ddp(x[shard]), y[shard]).backward()
        optimiser.step()
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"state": state, "seconds": elapsed}, Path(result_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def check_ddp() -> dict[str, Any]:
    """Two DDP processes on CUDA take one step; compare their weights with a single-process step."""
    world = 2
    backend = "nccl" if torch.cuda.device_count() >= world else "gloo"
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_ddp_worker, args=(world, _free_port(), backend, tmp), nprocs=world, join=True)
        ranks = [torch.load(Path(tmp) / f"rank{r}.pt") for r in range(world)]
    device = torch.device("cuda", 0)
    torch.manual_seed(0)
    model = build("linear", 5.0).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(B, 1, F, 200, generator=gen).to(device)
    y = torch.rand(B, N, 1, 200, generator=gen).to(device)
    model.train()
    model.readout.bn.eval()
    optimiser.zero_grad(set_to_none=True)
    torch.nn.functional.mse_loss(model(x), y).backward()
    optimiser.step()
    single = {k: v.detach().cpu() for k, v in model.state_dict().items()}

    def gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
        return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())

    between = gap(ranks[0]["state"], ranks[1]["state"])
    to_single = gap(ranks[0]["state"], single)
    return {
        "backend": backend,
        "world_size": world,
        "gpus": torch.cuda.device_count(),
        "step_s": [r["seconds"] for r in ranks],
        "max_abs_gap_between_ranks": between,
        "max_abs_gap_to_single_process": to_single,
        "ok": between == 0.0 and to_single < 1e-5,
    }


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# GPU check: {report['device']}", "", f"torch {report['torch']}, CUDA {report['cuda']}", ""]
    if "zoo" in report:
        lines += [
            "## Zoo (batch 8, F = 34, T = 999, N = 73)",
            "",
            "| model | train ms (median / min) | eval ms (median / min) | peak train MB | peak eval MB |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in report["zoo"]:
            if "error" in r:
                lines.append(f"| {r['model']} | error: {r['error']} | | | |")
                continue
            lines.append(
                f"| {r['model']} | {r['train_ms']:.2f} / {r['train_min_ms']:.2f} | {r['eval_ms']:.2f} / "
                f"{r['eval_min_ms']:.2f} | {r['peak_train_mb']:.0f} | {r['peak_eval_mb']:.0f} |"
            )
        lines.append("")
    for key in ("amp", "ridge", "ddp"):
        if key in report:
            lines += [f"## {key}", "", "```json", json.dumps(report[key], indent=2), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(Path(__file__).parent / "gpu_results"))
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per zoo measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    parser.add_argument("--skip", default="", help=f"comma-separated sections to skip, of {list(SECTIONS)}")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            f"gpu_check: CUDA is not available here (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none'}); nothing was run. Run this script on a machine with a GPU.",
            file=sys.stderr,
        )
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    device = torch.device("cuda", 0)
    torch.backends.cudnn.benchmark = True
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections: dict[str, Callable[[], Any]] = {
        "zoo": lambda: check_zoo(device, args.warmup, args.repeats),
        "amp": lambda: check_amp(device),
        "ridge": lambda: check_ridge(device),
        "ddp": check_ddp,
    }
    for name, run in sections.items():
        if name in skip:
            continue
        start = time.perf_counter()
        try:
            report[name] = run()
        except Exception as exc:  # record the failure, keep the other sections
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=2))  # written as it goes
    (out / "gpu_check.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
