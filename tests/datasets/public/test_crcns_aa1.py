"""CRCNS AA1 loader against a fixture with the real folder structure and text formats."""

from __future__ import annotations

import numpy as np
import pytest

from deepSTRF.datasets import sources
from deepSTRF.datasets.audio import _spectro, crcns_aa1


def _counts(n_bins, **bins):
    out = np.zeros(n_bins)
    for b, c in bins.items():
        out[int(b[1:])] = c
    return out


def _by_name(ds, name):
    return [m["name"] for m in ds.stim_meta].index(name)


def test_counts_missing_pairs_and_parsing(aa1_root, aa1_kit):
    ds = crcns_aa1.CRCNSAA1Dataset(aa1_root)
    names = aa1_kit.names
    assert len(ds) == 3 and ds.n_neurons == 3 and ds.F == 32
    assert [m["cell_id"] for m in ds.nrn_meta] == ["zz0101_1_A", "zz0101_1_B", "zz0202_3"]
    song_a, song_b, ripple = (ds[_by_name(ds, n)] for n in names)
    assert song_a["responses"].shape == (3, 4, 50) and song_b["stims"].shape == (1, 32, 60)
    expected_a = np.stack(
        [_counts(50, b0=1, b1=2, b2=1, b49=1), np.zeros(50), _counts(50, b0=1, b1=1, b2=2), _counts(50, b20=2)]
    )
    np.testing.assert_array_equal(song_a["responses"][0].numpy(), expected_a)
    np.testing.assert_array_equal(song_a["responses"][2, 0].numpy(), _counts(50, b5=3))
    np.testing.assert_array_equal(song_a["valid_mask"].numpy(), [True, False, True])
    np.testing.assert_array_equal(song_b["responses"][0, :2].numpy(), np.stack([_counts(60, b0=2), _counts(60, b59=1)]))
    np.testing.assert_array_equal(song_b["valid_mask"].numpy(), [True, False, False])
    np.testing.assert_array_equal(ripple["valid_mask"].numpy(), [True, True, False])
    np.testing.assert_array_equal(
        ripple["responses"][0, :3].numpy(), np.stack([_counts(40, b10=1)] + [np.zeros(40)] * 2)
    )
    np.testing.assert_array_equal(
        ripple["responses"][1, :2].numpy(), np.stack([_counts(40, b0=1, b39=1), _counts(40, b0=1, b1=1)])
    )


def test_metadata(aa1_root, aa1_kit):
    ds = crcns_aa1.CRCNSAA1Dataset(aa1_root)
    a, b, c = ds.nrn_meta
    assert (a["animal_id"], a["area"], a["cell_seq"], a["rig"]) == ("zz0101", "Field_L", 1, "A")
    assert (b["area"], b["rig"], c["rig"], c["cell_seq"]) == ("MLd", "B", None, 3)
    assert a["n_trials"] == {"conspecific": 4, "flatrip": 3} and b["n_trials"] == {"flatrip": 2}
    assert a["spont_rate_hz"] == pytest.approx(3 / (2.0 * 9)) and b["spont_rate_hz"] == pytest.approx(0.25)
    assert c["spont_rate_hz"] == 0.0
    meta = ds.stim_meta[_by_name(ds, aa1_kit.names[1])]
    assert meta["type"] == "conspecific" and meta["n_samples"] == 9600 and meta["duration_s"] == pytest.approx(0.3)
    assert meta["sample_rate"] == 32000 and all(m["md5_ok"] for m in ds.stim_meta)
    assert [m["type"] for m in ds.stim_meta] == ["conspecific", "conspecific", "flatrip"]


def test_spectrogram_is_causal_and_tonotopic(aa1_kit):
    tone = np.sin(2 * np.pi * 2000.0 * np.arange(16000) / 32000)
    kwargs = {"n_mels": 32, "f_min_hz": 250.0, "f_max_hz": 8000.0, "window_ms": 10.0, "power": 2.0}
    spec = _spectro.causal_mel_spectrogram(tone, 32000, 5.0, 100, **kwargs)
    edges = 700 * (10 ** (np.linspace(2595 * np.log10(1 + 250 / 700), 2595 * np.log10(1 + 8000 / 700), 34) / 2595) - 1)
    assert np.argmax(spec[:, 50]) == np.argmin(np.abs(edges[1:-1] - 2000.0))
    assert (spec.sum(1) > 0).all()  # every band is resolved by the FFT grid
    perturbed = tone.copy()
    perturbed[30 * 160 :] += 1.0
    spec2 = _spectro.causal_mel_spectrogram(perturbed, 32000, 5.0, 100, **kwargs)
    np.testing.assert_array_equal(spec[:, :30], spec2[:, :30])
    assert not np.allclose(spec[:, 30], spec2[:, 30])


