"""Fetch some members of a large remote zip archive with HTTP range requests.

A zip archive ends with a central directory listing every member and its offset, so a client
that can read byte ranges needs only the directory and the members it wants: one session of a
29 GB archive costs its own megabytes. :class:`HTTPRangeFile` is a read-only, seekable file over
an URL (one ``Range`` request per block, retried); :func:`fetch_zip_members` lists the archive
through it and writes the chosen members, each through a ``.part`` file renamed once complete.
Every member is checked against the CRC-32 the archive stores (``zipfile`` raises on a
mismatch), which stands in for the whole-archive checksum a partial download cannot use.

Example:
    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as zf:
    ...     zf.writestr("a/b.txt", "hello")
    >>> safe_member_path("a/b.txt")
    'a/b.txt'
"""

from __future__ import annotations

import io
import os
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm.auto import tqdm

from deepSTRF.datasets.download import DownloadError, offline_hint

_USER_AGENT = "deepSTRF-downloader (+https://deepstrf.readthedocs.io)"
_CHUNK = 1 << 20


def safe_member_path(name: str) -> str:
    """A member name checked to stay inside the destination folder.

    Raises:
        ValueError: If the name is absolute or climbs out with ``..``.

    Example:
        >>> safe_member_path("../x")
        Traceback (most recent call last):
        ...
        ValueError: zip member '../x' would be written outside the destination folder
    """
    clean = name.replace("\\", "/")
    parts = PurePosixPath(clean).parts
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in parts:
        raise ValueError(f"zip member {name!r} would be written outside the destination folder")
    return clean


class HTTPRangeFile(io.RawIOBase):
    """A read-only, seekable file over an HTTP(S) URL whose server honours ``Range`` requests.

    Args:
        url: The file's URL.
        block: Bytes fetched per request at least (reads are served from the last block).
        retries: Retries of a failed request (exponential back-off from ``backoff_s``).
        backoff_s: Base of the back-off, in seconds.
        timeout_s: Socket time-out of each request.

    Raises:
        DownloadError: If the server does not answer ranges or the size cannot be read.

    Example:
        >>> HTTPRangeFile.__mro__[1].__name__
        'RawIOBase'
    """

    def __init__(
        self, url: str, *, block: int = _CHUNK, retries: int = 4, backoff_s: float = 0.5, timeout_s: float = 60.0
    ) -> None:
        super().__init__()
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"`url` must be an http(s) URL, got {url!r}")
        self.url, self.block, self.retries, self.backoff_s, self.timeout_s = url, block, retries, backoff_s, timeout_s
        self.requests = 0
        self._pos = 0
        self._cache = (0, b"")
        first, total = self._get(0, 0)
        if total is None:
            raise DownloadError(f"{url} does not answer byte-range requests; download the whole archive instead")
        self.size = total
        self._cache = (0, first)

    def _get(self, start: int, end: int) -> tuple[bytes, int | None]:
        headers = {"User-Agent": _USER_AGENT, "Range": f"bytes={start}-{end}"}
        for attempt in range(self.retries + 1):
            try:
                self.requests += 1
                with urllib.request.urlopen(
                    urllib.request.Request(self.url, headers=headers), timeout=self.timeout_s
                ) as r:
                    body = r.read()
                    content_range = r.headers.get("Content-Range", "")
                    if getattr(r, "status", 200) != 206 or not content_range.startswith(f"bytes {start}-"):
                        return body, None
                    if len(body) != min(end, int(content_range.rsplit("/", 1)[1]) - 1) - start + 1:
                        raise ConnectionResetError(f"short range answer ({len(body)} bytes)")
                    return body, int(content_range.rsplit("/", 1)[1])
            except urllib.error.HTTPError as err:
                if (err.code < 500 and err.code not in (408, 429)) or attempt == self.retries:
                    raise DownloadError(f"{self.url} answered HTTP {err.code} ({err.reason})") from err
            except OSError as err:
                if attempt == self.retries:
                    raise DownloadError(
                        f"could not read {self.url} ({err}). {offline_hint(self.url, Path('.'))}"
                    ) from err
            time.sleep(self.backoff_s * 2**attempt)
        raise DownloadError(f"could not read {self.url}")  # pragma: no cover - loop always returns or raises

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.size - self._pos)
        if want <= 0:
            return 0
        start, data = self._cache
        if not (start <= self._pos and self._pos + want <= start + len(data)):
            end = min(self._pos + max(want, self.block), self.size) - 1
            data, _ = self._get(self._pos, end)
            start = self._pos
            self._cache = (start, data)
        offset = self._pos - start
        view[:want] = data[offset : offset + want]
        self._pos += want
        return want


def list_zip_members(source: str | os.PathLike[str]) -> list[zipfile.ZipInfo]:
    """The members of a zip archive, local or remote (remote: the central directory only is read).

    Example:
        >>> callable(list_zip_members)
        True
    """
    with _open_zip(source) as zf:
        return zf.infolist()


def _open_zip(source: str | os.PathLike[str]) -> zipfile.ZipFile:
    if isinstance(source, str) and source.lower().startswith(("http://", "https://")):
        return zipfile.ZipFile(HTTPRangeFile(source))
    return zipfile.ZipFile(source)


def fetch_zip_members(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    select: Callable[[str], bool],
    *,
    progress: bool = True,
) -> list[Path]:
    """Write the members of a (remote or local) zip archive that ``select`` accepts into ``dest``.

    Members already present under their final name are skipped (no transfer). Each one is written
    to ``<name>.part`` and renamed when complete; a CRC-32 mismatch raises and leaves no file.

    Args:
        source: URL of the archive (its server must honour ``Range``) or a local path.
        dest: Destination folder; member paths are kept below it.
        select: Predicate on the member name (``'sessions/s1/x.mat'``).
        progress: Show a progress bar over the selected bytes.

    Returns:
        The paths written or already present, in archive order.

    Raises:
        DownloadError: If the archive cannot be read or a member fails its CRC check.
        ValueError: If a selected member would land outside ``dest``.

    Example:
        >>> import tempfile, zipfile
        >>> d = Path(tempfile.mkdtemp())
        >>> with zipfile.ZipFile(d / "a.zip", "w") as zf:
        ...     zf.writestr("s1/x.txt", "one"); zf.writestr("s2/y.txt", "two")
        >>> [p.relative_to(d / "out").as_posix() for p in fetch_zip_members(d / "a.zip", d / "out",
        ...     lambda n: n.startswith("s2/"), progress=False)]
        ['s2/y.txt']
    """
    dest = Path(dest)
    out: list[Path] = []
    with _open_zip(source) as zf:
        chosen = [i for i in zf.infolist() if not i.is_dir() and select(i.filename)]
        total = sum(i.file_size for i in chosen)
        with tqdm(total=total, unit="B", unit_scale=True, desc="members", disable=not progress) as bar:
            for info in chosen:
                path = dest / safe_member_path(info.filename)
                out.append(path)
                if path.exists():
                    bar.update(info.file_size)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                part = path.with_name(path.name + ".part")
                try:
                    with zf.open(info) as src, part.open("wb") as fh:
                        for chunk in iter(lambda: src.read(_CHUNK), b""):
                            fh.write(chunk)
                            bar.update(len(chunk))
                except zipfile.BadZipFile as err:
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"{info.filename} of {source} failed its CRC-32 check: {err}") from err
                os.replace(part, path)
    return out
