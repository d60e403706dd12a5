"""Checks that every deepSTRF model and front-end must pass, usable on your own models too.

- :func:`assert_causal`: perturb the input after a time ``t0`` and require the
  output before ``t0`` to be bit-identical (eval mode, float64 by default).
- :func:`assert_batch_consistent`: each item run alone equals the same item in a batch.
- :func:`assert_roundtrip`: ``save_pretrained`` then ``from_pretrained`` gives
  bit-identical parameters, buffers and outputs, with no extra arguments.
- :func:`assert_gradcheck`: finite differences against autograd, in float64.

Example:
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 3)
    >>> causal = torch.nn.Sequential(torch.nn.ConstantPad1d((2, 0), 0.0), conv)
    >>> assert_causal(causal, torch.randn(2, 1, 20), t0=10)
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _prepare(module: nn.Module, dtype: torch.dtype | None) -> nn.Module:
    model = copy.deepcopy(module)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def assert_causal(
    module: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t0: int | None = None,
    *,
    hop: int = 1,
    dtype: torch.dtype | None = torch.float64,
    require_sensitivity: bool = True,
    seed: int = 0,
    atol: float = 0.0,
) -> None:
    """Assert that outputs before bin ``t0`` ignore every input sample from ``t0 * hop`` on.

    The module is deep-copied, cast to ``dtype`` and put in eval mode; the
    original is untouched. Time is the last axis of input and output.

    Args:
        module: Module (or function) mapping ``x`` to an output whose last axis is time.
        x: Input whose last axis is time (``hop`` input samples per output bin).
        t0: First output bin whose input is perturbed; defaults to half the output length.
        hop: Input samples per output bin (1 for spectrogram models, the audio hop for waveforms).
        dtype: Dtype to run in; ``None`` keeps the module's dtype.
        require_sensitivity: Also require the perturbation to change some output at or after
            ``t0``, so the check cannot pass by the module ignoring its input.
        seed: Seed of the perturbation.
        atol: Largest change of a past output allowed. The default 0 demands bit-identical
            outputs; FFT-based convolutions (see :func:`~deepSTRF.models.wav2spec.causal_conv1d`)
            are causal in exact arithmetic but share rounding errors within a block, so they
            need about ``1e-12`` (float64, signals of order 1).

    Raises:
        ValueError: If the input length is not a multiple of ``hop``, ``t0`` is outside the output
            or ``atol`` is negative.
        AssertionError: If the past changed, or (with ``require_sensitivity``) nothing changed.

    Example:
        >>> smoother = torch.nn.Conv1d(1, 1, kernel_size=5, padding=2)  # centred: sees 2 future bins
        >>> assert_causal(smoother, torch.randn(1, 1, 30), t0=15)
        Traceback (most recent call last):
            ...
        AssertionError: not causal: output bin 13 (< t0=15) changed by up to ...
        >>> frames = torch.nn.Sequential(torch.nn.AvgPool1d(4), torch.nn.Tanh())  # 4 samples -> 1 bin
        >>> assert_causal(frames, torch.randn(1, 1, 40), t0=5, hop=4)
    """
    model = _prepare(module, dtype) if isinstance(module, nn.Module) else module
    x = x.to(dtype) if dtype is not None else x.clone()
    n_in = x.shape[-1]
    if n_in % hop:
        raise ValueError(f"input length {n_in} is not a multiple of hop={hop}")
    n_out = n_in // hop
    t0 = n_out // 2 if t0 is None else t0
    if not 0 < t0 < n_out:
        raise ValueError(f"t0 must lie in (0, {n_out}), got {t0}")
    if not atol >= 0:
        raise ValueError(f"`atol` must be >= 0, got {atol}")
    gen = torch.Generator().manual_seed(seed)
    x2 = x.clone()
    tail = x2[..., t0 * hop :]
    x2[..., t0 * hop :] = tail + (1.0 + tail.abs()) * torch.randn(tail.shape, generator=gen, dtype=x.dtype)
    with torch.no_grad():
        y1, y2 = model(x), model(x2)
    if y1.shape[-1] != n_out:
        raise AssertionError(f"output has {y1.shape[-1]} time bins, expected {n_out} (input {tuple(x.shape)})")
    past1, past2 = y1[..., :t0], y2[..., :t0]
    diff = (past1 - past2).abs()
    if not bool(diff.max() <= atol):  # NaN fails too
        first = int(torch.nonzero(diff.reshape(-1, t0).amax(0) > atol)[0])
        raise AssertionError(
            f"not causal: output bin {first} (< t0={t0}) changed by up to {float(diff.max()):.3g} "
            "when only the future was perturbed"
        )
    if require_sensitivity and torch.equal(y1[..., t0:], y2[..., t0:]):
        raise AssertionError("the perturbation after t0 changed no output at all: the check is vacuous")


def assert_batch_consistent(
    module: nn.Module, x: torch.Tensor, *, dtype: torch.dtype | None = torch.float64, atol: float = 1e-10
) -> None:
    """Assert that running each batch item alone gives the same output as the batched run.

    The module is deep-copied, cast to ``dtype`` and put in eval mode; the original is
    untouched. A module that mixes batch items (e.g. batch normalisation in training mode,
    or a normalisation over the batch axis) fails.

    Args:
        module: Module whose first input and output axis is the batch.
        x: Batched input.
        dtype: Dtype to run in; ``None`` keeps the module's dtype.
        atol: Largest absolute difference allowed.

    Raises:
        AssertionError: If any item differs by more than ``atol``.

    Example:
        >>> assert_batch_consistent(torch.nn.Conv1d(2, 3, 4), torch.randn(5, 2, 20))
        >>> class MinusBatchMean(torch.nn.Module):
        ...     def forward(self, x):
        ...         return x - x.mean(0)
        >>> assert_batch_consistent(MinusBatchMean(), torch.randn(5, 2, 20))
        Traceback (most recent call last):
            ...
        AssertionError: batch item 0 differs by ... when run alone (atol=1e-10)
    """
    model = _prepare(module, dtype)
    x = x.to(dtype) if dtype is not None else x
    with torch.no_grad():
        full = model(x)
        for b in range(x.shape[0]):
            alone = model(x[b : b + 1])
            err = float((alone - full[b : b + 1]).abs().max())
            if err > atol:
                raise AssertionError(f"batch item {b} differs by {err:.3g} when run alone (atol={atol})")


def assert_roundtrip(model: nn.Module, x: torch.Tensor | None = None, *, folder: str | Path | None = None) -> Any:
    """Save with ``save_pretrained``, reload with ``from_pretrained`` and compare bit for bit.

    Args:
        model: A :class:`~deepSTRF.models.neural_model.NeuralModel`.
        x: Optional input; if given, eval-mode outputs must be bit-identical.
        folder: Where to save; a temporary folder by default.

    Returns:
        The reloaded model.

    Raises:
        AssertionError: If a parameter, a buffer or (with ``x``) the output changed.

    Example:
        >>> from deepSTRF.models.audio import Linear
        >>> model = Linear(n_frequency_bands=6, temporal_window_size=3, out_neurons=2)
        >>> loaded = assert_roundtrip(model, torch.randn(1, 1, 6, 12))
        >>> type(loaded).__name__, loaded.init_config == model.init_config
        ('Linear', True)
    """
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(folder) if folder is not None else Path(tmp) / "ckpt"
        model.save_pretrained(target)  # type: ignore[operator]
        loaded = type(model).from_pretrained(target)  # type: ignore[attr-defined]
    ref, new = model.state_dict(), loaded.state_dict()
    if ref.keys() != new.keys():
        raise AssertionError(f"state_dict keys differ: {sorted(set(ref) ^ set(new))}")
    for key in ref:
        if ref[key].dtype != new[key].dtype or not torch.equal(ref[key], new[key]):
            raise AssertionError(f"state_dict entry {key!r} differs after reload")
    if x is not None:
        was_training = model.training
        model.eval()
        loaded.eval()
        with torch.no_grad():
            same = torch.equal(model(x), loaded(x))
        model.train(was_training)
        if not same:
            raise AssertionError("outputs differ after reload")
    return loaded


def assert_gradcheck(fn: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor], **kwargs: Any) -> None:
    """Run :func:`torch.autograd.gradcheck` in float64 on ``fn(*inputs)``.

    Inputs are cast to float64 and marked as requiring gradients. Modules called
    inside ``fn`` must already be in float64.

    Args:
        fn: Function of the tensors in ``inputs``.
        inputs: Its arguments.
        **kwargs: Options of :func:`torch.autograd.gradcheck` (e.g. ``atol``, ``eps``).

    Raises:
        torch.autograd.gradcheck.GradcheckError: If the numerical and analytical gradients
            disagree (a ``RuntimeError``; ``AssertionError`` instead with ``raise_exception=False``).

    Example:
        >>> conv = torch.nn.Conv1d(1, 2, 3).double()
        >>> assert_gradcheck(lambda x: torch.tanh(conv(x)), [torch.randn(1, 1, 8)])
    """
    prepared = tuple(t.detach().to(torch.float64).requires_grad_(True) for t in inputs)
    if not torch.autograd.gradcheck(fn, prepared, **kwargs):
        raise AssertionError("gradcheck failed")
