"""The shared pieces of the front-ends: sample grid, causal framing and pooling, causal convolution."""

import pytest
import torch
import torch.nn.functional as F

from deepSTRF.functional.framing import align_frames
from deepSTRF.models.wav2spec import samples_per_bin
from deepSTRF.models.wav2spec._base import causal_mean_pool, compress
from deepSTRF.models.wav2spec._conv import causal_conv1d
from deepSTRF.testing import assert_causal


def test_samples_per_bin():
    assert samples_per_bin(16000, 5.0) == 80
    assert samples_per_bin(48000, 5) == 240
    assert samples_per_bin(44100, 10.0) == 441
    with pytest.raises(ValueError, match=r"whole number of samples >= 1, got 44100 Hz \* 5.0 ms / 1000 = 220.5"):
        samples_per_bin(44100, 5.0)
    with pytest.raises(ValueError, match=r"`dt_ms` must be > 0, got -5"):
        samples_per_bin(16000, -5)
    with pytest.raises(TypeError, match=r"`audio_fs` must be a real number, got str"):
        samples_per_bin("16k", 5.0)


def test_frames_end_at_bin_ends():
    x = torch.arange(1.0, 13.0).view(1, 1, 12)
    for frame, hop in ((5, 3), (3, 3), (2, 3), (1, 4)):
        frames = align_frames(x, frame, hop).unfold(-1, frame, hop)[0, 0]
        assert frames.shape[0] == 12 // hop
        for t, row in enumerate(frames):
            end = (t + 1) * hop
            expected = [float(v) if v > 0 else 0.0 for v in range(end - frame + 1, end + 1)]
            assert row.tolist() == expected


def test_causal_mean_pool():
    x = torch.rand(2, 3, 60, dtype=torch.float64)
    got = causal_mean_pool(x, window=25, hop=10)
    padded = F.pad(x, (25, 0))
    for t in range(6):
        end = (t + 1) * 10 + 25
        torch.testing.assert_close(got[..., t], padded[..., end - 25 : end].mean(-1))


def test_compressions():
    x = torch.tensor([0.0, 1.0, 26.0])
    torch.testing.assert_close(compress(x, "log", 1.0), torch.log(x + 1.0))
    torch.testing.assert_close(compress(x, "cuberoot", 1.0), torch.tensor([1.0, 2.0 ** (1 / 3), 3.0]))
    torch.testing.assert_close(compress(x, "log1p", 0.5), torch.log1p(x))
    torch.testing.assert_close(compress(x, "log_floor", 2.0), torch.log(torch.tensor([2.0, 2.0, 26.0])))
    assert compress(x, "none", 1.0) is x


@pytest.mark.parametrize(("stride", "kernel"), [(1, 7), (2, 8), (2, 5), (5, 64), (5, 3), (4, 4)])
def test_causal_conv1d_matches_padded_conv1d(stride, kernel):
    x = torch.randn(3, 4, 12 * stride, dtype=torch.float64)
    w = torch.randn(5, 4, kernel, dtype=torch.float64)
    b = torch.randn(5, dtype=torch.float64)
    padded = F.pad(x, (kernel - stride, 0)) if kernel >= stride else x[..., stride - kernel :]
    expected = F.conv1d(padded, w, b, stride=stride)
    got = causal_conv1d(x, w, b, stride)
    assert got.shape == (3, 5, 12)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert_causal(lambda v: causal_conv1d(v, w, b, stride), x, t0=5, hop=stride, dtype=None)


@pytest.mark.parametrize(("stride", "kernel", "length"), [(1, 5, 9), (2, 6, 12), (5, 7, 20), (3, 2, 30)])
def test_causal_conv1d_gradients(stride, kernel, length):
    x = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda *args: causal_conv1d(*args, stride=stride), (x, w, b))


def test_causal_conv1d_gradients_agree_with_autograd_on_long_signals():
    # long enough to use several pieces in the weight gradient
    x = torch.randn(2, 6, 2000, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, 6, 16, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 8, 1000, dtype=torch.float64)
    ours = torch.autograd.grad(causal_conv1d(x, w, stride=2), (x, w), grad)
    ref = torch.autograd.grad(F.conv1d(F.pad(x, (14, 0)), w, stride=2), (x, w), grad)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def _padded_reference(x, w, b, stride):
    kernel = w.shape[-1]
    padded = F.pad(x, (kernel - stride, 0)) if kernel >= stride else x[..., stride - kernel :]
    return F.conv1d(padded, w, b, stride=stride)


# (stride, kernel, outputs): one FFT block and several, outputs a multiple of the block advance (97
# for 32 taps per phase) or not, kernels shorter than the stride, the 13-tap phases of ICNet's stride-5 layer
FFT_CASES = [
    (1, 7, 9),
    (1, 64, 700),
    (2, 8, 40),
    (2, 64, 333),
    (2, 64, 194),
    (5, 64, 150),
    (5, 3, 12),
    (3, 1, 20),
    (4, 4, 50),
]


