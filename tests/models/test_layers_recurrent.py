import pytest
import torch
from torch import nn

from deepSTRF.models.audio.statenet import StateNet
from deepSTRF.models.layers import gru_sequence, rnn_sequence, supports_gru_sequence, supports_rnn_sequence
from deepSTRF.testing import assert_causal, assert_gradcheck

# (id, module factory, the function that runs it): every hand-written sequence against its nn module
KINDS = [
    ("gru", lambda bias, i, h: nn.GRU(i, h, batch_first=True, bias=bias), gru_sequence),
    ("rnn-tanh", lambda bias, i, h: nn.RNN(i, h, batch_first=True, bias=bias), rnn_sequence),
    ("rnn-relu", lambda bias, i, h: nn.RNN(i, h, batch_first=True, bias=bias, nonlinearity="relu"), rnn_sequence),
]
_KIND_PARAMS = [pytest.param(factory, run, id=name) for name, factory, run in KINDS]


@pytest.mark.parametrize(("factory", "run"), _KIND_PARAMS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_h0", [True, False])
def test_sequence_matches_the_nn_module_and_its_gradients(factory, run, bias, with_h0):
    torch.manual_seed(0)
    module = factory(bias, 4, 5).double()
    x = torch.randn(3, 23, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 5, dtype=torch.float64, requires_grad=True) if with_h0 else None
    ours = run(x, module, h0)
    reference = module(x, None if h0 is None else h0.unsqueeze(0))[0]
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    upstream = torch.randn_like(reference)
    inputs = [x, *module.parameters()] + ([h0] if with_h0 else [])
    got = torch.autograd.grad((ours * upstream).sum(), inputs)
    want = torch.autograd.grad((reference * upstream).sum(), inputs)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("factory", "run"), _KIND_PARAMS)
def test_sequence_gradcheck_and_a_3d_initial_state(factory, run):
    torch.manual_seed(0)
    module = factory(True, 4, 5).double()
    x = torch.randn(2, 9, 4, dtype=torch.float64)
    h0 = torch.randn(1, 2, 5, dtype=torch.float64)
    assert_gradcheck(lambda x, h0: run(x, module, h0), [x, h0.squeeze(0)])
    torch.testing.assert_close(run(x, module, h0), module(x, h0)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("factory", "run"), _KIND_PARAMS)
def test_sequence_is_causal_and_float32_matches_to_rounding(factory, run):
    torch.manual_seed(1)
    module = factory(True, 6, 8)
    x = torch.randn(2, 300, 6)
    torch.testing.assert_close(run(x, module), module(x)[0], rtol=1e-5, atol=2e-6)
    # states before t0 ignore inputs from t0 on (time is axis 1 here)
    later = x.clone()
    later[:, 150:] = torch.randn(2, 150, 6)
    assert torch.equal(run(later, module)[:, :150], run(x, module)[:, :150])


@pytest.mark.parametrize(
    "gru, x",
    [
        (nn.GRU(4, 5, num_layers=2, batch_first=True), torch.zeros(2, 7, 4)),
        (nn.GRU(4, 5, bidirectional=True, batch_first=True), torch.zeros(2, 7, 4)),
        (nn.GRU(4, 5), torch.zeros(2, 7, 4)),
        (nn.GRU(4, 5, batch_first=True), torch.zeros(2, 7, 4, dtype=torch.float16)),
        (nn.GRU(4, 5, batch_first=True), torch.zeros(7, 4)),
    ],
    ids=["two-layers", "bidirectional", "time-first", "float16", "unbatched"],
)
def test_gru_sequence_refuses_what_it_does_not_compute(gru, x):
    assert not supports_gru_sequence(gru, x)
    with pytest.raises(ValueError, match=r"one-layer, one-direction, batch-first nn\.GRU"):
        gru_sequence(x, gru)


def test_gru_sequence_checks_its_module_and_initial_state():
    lstm = nn.LSTM(4, 5, batch_first=True)
    assert not supports_gru_sequence(lstm, torch.zeros(2, 7, 4))
    with pytest.raises(TypeError, match=r"`gru` must be an nn\.GRU, got LSTM"):
        gru_sequence(torch.zeros(2, 7, 4), lstm)
    with pytest.raises(ValueError, match=r"`h0` must have shape"):
        gru_sequence(torch.zeros(2, 7, 4), nn.GRU(4, 5, batch_first=True), torch.zeros(2, 4))


def test_statenet_gru_trains_through_gru_sequence_and_matches_nn_gru(monkeypatch):
    import deepSTRF.models.audio.statenet as statenet

    torch.manual_seed(0)
    model = StateNet(12, kernel_size=4, stride=2, hidden_channels=3, out_neurons=2, rnn_type="GRU").double()
    x = torch.rand(2, 1, 12, 40, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(statenet, "gru_sequence", lambda *a: calls.append(1) or gru_sequence(*a))
    out = model(x)
    assert calls == [1]  # gradients recorded: the hand-written backward
    grads = torch.autograd.grad(out.sum(), list(model.parameters()))
    with torch.no_grad():
        assert torch.equal(model(x), model(x)) and calls == [1]  # no gradients: nn.GRU's forward
    monkeypatch.setattr(statenet, "supports_gru_sequence", lambda *a: False)
    reference = model(x)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, torch.autograd.grad(reference.sum(), list(model.parameters())), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert_causal(model, x, t0=25)


def test_rnn_sequence_checks_its_arguments():
    x = torch.zeros(2, 7, 4)
    assert supports_rnn_sequence(nn.RNN(4, 5, batch_first=True, nonlinearity="relu"), x)
    assert not supports_rnn_sequence(nn.RNN(4, 5, num_layers=2, batch_first=True), x)
    assert not supports_rnn_sequence(nn.GRU(4, 5, batch_first=True), x)
    assert not supports_rnn_sequence(nn.RNN(4, 5, batch_first=True), [[0.0]])  # not a tensor: False, no crash
    assert not supports_gru_sequence(nn.GRU(4, 5, batch_first=True), None)
    with pytest.raises(TypeError, match=r"`rnn` must be an nn\.RNN, got GRU"):
        rnn_sequence(x, nn.GRU(4, 5, batch_first=True))
    with pytest.raises(ValueError, match=r"batch-first nn\.RNN \(`rnn`\)"):
        rnn_sequence(x, nn.RNN(4, 5))
    with pytest.raises(ValueError, match=r"`h0` must have shape"):
        rnn_sequence(x, nn.RNN(4, 5, batch_first=True), torch.zeros(5))


@pytest.mark.parametrize("rnn_type", ["RNN", "vanilla"])
def test_statenet_rnn_trains_through_rnn_sequence_and_matches_nn_rnn(monkeypatch, rnn_type):
    import deepSTRF.models.audio.statenet as statenet

    torch.manual_seed(0)
    model = StateNet(12, kernel_size=4, stride=2, hidden_channels=3, out_neurons=2, rnn_type=rnn_type).double()
    x = torch.rand(2, 1, 12, 40, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(statenet, "rnn_sequence", lambda *a: calls.append(1) or rnn_sequence(*a))
    out = model(x)
    assert calls == [1]
    grads = torch.autograd.grad(out.sum(), list(model.parameters()))
    with torch.no_grad():
        model(x)
    assert calls == [1]  # no gradients: nn.RNN's forward
    monkeypatch.setattr(statenet, "supports_rnn_sequence", lambda *a: False)
    reference = model(x)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, torch.autograd.grad(reference.sum(), list(model.parameters())), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
