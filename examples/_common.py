"""Command-line options and output helpers shared by the example scripts.

Every example accepts ``--quick`` (or the environment variable ``DEEPSTRF_EXAMPLES_QUICK=1``)
for a small, fast version of itself, and ``--out DIR`` for the folder where it writes its
figures and numbers (``./example_outputs/<name>`` by default).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import torch


def parse_args(name: str, description: str) -> argparse.Namespace:
    """Parse ``--quick`` and ``--out``; create the output folder and fix the number of threads.

    Returns:
        The options, with ``quick`` (bool) and ``out`` (an existing ``Path``).
    """
    parser = argparse.ArgumentParser(prog=f"python examples/{name}.py", description=description)
    parser.add_argument("--quick", action="store_true", help="small, fast settings (also DEEPSTRF_EXAMPLES_QUICK=1)")
    parser.add_argument("--out", type=Path, default=Path("example_outputs") / name, help="output folder")
    args = parser.parse_args()
    args.quick = args.quick or os.environ.get("DEEPSTRF_EXAMPLES_QUICK", "") not in ("", "0")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    return args


def _plain(value: Any) -> Any:
    """JSON-friendly copy of numbers, tensors, dicts and lists (NaN becomes null)."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON and say where."""
    path.write_text(json.dumps(_plain(data), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def new_figure(width: float, height: float) -> Any:
    """An empty matplotlib figure (Agg canvas, constrained layout) of ``width`` x ``height`` inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure as a PNG and say where."""
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def median(values: torch.Tensor) -> float:
    """NaN-ignoring median of a per-neuron score."""
    return float(values.double().nanmedian())
