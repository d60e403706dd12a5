"""CRCNS AC1 (Wehr) loader against a fixture with the real MATLAB structure."""

from __future__ import annotations

import numpy as np
import pytest

from deepSTRF.datasets.audio import _wehr, crcns_ac1


def _binned(trace_int16, scale=0.01, onset=2000, n_bins=100, block=20):
    return (trace_int16.astype(np.float64) * scale)[onset : onset + n_bins * block].reshape(n_bins, block).mean(1)


def test_structure_and_membrane_potential(ac1_root, ac1_kit):
    ds = crcns_ac1.CRCNSAC1Dataset(ac1_root)
    assert len(ds) == 3 and ds.n_neurons == 2 and ds.F == 49
    assert [m["file"] for m in ds.stim_meta] == ["category1/1.mat", "fragments/1.mat", "fragments/2.mat"]
    assert [m["description"] for m in ds.stim_meta] == ["cat one", "frag one", "frag two"]
    frag1, frag2, cat1 = ds[1], ds[2], ds[0]
    assert frag1["responses"].shape == (2, 2, 100) and frag1["stims"].shape == (1, 49, 100)
    np.testing.assert_array_equal(frag1["valid_mask"].numpy(), [True, False])
    np.testing.assert_array_equal(cat1["valid_mask"].numpy(), [False, True])
    np.testing.assert_allclose(
        frag1["responses"][0].numpy(), np.stack([_binned(ac1_kit.trace(0)), _binned(ac1_kit.trace(2))]), rtol=1e-6
    )
    np.testing.assert_allclose(  # the misspelt type and the backslash path are recognised
        frag2["responses"][0].numpy(), np.stack([_binned(ac1_kit.trace(1)), _binned(ac1_kit.trace(3))]), rtol=1e-6
    )
    np.testing.assert_allclose(cat1["responses"][1, 0].numpy(), _binned(ac1_kit.trace(9)), rtol=1e-6)
    assert cat1["responses"].shape == (2, 1, 100)  # the tuning-curve trigger is ignored


def test_metadata_and_cell_splits(ac1_root):
    ds = crcns_ac1.CRCNSAC1Dataset(ac1_root)
    a, b = ds.nrn_meta
    assert (a["session"], a["date"], a["animal_id"], a["penetration"]) == ("20030101-mw-001", "20030101", "mw", "001")
    assert (a["wehr_cell_idx"], b["wehr_cell_idx"], a["n_stims"], b["n_stims"]) == (0, 1, 2, 1)
    assert a["signal_type"] == "subthresh" and a["used_in_rancon2025"] and not b["used_in_rancon2025"]
    assert ds.stim_meta[1]["sf"] == 44100.0 and ds.stim_meta[1]["duration_s"] == pytest.approx(0.5)
    assert ds.stim_meta[1]["category"] == "fragments" and ds.stim_meta[1]["idx"] == 1
    assert ds.splits == {}
    assert ds.cell_splits == [{"train": [1, 2], "val": [], "test": []}, {"train": [0], "val": [], "test": []}]
    split = crcns_ac1.cell_split("20030103-mw-003", list(range(11)), (7, 2, 2))
    assert [len(split[k]) for k in ("train", "val", "test")] == [7, 2, 2]
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(11))
    assert split == crcns_ac1.cell_split("20030103-mw-003", list(range(11)), (7, 2, 2))
    assert len(crcns_ac1.SPLIT_COUNTS) == 25 and len(crcns_ac1.USED_CELLS) == 21


def test_logfreq_spectrogram_reference_and_causality(ac1_root, ac1_kit):
    ds = crcns_ac1.CRCNSAC1Dataset(ac1_root, ramp_ms=0.0)
    x = ac1_kit.sound("fragments/1.mat")
    sf, window = 44100.0, 441
    freqs = 100.0 * 2.0 ** (np.arange(49) / 6)
    spec = ds[1]["stims"][0].double().numpy()
    for t in (0, 1, 37, 99):
        end = int(np.floor((t + 1) * 220.5 + 0.5))  # fractional hop: no drift
        seg = np.zeros(window)
        lo = max(end - window, 0)
        seg[window - (end - lo) :] = x[lo:end]
        dft = np.array(
            [np.sum(seg * np.hamming(window) * np.exp(-2j * np.pi * f * np.arange(window) / sf)) for f in freqs]
        )
        ref = 20 * np.log10(np.maximum(np.abs(dft), 1e-6))
        ref[freqs >= sf / 2] = -120.0  # above Nyquist: floor
        np.testing.assert_allclose(spec[:, t], ref, rtol=1e-4, atol=1e-3)
    y = x.copy()
    y[int(np.floor(40 * 220.5 + 0.5)) :] += 1.0
    a = _wehr.logfreq_spectrogram(x, sf, 5.0, 100, 100.0, 25600.0, 6)
    b = _wehr.logfreq_spectrogram(y, sf, 5.0, 100, 100.0, 25600.0, 6)
    np.testing.assert_array_equal(a[:, :40], b[:, :40])
    assert not np.allclose(a[:, 40], b[:, 40])


