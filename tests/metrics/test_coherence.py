import numpy as np
import pytest
import torch

from deepSTRF.metrics import coherence

signal = pytest.importorskip("scipy.signal")


def _signals(seed: int, b: int, n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(b, n, 1, t))
    pred = np.cumsum(common, axis=-1) * 0.1 + rng.normal(size=(b, n, 1, t))
    target = pred + rng.normal(scale=2.0, size=(b, n, 3, t))
    return pred, target


@pytest.mark.parametrize(("nperseg", "noverlap"), [(32, None), (20, 5), (16, 0)])
def test_single_stimulus_equals_scipy(nperseg, noverlap):
    pred, target = _signals(0, 1, 3, 200)
    freqs, coh = coherence(
        torch.from_numpy(pred),
        torch.from_numpy(target),
        dt_ms=20.0,
        nperseg=nperseg,
        noverlap=noverlap,
        reduction="none",
    )
    for j in range(3):
        f_ref, c_ref = signal.coherence(
            pred[0, j, 0], target[0, j].mean(axis=0), fs=50.0, nperseg=nperseg, noverlap=noverlap
        )
        np.testing.assert_allclose(freqs.numpy(), f_ref)
        np.testing.assert_allclose(coh[j].numpy(), c_ref, rtol=1e-9, atol=1e-12)


def test_pooled_stimuli_with_nan_tails_equal_pooled_scipy_spectra():
    pred, target = _signals(1, 3, 2, 150)
    lengths = [150, 97, 64]
    for i, length in enumerate(lengths):
        target[i, :, :, length:] = np.nan
    target[:, :, 1:, :10] = np.nan  # missing trials: the PSTH averages the ones present
    pred_t = torch.from_numpy(pred)
    _, coh = coherence(pred_t, torch.from_numpy(target), nperseg=32, noverlap=16, reduction="none")
    for j in range(2):
        pxy = pxx = pyy = 0.0
        for i, length in enumerate(lengths):
            x, y = pred[i, j, 0, :length], np.nanmean(target[i, j, :, :length], axis=0)
            segments = (length - 32) // 16 + 1
            pxy = pxy + segments * signal.csd(x, y, nperseg=32, noverlap=16)[1]
            pxx = pxx + segments * signal.welch(x, nperseg=32, noverlap=16)[1]
            pyy = pyy + segments * signal.welch(y, nperseg=32, noverlap=16)[1]
        np.testing.assert_allclose(coh[j].numpy(), np.abs(pxy) ** 2 / (pxx * pyy), rtol=1e-9)
    # garbage in the prediction where the target is missing changes nothing
    pred_t[1, :, :, 97:] = float("nan")
    torch.testing.assert_close(
        coherence(pred_t, torch.from_numpy(target), nperseg=32, noverlap=16, reduction="none")[1], coh
    )


def test_masked_bins_drop_their_segments():
    pred, target = _signals(2, 2, 2, 96)
    mask = np.ones((2, 2, 1, 96), bool)
    mask[0, :, :, 40] = False
    mask[1, 1, :, 5:9] = False
    _, coh = coherence(
        torch.from_numpy(pred), torch.from_numpy(target), mask=torch.from_numpy(mask), nperseg=16, reduction="none"
    )
    window = signal.get_window("hann", 16)
    for j in range(2):
        sxy = sxx = syy = 0.0
        for i in range(2):
            y = target[i, j].mean(axis=0)
            for start in range(0, 96 - 16 + 1, 8):
                if not mask[i, j, 0, start : start + 16].all():
                    continue
                a = np.fft.rfft(signal.detrend(pred[i, j, 0, start : start + 16], type="constant") * window)
                c = np.fft.rfft(signal.detrend(y[start : start + 16], type="constant") * window)
                sxy, sxx, syy = sxy + np.conj(a) * c, sxx + np.abs(a) ** 2, syy + np.abs(c) ** 2
        np.testing.assert_allclose(coh[j].numpy(), np.abs(sxy) ** 2 / (sxx * syy), rtol=1e-9)


def test_identical_signals_constant_prediction_and_reductions():
    pred, target = _signals(3, 2, 3, 128)
    p, x = torch.from_numpy(pred), torch.from_numpy(target)
    _, coh = coherence(p, 3 * p + 1, nperseg=32, reduction="none")
    torch.testing.assert_close(coh, torch.ones_like(coh))
    _, flat = coherence(torch.full_like(p, 0.1), x, nperseg=32, reduction="none")
    assert torch.isnan(flat).all()
    _, per_neuron = coherence(p, x, nperseg=32, reduction="none")
    for reduction, fn in (("mean", np.mean), ("median", np.median), ("sum", np.sum)):
        _, reduced = coherence(p, x, nperseg=32, reduction=reduction)
        np.testing.assert_allclose(reduced.numpy(), fn(per_neuron.numpy(), axis=0), rtol=1e-12)
    assert float32_matches(p, x, per_neuron)


def float32_matches(p: torch.Tensor, x: torch.Tensor, reference: torch.Tensor) -> bool:
    _, out = coherence(p.float(), x.float(), nperseg=32, reduction="none")
    return out.dtype == torch.float32 and torch.allclose(out.double(), reference, atol=1e-4)


def test_errors():
    p, x = torch.zeros(1, 2, 1, 40), torch.zeros(1, 2, 3, 40)
    with pytest.raises(ValueError, match="`nperseg` must be <= the number of time bins T = 40, got 64"):
        coherence(p, x, nperseg=64, reduction="none")
    with pytest.raises(ValueError, match="`noverlap` must be < `nperseg` = 16, got 16"):
        coherence(p, x, nperseg=16, noverlap=16, reduction="none")
    with pytest.raises(ValueError, match="`noverlap` must be an int >= 0, got -1"):
        coherence(p, x, nperseg=16, noverlap=-1, reduction="none")
    with pytest.raises(ValueError, match="`dt_ms` must be > 0, got 0"):
        coherence(p, x, dt_ms=0, reduction="none")
    with pytest.raises(TypeError, match="`nperseg` must be an int, got float"):
        coherence(p, x, nperseg=16.0, reduction="none")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        coherence(p, x, nperseg=16, reduction="max")
    with pytest.raises(ValueError, match=r"`target` must have shape \(B, N, R, T\)"):
        coherence(p, torch.zeros(1, 2, 3, 41), nperseg=16, reduction="none")


def test_fs_is_a_deprecated_spelling_of_the_bin_rate():
    pred, target = _signals(2, 1, 2, 128)
    p, x = torch.from_numpy(pred), torch.from_numpy(target)
    freqs, coh = coherence(p, x, dt_ms=20.0, nperseg=32, reduction="none")
    with pytest.warns(DeprecationWarning, match=r"`fs` is deprecated, use `dt_ms` \(= 1000 / fs\)"):
        old_freqs, old_coh = coherence(p, x, fs=50.0, nperseg=32, reduction="none")
    torch.testing.assert_close(old_freqs, freqs)
    torch.testing.assert_close(old_coh, coh)
    assert float(freqs[-1]) == 25.0  # Nyquist of 20 ms bins, in Hz
    cycles, _ = coherence(p, x, nperseg=32, reduction="none")
    assert float(cycles[-1]) == 0.5  # no bin width: cycles per bin
    with pytest.raises(TypeError, match=r"got both `fs` \(deprecated\) and `dt_ms`"):
        coherence(p, x, dt_ms=20.0, fs=50.0, nperseg=32, reduction="none")
    with pytest.raises(ValueError, match=r"`dt_ms` must be > 0, got -1"):
        coherence(p, x, dt_ms=-1.0, nperseg=32, reduction="none")
