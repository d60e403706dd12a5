"""Download files into the deepSTRF cache: streamed, resumable, retried and verified.

The cache folder is ``$DEEPSTRF_DATA_DIR`` when that variable is set, otherwise the
platform's user cache folder (``~/.cache/deepSTRF`` on Linux). Each public dataset lives
in its own sub-folder. A download is written to ``<name>.part`` and renamed only once
complete and verified, so a file that exists under its final name is complete; an
interrupted ``.part`` file is resumed with an HTTP ``Range`` request when the server
supports it (and restarted from zero when it answers ``200`` instead of ``206``).

Credentials never reach a message: every error (and the ``url`` shown in it) goes
through :func:`redact`, which masks the ``user:password@`` part of a URL and the values
of query parameters that carry secrets (``token``, ``key``, ``password``, ``signature``...).

Checksums are written ``"<algorithm>:<hex digest>"`` with the algorithm one of
``sha256``, ``sha1``, ``md5`` or ``gitsha1`` (the SHA-1 of a git blob, as GitHub shows).

Example:
    >>> parse_checksum("md5:0CC175B9C0F1B6A831C399E269772661")
    ('md5', '0cc175b9c0f1b6a831c399e269772661')
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import platformdirs
from tqdm.auto import tqdm

ENV_DATA_DIR = "DEEPSTRF_DATA_DIR"
_CHUNK = 1 << 20
_ALGORITHMS = ("sha256", "sha1", "md5", "gitsha1")
_USER_AGENT = "deepSTRF-downloader (+https://deepstrf.readthedocs.io)"


_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s?#]+@")
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:[\w.-]*(?:token|key|password|passwd|pwd|secret|signature|sig|auth|credential|session)"
    r"[\w.-]*)=)[^&;#\s'\"]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Mask credentials in every URL of ``text``: ``user:password@`` and secret query values.

    Example:
        >>> redact("Could not read https://ann:s3cret@example.org/a.zip?token=abc&part=2")
        'Could not read https://***@example.org/a.zip?token=***&part=2'
    """
    return _SECRET_QUERY.sub(r"\g<key>***", _USERINFO.sub(r"\g<scheme>***@", str(text)))


