"""CRCNS AA4 loader against HDF5 unit files written with the documented structure."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from deepSTRF import cli
from deepSTRF.datasets import catalog, sources
from deepSTRF.datasets.audio import crcns_aa4
from deepSTRF.datasets.audio._spikes import bin_spike_times

AA4_FS = 24414
AA4_SAMPLES = {"11": 4883, "12": 7324, "31": 2442}  # as written by the fixture (conftest.build_aa4)


def _t(key: str, dt_ms: float = 5.0) -> int:
    return int(np.ceil(AA4_SAMPLES[key] * 1000.0 / (AA4_FS * dt_ms) - 1e-9))


def test_structure_dedup_and_zero_trials_kept(aa4_root, aa4_kit):
    aa4_md5, AA4_UNITS = aa4_kit.md5, aa4_kit.units
    assert aa4_kit.samples == AA4_SAMPLES
    ds = crcns_aa4.CRCNSAA4Dataset(aa4_root)
    assert ds.n_neurons == 3 and len(ds) == 3  # stimulus 11 and 12 heard in two units/animals: one entry each
    assert [m["type"] for m in ds.stim_meta] == ["call", "mlnoise", "song"]
    assert [m["md5"] for m in ds.stim_meta] == [aa4_md5("12"), aa4_md5("31"), aa4_md5("11")]
    assert ds.stim_meta[0]["keys"] == {"GreBlu9508M": "12", "YelBlu6903F": "12"}
    assert ds.stim_meta[2]["sample_rate"] == AA4_FS and ds.stim_meta[2]["duration_s"] == pytest.approx(0.2, abs=1e-4)
    assert [m["cell_id"] for m in ds.nrn_meta] == [
        "GreBlu9508M/Site1_L1000R1100_e3_s0",
        "GreBlu9508M/Site2_L1500R1600_e5_s1_ss1",
        "YelBlu6903F/Site1_L900R950_e1_s0",
    ]
    assert [m["sort_type"] for m in ds.nrn_meta] == ["single", "single", "multi"]  # the "singl" typo
    assert ds.nrn_meta[1]["sort_type_raw"] == "singl" and ds.nrn_meta[0]["ldepth_um"] == 1000.0
    song = ds[2]
    trials = AA4_UNITS["GreBlu9508M"]["Site1_L1000R1100_e3_s0.h5"][1]["Con"]["11"]
    expected = bin_spike_times([1000.0 * np.asarray(t) for t in trials], _t("11"), 5.0)
    np.testing.assert_array_equal(song["responses"][0].numpy(), expected)
    assert song["responses"][0, 1].sum() == 0  # a trial without spikes is a zero trial, kept
    assert song["responses"][1].shape == (2, _t("11"))  # the negative spike time is dropped by the binning
    assert song["responses"][1].sum() == 2
    np.testing.assert_array_equal(song["valid_mask"].numpy(), [True, True, False])
    noise = ds[1]  # a pair without a single spike is kept (zeros), not dropped
    assert noise["valid_mask"].tolist() == [True, False, False] and noise["responses"][0].sum() == 0
    assert noise["responses"][0].shape == (2, _t("31"))
    assert ds[0]["responses"][2].shape == (3, _t("12"))  # three trials in the second animal
    assert song["stims"].shape == (1, 32, _t("11"))
    split = ds.splits
    assert sorted(split["train"] + split["val"] + split["test"]) == [0, 1, 2]


def test_selection_by_animal_sort_and_type(aa4_root, aa4_kit):
    aa4_md5 = aa4_kit.md5
    one = crcns_aa4.CRCNSAA4Dataset(aa4_root, animals=["YelBlu6903F"])
    assert one.n_neurons == 1 and [m["md5"] for m in one.stim_meta] == [aa4_md5("12")]
    single = crcns_aa4.CRCNSAA4Dataset(aa4_root, sort_types=["single"])
    assert single.n_neurons == 2
    songs = crcns_aa4.CRCNSAA4Dataset(aa4_root, stim_types=["song"])
    assert len(songs) == 1 and songs.nrn_meta[2]["n_stims"] == 0
    with pytest.raises(ValueError, match=r"`animals` must be among"):
        crcns_aa4.CRCNSAA4Dataset(aa4_root, animals=["Bird1"])
    with pytest.raises(ValueError, match="`animals` must be None or a non-empty list"):
        crcns_aa4.CRCNSAA4Dataset(aa4_root, animals="YelBlu6903F")
    with pytest.raises(ValueError, match="`preset`"):
        crcns_aa4.CRCNSAA4Dataset(aa4_root, preset="paper")


def test_waveform_and_published_modes(aa4_root):
    wave = crcns_aa4.CRCNSAA4Dataset(aa4_root, waveform=True, audio_fs=24000.0)
    assert wave.hop == 120 and wave[2]["stims"].shape == (1, _t("11") * 120)
    assert wave[2]["responses"].shape[-1] == _t("11")
    pub = crcns_aa4.CRCNSAA4Dataset(aa4_root, preset="published")
    hop = int(AA4_FS * 5.0 / 1000.0)
    assert pub[2]["stims"].shape == (1, 32, AA4_SAMPLES["11"] // hop + 1)
    assert pub[2]["responses"].shape[-1] == AA4_SAMPLES["11"] // hop + 1
    assert pub.info["stimulus"].startswith("centred") and torch.isfinite(pub[2]["stims"]).all()


def test_verify_reports_structure_and_counts(aa4_root):
    report = crcns_aa4.CRCNSAA4Dataset.verify(aa4_root)
    failed = {c.name for c in report.failed}
    # the fixture holds 2 of the 6 animals with a few units: only the counts and the folder list fail
    assert failed == {"animal folders", "count units of GreBlu9508M", "count units of YelBlu6903F"}
    names = {c.name for c in report.checks}
    assert {"spike_times in seconds from onset", "WAV sample rate 24414 Hz", "sortType values"} <= names
    assert "found 2, documented 355" in str(report)


def test_partial_download_of_one_animal_fetches_only_its_archive(tmp_path, aa4_kit, file_server, monkeypatch, capsys):
    src = aa4_kit.build(tmp_path / "src", archives=True)
    listing, sums = [], []
    for animal in aa4_kit.units:
        blob = (src / f"{animal}.tar.gz").read_bytes()
        file_server.files[f"/aa-4/{animal}.tar.gz"] = blob
        listing.append(f" aa-4/{animal}.tar.gz\t{len(blob)} ({len(blob) / 1e6:.1f} MB)")
        sums.append(f"{hashlib.md5(blob).hexdigest()}  ./aa-4/{animal}.tar.gz")
    file_server.files["/aa-4/filelist.txt"] = ("\n".join(listing) + "\n").encode()
    file_server.files["/aa-4/checksums.md5"] = ("\n".join(sums) + "\n").encode()
    file_server.cookie = "__ac=abc; Path=/"
    monkeypatch.setattr(sources, "CRCNS_LOGIN_URL", file_server.url("/login_form"))
    monkeypatch.setattr(sources, "CRCNS_DOWNLOAD_URL", file_server.url())
    root = tmp_path / "aa4"

    assert cli.main(["download", "crcns-aa4", "--root", str(root), "--part", "YelBlu6903F", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 file(s) to fetch" in out and "YelBlu6903F.tar.gz [YelBlu6903F]: about 300.0 MB" in out
    assert file_server.requests == []  # a dry run touches nothing

    ds = crcns_aa4.CRCNSAA4Dataset(
        root, download=True, animals=["YelBlu6903F"], username="u", password="pw", progress=False
    )
    assert ds.n_neurons == 1
    archives = [p for m, p in file_server.requests if m == "GET" and p.endswith(".tar.gz")]
    assert archives == ["/aa-4/YelBlu6903F.tar.gz"]
    assert (root / "YelBlu6903F").is_dir() and not (root / "GreBlu9508M").exists()

    assert cli.main(["download", "crcns-aa4", "--root", str(root), "--dry-run"]) == 0
    out = capsys.readouterr().out  # the animal fetched is no longer listed; the code archive is not a default
    assert "5 file(s) to fetch" in out and "YelBlu6903F" not in out and "CRCNSCode" not in out
    n = len(file_server.requests)
    crcns_aa4.CRCNSAA4Dataset(root, animals=["YelBlu6903F"])  # present: no request at all
    assert len(file_server.requests) == n
    plan = catalog.plan_download("crcns-aa4", root, parts=["GreBlu9508M", "YelBlu6903F"])
    assert [f.filename for f in plan] == ["GreBlu9508M.tar.gz"]
