"""Wingert 2026 from fixture archives in the real layout, and a partial download over HTTP ranges."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from deepSTRF.datasets import sources
from deepSTRF.datasets.audio import wingert2026 as wg


def test_loads_quirks_and_metadata(wingert_root):
    root, truth, kit = wingert_root
    data = wg.Wingert2026Dataset(root, progress=False)
    assert data.F == 32
    assert data.info["skipped_archives"] == [n for n in data.info["skipped_archives"] if n.startswith("PRN018b_")]
    assert len(data.info["skipped_archives"]) == 1
    cells = [m["cell_id"] for m in data.nrn_meta]
    assert sorted(cells) == sorted(
        ["PRN004a-01-1", "PRN004a-02-1", "PRN018a-03-1", "SLJ032a-A-001-1", "SLJ032a-B-001-1", "CLT012a-05-2"]
    )
    meta = {m["cell_id"]: m for m in data.nrn_meta}
    assert meta["CLT012a-05-2"]["site"] == "CLT012a" and meta["CLT012a-05-2"]["archive"].startswith("CLT999x_")
    assert meta["SLJ032a-B-001-1"]["area"] == "PEG" and meta["SLJ032a-B-001-1"]["depth"] == 900
    assert meta["SLJ032a-A-001-1"]["area"] == "A1" and meta["PRN004a-02-1"]["area"] is None
    names = [m["name"] for m in data.stim_meta]
    # the duplicated archive does not double the trials
    n, s = cells.index("PRN018a-03-1"), names.index("STIM_00seq0001.wav")
    seq, spikes = truth["PRN018a"]
    np.testing.assert_array_equal(
        data.get_response(s, n).numpy(), kit.expected_counts(spikes["PRN018a-03-1"], seq, "STIM_00seq0001.wav", 40)
    )
    assert sorted(names[i] for i in data.splits["test"]) == ["STIM_00seq0001.wav", "STIM_00seq0002.wav"]
    a1 = data.subset(neurons={"area": "A1"})
    assert a1.n_neurons == 2
    only = wg.Wingert2026Dataset(root, areas=["PEG", "HC"], progress=False)
    assert sorted(m["cell_id"] for m in only.nrn_meta) == ["CLT012a-05-2", "SLJ032a-B-001-1"]


def test_published_normalisation(wingert_root):
    root, _, _ = wingert_root
    raw = wg.Wingert2026Dataset(root, progress=False)
    with pytest.warns(UserWarning, match="test sounds too"):
        pub = wg.Wingert2026Dataset(root, preset="published", progress=False)
    assert pub.info["normalize"] == "published"
    stacked = np.concatenate([x[0].numpy() for x in raw.stims], axis=1).astype(np.float64)
    logged = np.log((stacked + 0.1) / 0.1)
    lo, hi = logged.min(1, keepdims=True), logged.max(1, keepdims=True)
    want = (logged - lo) / (hi - lo)
    want[want < 1e-6] = 0
    got = np.concatenate([x[0].numpy() for x in pub.stims], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-5)
    for n in range(pub.n_neurons):  # per-unit min-max over every sound: the range is exactly [0, 1]
        values = np.concatenate(
            [r.numpy().ravel() for s in range(len(pub)) if (r := pub.get_response(s, n)) is not None]
        )
        assert values.min() == 0.0 and values.max() == pytest.approx(1.0)
    train = wg.Wingert2026Dataset(root, normalize="train", progress=False)
    assert train.info["normalize"] == "train"


def test_waveform_mode_reads_wav_zip(wingert_root):
    root, _, _ = wingert_root
    data = wg.Wingert2026Dataset(root, waveform=True, audio_fs=8000.0, progress=False)
    assert data.hop == 80 and data.stims[0].shape == (1, 40 * 80)
    assert np.all(data.stims[0][0, :400].numpy() == 0) and data.stims[0].abs().max() > 0.4


def test_verify_names_failed_figures(wingert_root):
    root, _, _ = wingert_root
    report = wg.Wingert2026Dataset.verify(root)
    failed = {c.name for c in report.failed}
    assert "count units_A1" in failed and all(n.startswith("count ") for n in failed), failed
    assert "count bands" not in failed
    mine = {"units_A1": 2, "units_PEG": 1, "units_AC": 1, "units_HC": 1, "units_unlabelled": 1, "sites": 5}
    ok = wg.Wingert2026Dataset.verify(root, expected=mine)
    assert ok.ok, str(ok)


def test_partial_download_of_one_site_over_http_ranges(wingert_root, http_files, tmp_path, monkeypatch):
    _, truth, _ = wingert_root
    record = "/api/records/18331549"
    for name in ("recordings.zip", "cell_list.csv"):
        http_files.files[f"{record}/files/{name}/content"] = truth[name]
    entries = [
        {"key": name, "size": len(truth[name]), "checksum": "md5:" + hashlib.md5(truth[name]).hexdigest()}
        for name in ("recordings.zip", "cell_list.csv")
    ]
    http_files.files[record] = json.dumps({"files": entries}).encode()
    monkeypatch.setattr(sources, "ZENODO_API", http_files.url("/api/records"))
    data = wg.Wingert2026Dataset(tmp_path, download=True, sites=["SLJ032a"], progress=False)
    assert sorted(m["cell_id"] for m in data.nrn_meta) == ["SLJ032a-A-001-1", "SLJ032a-B-001-1"]
    assert not (tmp_path / "recordings.zip").exists()
    got = sorted(p.name[:7] for p in (tmp_path / "recordings").iterdir())
    assert got == ["SLJ032a"]
    ranged = [r for p, r in http_files.log if p.endswith("recordings.zip/content")]
    assert ranged and all(r is not None for r in ranged)  # only ranges, never the whole archive
    fetched = sum(int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in ranged if r.split("-")[1])
    assert fetched < len(truth["recordings.zip"])
    # a second load fetches nothing
    http_files.log.clear()
    wg.Wingert2026Dataset(tmp_path, download=True, sites=["SLJ032a"], progress=False)
    assert not any(p.endswith("recordings.zip/content") for p, _ in http_files.log)