@pytest.mark.parametrize(("stride", "kernel", "steps"), FFT_CASES)
def test_fft_path_matches_conv1d_in_value_and_gradient(stride, kernel, steps):
    g = torch.Generator().manual_seed(stride * 100 + kernel)
    x = torch.randn(2, 3, steps * stride, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, kernel, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    got = causal_conv1d(x, w, b, stride, method="fft")
    expected = _padded_reference(x, w, b, stride)
    assert got.shape == (2, 4, steps)
    torch.testing.assert_close(got, expected, rtol=1e-11, atol=1e-11)
    grad = torch.randn(got.shape, generator=g, dtype=torch.float64)
    for ours, ref in zip(torch.autograd.grad(got, (x, w, b), grad), torch.autograd.grad(expected, (x, w, b), grad)):
        torch.testing.assert_close(ours, ref, rtol=1e-11, atol=1e-11)
    # an expanded (stride-0) output gradient, as .sum() gives
    ours = torch.autograd.grad(causal_conv1d(x, w, b, stride, method="fft").sum(), x)[0]
    ref = torch.autograd.grad(_padded_reference(x, w, b, stride).sum(), x)[0]
    torch.testing.assert_close(ours, ref, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize(("stride", "kernel", "length"), [(1, 5, 9), (2, 6, 12), (5, 7, 20), (3, 2, 30)])
def test_fft_path_gradcheck(stride, kernel, length):
    x = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda *args: causal_conv1d(*args, stride=stride, method="fft"), (x, w, b))


def test_fft_path_is_causal_to_rounding_and_float32_is_close():
    w, b = torch.randn(5, 4, 64, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    x = torch.randn(2, 4, 2 * 300, dtype=torch.float64)
    fft = lambda v: causal_conv1d(v, w, b, 2, method="fft")  # noqa: E731
    for t0 in (1, 97, 150, 299):  # block edges (advance 97) and mid-block
        assert_causal(fft, x, t0=t0, hop=2, dtype=None, atol=1e-11)
    # the bound is needed: the rounding of a block's transform reaches its earlier outputs
    with pytest.raises(AssertionError, match=r"not causal: output bin \d+ \(< t0=150\) changed by up to"):
        assert_causal(fft, x, t0=150, hop=2, dtype=None)
    # a real leak is far above the bound
    with pytest.raises(AssertionError, match=r"not causal"):
        assert_causal(lambda v: fft(v.roll(-2, -1)), x, t0=150, hop=2, dtype=None, atol=1e-11)
    x32, w32, b32 = x.float(), w.float(), b.float()
    direct = causal_conv1d(x32, w32, b32, 2, method="direct")
    torch.testing.assert_close(causal_conv1d(x32, w32, b32, 2, method="fft"), direct, rtol=1e-5, atol=1e-4)


def test_auto_takes_the_fft_only_where_the_cost_model_says_so(monkeypatch):
    from deepSTRF.models.wav2spec import _conv

    calls = []
    original = _conv._FFTCausalConv1d.apply
    monkeypatch.setattr(_conv._FFTCausalConv1d, "apply", lambda *a: calls.append(a[3:]) or original(*a))
    big_w = torch.randn(32, 32, 64) / 50  # 32 taps per phase at stride 2: about 5 MAC per output instead of 32
    y = causal_conv1d(torch.randn(2, 32, 4000), big_w, stride=2)
    assert calls == [(2, 128)] and y.shape == (2, 32, 2000)
    causal_conv1d(torch.randn(2, 32, 400), big_w, stride=2)  # too small to pay
    causal_conv1d(torch.randn(2, 1, 80000), torch.randn(48, 1, 64))  # one input channel: the transforms dominate
    causal_conv1d(torch.randn(2, 32, 40000), torch.randn(32, 32, 6), stride=2)  # 3 taps per phase
    causal_conv1d(torch.randn(2, 32, 4000), big_w, stride=2, method="direct")
    assert len(calls) == 1
    assert _conv._fft_pays(8, 256, 128, 32, 19980, torch.float32)  # ICNet's conv2
    assert not _conv._fft_pays(8, 256, 128, 32, 19980, torch.float16)
    assert _conv._fft_size(32) == 128 and _conv._fft_size(13) == 64 and _conv._fft_size(2) == 64


def test_causal_conv1d_errors():
    x, w = torch.randn(1, 2, 9), torch.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"`method` must be 'auto', 'direct' or 'fft', got 'fast'"):
        causal_conv1d(x, w, method="fast")
    with pytest.raises(ValueError, match=r"input length 9 is not a multiple of stride=2"):
        causal_conv1d(x, w, stride=2)


def test_fft_path_takes_strided_views():
    w = torch.randn(4, 3, 64, dtype=torch.float64)
    for x in (
        torch.randn(2, 200, 3, dtype=torch.float64).transpose(1, 2),
        torch.randn(2, 3, 300, dtype=torch.float64)[..., :200],
    ):
        expected = causal_conv1d(x.contiguous(), w, stride=2, method="direct")
        torch.testing.assert_close(causal_conv1d(x, w, stride=2, method="fft"), expected, rtol=1e-11, atol=1e-11)
