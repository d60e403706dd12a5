import sys

import pytest
import torch
from torch import nn

from deepSTRF.models.audio.statenet import CONNECTIVITIES, RNN_TYPES, StateNet, _selective_scan
from deepSTRF.models.dependencies.lmu import LMU, LMUFFT
from deepSTRF.models.dependencies.s4 import S4Block
from deepSTRF.models.layers import LocallyConnected1d
from deepSTRF.testing import assert_gradcheck

F, N = 12, 3
SMALL = {"kernel_size": 4, "stride": 2, "hidden_channels": 3, "out_neurons": N}


def test_sizes():
    model = StateNet(F, **SMALL)
    assert (model.K, model.S, model.C, model.L, model.H) == (4, 2, 3, 5, 15)
    default = StateNet()
    assert (default.L, default.H, default.T) == (10, 70, 1)


@pytest.mark.parametrize(
    ("rnn_type", "expected"),
    [
        ("GRU", nn.GRU),
        ("LSTM", nn.LSTM),
        ("RNN", nn.RNN),
        ("vanilla", nn.RNN),
        ("LMU", LMU),
        ("LMUFFT", LMUFFT),
        ("S4", S4Block),
        ("S4D", S4Block),
    ],
)
def test_backbones(rnn_type, expected):
    model = StateNet(F, rnn_type=rnn_type, **SMALL)
    assert type(model.rnn) is expected
    assert model.rnn_type == rnn_type


def test_mamba_backbone():
    from mambapy.mamba import MambaBlock

    model = StateNet(F, rnn_type="Mamba", **SMALL)
    assert isinstance(model.rnn, MambaBlock)
    assert model.rnn.config.d_model == model.H


@pytest.mark.parametrize(
    ("connectivity", "layer"), [("LC", LocallyConnected1d), ("FC", nn.Linear), ("CONV", nn.Conv1d)]
)
def test_encoder_is_per_frame(connectivity, layer):
    """Features of frame t are the encoder applied to frame t alone: no mixing across time."""
    model = StateNet(F, connectivity=connectivity, **SMALL).double().eval()
    assert any(isinstance(m, layer) for m in model.encoder_layers.modules())
    x = torch.rand(2, 1, F, 9, dtype=torch.float64)
    seen = {}
    model.rnn.register_forward_pre_hook(lambda mod, inp: seen.update(features=inp[0]))
    with torch.no_grad():
        model(x)
        for t in range(9):
            alone = model.encoder_layers(x[..., t]).flatten(1)
            torch.testing.assert_close(seen["features"][:, t], alone, rtol=0, atol=1e-14)
    assert seen["features"].shape == (2, 9, model.H)


def _scan_inputs(length, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, length, 6, generator=gen, dtype=torch.float64)
    delta = torch.nn.functional.softplus(torch.randn(2, length, 6, generator=gen, dtype=torch.float64))
    A = -torch.rand(6, 4, generator=gen, dtype=torch.float64) * 3 - 0.1
    B, C = (torch.randn(2, length, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    return x, delta, A, B, C, torch.randn(6, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("length", [1, 5, 32, 33, 97])
def test_selective_scan_matches_mambapy_sequential_scan(length):
    from mambapy.mamba import MambaBlock, MambaConfig

    reference = MambaBlock(MambaConfig(d_model=3, n_layers=1, d_state=4)).selective_scan_seq
    args = _scan_inputs(length)
    torch.testing.assert_close(_selective_scan(*args), reference(*args), rtol=1e-12, atol=1e-12)


def test_selective_scan_gradients():
    x, delta, A, B, C, D = _scan_inputs(97)  # four chunks
    assert_gradcheck(lambda *t: _selective_scan(*t, D), [x, delta, A, B, C], fast_mode=True)
    x, delta, A, B, C, D = (t[:1, :35] if t.dim() == 3 else t for t in _scan_inputs(35))
    assert_gradcheck(lambda *t: _selective_scan(*t, D), [x, delta, A, B, C])


def test_mamba_backbone_is_causal_with_gradients_enabled():
    model = StateNet(F, rnn_type="Mamba", **SMALL).double().eval()
    x = torch.rand(2, 1, F, 70, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 40:] = torch.rand(2, 1, F, 30, dtype=torch.float64)
    y = model(x)
    assert torch.equal(model(x2)[..., :40], y[..., :40])
    with torch.no_grad():
        assert torch.equal(model(x), y.detach())


def test_gradients_reach_every_parameter():
    for rnn_type in RNN_TYPES:
        model = StateNet(F, rnn_type=rnn_type, **SMALL)
        model(torch.rand(2, 1, F, 20)).sum().backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert missing == [], (rnn_type, missing)


def test_invalid_arguments():
    with pytest.raises(
        ValueError, match=r"rnn_type.*\['GRU', 'LSTM', 'RNN', 'vanilla', 'LMU', 'LMUFFT', 'Mamba', 'S4', 'S4D'\]"
    ):
        StateNet(F, rnn_type="gru")
    with pytest.raises(ValueError, match=r"connectivity.*\['LC', 'FC', 'CONV'\]"):
        StateNet(F, connectivity="dense")
    with pytest.raises(ValueError, match="kernel_size"):
        StateNet(5, kernel_size=7)
    with pytest.raises(ValueError, match="stride"):
        StateNet(F, stride=0)
    with pytest.raises(ValueError, match="hidden_channels"):
        StateNet(F, hidden_channels=0)
    with pytest.raises(ValueError, match=r"\(B, 1, 12, T\)"):
        StateNet(F, **SMALL)(torch.rand(2, 1, 10, 8))
    assert set(CONNECTIVITIES) == {"LC", "FC", "CONV"}


def test_mamba_without_mambapy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mambapy.mamba", None)
    with pytest.raises(ImportError, match=r"deepSTRF\[mamba\]"):
        StateNet(F, rnn_type="Mamba", **SMALL)
    StateNet(F, rnn_type="GRU", **SMALL)  # the other backbones do not need it