class DownloadError(RuntimeError):
    """A file could not be downloaded (network failure, HTTP error or bad content).

    The message is passed through :func:`redact`, so it never shows a credential.

    Example:
        >>> issubclass(ChecksumError, DownloadError)
        True
        >>> str(DownloadError("https://ann:pw@host.org/x failed"))
        'https://***@host.org/x failed'
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ChecksumError(DownloadError):
    """A downloaded file does not match its published size or checksum (the file is deleted).

    Example:
        >>> str(ChecksumError("x.zip: expected 3 bytes, got 2"))
        'x.zip: expected 3 bytes, got 2'
    """


def get_data_dir(subdir: str | None = None) -> Path:
    """Return the deepSTRF cache folder, or one of its sub-folders, without creating it.

    Args:
        subdir: Optional sub-folder name (e.g. a dataset name).

    Returns:
        ``$DEEPSTRF_DATA_DIR`` if set and non-empty, else the platform user cache folder
        for ``deepSTRF``; with ``subdir`` appended when given.

    Example:
        >>> import os
        >>> os.environ["DEEPSTRF_DATA_DIR"] = "/tmp/deepstrf-data"
        >>> get_data_dir("ns1").as_posix()
        '/tmp/deepstrf-data/ns1'
        >>> del os.environ["DEEPSTRF_DATA_DIR"]
    """
    base = os.environ.get(ENV_DATA_DIR, "").strip()
    if not base:
        base = platformdirs.user_cache_dir("deepSTRF", appauthor=False)
    path = Path(base).expanduser()
    return path / subdir if subdir else path


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"<algorithm>:<hex>"`` into a lower-case ``(algorithm, hex)`` pair.

    Args:
        checksum: Checksum string, algorithm one of ``sha256``, ``sha1``, ``md5``, ``gitsha1``.

    Returns:
        The algorithm and the hexadecimal digest.

    Raises:
        ValueError: If the string is not of that form.

    Example:
        >>> parse_checksum("sha256:ABCD")
        ('sha256', 'abcd')
    """
    if not isinstance(checksum, str) or ":" not in checksum:
        raise ValueError(f"`checksum` must look like 'sha256:<hex>', got {checksum!r}")
    algorithm, digest = checksum.split(":", 1)
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"`checksum` algorithm must be one of {list(_ALGORITHMS)}, got {algorithm!r}")
    if not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"`checksum` digest must be hexadecimal, got {digest!r}")
    return algorithm, digest


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hash a file in chunks.

    Args:
        path: File to hash.
        algorithm: ``sha256``, ``sha1``, ``md5`` or ``gitsha1`` (git blob SHA-1 of the content).

    Returns:
        The checksum as ``"<algorithm>:<hex>"``.

    Raises:
        ValueError: If the algorithm is unknown.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "x"
        ...     _ = p.write_bytes(b"hello")
        ...     file_checksum(p, "gitsha1")
        'gitsha1:b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0'
    """
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"`algorithm` must be one of {list(_ALGORITHMS)}, got {algorithm!r}")
    path = Path(path)
    if algorithm == "gitsha1":
        hasher = hashlib.sha1(usedforsecurity=False)
        hasher.update(b"blob %d\0" % path.stat().st_size)
    else:
        hasher = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def verify_file(path: str | os.PathLike[str], checksum: str | None = None, size: int | None = None) -> None:
    """Check a file's size and checksum.

    Args:
        path: File to check.
        checksum: Expected ``"<algorithm>:<hex>"``, or ``None`` to skip.
        size: Expected size in bytes, or ``None`` to skip.

    Raises:
        ChecksumError: If the size or the checksum differs (the file is left in place).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "x"
        ...     _ = p.write_bytes(b"hello")
        ...     verify_file(p, "md5:5d41402abc4b2a76b9719d911017c592", size=5)
    """
    path = Path(path)
    if size is not None and path.stat().st_size != size:
        raise ChecksumError(f"{path.name}: expected {size} bytes, got {path.stat().st_size}")
    if checksum is not None:
        algorithm, expected = parse_checksum(checksum)
        actual = file_checksum(path, algorithm).split(":", 1)[1]
        if actual != expected:
            raise ChecksumError(f"{path.name}: {algorithm} is {actual}, expected {expected}")


def offline_hint(url: str, dest: Path) -> str:
    """Explain how to place a file by hand when this machine cannot reach ``url``.

    Args:
        url: The source URL.
        dest: Where the file is expected.

    Returns:
        A sentence naming the URL, the destination and the cache folder.

    Example:
        >>> "place it at" in offline_hint("https://example.org/a.zip", Path("/data/a.zip"))
        True
    """
    return (
        f"If this machine is offline, download {redact(url)} on another machine and place it at {dest} "
        f"(the deepSTRF cache folder is {get_data_dir()}; set {ENV_DATA_DIR} to use another folder), "
        "then load the dataset again with download=False."
    )


def _open(request: urllib.request.Request, timeout_s: float, opener: urllib.request.OpenerDirector | None):
    if opener is None:
        return urllib.request.urlopen(request, timeout=timeout_s)
    return opener.open(request, timeout=timeout_s)


def _retryable(err: urllib.error.HTTPError) -> bool:
    return err.code in (408, 429) or err.code >= 500


def _stream_once(
    url: str,
    part: Path,
    *,
    resume: bool,
    timeout_s: float,
    progress: bool,
    opener: urllib.request.OpenerDirector | None,
    reject_html: bool,
) -> None:
    """One attempt: append to (or restart) ``part``; raise ``OSError`` when the transfer is cut."""
    offset = part.stat().st_size if resume and part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = _open(urllib.request.Request(url, headers=headers), timeout_s, opener)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the partial file no longer matches: start again
            part.unlink()
            raise ConnectionResetError("range not satisfiable; restarting from zero") from err
        raise
    with response:
        status = getattr(response, "status", 200)
        content_range = response.headers.get("Content-Range", "")
        if offset and not (status == 206 and content_range.startswith(f"bytes {offset}-")):
            offset = 0  # the server ignored the range: restart the file
        if reject_html and response.headers.get("Content-Type", "").lower().startswith("text/html"):
            raise DownloadError(
                f"{url} answered with an HTML page instead of the file; for a source that needs a login "
                "this usually means the login failed (check the user name and password)"
            )
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        written = offset
        with (
            part.open("ab" if offset else "wb") as fh,
            tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, desc=part.name[:-5], disable=not progress
            ) as bar,
        ):
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                fh.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    if total is not None and written < total:
        raise ConnectionResetError(f"transfer cut after {written} of {total} bytes")


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    checksum: str | None = None,
    size: int | None = None,
    resume: bool = True,
    retries: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool = True,
    opener: urllib.request.OpenerDirector | None = None,
    reject_html: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, then verify and rename it.

    An existing ``dest`` is returned at once, with no network access. Transfers that fail
    (connection error, time-out, server error, cut transfer) are retried up to ``retries``
    times, waiting ``backoff_s * 2**k`` seconds before retry ``k``; each retry resumes the
    partial file when ``resume`` is true and the server honours ``Range``.

    Args:
        url: Source URL (http or https).
        dest: Final path of the file; parent folders are created.
        checksum: Expected ``"<algorithm>:<hex>"`` (see :func:`parse_checksum`), or ``None``.
        size: Expected size in bytes, or ``None``.
        resume: Resume an existing ``.part`` file instead of starting again.
        retries: Number of retries after the first attempt.
        backoff_s: Base of the exponential back-off, in seconds.
        timeout_s: Socket time-out of each request, in seconds.
        progress: Show a tqdm progress bar.
        opener: Optional ``urllib`` opener (e.g. one holding a login cookie).
        reject_html: Treat an HTML answer as a failed login rather than the file.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``url`` is not http(s), or ``retries``/``backoff_s``/``timeout_s`` are invalid.
        ChecksumError: If the download does not match ``size`` or ``checksum``; it is deleted.
        DownloadError: If the server refuses the request or the network stays unreachable.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     existing = Path(d) / "done.bin"
        ...     _ = existing.write_bytes(b"x")
        ...     download_file("https://example.org/done.bin", existing) == existing  # no network used
        True
    """
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"`url` must be an http(s) URL, got {redact(repr(url))}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"`retries` must be an int >= 0, got {retries!r}")
    if backoff_s < 0 or timeout_s <= 0:
        raise ValueError(f"`backoff_s` must be >= 0 and `timeout_s` > 0, got {backoff_s!r} and {timeout_s!r}")
    if checksum is not None:
        parse_checksum(checksum)
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _stream_once(
                url, part, resume=resume, timeout_s=timeout_s, progress=progress, opener=opener, reject_html=reject_html
            )
            break
        except urllib.error.HTTPError as err:
            if not _retryable(err) or attempt == retries:
                raise DownloadError(
                    f"{url} answered HTTP {err.code} ({err.reason}). {offline_hint(url, dest)}"
                ) from err
        except (OSError, http.client.HTTPException) as err:  # URLError, time-outs, resets, cut transfers
            if attempt == retries:
                reason = getattr(err, "reason", err)
                raise DownloadError(
                    f"Could not download {url} after {retries + 1} attempts ({reason}). {offline_hint(url, dest)}"
                ) from err
        time.sleep(backoff_s * 2**attempt)
    try:
        verify_file(part, checksum=checksum, size=size)
    except ChecksumError as err:
        part.unlink()
        raise ChecksumError(f"Downloaded {url} does not match its published checksum and was deleted: {err}") from err
    os.replace(part, dest)
    return dest