def test_waveform_mode_and_compressions(aa1_root, aa1_kit):
    ds = crcns_aa1.CRCNSAA1Dataset(aa1_root, waveform=True, dt_ms=2.0, stim_types=["conspecific"], areas=["MLd"])
    assert ds.hop == 64 and len(ds) == 2 and ds.n_neurons == 2
    item = ds[_by_name(ds, aa1_kit.names[1])]
    assert item["stims"].shape == (1, 150 * 64)
    np.testing.assert_allclose(item["stims"][0, :9600].numpy(), aa1_kit.wave(1) / 32768.0, atol=1e-7)
    cube = crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types=["flatrip"])
    raw = crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types=["flatrip"], compression="none")
    logc = crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types=["flatrip"], compression="log")
    np.testing.assert_allclose(cube[0]["stims"].double().numpy() ** 3, raw[0]["stims"].double().numpy(), rtol=1e-4)
    np.testing.assert_allclose(
        logc[0]["stims"].double().numpy(), np.log(raw[0]["stims"].double().numpy() + 1e-6), rtol=1e-5, atol=1e-5
    )


def test_splits():
    split = crcns_aa1.stratified_split(["song"] * 10 + ["rip"] * 20, [f"{i:02d}" for i in range(30)])
    assert split["test"] == [8, 9, 26, 27, 28, 29] and split["val"] == [7, 24, 25]
    assert len(split["train"]) == 21


@pytest.mark.parametrize("layout", ["wrapped_zip", "flat_zip"])
def test_zip_layouts_extract_offline(tmp_path, aa1_kit, layout, no_network):
    root = aa1_kit.build(tmp_path / layout, layout=layout)
    ds = crcns_aa1.CRCNSAA1Dataset(root)
    assert len(ds) == 3 and ds.n_neurons == 3


def test_download_with_login(tmp_path, aa1_kit, file_server, monkeypatch):
    src = aa1_kit.build(tmp_path / "src", layout="wrapped_zip")
    blob = (src / "crcns-aa1.zip").read_bytes()
    file_server.files["/aa-1/crcns-aa1.zip"] = blob
    file_server.files["/aa-1/filelist.txt"] = f"aa-1/crcns-aa1.zip {len(blob)}\n".encode()
    monkeypatch.setattr(sources, "CRCNS_LOGIN_URL", file_server.url("/login_form"))
    monkeypatch.setattr(sources, "CRCNS_DOWNLOAD_URL", file_server.url())
    monkeypatch.delenv("CRCNS_USERNAME", raising=False)
    monkeypatch.delenv("CRCNS_PASSWORD", raising=False)
    root = tmp_path / "cache"
    with pytest.raises(ValueError, match="CRCNS_USERNAME"):
        crcns_aa1.CRCNSAA1Dataset(root, download=True)
    assert file_server.requests == []
    with pytest.raises(Exception, match="login") as info:
        crcns_aa1.CRCNSAA1Dataset(root, download=True, username="u", password="pw-123")
    assert "pw-123" not in str(info.value)
    file_server.cookie = "__ac=abc; Path=/"
    ds = crcns_aa1.CRCNSAA1Dataset(root, download=True, username="u", password="pw-123", progress=False)
    assert len(ds) == 3 and (root / "crcns-aa1").is_dir()
    file_server.files["/aa-1/filelist.txt"] = b"aa-1/crcns-aa1.zip 5\n"  # a wrong size is rejected
    with pytest.raises(Exception, match="expected 5 bytes"), pytest.warns(DeprecationWarning, match="download_aa1"):
        crcns_aa1.download_aa1(tmp_path / "other", username="u", password="pw-123", progress=False)


def test_errors(tmp_path, aa1_root):
    with pytest.raises(FileNotFoundError, match=r"(?s)crcns-aa1\.zip.*download=True"):
        crcns_aa1.CRCNSAA1Dataset(tmp_path / "none")
    with pytest.raises(ValueError, match="`stim_types` must be a non-empty list"):
        crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types="flatrip")
    with pytest.raises(ValueError, match="`areas`"):
        crcns_aa1.CRCNSAA1Dataset(aa1_root, areas=["A1"])
    with pytest.raises(ValueError, match="`f_min_hz` must be below"):
        crcns_aa1.CRCNSAA1Dataset(aa1_root, f_min_hz=9000.0)
    with pytest.raises(ValueError, match="`compression`"):
        crcns_aa1.CRCNSAA1Dataset(aa1_root, compression="sqrt")


def test_n_mels_is_a_deprecated_spelling_of_n_frequency_bands(aa1_root, aa1_kit):
    new = crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types=["flatrip"], n_frequency_bands=16)
    with pytest.warns(
        DeprecationWarning, match=r"CRCNSAA1Dataset\(\): `n_mels` is deprecated, use `n_frequency_bands`"
    ):
        old = crcns_aa1.CRCNSAA1Dataset(aa1_root, stim_types=["flatrip"], n_mels=16)
    assert new.F == old.F == 16 and new.info["n_frequency_bands"] == 16
    np.testing.assert_array_equal(old[0]["stims"].numpy(), new[0]["stims"].numpy())