def test_ramp_and_waveform_mode(ac1_root, ac1_kit):
    import scipy.signal

    ramped = crcns_ac1.CRCNSAC1Dataset(ac1_root, waveform=True)
    flat = crcns_ac1.CRCNSAC1Dataset(ac1_root, waveform=True, ramp_ms=0.0)
    assert ramped.hop == 240 and ramped[1]["stims"].shape == (1, 100 * 240)
    ref = scipy.signal.resample_poly(ac1_kit.sound("fragments/1.mat"), 160, 147)[:24000]
    np.testing.assert_allclose(flat[1]["stims"][0].double().numpy(), ref, atol=1e-6)
    on, off = ramped[1]["stims"][0].numpy(), flat[1]["stims"][0].numpy()
    assert abs(on[0]) < 1e-3 * abs(off[0]) + 1e-9 and abs(on[100]) < abs(off[100])  # onset attenuated
    np.testing.assert_allclose(on[2000:20000], off[2000:20000], atol=1e-6)  # the middle is untouched
    np.testing.assert_allclose(_wehr.apply_ramp(np.ones(10), 1000.0, 4.0)[:4], np.sin(np.pi / 8 * np.arange(4)) ** 2)


def test_baseline_detrend_removes_drift():
    t = np.arange(40000) / 4000.0
    drift = 5.0 * t + 2.0 * np.sin(2 * np.pi * 0.2 * t)
    out = _wehr.detrend_trace(drift, 4000.0, "baseline")
    assert np.abs(out[2000:-2000]).max() < 0.05
    bump = np.exp(-0.5 * ((t - 5.0) / 0.005) ** 2)
    assert _wehr.detrend_trace(drift + bump, 4000.0, "baseline")[20000] > 0.5


def test_incomplete_repeat_rejected(tmp_path, ac1_kit):
    import scipy.io

    root = ac1_kit.build(tmp_path / "ac1")
    path = root / "crcns-ac1" / "wehr" / "Results" / "20030101-mw-001" / "20030101-mw-001-003.mat"
    mat = {k: v for k, v in scipy.io.loadmat(path, simplify_cells=True).items() if not k.startswith("__")}
    mat["response"]["trace"] = mat["response"]["trace"][:3000, None]  # the recording stops 250 ms into the sound
    scipy.io.savemat(path, mat)
    with pytest.warns(UserWarning, match="1 incomplete repeats rejected"):
        ds = crcns_ac1.CRCNSAC1Dataset(root)
    assert ds[1]["responses"].shape == (2, 1, 100) and ds.nrn_meta[0]["rejected_repeats"] == 1


def test_zip_offline_and_errors(tmp_path, ac1_kit, no_network):
    root = ac1_kit.build(tmp_path / "z", zipped=True)
    assert len(crcns_ac1.CRCNSAC1Dataset(root)) == 3
    with pytest.raises(FileNotFoundError, match=r"(?s)crcns-ac1\.zip.*ac-1"):
        crcns_ac1.CRCNSAC1Dataset(tmp_path / "none")
    with pytest.raises(ValueError, match="`detrend` must be one of"):
        crcns_ac1.CRCNSAC1Dataset(root, detrend="linear")
    with pytest.raises(ValueError, match=r"`dt_ms` \* sf / 1000 must be an integer"):
        crcns_ac1.CRCNSAC1Dataset(root, dt_ms=0.3)
    with pytest.raises(ValueError, match="`ramp_ms` must be >= 0"):
        crcns_ac1.CRCNSAC1Dataset(root, ramp_ms=-1.0)
