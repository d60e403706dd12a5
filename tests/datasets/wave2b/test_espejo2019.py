"""Espejo 2019 from fixture archives in the real layout (NEMS0 recordings with tiled stimuli)."""

from __future__ import annotations

import numpy as np
import pytest

from deepSTRF.datasets.audio import espejo2019 as esp


def test_nat_loads_merges_units_and_counts_spikes(espejo_root):
    root, truth, kit = espejo_root
    data = esp.Espejo2019Dataset(root, experiment="NAT", progress=False)
    assert data.F == 18 and data.dt_ms == 10.0
    names = [m["name"] for m in data.stim_meta]
    assert sorted(names) == ["STIM_a.wav", "STIM_b.wav", "STIM_c.wav", "STIM_d.wav", "STIM_e.wav"]
    cells = [m["cell_id"] for m in data.nrn_meta]
    assert sorted(cells) == ["bbl086b-11-1", "por012a-01-1", "por012a-02-1", "por013b-04-2"]
    n = cells.index("por012a-01-1")
    assert data.nrn_meta[n]["n_archives"] == 2
    # the unit in two archives: STIM_a 4 + 3 repeats, in archive order
    s = names.index("STIM_a.wav")
    seq1, spikes1 = truth[("NAT", "por012a")]
    seq2, spikes2 = truth[("NAT", "por013b")]
    want = np.concatenate(
        [
            kit.expected_counts(spikes1["por012a-01-1"], seq1, "STIM_a.wav", 40),
            kit.expected_counts(spikes2["por012a-01-1"], seq2, "STIM_a.wav", 40),
        ]
    )
    got = data.get_response(s, n).numpy()
    assert got.shape == (7, 40)
    np.testing.assert_array_equal(got, want)
    assert got[0, 0] == 2 and got[0, 1] == 2  # spikes at 0 and 4.9 ms; 10.1 and 10.2 ms in bin 1
    # a unit never played a sound is missing
    e = names.index("STIM_e.wav")
    assert data.get_response(e, n) is None
    # stimuli are the tiles of the file, (1, F, T)
    np.testing.assert_allclose(data.stims[s][0].numpy(), kit.tile("STIM_a.wav", 18, 40), rtol=1e-6)


def test_published_test_split_is_the_max_repeat_sounds(espejo_root):
    root, _, _ = espejo_root
    data = esp.Espejo2019Dataset(root, experiment="NAT", progress=False)
    names = [m["name"] for m in data.stim_meta]
    assert sorted(names[s] for s in data.splits["test"]) == ["STIM_a.wav", "STIM_e.wav"]
    assert set(data.splits["train"]) | set(data.splits["val"]) == {
        s for s in range(len(names)) if names[s] not in ("STIM_a.wav", "STIM_e.wav")
    }
    assert not set(data.splits["train"]) & set(data.splits["test"])
    assert data.stim_meta[names.index("STIM_a.wav")]["n_repeats"] == 7


def test_vmn_reads_csv_sites_and_tiled_sites(espejo_root):
    root, truth, kit = espejo_root
    data = esp.Espejo2019Dataset(root, experiment="VMN", progress=False)
    assert data.F == 2
    cells = [m["cell_id"] for m in data.nrn_meta]
    names = [m["name"] for m in data.stim_meta]
    seq, spikes = truth[("VMN", "chn002h")]
    got = data.get_response(names.index("STIM_v1.wav"), cells.index("chn002h-a1")).numpy()
    np.testing.assert_array_equal(got, kit.expected_counts(spikes["chn002h-a1"], seq, "STIM_v1.wav", 40))
    # the rasterised stim.csv gives the same spectrogram as a tiled one
    np.testing.assert_allclose(
        data.stims[names.index("STIM_v2.wav")][0].numpy(), kit.tile("STIM_v2.wav", 2, 40), rtol=1e-6
    )


