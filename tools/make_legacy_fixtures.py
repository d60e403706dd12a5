"""Write the deepSTRF 0.1.0 checkpoint fixtures used by ``tests/models/test_legacy.py``.

Run it with an interpreter where the published ``deepSTRF==0.1.0`` wheel is installed (and
*not* this repository on ``PYTHONPATH``)::

    /path/to/published-venv/bin/python tools/make_legacy_fixtures.py tests/models/legacy_fixtures

For every zoo configuration it builds a tiny published model, perturbs all of its
parameters and normalisation statistics (so no default value hides a conversion error),
saves it with the published ``save_pretrained`` and writes ``io.safetensors`` holding an
input and the published model's eval-mode output, plus ``fixture.json`` with what the
published format does not record (modules given as arguments, which it drops). The
published S4 module imports ``pytorch_lightning`` for a logging decorator only; a stub
stands in for it. The published ICNet's forward is pure torch (its SincNet builds its
kernels itself); only the import of ``deepSTRF.models.audio`` needs ``torchaudio`` to import.
The published ``Gammatonegram`` takes its filter coefficients from the third-party ``gammatone``
package (``pip install gammatone==1.0.3`` into that interpreter only; this library does not use it).

New configurations go at the end of ``CONFIGS``, so that the earlier ones draw the same
random numbers: their weights and inputs then come out byte-identical, their outputs equal
to float32 rounding (the CPU kernels may round differently from one machine to another), so
existing fixture folders are kept as they are and only new ones are added.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
import warnings
from pathlib import Path

import torch

_stub = types.ModuleType("pytorch_lightning")
_utilities = types.ModuleType("pytorch_lightning.utilities")
_utilities.rank_zero_only = lambda fn: fn  # type: ignore[attr-defined]
_stub.utilities = _utilities  # type: ignore[attr-defined]
sys.modules.setdefault("pytorch_lightning", _stub)
sys.modules.setdefault("pytorch_lightning.utilities", _utilities)
warnings.filterwarnings("ignore")

from safetensors.torch import save_file, save_model  # noqa: E402

import deepSTRF  # noqa: E402
import deepSTRF.models.audio as zoo  # noqa: E402
from deepSTRF.models import activations, layers, prefiltering, wav2spec  # noqa: E402

T_FRAMES = 24


def _adaptrans() -> torch.nn.Module:
    return prefiltering.AdapTrans(torch.linspace(0.3, 0.8, 8), torch.full((8,), 0.7), kernel_size=4)


def _icadaptation() -> torch.nn.Module:
    return prefiltering.ICAdaptation(torch.linspace(0.3, 0.8, 8), kernel_size=4)


def _separable_sequential(c_out: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, c_out, kernel_size=(8, 1), bias=False),
        torch.nn.Conv2d(c_out, c_out, kernel_size=(1, 3), groups=c_out),
    )


def _s4_used() -> torch.nn.Module:
    """An S4 StateNet with every kernel tensor moved off its initial value, run once on 40 frames.

    That first run makes 0.1.0 fold ``C`` into ``C (I - Ā^40)`` in place and record
    ``l_kernel = 40``, the state a trained 0.1.0 S4 checkpoint is saved in.
    """
    model = zoo.StateNet(10, 1, 4, 3, 2, "LC", "S4", 2)
    generator = torch.Generator().manual_seed(14)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if ".kernel." in name:
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
        model.eval()
        model(torch.rand(1, 1, 10, 40, generator=generator))
    return model


def _icnet(kernel_size: int, **kwargs: object) -> torch.nn.Module:
    """A small published ICNet at 16 kHz / 1 ms bins whose SincNet cut-offs reach every clamp of 0.1.0.

    Lower cut-offs below 1 Hz (clamped up), negative (their magnitude counts) and above
    ``audio_fs / 2 - 1`` (clamped down); bands narrower than 50 Hz and reaching Nyquist.
    """
    model = zoo.ICNet(
        16000,
        2,
        dt_ms=1.0,
        n_filters=4,
        sincnet_kernel_size=kernel_size,
        encoder_channels=3,
        encoder_kernel_size=4,
        n_encoder_layers=2,
        bottleneck_channels=3,
        **kwargs,
    )
    with torch.no_grad():
        model.wav2spec.sincnet.low_hz_.copy_(torch.tensor([0.5, -120.0, 3000.0, 8100.0]))
        model.wav2spec.sincnet.band_hz_.copy_(torch.tensor([30.0, -20.0, 700.0, 40.0]))
    return model


def _sincnet(activation: str, envelope: bool, kernel_size: int) -> tuple[torch.nn.Module, dict]:
    """A published SincNet front-end at 16 kHz / 1 ms bins, some cut-offs on 0.1.0's clamps; and how to rebuild it."""
    front_end = wav2spec.SincNet(
        16000, n_filters=8, kernel_size=kernel_size, hop_ms=1.0, activation=activation, envelope=envelope
    )
    with torch.no_grad():
        front_end.low_hz_[:2] = torch.tensor([0.3, -40.0])
        front_end.band_hz_[:2] = torch.tensor([-25.0, 10.0])
        front_end.low_hz_[-1] = 8200.0
    ours = {None: None, "none": None}.get(activation, activation)
    spec = {"class": "SincNet", "n_filters": 8, "kernel_size": kernel_size, "dt_ms": 1.0, "activation": ours}
    return front_end, {"wav2spec": {**spec, "envelope": envelope, "min_low_hz": 1.0, "min_band_hz": 0.0}}


