"""Before and after, in one process: the training and evaluation paths changed for speed.

Each comparison runs the library's current path ("after") and the path it replaced
("before", restored by patching the library for the duration of the measurement) in
alternating rounds, at the zoo benchmark's shapes (batch 8, 34 bands, 999 frames, 73
neurons), and reports the median and minimum over all calls of each variant:

- ``statenet-gru``: a training step (forward, Poisson loss, backward, Adam) and an eval
  forward of the StateNet GRU, through ``gru_sequence`` (after) or ``nn.GRU`` (before);
- ``statenet-rnn``: a training step of the StateNet RNN, through ``rnn_sequence`` (after) or
  ``nn.RNN`` (before);
- ``transformer``: a training step of the Transformer, with the blocked causal attention
  (after) or ``scaled_dot_product_attention(..., dropout_p=0.1, is_causal=True)`` (before);
  and the two dropout masks alone for the full attention matrix (``bernoulli_`` against a
  uniform draw);
- ``convnet2d-layernorm``: one channels-last layer norm forward and backward at the size of
  ConvNet2D's first activation (``(8, 10, 32, 1015)``), with the scale and shift gradients
  as column sums (after) or in the native kernel (before); and a ConvNet2D training step;
- ``convnet2d-first-conv``: ConvNet2D's first convolution (one input channel) made
  channels-last by the input's strides (after) or by copying its output (before);
- ``nrf-eval``: the NRF eval forward with the in-place softplus and layer norm (after) or
  out of place (before), with the page faults of each call.

Usage (from the repository root)::

    python benchmarks/bench_training_paths.py [--rounds 5] [--calls 5] [--json out.json]

Run it with ``--tune-allocator`` to remove page faults from both variants.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench_models import B, F, N, T, build


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _ab(
    variants: dict[str, tuple[Callable[[], Any], Callable[[], contextlib.AbstractContextManager[Any]]]],
    rounds: int,
    calls: int,
    warmup: int = 2,
) -> dict[str, dict[str, float]]:
    """Alternate the variants ``rounds`` times, ``calls`` timed calls each after ``warmup``."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    faults: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(rounds):
        order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
        for name in order:
            fn, context = variants[name]
            with context():
                for _ in range(warmup):
                    fn()
                start_faults = _faults()
                for _ in range(calls):
                    start = time.perf_counter()
                    fn()
                    times[name].append(1e3 * (time.perf_counter() - start))
                faults[name].append((_faults() - start_faults) / calls)
    return {
        name: {
            "median_ms": statistics.median(times[name]),
            "min_ms": min(times[name]),
            "faults_per_call": statistics.median(faults[name]),
        }
        for name in variants
    }


@contextlib.contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, old)


def _train_step(model: Any, x: Any, target: Any) -> Callable[[], None]:
    import torch

    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        torch.nn.functional.poisson_nll_loss(model(x), target, log_input=False).backward()
        optimiser.step()

    return step


