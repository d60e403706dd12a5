"""The shared pieces of the front-ends: sample grid, causal framing and pooling, causal convolution."""

import pytest
import torch
import torch.nn.functional as F

from deepSTRF.models.wav2spec import samples_per_bin
from deepSTRF.models.wav2spec._base import align_frames, causal_mean_pool, compress
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
