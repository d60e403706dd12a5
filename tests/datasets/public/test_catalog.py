"""The dataset catalogue, and whole-dataset downloads from a server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from deepSTRF.datasets import catalog, sources
from deepSTRF.datasets import download as dl
from deepSTRF.datasets.audio import nat4, ns1


def test_list_and_info():
    names = [d.name for d in catalog.list_datasets()]
    assert names[:7] == ["ns1", "nat4", "crcns-aa1", "crcns-ac1", "crcns-aa2", "crcns-aa4", "crcns-ac1-asari"]
    assert names[7:] == ["espejo2019", "le2025", "downer2025", "wingert2026", "alice-eeg"]
    for info in catalog.list_datasets():
        assert info.citations and info.url.startswith("https://") and info.size and info.description
        assert catalog.get_loader(info.name).__name__ == info.loader.split(":")[1]
        assert info.files and all(f.url.startswith(("{", "https://")) for f in info.files)
    assert catalog.get_dataset_info(" NS1 ").name == "ns1"
    assert [d.needs_account for d in catalog.list_datasets()] == [False, False] + [True] * 5 + [False] * 5
    with pytest.raises(ValueError, match=r"`name` must be one of \['ns1'"):
        catalog.get_dataset_info("ns2")
    with pytest.raises(TypeError, match="`name` must be a str"):
        catalog.get_dataset_info(1)


def test_credentials_only_where_needed(monkeypatch, tmp_path):
    with pytest.raises(TypeError, match="needs no account"):
        catalog.download_dataset("nat4", tmp_path, username="u", password="p")
    monkeypatch.delenv("CRCNS_USERNAME", raising=False)
    monkeypatch.delenv("CRCNS_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="CRCNS_PASSWORD"):
        catalog.download_dataset("crcns-ac1", tmp_path, progress=False)


def _gitsha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def test_download_ns1_verifies_published_hashes(tmp_path, ns1_kit, file_server, monkeypatch):
    src = ns1_kit.build(tmp_path / "src")
    blobs = {f: (src / f).read_bytes() for f in ("MetadataSHEnCneurons.mat", "spikesandwav.zip", "ReadMe.rtf")}
    cochleagrams = (src / "test_data_5ms.mat").read_bytes()
    guids = {"MetadataSHEnCneurons.mat": "gdwyd", "spikesandwav.zip": "5nxga", "ReadMe.rtf": "f3rtm"}
    for name, guid in guids.items():
        file_server.files[f"/download/{guid}/"] = blobs[name]
        sha = hashlib.sha256(blobs[name]).hexdigest() if name != "ReadMe.rtf" else "0" * 64  # a wrong one
        file_server.files[f"/v2/files/{guid}/"] = json.dumps(
            {"data": {"attributes": {"size": len(blobs[name]), "extra": {"hashes": {"sha256": sha}}}}}
        ).encode()
    monkeypatch.setattr(sources, "OSF_API", file_server.url("/v2/files"))
    monkeypatch.setattr(sources, "OSF_DOWNLOAD_URL", file_server.url("/download"))
    monkeypatch.setattr(sources, "GITHUB_RAW_URL", file_server.url("/github"))
    file_server.files["/github/monzilur/DNet/master/test_data_5ms.mat"] = cochleagrams
    entry = catalog.get_dataset_info("ns1")
    pinned = dataclasses.replace(entry.file("test_data_5ms.mat"), checksum="gitsha1:" + _gitsha1(cochleagrams))
    files = tuple(pinned if f.filename == pinned.filename else f for f in entry.files)
    monkeypatch.setitem(catalog.CATALOG, "ns1", dataclasses.replace(entry, files=files))
    root = tmp_path / "cache" / "ns1"
    with pytest.raises(dl.ChecksumError, match=r"ReadMe\.rtf"):
        catalog.download_dataset("ns1", root, progress=False)
    assert not (root / "ReadMe.rtf").exists() and not (root / "ReadMe.rtf.part").exists()
    assert (root / "spikesandwav" / "SH.En.C" / "c1.mat").exists()  # fetched and extracted before the bad file
    file_server.files["/v2/files/f3rtm/"] = b"not json"  # the API cannot answer: refused by default...
    with pytest.raises(dl.DownloadError, match="DEEPSTRF_ALLOW_UNVERIFIED=1 to download it without verification"):
        catalog.download_dataset("ns1", root, progress=False)
    assert not (root / "ReadMe.rtf").exists()
    monkeypatch.setenv("DEEPSTRF_ALLOW_UNVERIFIED", "1")  # ...downloaded unverified, with a warning, on request
    with pytest.warns(RuntimeWarning, match="published checksum of ReadMe.rtf"):
        catalog.download_dataset("ns1", root, progress=False)
    assert (root / "ReadMe.rtf").read_bytes() == blobs["ReadMe.rtf"]
    monkeypatch.setenv("DEEPSTRF_DATA_DIR", str(tmp_path / "cache"))
    n_requests = len(file_server.requests)
    with pytest.warns(UserWarning):
        ds = ns1.NS1Dataset(download=True)  # everything is cached: no request at all
    assert len(file_server.requests) == n_requests and len(ds) == 3


def test_download_nat4_from_zenodo_record(tmp_path, nat4_kit, file_server, monkeypatch):
    src = nat4_kit.build(tmp_path / "src")
    names = ["A1_NAT4_ozgf.fs100.ch18.tgz", "A1_pred_correlation.csv", "A1_single_sites.zip", "wav.zip"]
    record = {"files": []}
    for name in names:
        blob = (src / name).read_bytes()
        file_server.files[f"/api/records/8044773/files/{name}/content"] = blob
        record["files"].append({"key": name, "size": len(blob), "checksum": "md5:" + hashlib.md5(blob).hexdigest()})
    file_server.files["/api/records/8044773"] = json.dumps(record).encode()
    monkeypatch.setattr(sources, "ZENODO_API", file_server.url("/api/records"))
    root = tmp_path / "nat4"
    with pytest.warns(UserWarning, match="no test trials"):
        ds = nat4.NAT4Dataset(root, download=True, waveform=True, progress=False)
    assert len(ds) == 3 and (root / "A1_single_sites").is_dir() and (root / "wav").is_dir()
    gets = [p for m, p in file_server.requests if m == "GET"]
    assert gets.count("/api/records/8044773") == 1 and len(gets) == 5


def test_loaders_feed_the_batch_collate(ns1_root, nat4_root, aa1_root, ac1_root):
    import warnings

    import torch

    from deepSTRF.datasets.audio import crcns_aa1, crcns_ac1
    from deepSTRF.datasets.collate import neural_collate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        datasets = [
            ns1.NS1Dataset(ns1_root),
            nat4.NAT4Dataset(nat4_root),
            crcns_aa1.CRCNSAA1Dataset(aa1_root),
            crcns_ac1.CRCNSAC1Dataset(ac1_root, waveform=True),
        ]
    for ds in datasets:
        batch = neural_collate([ds[0], ds[len(ds) - 1]])
        lengths = torch.tensor([ds[0]["responses"].shape[-1], ds[len(ds) - 1]["responses"].shape[-1]])
        assert torch.equal(batch["lengths"], lengths)
        assert batch["responses"].shape[:2] == (2, ds.n_neurons)
        assert batch["stims"].shape[-1] == int(lengths.max()) * (ds.hop or 1)
        sub = ds.subset(stimuli=[0])
        assert len(sub) == 1 and sub.n_neurons == ds.n_neurons


def test_entries_declare_their_files_and_parts(tmp_path):
    for entry in catalog.list_datasets():
        assert entry.access in sources.ACCESS_KINDS and ":" in entry.loader
        names = [f.filename for f in entry.files]
        assert len(names) == len(set(names)), entry.name
        for f in entry.files:
            assert f.checksum is not None or f.published is not None, (entry.name, f.filename)
            assert f.approx_size is not None and f.approx_size > 0
            assert sources.expand_url(f.url).startswith("https://")
    nat4_entry = catalog.get_dataset_info("nat4")
    assert nat4_entry.part_names == ["A1", "PEG", "wav"]
    peg = [f.filename for f in nat4_entry.select(parts=["peg"])]
    assert peg == ["PEG_NAT4_ozgf.fs100.ch18.tgz", "PEG_pred_correlation.csv", "PEG_single_sites.zip"]
    assert [f.filename for f in nat4_entry.select(files=["wav.zip"])] == ["wav.zip"]
    assert len(nat4_entry.select()) == len(nat4_entry.files)
    with pytest.raises(ValueError, match=r"`parts` of nat4 must be among \['A1', 'PEG', 'wav'\], got \['MGB'\]"):
        nat4_entry.select(parts=["MGB"])
    with pytest.raises(KeyError, match=r"no file 'x\.zip'"):
        nat4_entry.select(files=["x.zip"])


def test_plan_skips_what_is_there(tmp_path):
    root = tmp_path / "nat4"
    (root / "PEG_NAT4_ozgf.fs100.ch18").mkdir(parents=True)  # extracted population file
    (root / "PEG_single_sites.zip").write_bytes(b"")  # downloaded, not yet extracted: no download
    plan = catalog.plan_download("nat4", root, parts=["PEG"])
    assert [f.filename for f in plan] == ["PEG_pred_correlation.csv"]
    assert plan[0].url == "https://zenodo.org/api/records/8044773/files/PEG_pred_correlation.csv/content"


def test_entry_validation():
    entry = catalog.get_dataset_info("nat4")
    with pytest.raises(ValueError, match="`access` must be one of"):
        dataclasses.replace(entry, access="ftp")
    with pytest.raises(ValueError, match="'module:Class'"):
        dataclasses.replace(entry, loader="deepSTRF.datasets.audio.nat4.NAT4Dataset")
    with pytest.raises(ValueError, match=r"parts \['A1', 'PEG', 'wav'\] that `parts` does not describe"):
        dataclasses.replace(entry, parts=())
    with pytest.raises(ValueError, match="must be new"):
        catalog.register(entry)
    with pytest.raises(TypeError, match="DatasetEntry"):
        catalog.register("nat4")


def test_every_loader_fetches_through_the_catalogue():
    """No loader module declares remote files or calls the download machinery itself."""
    import inspect

    from deepSTRF.datasets import audio

    for entry in catalog.list_datasets():
        module = inspect.getmodule(catalog.get_loader(entry.name))
        text = inspect.getsource(module)
        assert "fetch(" in text, entry.name
        for forbidden in ("RemoteFile(", "ensure_files(", "download_file(", "ensure_crcns_files("):
            assert forbidden not in text, (entry.name, forbidden)
    assert set(audio.PUBLIC_LOADERS) >= {"NS1Dataset", "NAT4Dataset", "CRCNSAA1Dataset", "CRCNSAC1Dataset"}


def test_dry_run_works_for_every_dataset(tmp_path, capsys, no_network):
    from deepSTRF import cli

    for entry in catalog.list_datasets():
        assert cli.main(["download", entry.name, "--root", str(tmp_path / entry.name), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{entry.name} ({entry.access} access)") and "total: about" in out
        for f in entry.select():
            assert f.filename in out
    assert not any((tmp_path / e.name).exists() for e in catalog.list_datasets())  # nothing written


def test_one_bar_per_file_and_one_for_the_dataset(tmp_path, file_server, monkeypatch, capsys):
    blobs = {"a.bin": b"a" * 1000, "b.bin": b"b" * 3000}
    for name, blob in blobs.items():
        file_server.files[f"/{name}"] = blob
    files = [
        sources.RemoteFile(n, file_server.url(f"/{n}"), checksum="sha256:" + hashlib.sha256(b).hexdigest())
        for n, b in blobs.items()
    ]
    sources.ensure_files(tmp_path, files, download=True, dataset="Demo", progress=True)
    err = capsys.readouterr().err
    assert "Demo (2 files)" in err and "a.bin" in err and "b.bin" in err
    assert (tmp_path / "b.bin").read_bytes() == blobs["b.bin"]
