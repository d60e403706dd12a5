import math

import pytest
import torch

from deepSTRF.models.activations import ParametricSoftplus
from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.layers import SinusoidalPositionalEncoding

F, N = 12, 3
SMALL = {"d_model": 8, "n_heads": 2, "dim_feedforward": 16, "out_neurons": N}


def _reference_attention(attention, x, window):
    """Dense multi-head attention with an explicit (L, L) mask, written out in float64."""
    batch, length, d_model = x.shape
    heads = attention.n_heads
    q, k, v = attention.qkv(x).split(d_model, dim=-1)
    q, k, v = (t.view(batch, length, heads, -1).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d_model // heads)
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    allowed = (j <= i) & ((i - j < window) if window is not None else True)
    weights = torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1)
    return attention.out((weights @ v).transpose(1, 2).reshape(batch, length, d_model))


@pytest.mark.parametrize("window", [None, 1, 4, 7, 50])
@pytest.mark.parametrize("length", [1, 13, 37])
def test_attention_matches_dense_reference(window, length):
    model = Transformer(F, n_layers=1, window=window, **SMALL).double()
    attention = model.core[0].attention
    x = torch.randn(2, length, 8, dtype=torch.float64)
    torch.testing.assert_close(attention(x), _reference_attention(attention, x, window), rtol=1e-10, atol=1e-12)


def test_default_receptive_field():
    """Two layers with a 32-frame window: output t depends on frames t - 62 .. t."""
    model = Transformer(F).double().eval()
    x = torch.rand(1, 1, F, 120, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 100].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(100 - 62, 101))


@pytest.mark.parametrize("window", [1, 3, 6])
def test_window_bounds_the_receptive_field(window):
    """With one layer, d y(t) / d x(t') is non-zero exactly for t - window < t' <= t."""
    model = Transformer(F, n_layers=1, window=window, **SMALL).double().eval()
    x = torch.rand(1, 1, F, 25, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 15].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(15 - window + 1, 16))


def test_unwindowed_model_sees_the_whole_past():
    model = Transformer(F, n_layers=2, window=None, **SMALL).double().eval()
    x = torch.rand(1, 1, F, 40, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 30].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(31))


def test_structure_and_defaults():
    model = Transformer()
    assert (model.d_model, model.n_heads, model.window) == (32, 2, 32)
    assert len(model.core) == 3  # two blocks and the final norm
    assert isinstance(model.positions, SinusoidalPositionalEncoding)
    assert model.embedding.in_features == 34
    assert isinstance(model.readout.activation, ParametricSoftplus)
    from deepSTRF.models.prefiltering import make_prefiltering

    pre = make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0, max_kernel_size=8)
    assert Transformer(F, prefiltering=pre, **SMALL).embedding.in_features == 2 * F


def test_dropout_only_in_training():
    model = Transformer(F, n_layers=1, dropout=0.5, **SMALL)
    x = torch.rand(2, 1, F, 20)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="divisible"):
        Transformer(F, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="even"):
        Transformer(F, d_model=9, n_heads=3)
    with pytest.raises(ValueError, match="window"):
        Transformer(F, window=0)
    with pytest.raises(TypeError, match="window"):
        Transformer(F, window=2.5)
    with pytest.raises(ValueError, match="dropout"):
        Transformer(F, dropout=1.0)
    with pytest.raises(ValueError, match="n_layers"):
        Transformer(F, n_layers=0)
    with pytest.raises(ValueError, match="dim_feedforward"):
        Transformer(F, dim_feedforward=0)
    with pytest.raises(ValueError, match=r"\(B, 1, 12, T\)"):
        Transformer(F, **SMALL)(torch.rand(2, 1, 10, 8))
