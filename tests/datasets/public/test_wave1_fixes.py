"""The three wave-1 defects found by the audit of the CRCNS path, each against a real-format fixture."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
import scipy.io

from deepSTRF.datasets import download as dl
from deepSTRF.datasets import sources
from deepSTRF.datasets.audio import crcns_aa1, crcns_ac1


def _human(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@pytest.fixture
def aa1_on_server(tmp_path, aa1_kit, file_server, monkeypatch):
    src = aa1_kit.build(tmp_path / "src", layout="wrapped_zip")
    blob = (src / "crcns-aa1.zip").read_bytes()
    file_server.files["/aa-1/crcns-aa1.zip"] = blob
    file_server.cookie = "__ac=abc; Path=/"
    monkeypatch.setattr(sources, "CRCNS_LOGIN_URL", file_server.url("/login_form"))
    monkeypatch.setattr(sources, "CRCNS_DOWNLOAD_URL", file_server.url())
    return blob


def test_real_filelist_lines_are_parsed_and_the_size_is_checked(tmp_path, aa1_on_server, file_server):
    blob = aa1_on_server
    md5 = hashlib.md5(blob).hexdigest()
    file_server.files["/aa-1/checksums.md5"] = f"{md5}  ./aa-1/crcns-aa1.zip\n".encode()
    # the real format: " <path>\t<size> (<human size>)", with comment lines; here the size is wrong by one byte
    wrong = f"# aa-1 files\n aa-1/crcns-aa1.zip\t{len(blob) + 1} ({_human(len(blob))})\n aa-1/README\t12 (12 B)\n"
    file_server.files["/aa-1/filelist.txt"] = wrong.encode()
    with pytest.raises(dl.ChecksumError, match=f"expected {len(blob) + 1} bytes"):
        crcns_aa1.CRCNSAA1Dataset(tmp_path / "a", download=True, username="u", password="pw", progress=False)
    assert sources.parse_crcns_filelist(wrong) == {"aa-1/crcns-aa1.zip": len(blob) + 1, "aa-1/README": 12}


def test_crcns_checksums_md5_is_verified(tmp_path, aa1_on_server, file_server):
    blob = aa1_on_server
    file_server.files["/aa-1/filelist.txt"] = f" aa-1/crcns-aa1.zip\t{len(blob)} ({_human(len(blob))})\n".encode()
    file_server.files["/aa-1/checksums.md5"] = b"0" * 32 + b"  ./aa-1/crcns-aa1.zip\n"
    with pytest.raises(dl.ChecksumError, match="md5 is"):
        crcns_aa1.CRCNSAA1Dataset(tmp_path / "b", download=True, username="u", password="pw", progress=False)
    file_server.files["/aa-1/checksums.md5"] = f"{hashlib.md5(blob).hexdigest()}  ./aa-1/crcns-aa1.zip\n".encode()
    ds = crcns_aa1.CRCNSAA1Dataset(tmp_path / "b", download=True, username="u", password="pw", progress=False)
    assert len(ds) == 3


def test_a_failed_crcns_login_is_reported_at_once_without_the_password(tmp_path, aa1_on_server, file_server):
    blob = aa1_on_server
    file_server.files["/aa-1/filelist.txt"] = f" aa-1/crcns-aa1.zip\t{len(blob)} ({_human(len(blob))})\n".encode()
    file_server.password = "the-right-one"  # the site sets a cookie anyway, but its page does not greet the user
    with pytest.raises(dl.DownloadError, match="CRCNS login failed") as info:
        crcns_aa1.CRCNSAA1Dataset(tmp_path / "c", download=True, username="u", password="wrong-pw-123", progress=False)
    assert "wrong-pw-123" not in str(info.value) and "the-right-one" not in str(info.value)
    assert ("GET", "/aa-1/crcns-aa1.zip") not in file_server.requests  # nothing fetched after the failed login
    post = file_server.posts[-1].decode()
    for expected in ("__ac_name=u", "form.submitted=1", "js_enabled=0", "pwd_empty=0", "submit=Log+in"):
        assert expected in post
    assert file_server.user_agents[-1].startswith("Mozilla/5.0")
    ds = crcns_aa1.CRCNSAA1Dataset(
        tmp_path / "c", download=True, username="u", password="the-right-one", progress=False
    )
    assert len(ds) == 3


def test_a_malformed_ac1_file_is_skipped_with_one_warning(tmp_path, ac1_kit):
    root = ac1_kit.build(tmp_path / "ac1")
    cell1 = root / "crcns-ac1" / "wehr" / "Results" / "20030101-mw-001"
    scipy.io.savemat(cell1 / "20030101-mw-001-005.mat", {"notes": np.ones((1, 1))})  # no response, no triggers
    bad_trigger = {"param": {"description": "x", "duration": 500.0}, "time": 2001.0}  # no type
    response = {"trace": ac1_kit.trace(5)[:, None], "scale": 0.01, "sf": 4000.0}
    scipy.io.savemat(cell1 / "20030101-mw-001-006.mat", {"response": response, "triggers": bad_trigger})
    # a trigger without `file`: its stimulus is found by its description
    no_file = {"type": "naturalsound", "param": {"description": "frag two", "duration": 500.0}, "time": 2001.0}
    response = {"trace": ac1_kit.trace(7)[:, None], "scale": 0.01, "sf": 4000.0}
    scipy.io.savemat(cell1 / "20030101-mw-001-007.mat", {"response": response, "triggers": no_file})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = crcns_ac1.CRCNSAC1Dataset(root)
    skipped = [str(w.message) for w in caught if "malformed" in str(w.message)]
    assert len(skipped) == 1
    assert "skipped 2 malformed" in skipped[0]
    assert "20030101-mw-001-005.mat" in skipped[0] and "20030101-mw-001-006.mat" in skipped[0]
    assert len(ds) == 3 and ds.n_neurons == 2
    frag2 = ds.stim_meta.index(next(m for m in ds.stim_meta if m["file"] == "fragments/2.mat"))
    assert ds[frag2]["responses"].shape[1] == 3  # two repeats with `file`, one found by its description