def _mel(**kwargs: object) -> tuple[torch.Tensor, dict]:
    """A published CausalMelSpectrogram front-end at 16 kHz / 2 ms bins (4 ms window); and how to rebuild it here.

    ``kwargs`` are the published compression arguments, ``ours`` their equivalent here.
    """
    ours = kwargs.pop("ours")
    front_end = wav2spec.CausalMelSpectrogram(16000, n_mels=8, hop_ms=2.0, win_ms=4.0, f_min=100.0, **kwargs)
    spec = {"class": "CausalMelSpectrogram", "n_filters": 8, "dt_ms": 2.0, "window_ms": 4.0, "n_fft": 64}
    return front_end, {"wav2spec": {**spec, "f_min_hz": 100.0, "periodic_window": False, **ours}}


_MEL_FLOOR = {"log_floor": 2.0, "ours": {"power": 1.0, "compression": "log_floor", "eps": 2.0}}
_MEL_OFFSET = {"magnitude": "power", "log_offset": 1.0, "ours": {"power": 2.0, "compression": "log", "eps": 1.0}}
_MEL_CUBIC = {
    "magnitude": "power",
    "compression": "cubic",
    "mel_scale": "slaney",
    "ours": {"power": 2.0, "compression": "cuberoot", "eps": 1e-30, "mel_scale": "slaney"},
}


def _gammatonegram(window_ms: float, **kwargs: object) -> tuple[torch.Tensor, dict]:
    """A published Gammatonegram at 16 kHz / 2 ms bins, 8 channels from 500 Hz; and how to rebuild it here.

    It needs the third-party ``gammatone`` package (its filter coefficients), installed only where
    the fixtures are written. Its highest centre frequency lies below ``f_max``: it is ``f_max_hz`` here.
    """
    from gammatone.filters import centre_freqs  # noqa: PLC0415 (third-party, needed by these fixtures only)

    ours = kwargs.pop("ours")
    front_end = wav2spec.Gammatonegram(16000, 8, hop_ms=2.0, window_ms=window_ms, f_min=500.0, f_max=7000.0, **kwargs)
    top = float(max(centre_freqs(16000, 8, 500.0, 7000.0)))
    spec = {"class": "Gammatonegram", "n_filters": 8, "dt_ms": 2.0, "f_min_hz": 500.0, "f_max_hz": top}
    return front_end, {"wav2spec": {**spec, "window_ms": window_ms, "window_at": "start", **ours}}


_GTG_LOG1P = {"window_ms": 1.0, "ours": {"compression": "log1p"}}
_GTG_FLOOR = {
    "window_ms": 2.0,
    "compression": "log",
    "log_floor": 0.1,
    "ours": {"compression": "log_floor", "eps": 0.1},
}