def test_dt_pooling_sites_and_selection(espejo_root):
    root, _, _ = espejo_root
    base = esp.Espejo2019Dataset(root, experiment="NAT", progress=False)
    coarse = esp.Espejo2019Dataset(root, experiment="NAT", dt_ms=20.0, progress=False)
    assert coarse.lengths == [t // 2 for t in base.lengths]
    r0, r1 = base.get_response(0, 0), coarse.get_response(0, 0)
    np.testing.assert_array_equal(r1.numpy(), r0.numpy().reshape(r0.shape[0], -1, 2).sum(-1))
    one = esp.Espejo2019Dataset(root, experiment="NAT", sites=["bbl086b"], progress=False)
    assert [m["cell_id"] for m in one.nrn_meta] == ["bbl086b-11-1"]
    por = base.subset(neurons={"animal": "por"})
    assert por.n_neurons == 3
    with pytest.raises(ValueError, match="multiple of 10"):
        esp.Espejo2019Dataset(root, dt_ms=15.0, progress=False)
    with pytest.raises(ValueError, match="preset='published'"):
        esp.Espejo2019Dataset(root, dt_ms=20.0, preset="published", progress=False)
    with pytest.raises(ValueError, match="`experiment` must be one of"):
        esp.Espejo2019Dataset(root, experiment="nat", progress=False)


def test_waveform_mode_needs_wavs_and_places_them(espejo_root, tmp_path):
    root, _, kit = espejo_root
    with pytest.raises(ValueError, match="wav_dir"):
        esp.Espejo2019Dataset(root, waveform=True, progress=False)
    wavs = tmp_path / "wav"
    wavs.mkdir()
    for name in "abcde":
        tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(800) / 8000.0)
        (wavs / f"{name.upper() if name == 'c' else name}.wav").write_bytes(kit.wav_bytes(tone, 8000))
    data = esp.Espejo2019Dataset(root, waveform=True, wav_dir=wavs, audio_fs=8000.0, progress=False)
    assert data.waveform and data.hop == 80
    x = data.stims[0][0].numpy()
    assert x.shape == (40 * 80,)
    assert np.all(x[:400] == 0) and np.abs(x[400:1200]).max() > 0.4  # placed after the 50 ms pre-stimulus silence


def test_verify_reports_each_documented_figure(espejo_root):
    root, _, _ = espejo_root
    report = esp.Espejo2019Dataset.verify(root)
    failed = {c.name for c in report.failed}
    assert {"count NAT units", "count NAT sites", "count VMN units"} <= failed
    assert all(n.startswith("count ") for n in failed), failed  # the structure holds, only counts differ
    assert "count NAT bands" not in failed and "count VMN bands" not in failed  # F = 18 and F = 2 hold
    mine = {
        "NAT": {"units": 4, "sites": 3, "animals": 2, "bands": 18, "test_repeats": (5, 7)},
        "VMN": {"units": 2, "sites": 2, "bands": 2, "sounds": 3},
    }
    ok = esp.Espejo2019Dataset.verify(root, expected=mine)
    assert ok.ok, str(ok)
    missing = esp.Espejo2019Dataset.verify(root.parent / "nothing-here")
    assert [c.name for c in missing.failed] == ["loader reads every file"] * 2


def test_missing_files_name_the_zenodo_url(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"3445557/files/A1_voc_mod_noise\.tgz"):
        esp.Espejo2019Dataset(tmp_path, experiment="VMN", progress=False)


def test_download_resumes_a_cut_transfer_and_checks_the_md5(espejo_root, http_files, tmp_path, monkeypatch):
    import hashlib
    import json

    from deepSTRF.datasets import catalog, sources

    _, truth, _ = espejo_root
    blob = truth["A1_voc_mod_noise"]
    path = "/api/records/3445557/files/A1_voc_mod_noise.tgz/content"
    http_files.files[path] = blob
    http_files.cuts[path] = len(blob) // 3
    record = {
        "files": [
            {"key": "A1_voc_mod_noise.tgz", "size": len(blob), "checksum": "md5:" + hashlib.md5(blob).hexdigest()}
        ]
    }
    http_files.files["/api/records/3445557"] = json.dumps(record).encode()
    monkeypatch.setattr(sources, "ZENODO_API", http_files.url("/api/records"))
    planned = catalog.plan_download("espejo2019", tmp_path, parts=["VMN"])
    assert [f.filename for f in planned] == ["A1_voc_mod_noise.tgz"]
    data = esp.Espejo2019Dataset(tmp_path, download=True, experiment="VMN", progress=False)
    assert data.n_neurons == 2
    gets = [r for p, r in http_files.log if p == path]
    assert gets == [None, f"bytes={len(blob) // 3}-"]  # cut, then resumed where it stopped
    assert not (tmp_path / "A1_natural_sounds.tgz").exists()  # the other part was not fetched
    # a wrong published checksum: the download is refused and deleted
    other = tmp_path / "other"
    record["files"][0]["checksum"] = "md5:" + "0" * 32
    http_files.files["/api/records/3445557"] = json.dumps(record).encode()
    from deepSTRF.datasets.download import ChecksumError

    with pytest.raises(ChecksumError):
        esp.Espejo2019Dataset(other, download=True, experiment="VMN", progress=False)
    assert not any(other.glob("A1_voc_mod_noise*"))
