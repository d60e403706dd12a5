import numpy as np
import pytest
import torch

from deepSTRF.models.wav2spec import CausalMelSpectrogram, mel_filterbank


def htk_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def htk_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def slaney_mel(f):
    f = np.asarray(f, dtype=float)
    log_part = 15.0 + 27.0 * np.log(np.maximum(f, 1000.0) / 1000.0) / np.log(6.4)
    return np.where(f < 1000.0, 3.0 * f / 200.0, log_part)


def slaney_hz(m):
    m = np.asarray(m, dtype=float)
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)))


def reference_filterbank(n_fft_bins, n_mels, fs, f_min_hz, f_max_hz, to_mel, to_hz, area_norm):
    edges = to_hz(np.linspace(to_mel(f_min_hz), to_mel(f_max_hz), n_mels + 2))
    freqs = np.linspace(0.0, fs / 2.0, n_fft_bins)
    fb = np.zeros((n_fft_bins, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        for k, f in enumerate(freqs):
            if lo < f <= mid:
                fb[k, m] = (f - lo) / (mid - lo)
            elif mid < f < hi:
                fb[k, m] = (hi - f) / (hi - mid)
        if area_norm:
            fb[:, m] *= 2.0 / (hi - lo)
    return fb


@pytest.mark.parametrize(
    ("scale", "to_mel", "to_hz"), [("htk", htk_mel, htk_hz), ("slaney", slaney_mel, slaney_hz)], ids=["htk", "slaney"]
)
@pytest.mark.parametrize("norm", [None, "slaney"])
def test_filterbank_matches_the_formulas(scale, to_mel, to_hz, norm):
    got = mel_filterbank(129, 20, 16000, f_min_hz=50.0, f_max_hz=7000.0, mel_scale=scale, norm=norm)
    expected = reference_filterbank(129, 20, 16000, 50.0, 7000.0, to_mel, to_hz, norm == "slaney")
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_slaney_scale_is_linear_below_1khz_and_logarithmic_above():
    # with this range the Slaney edges below 1 kHz are evenly spaced in Hz
    fb = mel_filterbank(1025, 30, 16000, f_min_hz=0.0, f_max_hz=8000.0, mel_scale="slaney")
    peaks = torch.linspace(0, 8000, 1025)[fb.argmax(0)]
    low = peaks[peaks < 900]
    steps = low.diff()
    assert (steps.max() - steps.min()) < 16.0  # one FFT bin
    high = peaks[peaks > 1500]
    ratios = high[1:] / high[:-1]
    assert (ratios.max() - ratios.min()) < 0.01


def test_filterbank_errors():
    with pytest.raises(ValueError, match=r"need 0 <= f_min_hz < f_max_hz <= audio_fs / 2 = 8000"):
        mel_filterbank(129, 20, 16000, f_max_hz=9000.0)
    with pytest.raises(ValueError, match=r"`mel_scale` must be one of \['htk', 'slaney'\], got 'bark'"):
        mel_filterbank(129, 20, 16000, mel_scale="bark")
    with pytest.raises(ValueError, match=r"`norm` must be one of \[None, 'slaney'\]"):
        mel_filterbank(129, 20, 16000, norm="area")
    with pytest.raises(ValueError, match=r"`n_fft_bins` must be an int >= 2"):
        mel_filterbank(1, 20, 16000)


@pytest.mark.parametrize(("power", "compression"), [(2.0, "log"), (1.0, "cuberoot"), (2.0, "log1p"), (1.5, "none")])
def test_spectrogram_matches_a_direct_causal_stft(power, compression):
    fs, hop, win, n_fft, n_mels, eps = 8000, 40, 100, 128, 16, 1e-6
    mel = CausalMelSpectrogram(fs, dt_ms=5.0, n_filters=n_mels, window_ms=12.5, power=power, compression=compression)
    mel = mel.double()
    assert (mel.win_length, mel.n_fft) == (win, n_fft)
    x = np.random.default_rng(0).standard_normal(25 * hop)
    padded = np.concatenate([np.zeros(n_fft), x])
    window = np.zeros(n_fft)
    window[n_fft - win :] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    fb = reference_filterbank(n_fft // 2 + 1, n_mels, fs, 0.0, fs / 2, htk_mel, htk_hz, False)
    frames = []
    for t in range(25):
        end = (t + 1) * hop + n_fft  # in padded coordinates: the frame ends where bin t ends
        frames.append(np.abs(np.fft.rfft(padded[end - n_fft : end] * window)) ** power @ fb)
    energy = np.array(frames).T
    expected = {
        "log": np.log(energy + eps),
        "cuberoot": np.cbrt(energy + eps),
        "log1p": np.log1p(energy),
        "none": energy,
    }[compression]
    got = mel(torch.from_numpy(x).view(1, 1, -1))[0, 0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`n_fft` must be >= the window length \(200 samples\), got 128"):
        CausalMelSpectrogram(8000, 5.0, window_ms=25.0, n_fft=128)
    with pytest.raises(ValueError, match=r"`window_ms` must be > 0, got 0"):
        CausalMelSpectrogram(8000, 5.0, window_ms=0)
    with pytest.raises(TypeError, match=r"`n_filters` must be an int, got float"):
        CausalMelSpectrogram(8000, 5.0, n_filters=3.0)
    with pytest.raises(ValueError, match=r"`power` must be > 0"):
        CausalMelSpectrogram(8000, 5.0, power=0.0)


def test_gradient_reaches_the_waveform():
    mel = CausalMelSpectrogram(8000, 5.0, n_filters=8, window_ms=5.0).double()
    x = torch.randn(1, 1, 200, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(mel, (x,))


def test_symmetric_window_ends_each_frame_with_a_zero():
    """``periodic_window=False``: the symmetric Hann window, whose last sample (the newest) weighs nothing."""
    mel = CausalMelSpectrogram(8000, 5.0, n_filters=6, window_ms=10.0, n_fft=80, periodic_window=False)
    torch.testing.assert_close(mel.window, torch.hann_window(80, periodic=False))
    x = torch.randn(1, 1, 400)
    spiked = x.clone()
    spiked[..., 79] += 100.0  # the last sample of bin 1: weight zero in every frame that reads it
    torch.testing.assert_close(mel(spiked)[..., :2], mel(x)[..., :2])
    assert (mel(spiked)[..., 2] - mel(x)[..., 2]).abs().max() > 1.0
    with pytest.raises(TypeError, match="periodic_window"):
        CausalMelSpectrogram(8000, 5.0, periodic_window=0)
