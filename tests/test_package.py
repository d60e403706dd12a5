import subprocess
import sys

import pytest
import torch

import deepSTRF
from deepSTRF import _optional
from deepSTRF.models.configurable import ConfigurableModule, decode_value, encode_value, find_unserialisable
from deepSTRF.testing import assert_batch_consistent, assert_causal


def test_version_is_a_string():
    assert deepSTRF.__version__.count(".") == 2


def test_import_pulls_no_optional_dependency():
    code = (
        "import sys, deepSTRF, deepSTRF.models, deepSTRF.metrics, deepSTRF.datasets, deepSTRF.training; "
        "heavy = {'matplotlib', 'huggingface_hub', 'h5py', 'pynwb', 'scipy', 'mambapy', 'wandb', 'tensorboard'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_require_names_the_extra():
    with pytest.raises(ImportError, match=r"deepSTRF\[plot\]"):
        _optional.require("no_such_module_xyz", extra="plot")


class _Toy(ConfigurableModule):
    def __init__(self, n: int, shape: tuple = (3, 9), init: torch.Tensor | None = None, act=None):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(n))
        self.act = act


class _ToyChild(_Toy):
    def __init__(self, n: int = 2, extra: float = 0.5):
        super().__init__(n, shape=(1, 1))


def test_config_capture_outermost_call_wins():
    assert _ToyChild().init_config == {"n": 2, "extra": 0.5}
    toy = _Toy(4, init=torch.arange(3.0), act=torch.nn.LeakyReLU(0.2))
    enc = encode_value(toy)
    assert enc["__module__"].endswith("_Toy")
    kw = encode_value(toy.init_config)
    assert kw["shape"] == {"__tuple__": [3, 9]}
    assert kw["act"] == {"__module__": "torch.nn.LeakyReLU", "kwargs": {"negative_slope": 0.2}}
    back = decode_value(kw)
    assert back["shape"] == (3, 9)
    assert torch.equal(back["init"], torch.arange(3.0))
    assert isinstance(back["act"], torch.nn.LeakyReLU) and back["act"].negative_slope == 0.2


def test_unserialisable_arguments_are_reported_by_path():
    enc = encode_value({"prefiltering": {"__x": 1}, "kernel": object()})
    assert find_unserialisable(enc) == ["kernel"]
    with pytest.raises(ValueError, match=r"'kernel'.*extra_kwargs"):
        decode_value(enc)


def test_decode_refuses_foreign_classes():
    with pytest.raises(ValueError, match="only deepSTRF classes"):
        decode_value({"__module__": "os.system", "kwargs": {}})


def test_causality_checker_catches_a_lookahead():
    lookahead = torch.nn.Conv1d(1, 1, 3, padding=1)
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(lookahead, torch.randn(1, 1, 16), t0=8)
    causal = torch.nn.Sequential(torch.nn.ConstantPad1d((2, 0), 0.0), torch.nn.Conv1d(1, 1, 3))
    assert_causal(causal, torch.randn(1, 1, 16), t0=8)


def test_causality_checker_tolerance():
    def leaky(x):  # a future sample leaks into the past at 1e-13
        return x + 1e-13 * x.flip(-1)

    with pytest.raises(AssertionError, match=r"not causal: output bin 0 \(< t0=8\) changed by up to"):
        assert_causal(leaky, torch.randn(1, 1, 16), t0=8)
    assert_causal(leaky, torch.randn(1, 1, 16), t0=8, atol=1e-10)
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(lambda x: x + 1e-9 * x.flip(-1), torch.randn(1, 1, 16), t0=8, atol=1e-10)
    with pytest.raises(ValueError, match=r"`atol` must be >= 0, got -1"):
        assert_causal(leaky, torch.randn(1, 1, 16), t0=8, atol=-1)


def test_causality_checker_refuses_a_vacuous_pass():
    with pytest.raises(AssertionError, match="vacuous"):
        assert_causal(lambda x: torch.zeros_like(x), torch.randn(1, 1, 16), t0=8, dtype=None)


def test_batch_consistency_checker_catches_batch_coupling():
    class Coupled(torch.nn.Module):
        def forward(self, x):
            return x - x.mean(0, keepdim=True)

    with pytest.raises(AssertionError, match="batch item"):
        assert_batch_consistent(Coupled(), torch.randn(4, 1, 5))
