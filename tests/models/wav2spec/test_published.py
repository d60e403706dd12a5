"""deepSTRF 0.1.0's gammatone and LEAF definitions: formulas against independent references, and their differences.

The published outputs themselves are matched by the checkpoint fixtures in ``tests/models/test_legacy.py``.
"""

import math

import numpy as np
import pytest
import torch

from deepSTRF.models.wav2spec import (
    CausalGammatone,
    PublishedCausalGammatone,
    PublishedCausalLEAF,
    causal_conv1d,
    smooth_energy,
)

FS = 16000


def _erb_rate(f):
    return 21.4 * np.log10(0.00437 * f + 1.0)


def test_gammatone_kernels_follow_the_formula_scaled_by_their_fft_peak():
    gt = PublishedCausalGammatone(FS, 2.0, n_filters=5, f_min_hz=400.0, kernel_ms=6.0).double()
    centres = gt.centre_freqs.numpy()
    np.testing.assert_allclose(_erb_rate(centres), np.linspace(_erb_rate(400.0), _erb_rate(8000.0), 5), rtol=1e-7)
    t = np.arange(96) / FS
    b = 1.019 * 24.7 * (0.00437 * centres[:, None] + 1.0)
    g = t**3 * np.exp(-2 * np.pi * b * t) * np.cos(2 * np.pi * centres[:, None] * t)
    g /= np.abs(np.fft.rfft(g, n=4096)).max(axis=1, keepdims=True)
    np.testing.assert_allclose(gt.weight[:, 0].numpy(), g, rtol=1e-5, atol=1e-7)  # stored in float32


def test_gammatone_is_ours_reversed_in_time_and_scaled_within_two_percent():
    ours = CausalGammatone(FS, 2.0, n_filters=8, f_min_hz=500.0, f_max_hz=7000.0, kernel_ms=20.0).double()
    theirs = PublishedCausalGammatone(FS, 2.0, n_filters=8, f_min_hz=500.0, f_max_hz=7000.0, kernel_ms=20.0).double()
    reversed_ours, published = ours.weight[:, 0].flip(-1), theirs.weight[:, 0]
    ratio = (published * reversed_ours).sum(1) / reversed_ours.square().sum(1)
    torch.testing.assert_close(published, ratio.unsqueeze(1) * reversed_ours, rtol=0.0, atol=1e-7)
    assert bool(((ratio - 1).abs() < 0.02).all()) and float((ratio - 1).abs().max()) > 5e-3, ratio
    # a click comes out late: the filtered click peaks in the last third of the kernel
    click = torch.zeros(1, 1, 640, dtype=torch.float64)
    click[..., 0] = 1.0
    delays = causal_conv1d(click, theirs.weight).abs().argmax(-1)[0] / FS * 1000
    assert bool((delays > 13.0).all()) and bool((delays < 20.0).all()), delays


