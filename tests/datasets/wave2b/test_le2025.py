"""Le 2025 from a fixture archive in the real layout: both pprox schemas, three WAV sets."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from deepSTRF.datasets import sources
from deepSTRF.datasets.audio import le2025 as le


def test_both_schemas_bin_to_the_same_counts(le_root):
    root, truth, _ = le_root
    data = le.Le2025Dataset(root, progress=False)
    assert data.dt_ms == 5.0 and data.F == 50
    units = [m["unit"] for m in data.nrn_meta]
    assert [data.nrn_meta[units.index(u)]["schema"] for u in ("C104_3_1_c12", "R233_1_2_c3")] == ["legacy", "stimtrial"]
    names = [m["name"] for m in data.stim_meta]
    for unit, reps in (("C104_3_1_c12", 3), ("R233_1_2_c3", 4)):
        s = names.index("ep_bbb_G_g1")
        got = data.get_response(s, units.index(unit)).numpy()
        assert got.shape == (reps, 20)  # 100 ms / 5 ms
        want = np.zeros((reps, 20))
        for r in range(reps):
            for t in truth[(unit, "ep_bbb_G_g1", r)]:
                if 0 <= t < 100:
                    want[r, int(np.floor(t / 5.0))] += 1
        np.testing.assert_array_equal(got, want)
        assert got[0, 0] == 2 and got[0, 1] >= 1  # 0 and 4.99 ms in bin 0, 5.0 ms in bin 1
    # the legacy unit never heard the last stimulus
    assert data.get_response(names.index("ep_ccc_N_g1_snr-5"), units.index("C104_3_1_c12")) is None
    meta = data.nrn_meta[units.index("C104_3_1_c12")]
    assert (meta["bird"], meta["cluster"], meta["bird_sex"]) == ("C104", 12, "M")


def test_stimulus_names_sets_and_rates(le_root):
    root, _, _ = le_root
    data = le.Le2025Dataset(root, progress=False)
    by_name = {m["name"]: m for m in data.stim_meta}
    assert by_name["ep_ccc_N_g1_snr-5"]["condition"] == "N" and by_name["ep_ccc_N_g1_snr-5"]["snr"] == -5.0
    assert {m["sample_rate"] for m in data.stim_meta} == {48000.0}
    a = le.Le2025Dataset(root, stimulus_set="nat8a", progress=False)
    assert {m["sample_rate"] for m in a.stim_meta} == {40000.0}
    assert sorted(m["folder"] for m in a.nrn_meta) == ["nat8a-alpha-responses", "nat8a-beta-responses"]
    # legacy nat8a trials name the motif and the condition separately: joined to <motif>_<condition>.wav
    assert a.get_response(0, 0).numpy()[0, 2] == 1  # a spike at 10 ms


def test_motif_splits_and_published_preset(le_root):
    root, _, _ = le_root
    data = le.Le2025Dataset(root, progress=False)
    motifs = {k: {data.stim_meta[s]["motif"] for s in v} for k, v in data.splits.items()}
    assert sum(len(v) for v in motifs.values()) == 3 and not (motifs["train"] & motifs["test"])
    assert sorted(s for v in data.splits.values() for s in v) == list(range(len(data)))
    pub = le.Le2025Dataset(root, preset="published", progress=False)
    assert {m["condition"] for m in pub.stim_meta} == {"C"} and len(pub) == 3
    assert pub.info["smoothing"]["width_ms"] == 21.0 and pub.info["window_ms"] == 2.5
    raw = le.Le2025Dataset(root, conditions=["C"], progress=False)
    r_raw, r_pub = raw.get_response(0, 1), pub.get_response(0, 1)
    assert torch_sum(r_raw) == pytest.approx(torch_sum(r_pub), rel=0.2)  # unit-gain kernel, edges aside
    assert not np.array_equal(r_raw.numpy(), r_pub.numpy())


def torch_sum(x) -> float:
    return float(x.sum())


def test_waveform_mode(le_root):
    root, _, _ = le_root
    data = le.Le2025Dataset(root, waveform=True, audio_fs=16000.0, progress=False)
    assert data.hop == 80 and data.stims[0].shape == (1, 20 * 80)
    with pytest.raises(ValueError, match="`conditions` must be one of"):
        le.Le2025Dataset(root, conditions=["X"], progress=False)


def test_verify(le_root):
    root, _, _ = le_root
    report = le.Le2025Dataset.verify(root)
    failed = [c.name for c in report.failed]
    # the fixture has no synth8b set (a loader error), nat8b has 2 units and 3 repeats
    assert "loader reads every file" in failed and "count nat8b units_nat8b-responses" in failed
    assert "count nat8b repeats" in failed and "count nat8b sample_rate" not in failed
    mine = {"nat8b": {"units_nat8b-responses": 2, "repeats": (3, 4), "sample_rate": 48000.0}}
    assert le.Le2025Dataset.verify(root, expected=mine).ok


def test_download_through_figshare_api(le_root, http_files, tmp_path, monkeypatch):
    _, truth, _ = le_root
    blob = truth["zip"]
    http_files.files["/ndownloader/files/555"] = blob
    listing = [{"name": le.ARCHIVE, "size": len(blob), "download_url": http_files.url("/ndownloader/files/555"),
                "supplied_md5": hashlib.md5(blob).hexdigest()}]  # fmt: skip
    http_files.files["/v2/articles/29203457/files"] = json.dumps(listing).encode()
    monkeypatch.setattr(sources, "FIGSHARE_API", http_files.url("/v2/articles"))
    data = le.Le2025Dataset(tmp_path, download=True, progress=False)
    assert data.n_neurons == 2 and (tmp_path / "metadata").is_dir()
    # a corrupted copy fails the published checksum and leaves nothing behind
    bad = tmp_path / "bad"
    http_files.files["/ndownloader/files/555"] = blob[:-10] + b"0123456789"
    from deepSTRF.datasets.download import ChecksumError

    with pytest.raises(ChecksumError):
        le.Le2025Dataset(bad, download=True, progress=False)
    assert not any(bad.glob("*.zip*"))
