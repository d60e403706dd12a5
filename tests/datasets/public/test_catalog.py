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
    assert names == ["ns1", "nat4", "crcns-aa1", "crcns-ac1"]
    for info in catalog.list_datasets():
        assert info.citations and info.url.startswith("https://") and info.size and info.description
        assert catalog.get_loader(info.name).__name__ == info.loader.split(":")[1]
        assert callable(catalog._resolve(info.downloader))
    assert catalog.get_dataset_info(" NS1 ").name == "ns1"
    assert [d.needs_account for d in catalog.list_datasets()] == [False, False, True, True]
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
    file_server.files["/dnet/test_data_5ms.mat"] = cochleagrams
    monkeypatch.setattr(sources, "OSF_API", file_server.url("/v2/files"))
    for attr in ("METADATA", "SPIKES", "README"):
        old = getattr(ns1, attr)
        monkeypatch.setattr(
            ns1, attr, dataclasses.replace(old, url=file_server.url(f"/download/{guids[old.filename]}/"))
        )
    monkeypatch.setattr(
        ns1,
        "COCHLEAGRAMS",
        dataclasses.replace(
            ns1.COCHLEAGRAMS,
            url=file_server.url("/dnet/test_data_5ms.mat"),
            checksum="gitsha1:" + _gitsha1(cochleagrams),
        ),
    )
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
