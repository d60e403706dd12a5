"""CRCNS AA2 loader against a fixture with the documented layout (AA1 text files, flat WAVs, CSVs)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from deepSTRF.datasets import catalog, sources
from deepSTRF.datasets.audio import crcns_aa2
from deepSTRF.datasets.audio._spikes import bin_spike_times


def _t(n: int, dt_ms: float = 5.0) -> int:
    return int(np.ceil(n * 1000.0 / (32000 * dt_ms) - 1e-9))


def test_structure_regions_and_classes(aa2_root, aa2_kit):
    ds = crcns_aa2.CRCNSAA2Dataset(aa2_root)
    assert ds.n_neurons == 3 and len(ds) == 4
    assert [(m["name"], m["class"]) for m in ds.stim_meta] == [
        ("AA2.wav", "conspecific"), ("BB2.wav", "conspecific"), ("CC2.wav", "flatrip"), ("DD2.wav", "songrip")
    ]  # fmt: skip
    assert [m["region"] for m in ds.nrn_meta] == ["mld", "L2a", "None"]
    assert [m["animal_id"] for m in ds.nrn_meta] == ["blabla1010", "blabla1010", "grgr2020"]
    assert ds.nrn_meta[1]["stim_classes"] == ["flatrip", "songrip"] and ds.nrn_meta[2]["stim_classes"] == []
    a = ds[0]
    trials = [np.array([1.5, 20.25]), np.array([-3.0]), np.array([])]  # three trials, the last one empty
    np.testing.assert_array_equal(a["responses"][0].numpy(), bin_spike_times(trials, _t(6400), 5.0))
    assert a["responses"].shape == (3, 3, _t(6400)) and a["valid_mask"].tolist() == [True, False, True]
    assert ds[3]["responses"][1].shape == (1, _t(3200)) and ds[3]["responses"][1].sum() == 0
    assert a["stims"].shape == (1, 32, _t(6400)) and ds.stim_meta[0]["sample_rate"] == 32000
    split = ds.splits
    assert sorted(split["train"] + split["val"] + split["test"]) == [0, 1, 2, 3]


def test_selection_waveform_and_published(aa2_root):
    mld = crcns_aa2.CRCNSAA2Dataset(aa2_root, regions=["mld"])
    assert mld.n_neurons == 1 and [m["name"] for m in mld.stim_meta] == ["AA2.wav", "BB2.wav"]
    rip = crcns_aa2.CRCNSAA2Dataset(aa2_root, stim_classes=["flatrip", "songrip"])
    assert [m["name"] for m in rip.stim_meta] == ["CC2.wav", "DD2.wav"] and rip.n_neurons == 3
    assert rip.nrn_meta[0]["n_trials"] == 0
    wave = crcns_aa2.CRCNSAA2Dataset(aa2_root, waveform=True, audio_fs=16000.0)
    assert wave.hop == 80 and wave[0]["stims"].shape == (1, _t(6400) * 80)
    pub = crcns_aa2.CRCNSAA2Dataset(aa2_root, preset="published")
    assert pub[0]["stims"].shape == (1, 32, 6400 // 160 + 1) and pub[0]["responses"].shape[-1] == 6400 // 160 + 1
    with pytest.raises(ValueError, match="`regions` must be among"):
        crcns_aa2.CRCNSAA2Dataset(aa2_root, regions=["Field_L"])


def test_verify_counts(aa2_root):
    report = crcns_aa2.CRCNSAA2Dataset.verify(aa2_root)
    failed = {c.name for c in report.failed}
    assert all(name.startswith("count ") for name in failed) and "count units" in failed
    assert "stimulus sample rate 32 kHz" not in failed and "region names" not in failed
    assert "found 3, documented 494" in str(report)


def test_download_of_the_three_archives(tmp_path, aa2_kit, file_server, monkeypatch):
    src = aa2_kit.build(tmp_path / "src", archives=True)
    listing, sums = [], []
    for part in ("all_cells", "all_stims", "docs"):
        blob = (src / f"crcns-aa2-{part}.tar.gz").read_bytes()
        file_server.files[f"/aa-2/crcns-aa2-{part}.tar.gz"] = blob
        listing.append(f" aa-2/crcns-aa2-{part}.tar.gz\t{len(blob)} ({len(blob)} B)")
        sums.append(f"{hashlib.md5(blob).hexdigest()}  aa-2/crcns-aa2-{part}.tar.gz")
    file_server.files["/aa-2/filelist.txt"] = "\n".join(listing).encode()
    file_server.files["/aa-2/checksums.md5"] = "\n".join(sums).encode()
    file_server.cookie = "__ac=abc; Path=/"
    monkeypatch.setattr(sources, "CRCNS_LOGIN_URL", file_server.url("/login_form"))
    monkeypatch.setattr(sources, "CRCNS_DOWNLOAD_URL", file_server.url())
    root = tmp_path / "aa2"
    ds = crcns_aa2.CRCNSAA2Dataset(root, download=True, username="u", password="pw", progress=False)
    assert ds.n_neurons == 3 and (root / "all_cells").is_dir() and (root / "stim_data.csv").exists()
    assert catalog.plan_download("crcns-aa2", root) == []


def test_csv_header_lines_and_unlisted_cells(tmp_path, aa2_kit):
    root = aa2_kit.build(tmp_path / "aa2")
    base = root / "crcns" / "aa2"
    rows = (base / "stim_data.csv").read_text()
    (base / "stim_data.csv").write_text("wav,sr,bits,samples,class\n" + rows)  # a header line is skipped
    regions = (base / "cell_regions.csv").read_text().splitlines()
    (base / "cell_regions.csv").write_text("\n".join(regions[:-1]) + "\n")  # grgr2020_1 unlisted: region 'None'
    ds = crcns_aa2.CRCNSAA2Dataset(root)
    assert [m["class"] for m in ds.stim_meta] == ["conspecific", "conspecific", "flatrip", "songrip"]
    assert ds.nrn_meta[2]["region"] == "None"
    assert crcns_aa2.read_csv_rows(base / "cell_stim_classes.csv")[1] == ["blabla1010_2", "flatrip", "songrip"]
