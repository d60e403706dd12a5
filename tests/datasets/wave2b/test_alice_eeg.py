"""Alice EEG from MNE-written .fif fixtures: onsets with the first sample, bad channels and windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mne")

from deepSTRF.datasets import catalog, sources
from deepSTRF.datasets.audio import alice_eeg as al


def test_segments_start_at_their_annotation_despite_first_samp(alice_root):
    root, _, kit = alice_root
    data = al.AliceEEGDataset(root, dt_ms=2.0, band_hz=(None, None), progress=False)  # 500 Hz: no resampling
    assert len(data) == 12 and data.lengths[0] == 150
    subjects = [m["subject"] for m in data.nrn_meta]
    assert subjects.count("S01") == 4 and data.n_neurons == 12
    for seg in (1, 7, 12):
        got = data.get_response(seg - 1, 0).numpy()[0]  # S01, Fp1
        np.testing.assert_allclose(got, kit.alice_marker(seg, 150), atol=1e-5)
        n = subjects.index("S02")
        np.testing.assert_allclose(data.get_response(seg - 1, n).numpy()[0], kit.alice_marker(seg, 150), atol=1e-5)


def test_bad_channels_and_windows_are_missing(alice_root):
    root, _truth, _kit = alice_root
    data = al.AliceEEGDataset(root, dt_ms=2.0, band_hz=(None, None), progress=False)
    meta = data.nrn_meta
    pz_s02 = next(i for i, m in enumerate(meta) if m["subject"] == "S02" and m["channel"] == "Pz")
    assert meta[pz_s02]["bad"] and not bool(data.valid_mask[:, pz_s02].any())
    seg2 = data.get_response(1, 1).numpy()[0]  # S01 Fz, segment 2, BAD_blink from 100 to 150 ms
    assert np.isnan(seg2[50:75]).all() and not np.isnan(seg2[:50]).any() and not np.isnan(seg2[75:]).any()
    rep = al.AliceEEGDataset(root, mode="repeats", dt_ms=2.0, band_hz=(None, None), progress=False)
    assert rep.n_neurons == 4 and rep.get_response(0, 3).shape == (3, 150)
    pz = rep.get_response(0, 3).numpy()
    assert np.isnan(pz[1]).all() and not np.isnan(pz[0]).any()  # S02's bad Pz is a NaN trial
    assert rep.nrn_meta[3] == {"channel": "Pz", "bad_in": ["S02"]}


def test_resampling_filtering_stimuli_and_presets(alice_root):
    root, _, _ = alice_root
    data = al.AliceEEGDataset(root, subjects=["S03"], progress=False)
    assert data.dt_ms == 10.0 and data.lengths[0] == 30 and data.F == 8 and data.n_neurons == 4
    env = al.AliceEEGDataset(root, subjects=["S03"], stimulus="envelope", progress=False)
    assert env.F == 1
    np.testing.assert_allclose(
        np.exp(env.stims[3][0, 0].numpy()), np.exp(data.stims[3][0].numpy().astype(np.float64)).sum(0), rtol=1e-3
    )
    pub = al.AliceEEGDataset(root, subjects=["S03"], preset="published", progress=False)
    assert pub.info["band_hz"] == (1.0, None)
    assert not np.allclose(pub.get_response(0, 1).numpy(), data.get_response(0, 1).numpy())
    wav = al.AliceEEGDataset(root, subjects=["S03"], waveform=True, audio_fs=8000.0, progress=False)
    assert wav.hop == 80 and wav.stims[0].shape == (1, 30 * 80)
    assert data.splits == {"train": list(range(10)), "val": [10], "test": [11]}
    assert [m["n_words"] for m in data.stim_meta][:3] == [3, 3, 3]
    with pytest.raises(ValueError, match="`subjects` must be among"):
        al.AliceEEGDataset(root, subjects=["S99"], progress=False)


def test_verify(alice_root):
    root, _, _ = alice_root
    report = al.AliceEEGDataset.verify(root)
    assert {c.name for c in report.failed} == {"count subjects", "count channels", "count story_minutes"}
    assert al.AliceEEGDataset.verify(root, expected={"subjects": 3, "channels": 4, "segments": 12}).ok


def test_partial_download_from_a_local_repository(alice_root, http_files, tmp_path, monkeypatch):
    _, truth, _ = alice_root
    import hashlib

    for name, uuid in catalog.ALICE_BITSTREAMS.items():
        blob = truth["archives"][name]
        http_files.files[f"/bitstreams/{uuid}/download"] = blob
        http_files.files[f"/server/api/core/bitstreams/{uuid}"] = json.dumps(
            {"sizeBytes": len(blob), "checksum": {"value": hashlib.md5(blob).hexdigest(), "checkSumAlgorithm": "MD5"}}
        ).encode()
    monkeypatch.setattr(sources, "DRUM_DOWNLOAD_URL", http_files.url("/bitstreams"))
    monkeypatch.setattr(sources, "DRUM_API", http_files.url("/server/api/core/bitstreams"))
    data = al.AliceEEGDataset(tmp_path, download=True, parts=(1,), dt_ms=2.0, band_hz=(None, None), progress=False)
    assert data.info["subjects"] == ["S03"]
    got = sorted(p for p, _ in http_files.log if "/download" in p)
    assert got == sorted(f"/bitstreams/{catalog.ALICE_BITSTREAMS[n]}/download" for n in ("stimuli.zip", "eeg.1.zip"))
    # later, offline, the subjects present load without asking for the other archives
    again = al.AliceEEGDataset(tmp_path, dt_ms=2.0, band_hz=(None, None), progress=False)
    assert again.info["subjects"] == ["S03"]