def test_gammatone_pipeline_matches_a_numpy_reference_with_pcen():
    gt = PublishedCausalGammatone(
        FS, 1.0, n_filters=3, f_min_hz=800.0, f_max_hz=4000.0, kernel_ms=2.0, window_ms=3.0, compression="pcen"
    ).double()
    x = torch.randn(1, 1, 16 * 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = gt.weight[:, 0].numpy()
    xp = np.concatenate([np.zeros(31), x[0, 0].numpy()])
    y = np.maximum(np.stack([np.correlate(xp, k, mode="valid") for k in w]), 0.0)
    yp = np.concatenate([np.zeros((3, 32)), y], axis=1)
    energy = np.stack([yp[:, t * 16 : t * 16 + 48].mean(axis=1) for t in range(10)], axis=1)
    smoothed, m = np.zeros_like(energy), np.zeros(3)
    for t in range(10):
        m = (1 - 0.025) * m + 0.025 * energy[:, t]
        smoothed[:, t] = m
    expected = (energy / (1e-6 + smoothed) ** 0.98 + 2.0) ** 0.5 - 2.0**0.5
    np.testing.assert_allclose(gt(x)[0, 0].numpy(), expected, rtol=1e-10, atol=1e-12)


def test_gammatone_log_floor_and_cuberoot():
    x = torch.randn(1, 1, 320, generator=torch.Generator().manual_seed(1))
    none = PublishedCausalGammatone(FS, 2.0, n_filters=4, kernel_ms=3.0, compression="none")(x)
    floor = PublishedCausalGammatone(FS, 2.0, n_filters=4, kernel_ms=3.0, log_floor=0.05)(x)
    cube = PublishedCausalGammatone(FS, 2.0, n_filters=4, kernel_ms=3.0, compression="cuberoot")(x)
    torch.testing.assert_close(floor, none.clamp(min=0.05).log())
    torch.testing.assert_close(cube, none.pow(1 / 3))


def test_lengths_are_at_least_one_bin_and_leaf_kernels_odd():
    gt = PublishedCausalGammatone(FS, 5.0, n_filters=4, kernel_ms=1.0, window_ms=1.0)
    assert (gt.kernel_size, gt.window) == (80, 80)
    assert PublishedCausalGammatone(FS, 5.0, n_filters=4).window == 160  # two bins by default
    leaf = PublishedCausalLEAF(FS, 1.0, n_filters=4, kernel_ms=2.0)
    assert (leaf.kernel_size, leaf.window) == (33, 64)


def test_leaf_gabor_kernels_and_pooling_windows():
    leaf = PublishedCausalLEAF(FS, 2.0, n_filters=4, kernel_ms=3.0, window_ms=4.0).double()
    kernels = leaf.gabor_kernels().detach()
    n = torch.arange(49, dtype=torch.float64) - 24
    sigma = torch.nn.functional.softplus(leaf.raw_sigma.detach()).unsqueeze(1)
    envelope = torch.exp(-(n**2) / (2 * sigma**2))
    envelope = envelope / envelope.sum(1, keepdim=True)
    omega = leaf.centre.detach().unsqueeze(1)
    torch.testing.assert_close(kernels, torch.cat([envelope * torch.cos(omega * n), envelope * torch.sin(omega * n)]))
    # initial widths: one ERB; initial centres: mel-spaced up to Nyquist
    erb = 24.7 * (0.00437 * leaf.centre.detach() * FS / (2 * math.pi) + 1)
    torch.testing.assert_close(sigma[:, 0], FS / (2 * math.pi * erb))
    assert math.isclose(float(leaf.centre.detach()[-1]), math.pi, rel_tol=1e-6)
    windows = leaf.pooling_windows().detach()
    torch.testing.assert_close(windows.sum(1), torch.ones(4, dtype=torch.float64))
    assert bool((windows.argmax(1) == 63).all())  # peaked on the newest sample
    width = float(torch.nn.functional.softplus(leaf.raw_pool_width.detach()[0]))
    assert math.isclose(width, 16.0, rel_tol=1e-6)
    age = torch.arange(63, -1, -1, dtype=torch.float64)
    expected = torch.exp(-(age**2) / (2 * width**2))
    torch.testing.assert_close(windows[0], expected / expected.sum())


def test_leaf_pcen_starts_its_smoother_at_zero():
    leaf = PublishedCausalLEAF(FS, 2.0, n_filters=2, kernel_ms=2.0, window_ms=4.0).double()
    with torch.no_grad():
        leaf.raw_pool_width.fill_(-20.0)  # width 0.5 sample: the pooling picks the newest sample
        leaf.smooth_logit.copy_(torch.tensor([0.0, 1.0]))
    x = torch.randn(1, 1, 32 * 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = causal_conv1d(x, leaf.gabor_kernels().unsqueeze(1)).detach()
    modulus = (y[:, :2].square() + y[:, 2:].square() + 1e-9).sqrt()[0]
    weights = leaf.pooling_windows().detach()
    energy = torch.stack(
        [(torch.nn.functional.pad(modulus, (32, 0))[:, t * 32 : t * 32 + 64] * weights).sum(1) for t in range(5)], 1
    )
    s = torch.sigmoid(torch.tensor([0.0, 1.0], dtype=torch.float64))
    m, expected = torch.zeros(2, dtype=torch.float64), []
    for t in range(5):
        m = (1 - s) * m + s * energy[:, t]
        expected.append((energy[:, t] / (1e-6 + m) ** 0.96 + 2.0) ** 0.5 - 2.0**0.5)
    torch.testing.assert_close(leaf(x)[0, 0].detach(), torch.stack(expected, 1), rtol=1e-6, atol=1e-9)


def test_smooth_energy_starts_at_the_first_frame_or_at_zero():
    energy = torch.rand(2, 3, 7, dtype=torch.float64)
    coef = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64)
    for start_at_zero in (False, True):
        m = torch.zeros(2, 3, dtype=torch.float64) if start_at_zero else energy[..., 0].clone()
        expected = []
        for t in range(7):
            m = (1 - coef) * m + coef * energy[..., t]
            expected.append(m)
        torch.testing.assert_close(
            smooth_energy(energy, coef, chunk=3, start_at_zero=start_at_zero), torch.stack(expected, -1)
        )


def test_leaf_learns_and_can_freeze_its_stages():
    leaf = PublishedCausalLEAF(FS, 2.0, n_filters=3, kernel_ms=2.0, learn_pooling=False)
    leaf(torch.randn(1, 1, 320)).square().mean().backward()
    for name, parameter in leaf.named_parameters():
        if name == "raw_pool_width":
            assert not parameter.requires_grad
        else:
            assert (
                parameter.grad is not None and torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0
            )


@pytest.mark.parametrize("cls", [PublishedCausalGammatone, PublishedCausalLEAF])
def test_frequency_range_errors(cls):
    with pytest.raises(ValueError, match=r"f_max_hz <= audio_fs / 2 = 8000, got f_min_hz=100.0, f_max_hz=9000.*None"):
        cls(FS, 2.0, f_min_hz=100.0, f_max_hz=9000.0)
    with pytest.raises(ValueError, match=r"f_min_hz < f_max_hz"):
        cls(FS, 2.0, f_min_hz=3000.0, f_max_hz=2000.0)


def test_gammatone_argument_errors():
    with pytest.raises(ValueError, match=r"`rectify` must be one of"):
        PublishedCausalGammatone(FS, 2.0, rectify="halfwave")
    with pytest.raises(ValueError, match=r"`compression` must be one of"):
        PublishedCausalGammatone(FS, 2.0, compression="log")
    with pytest.raises(ValueError, match=r"`pcen_s` must be in \(0, 1\], got 2.0"):
        PublishedCausalGammatone(FS, 2.0, pcen_s=2.0)
    with pytest.raises(ValueError, match=r"kernel_ms"):
        PublishedCausalGammatone(FS, 2.0, kernel_ms=-1.0)