def _eval(model: Any, x: Any) -> Callable[[], None]:
    import torch

    def forward() -> None:
        with torch.no_grad():
            model(x)

    return forward


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per comparison")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per variant and round")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--tune-allocator", action="store_true", help="call tune_allocator() first")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    import torch
    from torch.nn import functional as nnf

    import deepSTRF.models.audio.statenet as statenet
    import deepSTRF.models.audio.transformer as transformer
    import deepSTRF.models.layers.normalization as normalization
    from deepSTRF.models.activations import ParametricSoftplus
    from deepSTRF.models.layers import CausalLayerNorm

    if args.tune_allocator:
        from deepSTRF.utils.performance import tune_allocator

        tune_allocator()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(B, 1, F, T)
    target = torch.poisson(torch.full((B, N, 1, T), 0.5))
    nothing = contextlib.nullcontext
    results: dict[str, Any] = {}

    gru = build("statenet-gru", 5.0)
    no_sequence = lambda: _patched(statenet, "supports_gru_sequence", lambda *a: False)  # noqa: E731
    results["statenet-gru train step"] = _ab(
        {"after": (_train_step(gru.train(), x, target), nothing), "before": (_train_step(gru, x, target), no_sequence)},
        args.rounds,
        args.calls,
    )
    gru.eval()
    results["statenet-gru eval forward (gru_sequence would be slower: kept on nn.GRU)"] = _ab(
        {
            "nn.GRU": (_eval(gru, x), nothing),
            "gru_sequence": (lambda: gru_sequence_eval(gru, x), nothing),
        },
        args.rounds,
        args.calls,
    )

    rnn = build("statenet-rnn", 5.0).train()
    no_rnn_sequence = lambda: _patched(statenet, "supports_rnn_sequence", lambda *a: False)  # noqa: E731
    results["statenet-rnn train step"] = _ab(
        {"after": (_train_step(rnn, x, target), nothing), "before": (_train_step(rnn, x, target), no_rnn_sequence)},
        args.rounds,
        args.calls,
    )

    model = build("transformer", 5.0).train()
    dense = lambda: _patched(  # noqa: E731
        transformer._CausalSelfAttention,
        "_blocked_causal",
        lambda self, q, k, v, p: nnf.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True),
    )
    results["transformer train step"] = _ab(
        {"after": (_train_step(model, x, target), nothing), "before": (_train_step(model, x, target), dense)},
        args.rounds,
        args.calls,
    )
    weights = torch.rand(B, 1, T, T)
    results["dropout mask of the full 999 x 999 attention"] = _ab(
        {
            "uniform draw": (lambda: torch.rand_like(weights).ge_(0.1), nothing),
            "bernoulli_": (lambda: torch.empty_like(weights).bernoulli_(0.9), nothing),
        },
        args.rounds,
        args.calls,
    )

    norm = CausalLayerNorm(10, dim=1)
    activation = torch.randn(B, 10, 32, 1015).contiguous(memory_format=torch.channels_last).requires_grad_()
    upstream = torch.randn(B, 10, 32, 1015).contiguous(memory_format=torch.channels_last)

    def norm_step() -> None:
        torch.autograd.grad(norm(activation), [activation, *norm.parameters()], upstream)

    native = lambda: _patched(CausalLayerNorm, "_channels_last", lambda self, h: self.norm(h))  # noqa: E731
    results["channels-last layer norm, forward + backward"] = _ab(
        {"after": (norm_step, nothing), "before": (norm_step, native)}, args.rounds, args.calls
    )
    convnet = build("convnet2d", 5.0).train()
    results["convnet2d train step (layer norm only changed)"] = _ab(
        {"after": (_train_step(convnet, x, target), nothing), "before": (_train_step(convnet, x, target), native)},
        args.rounds,
        args.calls,
    )
    first = convnet.core[1]
    padded = nnf.pad(x, (24, 0))
    strided = padded.as_strided(padded.shape, (padded.stride(0), 1, padded.stride(2), padded.stride(3)))

    def first_after() -> None:
        with torch.no_grad():
            first(strided)

    def first_before() -> None:
        with torch.no_grad():
            first(padded).contiguous(memory_format=torch.channels_last)

    results["convnet2d first convolution, channels-last output"] = _ab(
        {"after": (first_after, nothing), "before": (first_before, nothing)}, args.rounds, args.calls
    )

    nrf = build("nrf", 5.0).eval()

    def before_nrf() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        prescaled = ParametricSoftplus.forward_prescaled
        stack.enter_context(
            _patched(
                ParametricSoftplus,
                "forward_prescaled",
                lambda self, z, dim=-1, overwrite=False: prescaled(self, z, dim),
            )
        )
        stack.enter_context(
            _patched(
                normalization,
                "_layer_norm_dim1_no_grad",
                lambda h, w, b, eps: normalization._LayerNormAlongDim.apply(h, w, b, eps),
            )
        )
        return stack

    results["nrf eval forward"] = _ab(
        {"after": (_eval(nrf, x), nothing), "before": (_eval(nrf, x), before_nrf)}, args.rounds, args.calls
    )

    print(
        f"{args.threads} threads, {'tuned' if args.tune_allocator else 'default'} allocator, "
        f"{args.rounds} alternating rounds of {args.calls} calls"
    )
    for comparison, variants in results.items():
        print(comparison)
        for name, figures in variants.items():
            print(
                f"    {name:<14} median {figures['median_ms']:8.2f} ms   min {figures['min_ms']:8.2f} ms   "
                f"page faults per call {figures['faults_per_call']:8.0f}"
            )
    if args.json:
        setting = {"threads": args.threads, "tuned_allocator": args.tune_allocator, "rounds": args.rounds}
        with open(args.json, "w") as fh:
            json.dump({"setting": setting | {"calls": args.calls}, "results": results}, fh, indent=2)


def gru_sequence_eval(model: Any, x: Any) -> None:
    """StateNet GRU eval forward with ``gru_sequence`` forced (what the library does not do)."""
    import torch

    from deepSTRF.models.layers import gru_sequence

    with torch.no_grad():
        frames = x.permute(0, 3, 1, 2).reshape(B * T, model.C_in, model.F)
        features = model.encoder_layers(frames).reshape(B, T, model.H)
        model.readout(gru_sequence(features, model.rnn).transpose(1, 2))


if __name__ == "__main__":
    main()