def _gammatone(**kwargs: object) -> tuple[torch.nn.Module, dict]:
    """A published CausalGammatone at 16 kHz / 2 ms bins, 8 channels from 500 Hz, 5 ms kernels; and how to rebuild it.

    Its definition differs from the CausalGammatone here: it converts onto PublishedCausalGammatone.
    """
    ours = kwargs.pop("ours")
    front_end = wav2spec.CausalGammatone(16000, n_filters=8, hop_ms=2.0, f_min=500.0, kernel_ms=5.0, **kwargs)
    spec = {"class": "PublishedCausalGammatone", "n_filters": 8, "dt_ms": 2.0, "f_min_hz": 500.0, "kernel_ms": 5.0}
    return front_end, {"wav2spec": {**spec, **ours}}


_GT_LOG = {"log_floor": 1e-3, "ours": {"log_floor": 1e-3}}  # top centre frequency at Nyquist (0.1.0's default)
_GT_PCEN = {
    "f_max": 7000.0,
    "rectify": "full",
    "env_window_ms": 2.0,
    "compression": "pcen",
    "pcen_s": 0.1,
    "ours": {"f_max_hz": 7000.0, "rectify": "full", "window_ms": 2.0, "compression": "pcen", "pcen_s": 0.1},
}
_GT_CUBE = {"compression": "cuberoot", "env_window_ms": 5.0, "ours": {"compression": "cuberoot", "window_ms": 5.0}}


def _leaf(**kwargs: object) -> tuple[torch.nn.Module, dict]:
    """A published CausalLEAF at 16 kHz / 2 ms bins, 8 channels; and how to rebuild it (as PublishedCausalLEAF)."""
    ours = kwargs.pop("ours")
    front_end = wav2spec.CausalLEAF(16000, n_filters=8, hop_ms=2.0, **kwargs)
    return front_end, {"wav2spec": {"class": "PublishedCausalLEAF", "n_filters": 8, "dt_ms": 2.0, **ours}}


_LEAF_DEFAULT = {"kernel_ms": 4.0, "ours": {"kernel_ms": 4.0}}
_LEAF_WINDOW = {
    "f_min": 100.0,
    "f_max": 6000.0,
    "kernel_ms": 2.0,
    "pool_ms": 3.0,
    "learn_pooling": False,
    "ours": {"f_min_hz": 100.0, "f_max_hz": 6000.0, "kernel_ms": 2.0, "window_ms": 3.0, "learn_pooling": False},
}


