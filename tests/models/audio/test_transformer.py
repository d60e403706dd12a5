import math

import pytest
import torch

from deepSTRF.models.audio.transformer import Transformer
from deepSTRF.models.layers import SinusoidalPositionalEncoding

F, N = 12, 3
SMALL = {"embedding_dim": 8, "n_heads": 2, "out_neurons": N}


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
    model = Transformer(F, n_layers=1, context_window=window, **SMALL).double().eval()
    attention = model.core[0].attention
    x = torch.randn(2, length, 8, dtype=torch.float64)
    torch.testing.assert_close(attention(x), _reference_attention(attention, x, window), rtol=1e-10, atol=1e-12)


def test_default_receptive_field_is_the_whole_past():
    """The published defaults: one layer, no context window, one token per frame."""
    model = Transformer(F).double().eval()
    x = torch.rand(1, 1, F, 60, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 40].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(41))


@pytest.mark.parametrize(("time_patch", "window"), [(3, None), (2, 4)])
def test_time_patches_extend_the_receptive_field_causally(time_patch, window):
    model = Transformer(F, freq_patch_size=4, time_patch_size=time_patch, context_window=window, **SMALL)
    model = model.double().eval()
    x = torch.rand(1, 1, F, 30, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 20].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    first = 0 if window is None else 20 - window + 1 - (time_patch - 1)
    assert support == list(range(first, 21))


@pytest.mark.parametrize("window", [1, 3, 6])
def test_window_bounds_the_receptive_field(window):
    """With one layer, d y(t) / d x(t') is non-zero exactly for t - window < t' <= t."""
    model = Transformer(F, n_layers=1, context_window=window, **SMALL).double().eval()
    x = torch.rand(1, 1, F, 25, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 15].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(15 - window + 1, 16))


def test_unwindowed_model_sees_the_whole_past():
    model = Transformer(F, n_layers=2, context_window=None, **SMALL).double().eval()
    x = torch.rand(1, 1, F, 40, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 0, 30].backward()
    support = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten().tolist()
    assert support == list(range(31))


def test_structure_and_published_defaults():
    model = Transformer()
    assert (model.K_F, model.K_T, model.context_window, model.embedding_dim) == (34, 1, None, 48)
    assert (model.n_heads, model.n_layers, model.token_dim, model.T) == (1, 1, 48, 9)
    assert len(model.core) == 1 and model.core[0].linear1.out_features == 4 * 48
    assert isinstance(model.pos_encoding, SinusoidalPositionalEncoding)
    assert isinstance(model.readout.activation, torch.nn.Identity)
    assert Transformer(F, freq_patch_size=3, embedding_dim=4).token_dim == 16
    assert Transformer(F, context_window=5, **SMALL).T == 5
    from deepSTRF.models.prefiltering import make_prefiltering

    pre = make_prefiltering("adaptrans", n_frequency_bands=F, dt=10.0, max_kernel_size=8)
    assert Transformer(F, prefiltering=pre, **SMALL).patchify.in_channels == 2


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
        Transformer(F, embedding_dim=10, n_heads=4)
    with pytest.raises(ValueError, match="even"):
        Transformer(F, freq_patch_size=4, embedding_dim=3)
    with pytest.raises(ValueError, match="freq_patch_size"):
        Transformer(F, freq_patch_size=5)
    with pytest.raises(ValueError, match="context_window"):
        Transformer(F, context_window=0)
    with pytest.raises(TypeError, match="context_window"):
        Transformer(F, context_window=2.5)
    with pytest.raises(ValueError, match="dropout"):
        Transformer(F, dropout=1.0)
    with pytest.raises(ValueError, match="n_layers"):
        Transformer(F, n_layers=0)
    with pytest.raises(ValueError, match="time_patch_size"):
        Transformer(F, time_patch_size=0)
    with pytest.raises(ValueError, match=r"\(B, 1, 12, T\)"):
        Transformer(F, **SMALL)(torch.rand(2, 1, 10, 8))


@pytest.mark.parametrize("length", [1, 13, 37])
def test_training_attention_with_dropout_works_on_the_lower_triangle_in_blocks(monkeypatch, length):
    import deepSTRF.models.audio.transformer as transformer

    monkeypatch.setattr(transformer, "_QUERY_BLOCK", 5)  # several blocks, a short last one
    model = Transformer(F, n_layers=1, **SMALL).double().train()
    attention = model.core[0].attention
    x = torch.randn(2, length, 8, dtype=torch.float64)
    attention.dropout = 1e-12  # the blocked path, with (almost) nothing dropped
    torch.testing.assert_close(attention(x), _reference_attention(attention, x, None), rtol=1e-10, atol=1e-12)


def test_blocked_attention_dropout_is_unbiased_causal_and_differentiable(monkeypatch):
    import deepSTRF.models.audio.transformer as transformer

    monkeypatch.setattr(transformer, "_QUERY_BLOCK", 5)
    attention = Transformer(F, n_layers=1, **SMALL).double().train().core[0].attention
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 17, 4, dtype=torch.float64) for _ in range(3))
    clean = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    draws = torch.stack([attention._blocked_causal(q, k, v, 0.5) for _ in range(1000)])
    assert not torch.equal(draws[0], draws[1])
    spread = draws.std(0) / math.sqrt(len(draws))
    assert bool(((draws.mean(0) - clean).abs() <= 6 * spread + 1e-12).all())  # keep-and-rescale is unbiased

    def seeded(q, k, v):
        with torch.random.fork_rng():
            torch.manual_seed(1)
            return attention._blocked_causal(q, k, v, 0.3)

    later = [t.clone() for t in (q, k, v)]
    for t in later:
        t[:, :, 11:] = torch.randn(1, 2, 6, 4, dtype=torch.float64)
    assert torch.equal(seeded(*later)[:, :, :11], seeded(q, k, v)[:, :, :11])
    assert torch.autograd.gradcheck(seeded, [t.requires_grad_() for t in (q, k, v)])
