"""NAT4 loader against a fixture with the real NEMS0 archive structure."""

from __future__ import annotations

import math
import tarfile

import numpy as np
import pytest

from deepSTRF.datasets.audio import nat4


def _site_reference(spikes, sequence, stim_index, n_bins=30):
    """Counts per 10 ms bin, rasterising at 1 kHz with floor(t * fs) from row round(onset * fs)."""
    trials = []
    for idx, onset in sequence:
        if idx != stim_index:
            continue
        row0 = round(onset * 1000)
        counts = np.zeros(n_bins)
        for t in spikes:
            b = math.floor(t * 1000) - row0
            if 0 <= b < 10 * n_bins:
                counts[b // 10] += 1
        trials.append(counts)
    return np.array(trials)


def _load(root, **kwargs):
    with pytest.warns(UserWarning, match="1 units have no test trials"):
        return nat4.NAT4Dataset(root, **kwargs)


def test_structure_and_raw_counts(nat4_root, nat4_kit):
    ds = _load(nat4_root)
    resp, stim = nat4_kit.population()
    assert len(ds) == 3 and ds.n_neurons == 4 and ds.F == 18 and ds.dt_ms == 10.0
    assert [m["name"] for m in ds.stim_meta] == nat4_kit.names
    assert [m["subset"] for m in ds.stim_meta] == ["val", "val", "est"]
    for s in range(3):
        np.testing.assert_allclose(ds[s]["stims"][0].numpy(), stim[30 * s : 30 * s + 30].T, rtol=1e-6)
    est = ds[2]
    assert est["responses"].shape == (4, 1, 30)
    np.testing.assert_array_equal(est["valid_mask"].numpy(), [True, True, True, False])  # TNC not recorded
    np.testing.assert_array_equal(est["responses"][:3, 0].numpy(), resp[60:90, :3].T)
    tst = nat4_kit.site_spikes(11, 2, nat4_kit.tst)
    tnc = nat4_kit.site_spikes(12, 1, nat4_kit.tnc)
    for s in (0, 1):
        item = ds[s]
        assert item["responses"].shape == (4, 3, 30)
        np.testing.assert_array_equal(item["valid_mask"].numpy(), [True, True, False, True])
        for c in range(2):
            np.testing.assert_array_equal(item["responses"][c].numpy(), _site_reference(tst[c], nat4_kit.tst, s))
        ref_tnc = _site_reference(tnc[0], nat4_kit.tnc, s)
        assert ref_tnc.shape == (2, 30)  # R is read from the epoch table, not assumed
        np.testing.assert_array_equal(item["responses"][3, :2].numpy(), ref_tnc)
        assert np.isnan(item["responses"][3, 2].numpy()).all()
    first = _site_reference(tst[0], nat4_kit.tst, 0)
    assert first[:, 1].min() >= 2 and first[:, 29].min() >= 1  # the two close spikes and the last-bin spike
    assert ds.missing_test_cells == ["ARM999a-05-2"]


def test_metadata_and_splits(nat4_root):
    ds = _load(nat4_root)
    meta = {m["cell_id"]: m for m in ds.nrn_meta}
    assert [m["cell_id"] for m in ds.nrn_meta] == ["TST001a-01-1", "TST001a-02-1", "ARM999a-05-2", "TNC999a-07-1"]
    assert [meta[c]["auditory"] for c in meta] == [False, True, False, True]  # mapped by id, not by row
    assert meta["TNC999a-07-1"]["per_site_file"] == f"A1_TNC999a_{'cd' * 20}.tgz"
    assert meta["TNC999a-07-1"]["has_test_trials"] and not meta["ARM999a-05-2"]["has_test_trials"]
    assert (meta["ARM999a-05-2"]["site"], meta["ARM999a-05-2"]["electrode"], meta["ARM999a-05-2"]["unit"]) == (
        "ARM999a",
        5,
        2,
    )
    assert meta["TNC999a-07-1"]["animal"] == "TNC" and meta["TST001a-01-1"]["area"] == "A1"
    assert [m["n_repeats"] for m in ds.stim_meta] == [3, 3, 1]
    assert [m["prestim_s"] for m in ds.stim_meta] == pytest.approx([0.05] * 3)
    assert ds.stim_meta[2]["rec"] == 1 and ds.stim_meta[2]["wav_file"] == "wav/catC_rec1_z_excerpt1.wav"
    assert ds.splits == {"train": [2], "val": [], "test": [0, 1]}


def test_pinned_val_subset():
    names = [f"STIM_cat{i}_rec1_s_excerpt1.wav" for i in range(40)]
    splits = nat4.nat4_splits(names, list(range(40)), [])
    assert len(splits["val"]) == 4 and sorted(splits["train"] + splits["val"]) == list(range(40))
    assert splits == nat4.nat4_splits(names, list(range(40)), [])
    import hashlib

    lowest = sorted(range(40), key=lambda s: hashlib.sha256(names[s].encode()).hexdigest())[:4]
    assert splits["val"] == sorted(lowest)


def test_population_test_trials_and_coarser_bins(nat4_root, nat4_kit):
    resp, stim = nat4_kit.population()
    ds = nat4.NAT4Dataset(nat4_root, test_trials="population")
    np.testing.assert_allclose(ds[0]["responses"][:, 0].numpy(), resp[0:30].T, rtol=1e-6)
    coarse = _load(nat4_root, dt_ms=20.0)
    assert coarse[2]["responses"].shape == (4, 1, 15) and coarse[2]["stims"].shape == (1, 18, 15)
    np.testing.assert_allclose(coarse[2]["stims"][0].numpy(), stim[60:90].T.reshape(18, 15, 2).mean(-1), rtol=1e-6)
    np.testing.assert_array_equal(coarse[2]["responses"][0, 0].numpy(), resp[60:90, 0].reshape(15, 2).sum(-1))
    full = _load(nat4_root)
    np.testing.assert_array_equal(
        coarse[0]["responses"][0].numpy(), full[0]["responses"][0].numpy().reshape(3, 15, 2).sum(-1)
    )


def test_published_normalisations(nat4_root, nat4_kit):
    resp, stim = nat4_kit.population()
    with pytest.warns(UserWarning, match="statistics from the test sounds"):
        paper = nat4.NAT4Dataset(nat4_root, normalize="paper", test_trials="population")
    y = np.log((stim + 0.1) / 0.1)
    y = (y - y.min(0)) / (y.max(0) - y.min(0))
    y[y < 1e-6] = 0
    np.testing.assert_allclose(paper[1]["stims"][0].numpy(), y[30:60].T, rtol=1e-5, atol=1e-6)
    lo, hi = np.nanmin(resp, 0), np.nanmax(resp, 0)
    np.testing.assert_allclose(
        paper[2]["responses"][:3, 0].numpy(), ((resp[60:90] - lo) / (hi - lo))[:, :3].T, rtol=1e-5
    )
    train = _load(nat4_root, normalize="train")  # statistics from the 'train' split = the estimation sound only
    y = np.log((stim + 0.1) / 0.1)
    lo_s, hi_s = y[60:90].min(0), y[60:90].max(0)
    ref = (y[0:30] - lo_s) / (hi_s - lo_s)
    ref[ref < 1e-6] = 0
    np.testing.assert_allclose(train[0]["stims"][0].numpy(), ref.T, rtol=1e-5, atol=1e-6)
    raw = _load(nat4_root)
    lo_r, hi_r = resp[60:90, 0].min(), resp[60:90, 0].max()
    np.testing.assert_allclose(
        train[0]["responses"][0].numpy(), (raw[0]["responses"][0].numpy() - lo_r) / (hi_r - lo_r)
    )


def test_waveform_mode_matches_case_insensitively(nat4_root, nat4_kit):
    ds = _load(nat4_root, waveform=True)
    assert ds.hop == 441 and ds[2]["stims"].shape == (1, 30 * 441)
    expected = np.zeros(30 * 441)
    expected[2205 : 2205 + 8820] = nat4_kit.wave(2) / 32768.0
    np.testing.assert_allclose(ds[2]["stims"][0].numpy(), expected, atol=1e-6)


def test_extracted_population_folder_and_zip_only_sites(tmp_path, nat4_kit, no_network):
    root = nat4_kit.build(tmp_path / "nat4", extracted=False)
    with tarfile.open(root / "A1_NAT4_ozgf.fs100.ch18.tgz") as tf:
        tf.extractall(root / "A1_NAT4_ozgf.fs100.ch18", filter="data")
    (root / "A1_NAT4_ozgf.fs100.ch18.tgz").unlink()
    ds = _load(root, waveform=True)
    assert (root / "A1_single_sites").is_dir() and (root / "wav").is_dir() and len(ds) == 3


def test_missing_files_and_argument_errors(tmp_path, nat4_root):
    with pytest.raises(FileNotFoundError, match=r"(?s)A1_NAT4_ozgf.*zenodo\.org/api/records/8044773"):
        nat4.NAT4Dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="multiple of 10"):
        nat4.NAT4Dataset(nat4_root, dt_ms=15.0)
    with pytest.raises(ValueError, match="`area` must be one of"):
        nat4.NAT4Dataset(nat4_root, area="V1")
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        nat4.NAT4Dataset(nat4_root, normalize="zscore")
    assert nat4.cell_key("TNC015a-007-1") == ("TNC015a", 7, 1) and nat4.cell_key("odd id") == "odd id"
