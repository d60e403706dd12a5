"""CRCNS AC1 Asari loader against recordings written with the documented MATLAB structure."""

from __future__ import annotations

import numpy as np
import pytest

from deepSTRF.datasets.audio import _wehr, crcns_ac1_asari


def _binned(trace, onset, n_bins=50, block=50):
    return (trace.astype(np.float64) * 0.01)[onset : onset + n_bins * block].reshape(n_bins, block).mean(1)


def test_a1_sequences_membrane_potential_and_skip(asari_root, asari_kit):
    with pytest.warns(UserWarning, match=r"skipped 1 malformed recording file\(s\): 20050202-ha2-003/r2\.mat"):
        ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root)
    assert ds.n_neurons == 1 and len(ds) == 2 and ds.F == 49
    seq1 = ["class1/1.mat", "class1/2.mat", "class2/1.mat", "class1/1.mat", "class1/2.mat"]
    assert ds.stim_meta[0]["segment_files"] == seq1 and ds.stim_meta[0]["category"] == ["class1", "class2"]
    assert ds.stim_meta[0]["description"] == "Sequence 1: 1 2  3 1 2"
    assert ds.stim_meta[0]["duration_s"] == pytest.approx(5 * 4883 / 97656.25)
    meta = ds.nrn_meta[0]
    assert (meta["animal_id"], meta["date"], meta["site"], meta["signal_type"]) == (
        "ha1",
        "20050101",
        "A1",
        "subthresh",
    )
    assert meta["rejected_repeats"] == 1  # the repeat at 0.9 s runs past the end of the 1 s trace
    r = ds[0]["responses"][0].numpy()  # two repeats of sequence 1 (files r1 and r2)
    assert r.shape == (2, 50)
    np.testing.assert_allclose(r[0], _binned(asari_kit.trace(1), 1000), rtol=1e-6)
    np.testing.assert_allclose(r[1], _binned(asari_kit.trace(2), 2000), rtol=1e-6)
    assert ds[1]["responses"].shape == (1, 1, 50)


def test_stimulus_is_five_ramped_segments(asari_root, asari_kit):
    with pytest.warns(UserWarning):
        ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, waveform=True, audio_fs=100000.0)
    assert ds.hop == 500 and ds[0]["stims"].shape == (1, 50 * 500)
    sf = 97656.25
    parts = [_wehr.apply_ramp(asari_kit.segment(i), sf, 5.0) for i in (0, 1, 2, 0, 1)]
    sound = np.concatenate(parts)
    assert abs(sound[0]) < 1e-12 and abs(sound[4882]) < 1e-3  # each segment starts and ends at zero
    with pytest.warns(UserWarning):
        ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root)
    reference = _wehr.logfreq_spectrogram(sound, sf, 5.0, 50, 100.0, 25600.0, 6)  # the 5 ramped segments
    np.testing.assert_allclose(ds[0]["stims"][0].double().numpy(), reference, rtol=1e-5, atol=1e-3)
    assert sorted(ds.splits["train"] + ds.splits["val"] + ds.splits["test"]) == [0, 1]
    spec = crcns_ac1_asari.CRCNSAC1AsariDataset
    with pytest.warns(UserWarning):
        pub = spec(asari_root, preset="published")
    assert pub.F == 53 and pub.info["detrend"] == "baseline_per_repeat"


def test_mgb_spikes_are_detected_and_counted(asari_root, asari_kit):
    with pytest.warns(UserWarning):
        ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, site="MGB")
    assert ds.n_neurons == 1 and ds.nrn_meta[0]["signal_type"] == "spikes" and len(ds) == 1
    counts = ds[0]["responses"][0, 0].numpy()
    expected = np.zeros(50)
    for sample in asari_kit.mgb_spikes:
        t_ms = (sample - 1000) / 10.0
        if 0 <= t_ms < 250:
            expected[int(t_ms // 5)] += 1
    np.testing.assert_array_equal(counts, expected)
    assert crcns_ac1_asari.parse_sequence("sequence 12:1 2 3 4 5") == (12, [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="Sequence n"):
        crcns_ac1_asari.parse_sequence("Seq 1")


def test_selection_and_verify(asari_root):
    ds = crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, stim_classes=["class1", "class2"], animals=["ha1"])
    assert ds.n_neurons == 1 and len(ds) == 2
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no A1 natural-sound sequence"):
        crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, stim_classes=["class1"])  # every sequence has class2
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no A1 natural-sound sequence"):
        crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, cell_types=["cell attached"])
    with pytest.raises(ValueError, match="`site`"):
        crcns_ac1_asari.CRCNSAC1AsariDataset(asari_root, site="IC")
    report = crcns_ac1_asari.CRCNSAC1AsariDataset.verify(asari_root)
    assert {c.name for c in report.failed} == {"count cells_A1", "count cells_MGB"}
    assert "found 1, documented 39" in str(report) and "found 1, documented 14" in str(report)


def test_trigger_type_with_a_space_and_bad_indices(tmp_path, asari_kit):
    import scipy.io

    from deepSTRF.datasets.audio import crcns_ac1_asari as asari

    path = tmp_path / "r.mat"
    param = {"stimulus": {"file": "class1\\1.mat"}, "recording": {"site": "left cortex", "type": "whole cell"}}
    trig = {
        "type": "natural sound",
        "param": {"description": "Sequence 3:  1 1   1 1 1", "duration": 10.0},
        "time": 1.0,
    }
    response = {"trace": asari_kit.trace(4)[:, None], "scale": 0.01, "sf": 10000.0}
    scipy.io.savemat(path, {"param": param, "triggers": trig, "response": response})
    rec = asari.read_asari_recording(path)
    assert rec["site"] == "A1" and rec["sf"] == 10000.0 and rec["recording_type"] == "whole cell"
    assert rec["repeats"] == [(("class1/1.mat",) * 5, "Sequence 3:  1 1   1 1 1", 10.0, 0)]
    trig["param"]["description"] = "Sequence 3: 1 2 1 1 1"  # index 2 does not exist
    scipy.io.savemat(path, {"param": param, "triggers": trig, "response": response})
    with pytest.raises(ValueError, match="indexes beyond the 1 stimulus files"):
        asari.read_asari_recording(path)
