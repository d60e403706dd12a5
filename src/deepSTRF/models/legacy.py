"""Reading checkpoints written by the published deepSTRF 0.1.0.

A 0.1.0 checkpoint folder holds a ``config.json`` made of the model's JSON-serialisable
constructor arguments plus a ``"_model_class"`` entry (the bare class name), and a
``model.safetensors`` whose keys follow 0.1.0's module layout. Modules given as
arguments (a prefilter, an STRF kernel, an output activation, a front-end) are not
recorded in that config; only their weights are.

This module recognises such a folder and converts it, in memory, to this library's
format: :func:`convert_config` gives a configuration that :func:`deepSTRF.models.checkpoint.read_config`
returns, and :func:`convert_state` renames and re-parameterises the weights so that the
converted model computes what the published one did. What the weights reveal is rebuilt
(STRF kernels; output activations, with their default ``non_negative_output=True``, a flag
0.1.0 records nowhere: an activation built with ``False`` is passed again with ``extra_kwargs``);
what they do not (a prefilter's kernel length, a front-end's sample rate) must be passed
again with ``extra_kwargs``, as 0.1.0 itself required.
:func:`deepSTRF.utils.hub.convert_checkpoint` writes a converted folder (``deepstrf convert``).

Re-parameterisations (0.1.0 name: here):

- ``ParametricSoftplus``/``ParametricSigmoid``/``ParametricDoubleExponential``: ``_raw_*`` are ``raw_*``.
- ``CausalLayerNorm.ln`` is ``.norm``; ``STRFReadout.strf`` is ``.conv``; ``LinearReadout.fc`` is ``.projection``.
- ``ParametricSTRF``: ``P`` is ``positions``; widths ``|SIG| + 0.27`` become ``softplus(raw_sigmas) + 0.01``.
- ``SeparableSTRF``: the singleton axes of ``weight_f`` / ``weight_t`` are dropped.
- ``LearnableExponentialDecay``: decay ``d**2 / (1 + d**2)`` is ``sigmoid(decay_logit)``.
- ``AdapTrans``: ``a = 1 / (1 + d**2)`` and ``w = 1 / (1 + p**2)`` are sigmoids of ``a_logit``/``w_logit``.
- ``LocallyConnected1d``: ``weights (C_out, C_in*K, L)`` is ``weight (L, C_out, C_in, K)``.
- The LMU cell's ``rnn.cell.*`` tensors are the LMU's own; ConvNet2D's core is matched in order.
- S4 (``StateNet(rnn_type="S4")``): ``rnn.layer.kernel.{inv_dt, A_real, A_imag, B, P, C}`` and
  ``rnn.layer.D`` are ``rnn.{log_dt, log_A_real, A_imag, B, P, C, D}`` without their singleton
  axes, ``rnn.output_linear`` is ``rnn.output``; a ``C`` that 0.1.0 had already folded into
  ``C (I - Ā^L)`` (``l_kernel = L > 0``) is solved back to ``C``.
- ICNet: ``decoder`` (0.1.0 registers the readout twice) is ``readout``; SincNet ``low_hz_``/``band_hz_``
  are ``low_hz``/``band_hz`` of a SincNet built with 0.1.0's bounds (``sincnet_min_low_hz=1``,
  ``sincnet_min_band_hz=0``); a block whose stride exceeds its kernel gets its kernel zero-padded
  to the stride, placed on the samples 0.1.0 read. 0.1.0's own ``save_pretrained`` cannot write
  an ICNet's weights (safetensors refuses the shared readout tensors): it writes ``config.json``
  only, and the weights are whatever file the user wrote beside it (one or both readout names).
- Front-ends (``wav2spec=``, passed again): ``SincNet`` cut-offs are carried over (above);
  ``CausalMelSpectrogram``'s ``_window``/``_mel_fb`` and ``Gammatonegram``'s
  ``a_coeffs``/``b1``..``b4``/``gain`` are checked against the module given, then dropped;
  ``CausalGammatone`` and ``CausalLEAF`` compute otherwise than the front-ends of those names
  here: they convert onto :class:`~deepSTRF.models.wav2spec.PublishedCausalGammatone` (its
  ``_kernels`` checked, then dropped with ``_fc``) and :class:`~deepSTRF.models.wav2spec.PublishedCausalLEAF`
  (``center_freq_``, ``gabor_sigma_raw``, ``pool_sigma_raw``, ``pcen_{alpha,delta,root}_raw`` and
  ``pcen_s_logit`` are ``centre``, ``raw_sigma``, ``raw_pool_width``, ``raw_{alpha,delta,r}`` and
  ``smooth_logit``; the grids ``_n``/``_pool_j`` set the kernel and window lengths, then are dropped).

Example:
    >>> is_legacy_config({"_model_class": "Linear", "n_frequency_bands": 8})
    True
    >>> convert_config({"_model_class": "Linear", "n_frequency_bands": 8, "temporal_window_size": 3,
    ...                 "out_neurons": 2, "output_activation": None, "prefiltering": None,
    ...                 "kernel": None, "wav2spec": None})["model_class"]
    'deepSTRF.models.audio.strf_models.Linear'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from deepSTRF._version import __version__
from deepSTRF.models.configurable import UNSERIALISABLE
from deepSTRF.models.dependencies.s4 import dplr_transition
from deepSTRF.models.wav2spec.published import PublishedCausalGammatone, PublishedCausalLEAF

__all__ = [
    "LEGACY_CLASSES",
    "LEGACY_VERSION",
    "align_state",
    "convert_config",
    "convert_state",
    "is_legacy_config",
    "legacy_front_end",
    "read_legacy",
]

#: The published library version whose checkpoint folders this module converts.
LEGACY_VERSION = "0.1.0"
_AUDIO = "deepSTRF.models.audio"
_MODULE_ARGS = ("output_activation", "prefiltering", "kernel", "wav2spec")

#: 0.1.0 class name -> (class path here, constructor arguments 0.1.0 records).
LEGACY_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Linear": (
        f"{_AUDIO}.strf_models.Linear",
        ("n_frequency_bands", "temporal_window_size", "out_neurons", *_MODULE_ARGS),
    ),
    "LinearNonlinear": (
        f"{_AUDIO}.strf_models.LinearNonlinear",
        ("n_frequency_bands", "temporal_window_size", "out_neurons", *_MODULE_ARGS[:3]),
    ),
    "NetworkReceptiveField": (
        f"{_AUDIO}.strf_models.NetworkReceptiveField",
        ("n_frequency_bands", "temporal_window_size", "n_hidden", "out_neurons", *_MODULE_ARGS[:3]),
    ),
    "DNet": (
        f"{_AUDIO}.strf_models.DNet",
        (
            "n_frequency_bands",
            "temporal_window_size",
            "n_hidden",
            "init_tau",
            "decay_input",
            "out_neurons",
            *_MODULE_ARGS[:3],
        ),
    ),
    "ConvNet2D": (
        f"{_AUDIO}.convnet.ConvNet2D",
        ("n_frequency_bands", "kernel_size", "c_hidden", "n_hidden", "out_neurons", *_MODULE_ARGS[:2]),
    ),
    "StateNet": (
        f"{_AUDIO}.statenet.StateNet",
        (
            *("n_frequency_bands", "temporal_window_size", "kernel_size", "stride", "hidden_channels"),
            *("connectivity", "rnn_type", "out_neurons", "output_activation", "prefiltering", "wav2spec"),
        ),
    ),
    "Transformer": (
        f"{_AUDIO}.transformer.Transformer",
        (
            *("n_frequency_bands", "freq_patch_size", "time_patch_size", "context_window", "embedding_dim"),
            *("n_heads", "n_layers", "out_neurons", "output_activation", "prefiltering", "wav2spec"),
        ),
    ),
    "ICNet": (
        f"{_AUDIO}.icnet.ICNet",
        (
            *("audio_fs", "out_neurons", "dt_ms", "n_filters", "sincnet_kernel_size", "encoder_channels"),
            *("encoder_kernel_size", "n_encoder_layers", "bottleneck_channels", "encoder_strides"),
        ),
    ),
}

_ACTIVATIONS = {
    ("_raw_beta", "_raw_b"): "ParametricSoftplus",
    ("_raw_b", "c", "d"): "ParametricSigmoid",
    ("_raw_a", "k", "s"): "ParametricDoubleExponential",
}
_SIGMA_OFFSET_0_1_0 = 0.27  # ParametricSTRF widths in 0.1.0 are |SIG| + 0.27

#: 0.1.0 front-end class -> a weight name (under ``wav2spec.``) only it saves.
_FRONT_ENDS = {
    "SincNet": "low_hz_",
    "CausalMelSpectrogram": "_mel_fb",
    "CausalGammatone": "_kernels",
    "CausalLEAF": "center_freq_",
    "Gammatonegram": "a_coeffs",
}


def is_legacy_config(config: Any) -> bool:
    """Whether a parsed ``config.json`` is in the 0.1.0 layout (``"_model_class"``, no ``"format"``).

    Args:
        config: The parsed JSON.

    Returns:
        True for a 0.1.0 configuration.
    """
    return isinstance(config, dict) and "_model_class" in config and "format" not in config


def _check(config: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    name = config.get("_model_class")
    if name not in LEGACY_CLASSES:
        raise ValueError(
            f"{where} looks like a deepSTRF {LEGACY_VERSION} checkpoint of class {name!r}, which is not one of the "
            f"{LEGACY_VERSION} models this library converts ({sorted(LEGACY_CLASSES)})"
        )
    known = LEGACY_CLASSES[name][1]
    kwargs = {k: v for k, v in config.items() if k != "_model_class"}
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValueError(
            f"{where} is not a deepSTRF {LEGACY_VERSION} {name} configuration: unexpected entries {unknown} "
            f"(a {LEGACY_VERSION} {name} records {list(known)}); it may come from another version"
        )
    return name, kwargs


def _module(path: str, **kwargs: Any) -> dict[str, Any]:
    return {"__module__": path, "kwargs": kwargs}


def _activation(state: dict[str, torch.Tensor], prefix: str, neurons: int) -> dict[str, Any] | None:
    names = {k[len(prefix) :] for k in state if k.startswith(prefix)}
    if not names:
        return None
    for keys, cls in _ACTIVATIONS.items():
        if set(keys) <= names:
            kwargs: dict[str, Any] = {"num_features": neurons}
            if cls == "ParametricSigmoid":
                kwargs["bias"] = "_raw_a" in names
            if cls == "ParametricDoubleExponential":
                kwargs["bias"] = "_raw_b" in names
            return _module(f"deepSTRF.models.activations.{cls}", **kwargs)
    return None


def _kernel(state: dict[str, torch.Tensor], prefix: str) -> dict[str, Any] | None:
    """The STRF kernel module recorded by its weights under ``prefix`` (``...kernel.``), if not a plain Conv2d."""
    names = {k[len(prefix) :] for k in state if k.startswith(prefix)}
    bias = "bias" in names
    if {"P", "SIG", "weight"} <= names:
        c_out, c_in, gaussians = state[prefix + "weight"].shape
        return {"__parametric__": {"C_in": c_in, "C_out": c_out, "G": gaussians, "bias": bias}}
    if {"weight_f", "weight_t"} <= names:
        return {"__separable__": {"bias": bias}}
    if {"0.weight", "1.weight"} <= names:
        layers = []
        for i in range(2):
            w = state[f"{prefix}{i}.weight"]
            groups = w.shape[0] // w.shape[1] if i == 1 and w.shape[1] == 1 and w.shape[0] > 1 else 1
            in_channels = w.shape[1] * groups
            layers.append(
                _module(
                    "torch.nn.Conv2d",
                    in_channels=int(in_channels),
                    out_channels=int(w.shape[0]),
                    kernel_size={"__tuple__": [int(w.shape[2]), int(w.shape[3])]},
                    groups=int(groups),
                    bias=f"{prefix}{i}.bias" in state,
                )
            )
        return {"__module__": "torch.nn.Sequential", "args": layers}
    return None


def _strf_geometry(name: str, kwargs: dict[str, Any]) -> tuple[int, int]:
    defaults = {"n_frequency_bands": 34, "temporal_window_size": 9}
    return (
        int(kwargs.get("n_frequency_bands", defaults["n_frequency_bands"])),
        int(kwargs.get("temporal_window_size", defaults["temporal_window_size"])),
    )


def legacy_front_end(state: dict[str, torch.Tensor]) -> str | None:
    """The class name of the 0.1.0 front-end (``wav2spec=``) whose weights ``state`` holds, if any.

    Example:
        >>> legacy_front_end({"wav2spec._mel_fb": torch.zeros(3, 2), "wav2spec._window": torch.zeros(4)})
        'CausalMelSpectrogram'
    """
    for name, key in _FRONT_ENDS.items():
        if f"wav2spec.{key}" in state:
            return name
    return None


def convert_config(
    config: dict[str, Any], state: dict[str, torch.Tensor] | None = None, where: str = "config"
) -> dict[str, Any]:
    """Convert a 0.1.0 ``config.json`` (and, to recover module arguments, its weights) to this library's format.

    Args:
        config: The parsed 0.1.0 configuration.
        state: The 0.1.0 weights; without them, module arguments absent from the
            configuration are marked as needing ``extra_kwargs``.
        where: Name of the file, for error messages.

    Returns:
        A configuration as :func:`deepSTRF.models.checkpoint.read_config` returns it, with
        ``"converted_from"`` set to ``"deepSTRF 0.1.0"`` and the original under ``"legacy_config"``.

    Raises:
        ValueError: If the class is not a 0.1.0 model or the entries are not those 0.1.0 writes.
    """
    name, kwargs = _check(config, where)
    path, known = LEGACY_CLASSES[name]
    state = state or {}
    front_end = legacy_front_end(state)
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        out[key] = {"__tuple__": value} if key == "kernel_size" and isinstance(value, list) else value
    neurons = int(kwargs.get("out_neurons", 1))
    for arg in _MODULE_ARGS:
        if arg not in known or arg in kwargs:
            continue
        # 0.1.0 dropped this argument: a module was given. Rebuild it from the weights when they tell enough.
        encoded: Any = None
        if arg == "output_activation":
            encoded = _activation(state, "readout.activation.", neurons)
        elif arg == "kernel":
            prefix = "readout.strf.kernel." if name in ("Linear", "LinearNonlinear") else "core.0.kernel."
            found = _kernel(state, prefix)
            if found is not None and "__parametric__" in found:
                p = found["__parametric__"]
                f_bands, t_frames = _strf_geometry(name, kwargs)
                found = _module(
                    "deepSTRF.models.layers.strf.ParametricSTRF",
                    F=f_bands,
                    T=t_frames,
                    C_in=int(p["C_in"]),
                    C_out=int(p["C_out"]),
                    num_gaussians=int(p["G"]),
                    bias=bool(p["bias"]),
                )
            elif found is not None and "__separable__" in found:
                w = state[prefix + "weight_f"]
                found = _module(
                    "deepSTRF.models.layers.strf.SeparableSTRF",
                    F=int(w.shape[2]),
                    T=int(state[prefix + "weight_t"].shape[3]),
                    C_in=int(w.shape[1]),
                    C_out=int(w.shape[0]),
                    bias=bool(found["__separable__"]["bias"]),
                )
            encoded = found
        if encoded is None and arg in ("prefiltering", "wav2spec") and any(k.startswith(f"{arg}.") for k in state):
            encoded = {
                UNSERIALISABLE: "module",
                "repr": f"a {arg} module{f' ({front_end})' if arg == 'wav2spec' and front_end else ''}, which "
                f"deepSTRF {LEGACY_VERSION} checkpoints do not record",
            }
        out[arg] = encoded
    if name == "ICNet":
        # 0.1.0's SincNet bounds its cut-offs below by 1 Hz and lets bands close; a block whose
        # stride exceeds its kernel read the first samples of each stride (see _icnet_state)
        kernel_size = int(kwargs.get("encoder_kernel_size", 64))
        out.update(
            sincnet_min_low_hz=1.0,
            sincnet_min_band_hz=0.0,
            encoder_kernel_size=max(kernel_size, *_icnet_strides(kwargs)),
        )
    return {
        "format": "deepSTRF-checkpoint",
        "format_version": 1,
        "library_version": __version__,
        "model_class": path,
        "dtype": _dtype(state),
        "init_kwargs": out,
        "converted_from": f"deepSTRF {LEGACY_VERSION}",
        "legacy_config": dict(config),
    }


def _dtype(state: dict[str, torch.Tensor]) -> str:
    dtypes = {str(t.dtype).removeprefix("torch.") for t in state.values() if t.is_floating_point()}
    return dtypes.pop() if len(dtypes) == 1 else "float32"


def _inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 20, x, torch.log(torch.expm1(x)))


def _logit_of_inverse(d: torch.Tensor) -> torch.Tensor:
    """``logit(1 / (1 + d**2))`` = ``-2 log|d|``, computed in float64."""
    return -2.0 * torch.log(d.double().abs())


def convert_state(config: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename and re-parameterise 0.1.0 weights for the model :func:`convert_config` describes.

    Args:
        config: The converted configuration (its ``"legacy_config"`` names the 0.1.0 class).
        state: The 0.1.0 ``state_dict``.

    Returns:
        A ``state_dict`` for this library's model, in the weights' dtype.
    """
    name = config["legacy_config"]["_model_class"]
    if name == "ICNet":
        return _icnet_state(config, state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        dtype = value.dtype
        new = key.replace("readout.strf.", "readout.conv.").replace("readout.fc.", "readout.projection.")
        new = new.replace(".ln.", ".norm.").replace("activation._raw_", "activation.raw_")
        leaf = new.rpartition(".")[2]
        parent = new.rpartition(".")[0]
        if new.endswith("pos_encoding.div_term") or new.endswith("l_kernel"):
            continue
        if leaf in ("P", "SIG") and {f"{key.rpartition('.')[0]}.{k}" for k in ("P", "SIG", "weight")} <= set(state):
            if leaf == "P":
                out[f"{parent}.positions"] = value
            else:
                sigma = value.double().abs() + _SIGMA_OFFSET_0_1_0 - 0.01
                out[f"{parent}.raw_sigmas"] = _inverse_softplus(sigma).to(dtype)
            continue
        if leaf == "weight_f" and value.dim() == 4:
            out[new] = value.squeeze(-1)
            continue
        if leaf == "weight_t" and value.dim() == 4:
            out[new] = value.squeeze(-2)
            continue
        if name == "DNet" and leaf == "d" and new.startswith("core."):
            out[f"{parent}.decay_logit"] = (2.0 * torch.log(value.double().abs())).to(dtype)
            continue
        if parent == "prefiltering" and leaf in ("d_on", "d_off", "p"):
            if leaf == "p":
                out["prefiltering.w_logit"] = _logit_of_inverse(value).to(dtype)
            elif leaf == "d_on":
                off = state["prefiltering.d_off"]
                out["prefiltering.a_logit"] = torch.stack([_logit_of_inverse(value), _logit_of_inverse(off)]).to(dtype)
            continue
        if name == "StateNet" and new in ("encoder_layers.0.weights", "encoder_layers.0.biases"):
            if leaf == "biases":
                out["encoder_layers.0.bias"] = value
            else:
                c_out, span, length = value.shape  # span = C_in * K, channel-major
                k = int(config["legacy_config"].get("kernel_size", 7))
                weight = value.reshape(c_out, span // k, k, length).permute(3, 0, 1, 2)
                out["encoder_layers.0.weight"] = weight.contiguous()
            continue
        if (
            name == "StateNet"
            and config["init_kwargs"].get("connectivity") == "FC"
            and new.startswith("encoder_layers.")
        ):
            index, _, rest = new[len("encoder_layers.") :].partition(".")
            new = {"1": "encoder_layers.0.1.", "3": "encoder_layers.1."}.get(index, f"encoder_layers.{index}.") + rest
        if name == "Transformer" and new.startswith("tsfm.layers."):
            index, _, rest = new[len("tsfm.layers.") :].partition(".")
            rest = rest.replace("self_attn.in_proj_weight", "attention.qkv.weight")
            rest = rest.replace("self_attn.in_proj_bias", "attention.qkv.bias")
            new = f"core.{index}." + rest.replace("self_attn.out_proj.", "attention.out.")
        if name == "StateNet" and new.startswith("rnn.cell."):
            new = "rnn." + new[len("rnn.cell.") :]
        if name == "StateNet" and new.startswith("rnn.layer."):
            continue  # the S4 kernel's tensors, below
        out[new.replace("rnn.output_linear.", "rnn.output.")] = value
    if name == "StateNet" and "rnn.layer.kernel.C" in state:
        out.update(_s4_state(state, "rnn."))
    return out


def _icnet_strides(kwargs: dict[str, Any]) -> list[int]:
    """The strides of a 0.1.0 ICNet's encoder blocks, from its recorded arguments.

    Without ``encoder_strides``, 0.1.0 (like :func:`deepSTRF.models.audio.icnet.factor_strides`)
    takes a stride of 2 while what remains of the hop is even, and the rest last.
    """
    if kwargs.get("encoder_strides") is not None:
        return [int(s) for s in kwargs["encoder_strides"]]
    remaining = round(float(kwargs["audio_fs"]) * float(kwargs.get("dt_ms", 5.0)) / 1000.0)
    strides = []
    for _ in range(int(kwargs.get("n_encoder_layers", 5)) - 1):
        strides.append(2 if remaining % 2 == 0 else 1)
        remaining //= strides[-1]
    return [*strides, remaining]


def _icnet_state(config: dict[str, Any], state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ICNet weights: one readout, the SincNet cut-offs in the form of ``min_low_hz=1, min_band_hz=0``.

    0.1.0 registers the readout twice (``decoder`` and ``readout``), so a file holds either
    name or both; both must then agree. Its SincNet computes ``f1 = clamp(|low_hz_|, 1, fs/2 - 1)``
    and ``f2 = min(f1 + |band_hz_|, fs/2)``; here ``f1 = 1 + |low_hz|`` and
    ``f2 = min(f1 + |band_hz|, fs/2)``, so ``low_hz = f1 - 1`` and ``band_hz = |band_hz_|``.
    The kernel grid and window buffers (``_n``, ``_window``) are recomputed.

    A 0.1.0 block of stride ``s`` and kernel ``K`` reads, for output ``i``, the samples
    ``[(i + 1) s - K, (i + 1) s)`` when ``K >= s`` (as here) but ``[i s, i s + K)`` when
    ``K < s``. The converted blocks all have the kernel length ``K' = max(K, s_max)``
    (``encoder_kernel_size`` in the converted configuration); each 0.1.0 kernel is placed in
    it, zeros elsewhere, at the taps that read the samples it read.
    """
    legacy = config["legacy_config"]
    strides = _icnet_strides(legacy)
    kernel_size = int(legacy.get("encoder_kernel_size", 64))
    size = int(config["init_kwargs"]["encoder_kernel_size"])
    offsets = {f"wav2spec.encoder.{i}.": size - max(kernel_size, s) for i, s in enumerate(strides)}
    offsets["wav2spec.bottleneck."] = size - kernel_size
    readouts = {prefix for prefix in ("decoder.", "readout.") if f"{prefix}weight" in state}
    if not readouts:
        raise ValueError("the 0.1.0 ICNet weights hold neither decoder.weight nor readout.weight")
    if len(readouts) == 2 and not all(
        torch.equal(state[f"decoder.{k}"], state[f"readout.{k}"]) for k in ("weight", "bias")
    ):
        raise ValueError("the 0.1.0 ICNet weights hold a decoder and a readout that differ; 0.1.0 had one module")
    nyquist = float(legacy["audio_fs"]) / 2
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("readout.") and "decoder." in readouts:
            continue
        if key.endswith(("sincnet._n", "sincnet._window")):
            continue
        if key.endswith("sincnet.low_hz_"):
            low = value.double().abs().clamp(min=1.0, max=nyquist - 1.0) - 1.0
            out[key.removesuffix("_")] = low.to(value.dtype)
        elif key.endswith("sincnet.band_hz_"):
            out[key.removesuffix("_")] = value.abs()
        elif key.endswith("conv.weight") and key.startswith(("wav2spec.encoder.", "wav2spec.bottleneck.")):
            offset = offsets[key.removesuffix("conv.weight")]
            weight = value.new_zeros((*value.shape[:-1], size))
            weight[..., offset : offset + value.shape[-1]] = value
            out[key] = weight
        else:
            out["readout." + key.removeprefix("decoder.") if key.startswith("decoder.") else key] = value
    return out


def _s4_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The S4 block's kernel tensors, re-keyed; ``C`` is brought back to its length-free value.

    0.1.0 replaces ``C`` in place by ``C (I - Ā^L)`` the first time the kernel is built for
    length ``L`` (and by ``C (I + Ā^L)`` each time it doubles that length), recording the
    length in ``l_kernel``; here ``C`` is the SSM's own output vector and the wrap-around
    correction is applied to each kernel. A checkpoint with ``l_kernel = L > 0`` therefore
    holds ``C (I - Ā^L)``, which is solved for ``C`` in float64.
    """
    needed = [f"{prefix}layer.kernel.{k}" for k in ("inv_dt", "A_real", "A_imag", "B", "P", "C")] + [f"{prefix}layer.D"]
    missing = [key for key in needed if key not in state]
    if missing:
        raise ValueError(f"the 0.1.0 S4 weights must hold {needed}, but {missing} are missing")
    kernel = {key.rpartition(".")[2]: value for key, value in state.items() if key.startswith(f"{prefix}layer.kernel.")}
    dtype = kernel["C"].dtype
    out = {
        f"{prefix}log_dt": kernel["inv_dt"].reshape(-1),
        f"{prefix}log_A_real": kernel["A_real"],
        f"{prefix}A_imag": kernel["A_imag"],
        f"{prefix}B": kernel["B"][0],
        f"{prefix}P": kernel["P"][0],
        f"{prefix}D": state[f"{prefix}layer.D"][0],
    }
    c = kernel["C"][0]
    length = int(kernel.get("l_kernel", torch.tensor(0)))
    if length > 0:
        log_dt, a_real, a_imag, p = (
            t.double() for t in (out[f"{prefix}log_dt"], kernel["A_real"], kernel["A_imag"], kernel["P"][0])
        )
        transition = dplr_transition(log_dt, a_real, a_imag, p)
        wrapped = torch.linalg.matrix_power(transition, length)
        eye = torch.eye(wrapped.shape[-1], dtype=wrapped.dtype)
        c_tilde = torch.view_as_complex(c.double().contiguous())
        c_tilde = torch.cat([c_tilde, c_tilde.conj()], dim=-1)
        # row vector c̃ = c (I - Ā^L)  <=>  (I - Ā^L)ᵀ cᵀ = c̃ᵀ
        c_full = torch.linalg.solve((eye - wrapped).transpose(-1, -2), c_tilde.unsqueeze(-1)).squeeze(-1)
        c = torch.view_as_real(c_full[:, : c.shape[1]].contiguous()).to(dtype)
    out[f"{prefix}C"] = c
    return out


def _groups(keys: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.rpartition(".")[0], []).append(key)
    return groups


def _module_order(prefix: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in prefix.split(".")]


def _match_in_order(
    converted: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], prefix: str
) -> dict[str, torch.Tensor]:
    """Re-key the ``prefix`` tensors of ``converted`` to ``expected``'s, module by module in order.

    The modules holding tensors under ``prefix`` are paired in their order of definition
    (numeric path order for ``converted``, whose keys a safetensors file sorts); paired
    modules must hold the same tensor names and shapes, or nothing is changed.
    """
    ours = _groups([k for k in expected if k.startswith(prefix)])
    theirs = _groups([k for k in converted if k.startswith(prefix)])
    their_modules = sorted(theirs, key=_module_order)
    if len(ours) != len(theirs):
        return converted
    mapping = {}
    for our_module, their_module in zip(ours, their_modules):
        leaves = {k.rpartition(".")[2]: k for k in theirs[their_module]}
        for key in ours[our_module]:
            source = leaves.get(key.rpartition(".")[2])
            if source is None or converted[source].shape != expected[key].shape:
                return converted
            mapping[key] = source
    out = {k: v for k, v in converted.items() if not k.startswith(prefix)}
    out.update({key: converted[source] for key, source in mapping.items()})
    return out


def _sincnet_front_end(state: dict[str, torch.Tensor], module: Any) -> dict[str, torch.Tensor]:
    """A 0.1.0 ``SincNet`` front-end's cut-offs (``wav2spec.low_hz_``/``band_hz_``) for the ``SincNet`` given here.

    0.1.0 computes ``f1 = clamp(|low_hz_|, 1, fs/2 - 1)`` and ``f2 = min(f1 + |band_hz_|, fs/2)``;
    ``module`` (passed again with ``extra_kwargs``) computes ``f1 = min_low_hz + |low_hz|`` and
    ``f2 = min(f1 + min_band_hz + |band_hz|, fs/2)``. The cut-offs are carried over exactly when
    ``module``'s bounds allow them (always with ``min_low_hz=1, min_band_hz=0``), else it is an error.
    """
    if not all(hasattr(module, a) for a in ("min_low_hz", "min_band_hz", "low_hz", "band_hz")):
        raise ValueError(
            f"the 0.1.0 weights hold a SincNet front-end (wav2spec.low_hz_, wav2spec.band_hz_), but the "
            f"wav2spec given is a {type(module).__name__}; pass a deepSTRF.models.wav2spec.SincNet"
        )
    taps = state["wav2spec._n"].shape[-1] if "wav2spec._n" in state else module.kernel_size
    if taps != module.kernel_size:
        raise ValueError(
            f"the 0.1.0 SincNet front-end has {taps}-sample kernels, the SincNet given {module.kernel_size}"
        )
    if not module.envelope and module.kernel_size < module.hop:
        raise ValueError(
            f"a 0.1.0 SincNet front-end without envelope whose kernel ({module.kernel_size} samples) is shorter "
            f"than its hop ({module.hop}) read the first samples of each bin, which this SincNet cannot do"
        )
    low, band = state["wav2spec.low_hz_"], state["wav2spec.band_hz_"]
    min_low, min_band = float(module.min_low_hz), float(module.min_band_hz)
    nyquist = float(module.audio_fs) / 2
    f1 = low.double().abs().clamp(min=1.0, max=nyquist - 1.0)
    f2 = (f1 + band.double().abs()).clamp(max=nyquist)
    our_low = f1 - min_low
    our_band = torch.where(f2 >= nyquist, f2 - f1, f2 - f1 - min_band).clamp(min=0.0)
    reachable = (f1 + min_band + our_band).clamp(max=nyquist)
    if bool((our_low < 0).any()) or bool(((reachable - f2).abs() > 1e-6).any()):
        raise ValueError(
            f"the 0.1.0 SincNet cut-offs ({f1.min().item():g} Hz and up, bands from {(f2 - f1).min().item():g} Hz) "
            f"are outside the bounds of the SincNet given (min_low_hz={min_low:g}, "
            f"min_band_hz={min_band:g}); build it with min_low_hz=1.0, min_band_hz=0.0 (0.1.0's bounds)"
        )
    out = {k: v for k, v in state.items() if k not in ("wav2spec.low_hz_", "wav2spec.band_hz_")}
    out = {k: v for k, v in out.items() if k not in ("wav2spec._n", "wav2spec._window")}
    out["wav2spec.low_hz"] = our_low.to(low.dtype)
    out["wav2spec.band_hz"] = our_band.to(band.dtype)
    return out


def _mel_front_end(state: dict[str, torch.Tensor], module: Any) -> dict[str, torch.Tensor]:
    """Check a 0.1.0 ``CausalMelSpectrogram``'s fixed buffers against the front-end given, then drop them.

    0.1.0 saves its Hann window (``wav2spec._window``, ``win`` samples, with ``n_fft = win``) and
    its mel filterbank (``wav2spec._mel_fb``, ``(n_fft // 2 + 1, n_mels)``). The
    ``CausalMelSpectrogram`` passed again computes both from its arguments; they must agree
    (window to 1e-6, filterbank to 1e-5), else the conversion stops and says which differs.
    """
    if not all(hasattr(module, a) for a in ("filterbank", "window", "n_fft", "win_length", "periodic_window")):
        raise ValueError(
            f"the 0.1.0 weights hold a CausalMelSpectrogram front-end (wav2spec._window, wav2spec._mel_fb), but the "
            f"wav2spec given is a {type(module).__name__}; pass a deepSTRF.models.wav2spec.CausalMelSpectrogram"
        )
    window, filterbank = state["wav2spec._window"].double(), state["wav2spec._mel_fb"].double()
    win = window.shape[-1]
    if module.win_length != win or module.n_fft != win:
        raise ValueError(
            f"the 0.1.0 CausalMelSpectrogram has a {win}-sample window and n_fft = {win}; the one given has a "
            f"{module.win_length}-sample window and n_fft = {module.n_fft} (build it with "
            f"window_ms={1000.0 * win / float(module.audio_fs):g}, n_fft={win})"
        )
    ours = module.window.double()[-win:]
    if float((ours - window).abs().max()) > 1e-6:
        symmetric = torch.hann_window(win, periodic=False, dtype=torch.float64)
        hint = (
            "0.1.0 used the symmetric Hann window: build it with periodic_window=False"
            if float((symmetric - window).abs().max()) <= 1e-6
            else "the saved window is not a Hann window, which this front-end cannot use"
        )
        raise ValueError(f"the 0.1.0 CausalMelSpectrogram's window differs from the one given: {hint}")
    mine = module.filterbank.double()
    if mine.shape != filterbank.shape:
        raise ValueError(
            f"the 0.1.0 mel filterbank is {tuple(filterbank.shape)} (FFT bins, bands), the one given "
            f"{tuple(mine.shape)}"
        )
    error = float((mine - filterbank).abs().max())
    if error > 1e-5:
        raise ValueError(
            f"the 0.1.0 mel filterbank differs from the one the CausalMelSpectrogram given computes (by up to "
            f"{error:.3g}): n_filters, f_min_hz, f_max_hz (0.1.0 clamped f_max to Nyquist) and mel_scale must be "
            f"0.1.0's, with norm=None; a filterbank edited by hand does not convert"
        )
    return {k: v for k, v in state.items() if k not in ("wav2spec._window", "wav2spec._mel_fb")}


_GAMMATONEGRAM_KEYS = tuple(f"wav2spec.{k}" for k in ("a_coeffs", "b1", "b2", "b3", "b4", "gain"))


def _biquad_cascade_impulse_response(state: dict[str, torch.Tensor], n_samples: int) -> torch.Tensor:
    """Impulse responses ``(F, n_samples)``, in float64, of 0.1.0's four biquads per channel divided by ``gain``."""
    a = state["wav2spec.a_coeffs"].double()
    signal = torch.zeros(a.shape[0], n_samples, dtype=torch.float64)
    signal[:, 0] = 1.0
    for section in ("b1", "b2", "b3", "b4"):
        b = state[f"wav2spec.{section}"].double()
        out = torch.zeros_like(signal)
        for n in range(n_samples):
            acc = b[:, 0] * signal[:, n]
            if n >= 1:
                acc = acc + b[:, 1] * signal[:, n - 1] - a[:, 1] * out[:, n - 1]
            if n >= 2:
                acc = acc + b[:, 2] * signal[:, n - 2] - a[:, 2] * out[:, n - 2]
            out[:, n] = acc / a[:, 0]
        signal = out
    return signal / state["wav2spec.gain"].double().unsqueeze(1)


def _gammatonegram_front_end(state: dict[str, torch.Tensor], module: Any) -> dict[str, torch.Tensor]:
    """Check a 0.1.0 ``Gammatonegram``'s filter coefficients against the front-end given, then drop them.

    0.1.0 saves, per channel, four second-order sections (``b1``..``b4`` over ``a_coeffs``) and a
    ``gain``. Their cascade is the same 8th-order gammatone filter as :class:`Gammatonegram`'s
    here when the centre frequencies agree, so the impulse responses (first 512 samples) of the
    saved filters and of the ``Gammatonegram`` passed again are compared, to 1e-4 of each
    channel's peak; a difference (other centre frequencies or sample rate, coefficients edited by
    hand) stops the conversion. The window is not in the weights: 0.1.0 averaged the power over
    the first ``window_ms`` of each bin, which is ``window_at='start'`` here.
    """
    if not all(hasattr(module, a) for a in ("filter", "centre_freqs", "window_at")):
        raise ValueError(
            f"the 0.1.0 weights hold a Gammatonegram front-end (wav2spec.a_coeffs, ...), but the wav2spec given "
            f"is a {type(module).__name__}; pass a deepSTRF.models.wav2spec.Gammatonegram"
        )
    a = state["wav2spec.a_coeffs"].double()
    if a.shape[0] != module.out_channels:
        raise ValueError(
            f"the 0.1.0 Gammatonegram has {a.shape[0]} channels, the Gammatonegram given {module.out_channels}"
        )
    n_samples = 512
    theirs = _biquad_cascade_impulse_response(state, n_samples)
    impulse = torch.zeros(1, 1, -(-n_samples // module.hop) * module.hop, dtype=torch.float64)
    impulse[..., 0] = 1.0
    with torch.no_grad():
        ours = module.filter(impulse.to(module.centre_freqs.dtype))[0, :, :n_samples].double()
    peak = theirs.abs().amax(dim=1, keepdim=True)
    error = float(((ours - theirs).abs() / peak).max())
    if error > 1e-4:
        # a biquad's poles r exp(+-i theta) give a_coeffs = [1, -2 r cos(theta), r^2]
        theta = torch.acos((-a[:, 1] / (2 * a[:, 2].sqrt())).clamp(-1.0, 1.0))
        centres = theta * float(module.audio_fs) / (2 * torch.pi)
        raise ValueError(
            f"the 0.1.0 Gammatonegram's filters differ from those of the Gammatonegram given (by up to {error:.3g} "
            f"of their peak): 0.1.0's centre frequencies at {float(module.audio_fs):g} Hz run from "
            f"{float(centres.min()):.7g} to {float(centres.max()):.7g} Hz (build it with these as f_min_hz and "
            f"f_max_hz: 0.1.0's highest centre frequency lies below its f_max), ours from "
            f"{float(module.centre_freqs.min()):.7g} to {float(module.centre_freqs.max()):.7g} Hz; filters edited "
            f"by hand do not convert"
        )
    return {k: v for k, v in state.items() if k not in _GAMMATONEGRAM_KEYS}


def _published_gammatone_front_end(state: dict[str, torch.Tensor], module: Any) -> dict[str, torch.Tensor]:
    """Check a 0.1.0 ``CausalGammatone``'s kernels against the :class:`PublishedCausalGammatone` given, then drop them.

    0.1.0 saves its kernels (``wav2spec._kernels``, ``(F, 1, K)``) and centre frequencies
    (``wav2spec._fc``); the front-end passed again computes both from its arguments. The
    kernels must agree to 1e-5 of each channel's largest tap, else the conversion stops,
    naming the kernel length or the centre frequencies to pass.
    """
    if not isinstance(module, PublishedCausalGammatone):
        raise ValueError(
            f"the 0.1.0 weights hold a CausalGammatone front-end (wav2spec._kernels), but the wav2spec given is a "
            f"{type(module).__name__}; pass a deepSTRF.models.wav2spec.PublishedCausalGammatone, which computes "
            f"what 0.1.0's CausalGammatone did (deepSTRF.models.wav2spec.CausalGammatone does not)"
        )
    kernels = state["wav2spec._kernels"].double()
    fs = float(module.audio_fs)
    if kernels.shape != module.weight.shape:
        raise ValueError(
            f"the 0.1.0 CausalGammatone has {kernels.shape[0]} channels of {kernels.shape[-1]} taps "
            f"(kernel_ms={1000.0 * kernels.shape[-1] / fs:g} at {fs:g} Hz), the PublishedCausalGammatone given "
            f"{module.out_channels} of {module.kernel_size}"
        )
    peak = kernels.abs().amax(dim=-1, keepdim=True)
    error = float(((module.weight.double() - kernels).abs() / peak).max())
    if error > 1e-5:
        centres = state["wav2spec._fc"].double() if "wav2spec._fc" in state else None
        named = (
            f"0.1.0's centre frequencies run from {float(centres.min()):.7g} to {float(centres.max()):.7g} Hz"
            if centres is not None
            else "0.1.0's centre frequencies are not saved"
        )
        raise ValueError(
            f"the 0.1.0 CausalGammatone's kernels differ from those of the PublishedCausalGammatone given (by up to "
            f"{error:.3g} of their peak): {named} (f_max_hz=None is Nyquist, 0.1.0's default), ours from "
            f"{float(module.centre_freqs.min()):.7g} to {float(module.centre_freqs.max()):.7g} Hz; audio_fs, order "
            f"and bandwidth_factor must be 0.1.0's too; kernels edited by hand do not convert"
        )
    return {k: v for k, v in state.items() if k not in ("wav2spec._kernels", "wav2spec._fc")}


#: 0.1.0 ``CausalLEAF`` parameter (under ``wav2spec.``) -> :class:`PublishedCausalLEAF` parameter.
_LEAF_PARAMETERS = {
    "center_freq_": "centre",
    "gabor_sigma_raw": "raw_sigma",
    "pool_sigma_raw": "raw_pool_width",
    "pcen_alpha_raw": "raw_alpha",
    "pcen_delta_raw": "raw_delta",
    "pcen_root_raw": "raw_r",
    "pcen_s_logit": "smooth_logit",
}


def _published_leaf_front_end(state: dict[str, torch.Tensor], module: Any) -> dict[str, torch.Tensor]:
    """A 0.1.0 ``CausalLEAF``'s parameters, renamed for the :class:`PublishedCausalLEAF` given.

    The parameters keep their meaning (:data:`_LEAF_PARAMETERS`). 0.1.0 also saves its Gabor
    tap grid (``_n``, ``K`` taps) and pooling grid (``_pool_j``, ``L`` samples): the front-end
    given must have the same kernel and window lengths, else the conversion stops and names them.
    """
    if not isinstance(module, PublishedCausalLEAF):
        raise ValueError(
            f"the 0.1.0 weights hold a CausalLEAF front-end (wav2spec.center_freq_, ...), but the wav2spec given is "
            f"a {type(module).__name__}; pass a deepSTRF.models.wav2spec.PublishedCausalLEAF, which computes what "
            f"0.1.0's CausalLEAF did (deepSTRF.models.wav2spec.CausalLEAF does not)"
        )
    fs = float(module.audio_fs)
    channels = state["wav2spec.center_freq_"].shape[0]
    taps = state["wav2spec._n"].shape[-1] if "wav2spec._n" in state else module.kernel_size
    window = state["wav2spec._pool_j"].shape[-1] if "wav2spec._pool_j" in state else module.window
    if (channels, taps, window) != (module.out_channels, module.kernel_size, module.window):
        raise ValueError(
            f"the 0.1.0 CausalLEAF has {channels} channels, {taps}-tap kernels and a {window}-sample pooling window "
            f"(kernel_ms={1000.0 * taps / fs:g}, window_ms={1000.0 * window / fs:g} at {fs:g} Hz); the "
            f"PublishedCausalLEAF given has {module.out_channels}, {module.kernel_size} and {module.window}"
        )
    out = {k: v for k, v in state.items() if k not in ("wav2spec._n", "wav2spec._pool_j")}
    for theirs, ours in _LEAF_PARAMETERS.items():
        if f"wav2spec.{theirs}" in out:  # a missing one is named when the weights are loaded
            out[f"wav2spec.{ours}"] = out.pop(f"wav2spec.{theirs}")
    return out


def align_state(
    config: dict[str, Any],
    state: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    model: torch.nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """Final step of the conversion, once the model is built: layouts that depend on the built modules.

    Args:
        config: The converted configuration.
        state: Output of :func:`convert_state`.
        expected: The built model's ``state_dict``.
        model: The built model, whose ``wav2spec`` (given with ``extra_kwargs``) sets how
            a 0.1.0 front-end's weights are re-parameterised.

    Returns:
        The weights keyed as ``expected``.

    Raises:
        ValueError: If a 0.1.0 front-end's weights do not fit the front-end given.
    """
    if config["legacy_config"]["_model_class"] == "ConvNet2D":
        return _match_in_order(state, expected, "core.")
    if model is not None and "wav2spec.low_hz_" in state:
        return _sincnet_front_end(state, model.wav2spec)
    if model is not None and "wav2spec._mel_fb" in state:
        return _mel_front_end(state, model.wav2spec)
    if model is not None and "wav2spec.a_coeffs" in state:
        return _gammatonegram_front_end(state, model.wav2spec)
    if model is not None and "wav2spec._kernels" in state:
        return _published_gammatone_front_end(state, model.wav2spec)
    if model is not None and "wav2spec.center_freq_" in state:
        return _published_leaf_front_end(state, model.wav2spec)
    return state


def read_legacy(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a 0.1.0 folder: the converted configuration and the raw 0.1.0 weights (CPU)."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"checkpoint {folder} has no model.safetensors (the weights)")
    try:
        state = safetensors.torch.load_file(str(weights))
    except Exception as err:
        raise ValueError(f"{weights} is not a readable safetensors file: {err}") from err
    return convert_config(config, state, where=str(folder / "config.json")), state
