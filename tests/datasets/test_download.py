"""Downloads, checksums, safe extraction and credentials, against a server on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from deepSTRF.datasets import archive as archive_mod
from deepSTRF.datasets import download as dl
from deepSTRF.datasets import sources


# ----------------------------------------------------------------------------- local server
@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    honour_range: bool = True
    cut_after: int | None = None  # bytes sent before the connection is dropped ...
    cuts_left: int = 0  # ... for this many responses
    set_cookie: str | None = None  # cookie sent in answer to a POST
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    posts: list[bytes] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.state.posts.append(self.rfile.read(length))
        self.state.requests.append(("POST", self.path, None))
        self.send_response(200)
        if self.state.set_cookie:
            self.send_header("Set-Cookie", self.state.set_cookie)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self):
        rng = self.headers.get("Range")
        self.state.requests.append(("GET", self.path, rng))
        body = self.state.files.get(self.path)
        if body is None:
            self.send_error(404, "not found")
            return
        start = 0
        if rng and self.state.honour_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Type", self.state.content_types.get(self.path, "application/octet-stream"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.state.cut_after is not None and self.state.cuts_left > 0:
            self.state.cuts_left -= 1
            self.wfile.write(payload[: self.state.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


class LocalServer:
    def __init__(self, serve_http):
        self.state = ServerState()
        self.httpd = serve_http(type("Handler", (_Handler,), {"state": self.state}))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server(serve_http):
    return LocalServer(serve_http)


PAYLOAD = np.random.default_rng(3).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ----------------------------------------------------------------------------- cache folder and checksums


def test_data_dir_from_env_and_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPSTRF_DATA_DIR", str(tmp_path / "cache"))
    assert dl.get_data_dir() == tmp_path / "cache"
    assert dl.get_data_dir("ns1") == tmp_path / "cache" / "ns1"
    assert not (tmp_path / "cache").exists()  # no I/O
    monkeypatch.delenv("DEEPSTRF_DATA_DIR")
    import platformdirs

    assert dl.get_data_dir() == Path(platformdirs.user_cache_dir("deepSTRF", appauthor=False))


def test_checksums_match_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(PAYLOAD)
    assert dl.file_checksum(path) == "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    assert dl.file_checksum(path, "md5") == "md5:" + hashlib.md5(PAYLOAD).hexdigest()
    assert dl.file_checksum(path, "sha1") == "sha1:" + hashlib.sha1(PAYLOAD).hexdigest()
    git = hashlib.sha1(b"blob " + str(len(PAYLOAD)).encode() + b"\x00" + PAYLOAD).hexdigest()
    assert dl.file_checksum(path, "gitsha1") == "gitsha1:" + git
    dl.verify_file(path, "SHA256:" + hashlib.sha256(PAYLOAD).hexdigest().upper(), size=len(PAYLOAD))
    with pytest.raises(dl.ChecksumError, match="expected 5 bytes"):
        dl.verify_file(path, size=5)
    with pytest.raises(dl.ChecksumError, match="md5 is"):
        dl.verify_file(path, "md5:" + "0" * 32)
    with pytest.raises(ValueError, match="`algorithm` must be one of"):
        dl.file_checksum(path, "crc32")


@pytest.mark.parametrize("bad", ["abc", "crc:00", "sha256:xyz", "sha256:", 5])
def test_parse_checksum_rejects(bad):
    with pytest.raises(ValueError, match="`checksum`"):
        dl.parse_checksum(bad)


# ----------------------------------------------------------------------------- downloads


def test_complete_download(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    out = dl.download_file(server.url("/a.bin"), tmp_path / "sub" / "a.bin", checksum=_sha256(PAYLOAD))
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "a.bin.part").exists()
    assert [r[2] for r in server.state.requests] == [None]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    server.state.cut_after, server.state.cuts_left = 100_000, 1
    out = dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", backoff_s=0, progress=False, size=len(PAYLOAD))
    assert out.read_bytes() == PAYLOAD
    assert [r[2] for r in server.state.requests] == [None, "bytes=100000-"]


def test_resume_of_part_file_left_by_an_earlier_run(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:1234])
    dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert server.state.requests == [("GET", "/a.bin", "bytes=1234-")]


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    server.state.honour_range = False
    (tmp_path / "a.bin.part").write_bytes(b"garbage that must not survive")
    dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_part_file_longer_than_remote_restarts(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD[:10]
    (tmp_path / "a.bin.part").write_bytes(PAYLOAD[:50])
    dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", progress=False, backoff_s=0)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD[:10]


def test_checksum_mismatch_deletes_and_raises(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    with pytest.raises(dl.ChecksumError, match="does not match its published checksum"):
        dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", checksum="sha256:" + "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(dl.ChecksumError, match="expected 7 bytes"):
        dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", size=7, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_not_retried(server, tmp_path):
    with pytest.raises(dl.DownloadError, match=r"HTTP 404.*place it at"):
        dl.download_file(server.url("/missing"), tmp_path / "m.bin", progress=False, backoff_s=0)
    assert len(server.state.requests) == 1


def test_persistent_cuts_exhaust_retries(server, tmp_path):
    server.state.files["/a.bin"] = PAYLOAD
    server.state.cut_after, server.state.cuts_left = 10, 10
    with pytest.raises(dl.DownloadError, match="after 3 attempts"):
        dl.download_file(server.url("/a.bin"), tmp_path / "a.bin", retries=2, backoff_s=0, progress=False)
    assert len(server.state.requests) == 3
    assert (tmp_path / "a.bin.part").stat().st_size == 30  # each attempt resumed and added 10 bytes


def test_offline_error_names_url_and_manual_placement(tmp_path):
    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.zip"
    with pytest.raises(dl.DownloadError) as info:
        dl.download_file(url, tmp_path / "x.zip", retries=1, backoff_s=0, progress=False)
    msg = str(info.value)
    assert url in msg and str(tmp_path / "x.zip") in msg and "DEEPSTRF_DATA_DIR" in msg and "offline" in msg


def test_existing_file_needs_no_network(monkeypatch, tmp_path):
    _no_network(monkeypatch)
    (tmp_path / "a.bin").write_bytes(b"x")
    assert dl.download_file("https://example.invalid/a.bin", tmp_path / "a.bin") == tmp_path / "a.bin"


def test_html_answer_rejected_when_asked(server, tmp_path):
    server.state.files["/a.zip"] = b"<html>login</html>"
    server.state.content_types["/a.zip"] = "text/html; charset=utf-8"
    with pytest.raises(dl.DownloadError, match="login failed"):
        dl.download_file(server.url("/a.zip"), tmp_path / "a.zip", reject_html=True, progress=False)
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "ftp://x/y"}, "`url` must be an http"),
        ({"retries": -1}, "`retries` must be an int"),
        ({"timeout_s": 0}, "`timeout_s`"),
        ({"checksum": "nope"}, "`checksum`"),
    ],
)
def test_download_argument_errors(tmp_path, kwargs, match):
    args = {"url": "http://127.0.0.1:9/x"} | kwargs
    with pytest.raises(ValueError, match=match):
        dl.download_file(args.pop("url"), tmp_path / "x", **args)


# ----------------------------------------------------------------------------- archives


def _zip_with(tmp_path, name, member, data=b"x", mode=None):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/fine.txt", "fine")
        info = zipfile.ZipInfo(member)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


def _tar_with(tmp_path, name, member, kind=tarfile.REGTYPE, linkname=""):
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tf:
        good = tarfile.TarInfo("ok/fine.txt")
        good.size = 4
        tf.addfile(good, io.BytesIO(b"fine"))
        info = tarfile.TarInfo(member)
        info.type, info.linkname = kind, linkname
        info.size = 1 if kind == tarfile.REGTYPE else 0
        tf.addfile(info, io.BytesIO(b"x") if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize(
    ("member", "mode", "match"),
    [
        ("../evil.txt", None, r"climbs out"),
        ("ok/../../evil.txt", None, r"climbs out"),
        ("/etc/evil.txt", None, "absolute"),
        ("C:/evil.txt", None, "absolute"),
        ("ok\\..\\..\\evil.txt", None, "climbs out"),
        ("ok/link", stat.S_IFLNK | 0o777, "symbolic link"),
    ],
)
def test_zip_unsafe_members_refused(tmp_path, member, mode, match):
    path = _zip_with(tmp_path, "bad.zip", member, data=b"/etc/passwd", mode=mode)
    dest = tmp_path / "out"
    with pytest.raises(archive_mod.UnsafeArchiveError, match=match):
        archive_mod.extract_archive(path, dest)
    assert not dest.exists() and not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    ("member", "kind", "linkname", "match"),
    [
        ("../evil.txt", tarfile.REGTYPE, "", "climbs out"),
        ("/abs/evil.txt", tarfile.REGTYPE, "", "absolute"),
        ("ok/link", tarfile.SYMTYPE, "../../etc/passwd", "is a link"),
        ("ok/inside_link", tarfile.SYMTYPE, "fine.txt", "is a link"),
        ("ok/hard", tarfile.LNKTYPE, "/etc/passwd", "is a link"),
        ("ok/fifo", tarfile.FIFOTYPE, "", "special file"),
    ],
)
def test_tar_unsafe_members_refused(tmp_path, member, kind, linkname, match):
    path = _tar_with(tmp_path, "bad.tgz", member, kind, linkname)
    dest = tmp_path / "out"
    with pytest.raises(archive_mod.UnsafeArchiveError, match=match):
        archive_mod.extract_archive(path, dest)
    assert not dest.exists()


def test_safe_archives_extract_into_place(tmp_path):
    zpath = _zip_with(tmp_path, "good.zip", "top/a/b.txt", data=b"zip")
    created = archive_mod.extract_archive(zpath, tmp_path / "out")
    assert [p.name for p in created] == ["ok", "top"]
    assert (tmp_path / "out" / "top" / "a" / "b.txt").read_bytes() == b"zip"
    tpath = _tar_with(tmp_path, "good.tgz", "other/c.txt")
    with pytest.raises(FileExistsError, match="already exist"):  # "ok/" is already there
        archive_mod.extract_archive(tpath, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []  # temp folder removed
    archive_mod.extract_archive(tpath, tmp_path / "out2")
    assert (tmp_path / "out2" / "other" / "c.txt").read_bytes() == b"x"


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"plain")
    with pytest.raises(ValueError, match="must be a zip or tar"):
        archive_mod.extract_archive(tmp_path / "x.zip", tmp_path / "out")


# ----------------------------------------------------------------------------- dataset folders


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_ensure_files_downloads_extracts_then_stays_offline(server, tmp_path, monkeypatch):
    blob = _zip_bytes({"tree/a.txt": b"A"})
    server.state.files |= {"/meta.mat": b"meta", "/tree.zip": blob}
    files = [
        sources.RemoteFile("meta.mat", server.url("/meta.mat"), checksum=_sha256(b"meta")),
        sources.RemoteFile("tree.zip", server.url("/tree.zip"), extract=True, markers=("tree",)),
    ]
    root = tmp_path / "ds"
    with pytest.raises(FileNotFoundError, match=r"(?s)meta\.mat.*127\.0\.0\.1.*download=True.*DEEPSTRF_DATA_DIR"):
        sources.ensure_files(root, files, download=False, dataset="demo")
    seen = []

    def resolve(todo, opener):
        seen.append([f.filename for f in todo])
        return todo

    sources.ensure_files(root, files, download=True, dataset="demo", resolve=resolve, progress=False)
    assert (root / "tree" / "a.txt").read_bytes() == b"A" and (root / "meta.mat").read_bytes() == b"meta"
    assert seen == [["meta.mat", "tree.zip"]]
    _no_network(monkeypatch)
    sources.ensure_files(root, files, download=True, dataset="demo", resolve=resolve)
    assert seen == [["meta.mat", "tree.zip"]]  # nothing resolved or fetched the second time


def test_ensure_files_extracts_a_placed_archive_offline(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    root = tmp_path / "ds"
    root.mkdir()
    (root / "tree.zip").write_bytes(_zip_bytes({"tree/a.txt": b"A"}))
    files = [sources.RemoteFile("tree.zip", "https://example.invalid/tree.zip", extract=True)]
    sources.ensure_files(root, files, download=False, dataset="demo")
    assert (root / "tree" / "a.txt").exists()


def test_zenodo_and_osf_metadata(server, monkeypatch):
    server.state.files["/api/records/42"] = (
        b'{"files": [{"key": "A.tgz", "checksum": "md5:abc", "size": 3}, {"key": "B.csv", "size": 1}]}'
    )
    server.state.files["/v2/files/gdwyd/"] = (
        b'{"data": {"attributes": {"size": 9, "extra": {"hashes": {"sha256": "ff"}}}}}'
    )
    monkeypatch.setattr(sources, "ZENODO_API", server.url("/api/records"))
    monkeypatch.setattr(sources, "OSF_API", server.url("/v2/files"))
    assert sources.zenodo_files(42) == {"A.tgz": ("md5:abc", 3), "B.csv": (None, 1)}
    assert sources.osf_file("gdwyd") == ("sha256:ff", 9)
    with pytest.raises(dl.DownloadError, match="Could not read"):
        sources.osf_file("nope")


# ----------------------------------------------------------------------------- credentials


def test_crcns_credentials_from_env_never_shown(monkeypatch):
    monkeypatch.setenv("CRCNS_USERNAME", "alice")
    monkeypatch.setenv("CRCNS_PASSWORD", "s3cr3t-pw")
    creds = sources.crcns_credentials()
    assert creds.username == "alice" and creds.password == "s3cr3t-pw"
    assert "s3cr3t-pw" not in repr(creds) and "s3cr3t-pw" not in str(creds) and "alice" not in repr(creds)
    assert sources.crcns_credentials("bob", "other").username == "bob"
    monkeypatch.delenv("CRCNS_PASSWORD")
    with pytest.raises(ValueError, match="CRCNS_USERNAME and CRCNS_PASSWORD") as info:
        sources.crcns_credentials()
    assert "alice" not in str(info.value)


def test_crcns_login_and_filelist(server, monkeypatch):
    monkeypatch.setattr(sources, "CRCNS_LOGIN_URL", server.url("/login_form"))
    monkeypatch.setattr(sources, "CRCNS_DOWNLOAD_URL", server.url(""))
    creds = sources.CRCNSCredentials("alice", "s3cr3t-pw")
    with pytest.raises(dl.DownloadError, match="login") as info:
        sources.crcns_login(creds)
    assert "s3cr3t-pw" not in str(info.value) and "alice" not in str(info.value)
    server.state.set_cookie = "__ac=token; Path=/"
    opener = sources.crcns_login(creds)
    assert b"__ac_name=alice" in server.state.posts[-1] and b"__ac_password=s3cr3t-pw" in server.state.posts[-1]
    server.state.files["/aa-1/filelist.txt"] = b"aa-1/crcns-aa1.zip 17000000\naa-1/README.txt 12\n"
    files = [sources.RemoteFile("crcns-aa1.zip", server.url("/aa-1/crcns-aa1.zip"), extract=True)]
    out = sources.with_crcns_sizes(files, "aa-1", opener)
    assert out[0].size == 17000000