# name -> (builder, extra information the published config does not hold)
CONFIGS = {
    "linear": (lambda: zoo.Linear(8, 3, 2), {}),
    "ln": (lambda: zoo.LinearNonlinear(8, 3, 2), {}),
    "nrf": (lambda: zoo.NetworkReceptiveField(8, 3, 4, 2), {}),
    "dnet": (lambda: zoo.DNet(8, 3, 4, init_tau=1.5, out_neurons=2), {}),
    "convnet2d": (lambda: zoo.ConvNet2D(10, (3, 3), 3, 4, 2), {}),
    "statenet_gru": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "LC", "GRU", 2), {}),
    "statenet_lstm_fc": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "FC", "LSTM", 2), {}),
    "statenet_rnn_conv": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "CONV", "RNN", 2), {}),
    "statenet_vanilla": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "LC", "vanilla", 2), {}),
    "statenet_lmu": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "LC", "LMU", 2), {}),
    "statenet_mamba": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "LC", "Mamba", 2), {}),
    "statenet_s4": (lambda: zoo.StateNet(10, 1, 4, 3, 2, "LC", "S4", 2), {}),
    "transformer": (lambda: zoo.Transformer(8, 4, 2, 5, 4, 2, 1, 2), {}),
    "transformer_default": (lambda: zoo.Transformer(8, embedding_dim=4, out_neurons=2), {}),
    "linear_parametric": (
        lambda: zoo.Linear(8, 3, 2, kernel=layers.ParametricSTRF(8, 3, 1, 2, num_gaussians=2)),
        {},
    ),
    "linear_separable": (lambda: zoo.Linear(8, 3, 2, kernel=layers.SeparableSTRF(8, 3, 1, 2)), {}),
    "nrf_sequential": (
        lambda: zoo.NetworkReceptiveField(8, 3, 2, 2, kernel=_separable_sequential(2)),
        {},
    ),
    "ln_adaptrans": (
        lambda: zoo.LinearNonlinear(8, 3, 2, prefiltering=_adaptrans()),
        {"prefiltering": {"class": "AdapTrans", "kernel_size": 4, "learnable": True}},
    ),
    "linear_icadaptation": (
        lambda: zoo.Linear(8, 3, 2, prefiltering=_icadaptation()),
        {"prefiltering": {"class": "ICAdaptation", "kernel_size": 4}},
    ),
    "ln_sigmoid": (
        lambda: zoo.LinearNonlinear(8, 3, 2, output_activation=activations.ParametricSigmoid(2)),
        {},
    ),
    "nrf_double_exponential": (
        lambda: zoo.NetworkReceptiveField(8, 3, 4, 2, output_activation=activations.ParametricDoubleExponential(2)),
        {},
    ),
    "statenet_s4_used": (_s4_used, {}),  # after the others, so that adding it left their draws unchanged
    # 0.1.0's save_pretrained writes an ICNet's config.json, then fails on its weights (``decoder``
    # and ``readout`` are one module, and safetensors refuses shared tensors); the weights are
    # written with ``safetensors.torch.save_model``, the route that error message points to.
    "icnet": (lambda: _icnet(9), {"weights": "safetensors.torch.save_model"}),
    "icnet_strides": (lambda: _icnet(8, encoder_strides=[4, 4]), {"weights": "safetensors.torch.save_model"}),
    "linear_sincnet_symlog": (
        lambda: zoo.Linear(8, 3, 2, wav2spec=_sincnet("symlog", False, 40)[0]),
        _sincnet("symlog", False, 40)[1],
    ),
    "statenet_sincnet_envelope": (
        lambda: zoo.StateNet(8, 1, 4, 3, 2, "LC", "GRU", 2, wav2spec=_sincnet("none", True, 24)[0]),
        _sincnet("none", True, 24)[1],
    ),
    "transformer_sincnet_logabs": (
        lambda: zoo.Transformer(8, 4, 2, 5, 4, 2, 1, 2, wav2spec=_sincnet("logabs", False, 16)[0]),
        _sincnet("logabs", False, 16)[1],
    ),
    # non_negative_output is neither in the 0.1.0 config nor in the weights' names: passed again
    "ln_sigmoid_signed": (
        lambda: zoo.LinearNonlinear(
            8, 3, 2, output_activation=activations.ParametricSigmoid(2, non_negative_output=False)
        ),
        {"output_activation": {"class": "ParametricSigmoid", "num_features": 2, "non_negative_output": False}},
    ),
    # CausalMelSpectrogram: its window and filterbank are saved; compression arguments are not
    "linear_mel_floor": (
        lambda: zoo.Linear(8, 3, 2, wav2spec=_mel(**_MEL_FLOOR)[0]),
        _mel(**_MEL_FLOOR)[1],
    ),
    "statenet_mel_offset": (
        lambda: zoo.StateNet(8, 1, 4, 3, 2, "LC", "GRU", 2, wav2spec=_mel(**_MEL_OFFSET)[0]),
        _mel(**_MEL_OFFSET)[1],
    ),
    "transformer_mel_cubic": (
        lambda: zoo.Transformer(8, 4, 2, 5, 4, 2, 1, 2, wav2spec=_mel(**_MEL_CUBIC)[0]),
        _mel(**_MEL_CUBIC)[1],
    ),
    # Gammatonegram: its filter coefficients are saved; window and compression are not
    "linear_gammatonegram": (
        lambda: zoo.Linear(8, 3, 2, wav2spec=_gammatonegram(**_GTG_LOG1P)[0]),
        _gammatonegram(**_GTG_LOG1P)[1],
    ),
    "statenet_gammatonegram_floor": (
        lambda: zoo.StateNet(8, 1, 4, 3, 2, "LC", "GRU", 2, wav2spec=_gammatonegram(**_GTG_FLOOR)[0]),
        _gammatonegram(**_GTG_FLOOR)[1],
    ),
    # CausalGammatone: its kernels are saved; rectification, window and compression are not
    "linear_gammatone": (
        lambda: zoo.Linear(8, 3, 2, wav2spec=_gammatone(**_GT_LOG)[0]),
        _gammatone(**_GT_LOG)[1],
    ),
    "statenet_gammatone_pcen": (
        lambda: zoo.StateNet(8, 1, 4, 3, 2, "LC", "GRU", 2, wav2spec=_gammatone(**_GT_PCEN)[0]),
        _gammatone(**_GT_PCEN)[1],
    ),
    "transformer_gammatone_cuberoot": (
        lambda: zoo.Transformer(8, 4, 2, 5, 4, 2, 1, 2, wav2spec=_gammatone(**_GT_CUBE)[0]),
        _gammatone(**_GT_CUBE)[1],
    ),
    # CausalLEAF: its parameters and tap grids are saved; the frequency range is not
    "linear_leaf": (
        lambda: zoo.Linear(8, 3, 2, wav2spec=_leaf(**_LEAF_DEFAULT)[0]),
        _leaf(**_LEAF_DEFAULT)[1],
    ),
    "statenet_leaf_window": (
        lambda: zoo.StateNet(8, 1, 4, 3, 2, "LC", "GRU", 2, wav2spec=_leaf(**_LEAF_WINDOW)[0]),
        _leaf(**_LEAF_WINDOW)[1],
    ),
}


