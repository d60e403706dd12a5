"""The ``deepstrf dstrf`` subcommand: dynamic STRFs and nonlinearity indices of a fitted model."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_dstrf_parser"]


def add_dstrf_parser(commands: Any, add_data_options: Callable[..., None], device: Callable[[str], Any]) -> None:
    """Register ``deepstrf dstrf`` on the subcommand ``commands`` of the main parser."""
    p = commands.add_parser(
        "dstrf",
        help="dynamic STRFs and nonlinearity indices of a fitted model for one stimulus",
        description="Compute the dynamic STRFs (the model's locally linear receptive field at every time "
        "bin) of a fitted model for one stimulus of its dataset, and the gain change, temporal hold and "
        "shape change indices of each neuron. Writes dstrfs.safetensors, indices.json and, with the plot "
        "extra, dstrf_strip.png and indices.png.",
    )
    p.add_argument("checkpoint", help="run folder, checkpoint folder or Hugging Face Hub id")
    add_data_options(p, default_dataset=None)
    p.add_argument(
        "--stimulus",
        default=None,
        metavar="S",
        help="stimulus index or name (default: the first test stimulus of the run or dataset)",
    )
    p.add_argument("--window", type=int, default=None, metavar="L", help="lags per dSTRF (default: the model's T)")
    p.add_argument("--neurons", type=int, nargs="+", default=None, metavar="N", help="neuron indices (default: all)")
    p.add_argument("--start", type=int, default=0, metavar="T", help="first time bin (default: %(default)s)")
    p.add_argument("--stop", type=int, default=None, metavar="T", help="one past the last time bin (default: the end)")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=32,
        metavar="C",
        help="(neuron, time) pairs per batched pass; memory grows with it (default: %(default)s)",
    )
    p.add_argument("--device", type=device, default=None, help="device (default: cpu)")
    p.add_argument("--out", type=Path, default=Path("dstrfs"), metavar="DIR", help="output folder (default: dstrfs)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    p.set_defaults(handler=_cmd_dstrf)


def _cmd_dstrf(args: argparse.Namespace) -> int:
    from deepSTRF.training.interpret_run import run_dstrfs, write_dstrfs

    found = run_dstrfs(
        args.checkpoint,
        dataset=args.dataset,
        dataset_kwargs=dict(args.dataset_kwargs),
        stimulus=args.stimulus,
        window=args.window,
        neurons=args.neurons,
        start=args.start,
        stop=args.stop,
        chunk_size=args.chunk_size,
        device=args.device,
    )
    shape = tuple(found.result.dstrfs.shape)
    print(f"dSTRFs of {found.dataset} stimulus {found.stimulus} ({found.stimulus_name}): {shape} (N, T, F, L)")
    print("index          median")
    for name, values in found.indices.items():
        print(f"{name:<14} {float(values.nanmedian()):.3f}")
    for path in write_dstrfs(found, args.out, plots=not args.no_plots):
        print(f"wrote {path}")
    return 0
