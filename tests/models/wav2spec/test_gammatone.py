import numpy as np
import pytest
import torch

from deepSTRF.models.wav2spec import CausalGammatone, Gammatonegram, gammatone_fir_kernels, gammatone_iir_poles

signal = pytest.importorskip("scipy.signal")


@pytest.fixture
def float64_coefficients():
    """Build front-ends under a float64 default dtype, so that their fixed coefficients are exact."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def erb_spaced(f_min_hz, f_max_hz, n):
    erb = lambda f: 21.4 * np.log10(0.00437 * f + 1.0)  # noqa: E731
    return (10 ** (np.linspace(erb(f_min_hz), erb(f_max_hz), n) / 21.4) - 1.0) / 0.00437


def pooled_mean(y, window, hop):
    """Mean of the `window` samples ending at each bin end (zeros before the start)."""
    padded = np.concatenate([np.zeros((*y.shape[:-1], window)), y], axis=-1)
    ends = np.arange(hop, y.shape[-1] + 1, hop) + window
    return np.stack([padded[..., e - window : e].mean(-1) for e in ends], axis=-1)


@pytest.mark.parametrize("fs", [8000, 16000])
def test_fir_kernels_match_scipy(fs):
    freqs = [150.0, 440.0, 1000.0, 3000.0]
    got = gammatone_fir_kernels(torch.tensor(freqs, dtype=torch.float64), fs, n_taps=200)
    for row, f in zip(got.numpy(), freqs):
        expected, _ = signal.gammatone(f, "fir", numtaps=200, fs=fs)
        # scipy writes the ERB as f / 9.26449 + 24.7, within 2e-7 of 24.7 (0.00437 f + 1)
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_causal_gammatone_matches_filter_rectify_pool():
    fs, hop = 8000, 40
    gt = CausalGammatone(fs, 5.0, n_filters=5, f_min_hz=200.0, f_max_hz=3000.0, kernel_ms=10.0, window_ms=10.0).double()
    np.testing.assert_allclose(gt.centre_freqs.numpy(), erb_spaced(200.0, 3000.0, 5), rtol=1e-6)
    x = np.random.default_rng(1).standard_normal(20 * hop)
    got = gt(torch.from_numpy(x).view(1, 1, -1))[0, 0].numpy()
    expected = []
    for f in gt.centre_freqs.tolist():
        b, _ = signal.gammatone(f, "fir", numtaps=80, fs=fs)
        y = np.maximum(signal.lfilter(b, [1.0], x), 0.0)
        expected.append(np.log(pooled_mean(y, 80, hop) + 1e-6))
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-4, atol=1e-4)


def test_iir_filters_match_scipy_lfilter(float64_coefficients):
    fs = 8000
    gtgram = Gammatonegram(fs, 5.0, n_filters=6, f_min_hz=300.0, f_max_hz=3500.0).double()
    x = torch.randn(2, 1, 4000, dtype=torch.float64)
    got = gtgram.filter(x).numpy()
    for i, f in enumerate(gtgram.centre_freqs.tolist()):
        b, a = signal.gammatone(f, "iir", fs=fs)
        expected = signal.lfilter(b, a, x[:, 0].numpy())
        np.testing.assert_allclose(got[:, i], expected, atol=2e-5 * np.abs(expected).max())


def test_iir_filter_is_exact_for_low_channels(float64_coefficients):
    # A stable reference: four cascaded complex one-pole filters, run sample by sample.
    fs, n = 16000, 3040
    gtgram = Gammatonegram(fs, 5.0, n_filters=3, f_min_hz=60.0, f_max_hz=6000.0, chunk=16).double()
    x = torch.randn(1, 1, n, dtype=torch.float64)
    got = gtgram.filter(x)[0].numpy()
    poles, gains = gammatone_iir_poles(gtgram.centre_freqs, fs)
    for i in range(3):
        w = x[0, 0].numpy().astype(complex)
        for _ in range(4):
            w = signal.lfilter([1.0], [1.0, -complex(poles[i])], w)
        expected = float(gains[i]) * w.real
        np.testing.assert_allclose(got[i], expected, atol=1e-10 * np.abs(expected).max())


def test_iir_gain_is_one_at_the_centre_frequency():
    fs = 16000
    freqs = torch.tensor([100.0, 1000.0, 5000.0], dtype=torch.float64)
    poles, gains = gammatone_iir_poles(freqs, fs)
    for p, g, f in zip(poles.tolist(), gains.tolist(), freqs.tolist()):
        z_inv = np.exp(-2j * np.pi * f / fs)
        response = g * 0.5 * ((1 - p * z_inv) ** -4 + (1 - np.conj(p) * z_inv) ** -4)
        assert abs(abs(response) - 1.0) < 1e-12
    # and a tone at a channel's centre frequency comes out with its input amplitude
    gtgram = Gammatonegram(fs, 10.0, n_filters=4, f_min_hz=500.0, f_max_hz=4000.0, window_ms=100.0, compression="none")
    f = float(gtgram.centre_freqs[2])
    tone = torch.sin(2 * torch.pi * f * torch.arange(16000, dtype=torch.float64) / fs).view(1, 1, -1)
    steady_rms = gtgram.double()(tone)[0, 0, 2, -20:]
    torch.testing.assert_close(steady_rms, torch.full_like(steady_rms, 2**-0.5), rtol=2e-3, atol=0.0)


def test_gammatonegram_is_the_causal_rms_of_the_filters():
    gtgram = Gammatonegram(8000, 5.0, n_filters=4, window_ms=12.5, compression="cuberoot", eps=1e-8).double()
    x = torch.randn(1, 1, 400, dtype=torch.float64)
    filtered = gtgram.filter(x)[0].numpy()
    expected = np.cbrt(np.sqrt(pooled_mean(filtered**2, 100, 40)) + 1e-8)
    np.testing.assert_allclose(gtgram(x)[0, 0].numpy(), expected, rtol=1e-10)


def test_gammatonegram_window_at_the_start_of_each_bin():
    """``window_at='start'``: the RMS over the first ``window`` samples of each bin, still causal."""
    gtgram = Gammatonegram(8000, 5.0, n_filters=4, window_ms=2.5, window_at="start", compression="none").double()
    x = torch.randn(1, 1, 400, dtype=torch.float64)
    filtered = gtgram.filter(x)[0].numpy()
    expected = np.sqrt((filtered**2).reshape(4, 10, 40)[..., :20].mean(-1))
    np.testing.assert_allclose(gtgram(x)[0, 0].numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="window_at='start' needs a window of at most one bin"):
        Gammatonegram(8000, 5.0, window_ms=7.5, window_at="start")


def test_results_do_not_depend_on_the_chunk_length(float64_coefficients):
    x = torch.randn(1, 1, 1000, dtype=torch.float64)
    outputs = [Gammatonegram(8000, 5.0, n_filters=4, chunk=c).filter(x) for c in (1, 7, 64, 2000)]
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], rtol=0, atol=1e-11)


def test_float32_filtering_is_accurate():
    x = torch.randn(1, 1, 8000)
    single = Gammatonegram(8000, 5.0, n_filters=8, f_min_hz=100.0).filter(x)
    torch.set_default_dtype(torch.float64)
    try:
        double = Gammatonegram(8000, 5.0, n_filters=8, f_min_hz=100.0).filter(x.double())
    finally:
        torch.set_default_dtype(torch.float32)
    error = (single.double() - double).abs().amax(-1) / double.abs().amax(-1)
    assert float(error.max()) < 1e-5


def test_argument_errors():
    with pytest.raises(ValueError, match=r"< audio_fs / 2 = 4000, got f_min_hz=100.0, f_max_hz=4000"):
        Gammatonegram(8000, 5.0, f_max_hz=4000)
    with pytest.raises(ValueError, match=r"`f_min_hz` must be > 0, got 0"):
        CausalGammatone(8000, 5.0, f_min_hz=0)
    with pytest.raises(ValueError, match=r"`rectify` must be one of \['half', 'full', 'square'\], got 'log'"):
        CausalGammatone(8000, 5.0, rectify="log")
    with pytest.raises(ValueError, match=r"`chunk` must be an int >= 1, got 0"):
        Gammatonegram(8000, 5.0, chunk=0)