def _perturb(model: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=generator))
            elif name.endswith("running_mean"):
                tensor.copy_(0.2 * noise)
            elif (
                name.endswith(
                    ("cell.A", "cell.B", "div_term", "l_kernel", "._n", "._window", "._mel_fb", "._pool_j", "._fc")
                )
                or name.endswith("wav2spec._kernels")
                or (name.startswith("wav2spec.") and name.endswith((".a_coeffs", ".b1", ".b2", ".b3", ".b4", ".gain")))
                or (".kernel." in name and "rnn" in name)
            ):
                continue  # fixed matrices, or quantities the layer recomputes
            else:
                tensor.add_(0.1 * noise)


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    generator = torch.Generator().manual_seed(2024)
    index = {}
    for name, (build, extra) in CONFIGS.items():
        torch.manual_seed(0)
        model = build()
        _perturb(model, generator)
        model.eval()
        folder = out / name
        if "weights" in extra:
            try:
                model.save_pretrained(folder, metadata={"fixture": name}, model_card=f"# {name}\n")
            except RuntimeError:  # config.json is written; the weights are not
                save_model(model, str(folder / "model.safetensors"))
                (folder / "metadata.json").write_text(json.dumps({"fixture": name}, indent=2) + "\n")
            else:
                raise AssertionError(f"the published save_pretrained now saves {name}")
        else:
            model.save_pretrained(folder, metadata={"fixture": name}, model_card=f"# {name}\n")
            (folder / "README.md").unlink()
        if isinstance(model, zoo.ICNet):
            hop = model.wav2spec.audio_fs * model.wav2spec.dt_ms // 1000
            x = 2 * torch.rand(2, 1, int(hop) * T_FRAMES, generator=generator) - 1
        elif not isinstance(model.wav2spec, torch.nn.Identity):
            x = 2 * torch.rand(2, 1, model.wav2spec.hop * T_FRAMES, generator=generator) - 1
        else:
            x = torch.rand(2, 1, model.F, T_FRAMES, generator=generator)
        with torch.no_grad():
            y = model(x)
        save_file({"input": x.contiguous(), "output": y.contiguous()}, str(folder / "io.safetensors"))
        (folder / "fixture.json").write_text(json.dumps({"class": type(model).__name__, "extra": extra}) + "\n")
        index[name] = type(model).__name__
    (out / "index.json").write_text(json.dumps({"deepSTRF": deepSTRF.__version__, "fixtures": index}, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/models/legacy_fixtures"))
