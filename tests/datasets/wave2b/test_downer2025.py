"""Downer 2025 from a fixture archive in the real layout, read lazily session by session."""

from __future__ import annotations

import numpy as np
import pytest

from deepSTRF.datasets import sources
from deepSTRF.datasets.audio import downer2025 as dn


def _expected(trials, spikes, code, n_bins, dt_ms=10.0, kind=1):
    rows = []
    for t0, a, b in trials:
        if (a if kind == 1 else b) != code:
            continue
        rel = (spikes - t0) * 1000.0
        idx = np.floor(rel[(rel >= 0) & (rel < n_bins * dt_ms)] / dt_ms).astype(int)
        rows.append(np.bincount(idx, minlength=n_bins))
    return np.array(rows, float)


def test_sessions_are_indexed_and_loaded_one_at_a_time(downer_root):
    root, truth, kit = downer_root
    index = dn.Downer2025Sessions(root, progress=False)
    assert index.session_ids == ["180613", "180731"]
    idx = index.index_session("180613")
    assert [m["unit"] for m in idx.meta] == ["c_180613_Ch1", "c_180613_Ch2p"]
    assert (idx.meta[1]["channel"], idx.meta[1]["channel_suffix"], idx.meta[0]["hemisphere"]) == (2, "p", "RH")
    assert idx.meta[0]["area"] == "core" and idx.meta[0]["coordinates"] == [1.0, 2.0]
    data = index.load_session("180613")
    assert data.n_neurons == 2 and len(data) == kit.DOWNER_N_SENT and data.F == 80
    trials, spikes = truth["c_180613_Ch2p"]
    for code in (3, 12):
        s = [m["code"] for m in data.stim_meta].index(code)
        got = data.get_response(s, 1).numpy()
        np.testing.assert_array_equal(got, _expected(trials, spikes, code, data.lengths[s]))
    s12 = [m["code"] for m in data.stim_meta].index(12)
    assert data.get_response(s12, 0).shape[0] == 3
    assert got[0, 0] == 2 and got[0, 1] == 1  # 0 and 9.9 ms in bin 0; 10.1 ms in bin 1; -4 ms dropped
    sessions = list(index)
    assert [d.name for d in sessions] == ["Downer2025-180613", "Downer2025-180731"]


def test_befaft_silence_is_trimmed(downer_root):
    root, _, kit = downer_root
    data = dn.Downer2025Sessions(root, waveform=True, audio_fs=16000.0, progress=False).load_session("180731")
    for s, meta in enumerate(data.stim_meta):
        x = data.stims[s][0].numpy()
        code = meta["code"]
        want = kit.downer_sentence(code)[8000:-8000]
        assert meta["trimmed_s"] == (0.5, 0.5)
        assert x.shape[0] == data.lengths[s] * 160
        np.testing.assert_allclose(x[: want.size], want, atol=1e-4)
        assert abs(x[0]) < 1e-3 and np.abs(x[:160]).max() > 0.1  # speech starts at bin 0, where stimon points


def test_selection_splits_and_presets(downer_root):
    root, _, _ = downer_root
    data = dn.Downer2025Dataset(root, progress=False)
    assert data.n_neurons == 3 and [m["session"] for m in data.nrn_meta] == ["180613", "180613", "180731"]
    codes = [m["code"] for m in data.stim_meta]
    assert sorted(codes[s] for s in data.splits["test"]) == [12, 13]
    assert dn.Downer2025Dataset(root, hemisphere="LH", progress=False).n_neurons == 1
    assert dn.Downer2025Dataset(root, include_bad=False, progress=False).nrn_meta[0]["session"] == "180613"
    assert data.subset(neurons={"area": "belt"}).n_neurons == 1
    pub = dn.Downer2025Dataset(root, preset="published", sessions=["180613"], progress=False)
    x = pub.stims[0][0].numpy()
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=1e-4)
    with pytest.raises(ValueError, match="`sessions` must be among"):
        dn.Downer2025Sessions(root, sessions=["999"], progress=False)
    with pytest.raises(ValueError, match="`hemisphere` must be one of"):
        dn.Downer2025Sessions(root, hemisphere="left", progress=False)


def test_vocalisations(downer_root):
    root, truth, _ = downer_root
    index = dn.Downer2025Sessions(root, stimuli="mvocs", progress=False)
    data = index.load_session("180613")
    assert [m["code"] for m in data.stim_meta] == [1, 2, 3]
    assert [round(m["duration_s"], 3) for m in data.stim_meta] == [0.2, 0.2, 0.2]
    assert data.splits["test"] == [0]  # code 1, the most repeated in the metadata
    trials, spikes = truth["c_180613_Ch1"]
    np.testing.assert_array_equal(
        data.get_response(0, 0).numpy(), _expected(trials, spikes, 1, data.lengths[0], kind=2)
    )


def test_verify_counts(downer_root):
    root, _, _ = downer_root
    report = dn.Downer2025Dataset.verify(root)
    failed = {c.name for c in report.failed}
    assert {"count sessions", "count units", "count timit_sentences", "count mvocs"} <= failed
    assert all(n.startswith("count ") for n in failed), failed
    mine = {"sessions": 2, "units": 3, "animals": 2, "timit_test_repeats": 3, "timit_test_codes": [12, 13]}
    mine |= {"mvocs": 3, "mvocs_test": 1, "mvocs_test_repeats": 3}
    ok = dn.Downer2025Dataset.verify(root, expected=mine)
    assert ok.ok, str(ok)


def test_session_fetched_alone_from_the_remote_archive(downer_root, http_files, tmp_path, monkeypatch):
    _, truth, _ = downer_root
    http_files.files[f"/api/records/16175377/files/{dn.ARCHIVE}/content"] = truth["zip"]
    monkeypatch.setattr(sources, "ZENODO_API", http_files.url("/api/records"))
    index = dn.Downer2025Sessions(tmp_path, download=True, progress=False)
    assert index.session_ids == ["180613", "180731"]
    assert not any((tmp_path / "auditory_cortex_data" / "sessions").glob("*/*.mat"))  # nothing fetched yet
    data = index.load_session("180731")
    fetched = sorted(p.name for p in (tmp_path / "auditory_cortex_data" / "sessions").rglob("*.mat"))
    assert fetched == ["b_180731_Ch3_MUspk.mat"] and data.n_neurons == 1
    assert not (tmp_path / dn.ARCHIVE).exists()
    assert all(r is not None for _, r in http_files.log)  # range requests only
    # offline afterwards: the fetched session loads without network, a missing one says what to do
    again = dn.Downer2025Sessions(tmp_path, progress=False)
    assert again.load_session("180731").n_neurons == 1
    with pytest.raises(ValueError, match="`session` must be one of"):
        again.load_session("180613")
