"""Remote files of the public datasets: presence checks, fetching, published checksums, logins.

A dataset folder is described by a list of :class:`RemoteFile`. :func:`ensure_files`
looks at the folder first and touches the network only for what is missing (and only
with ``download=True``); archives are extracted safely once downloaded.

Published checksums are looked up where the host publishes them: the Zenodo record
API (MD5), the OSF API (SHA-256), the CRCNS ``filelist.txt`` (sizes). CRCNS needs a free
account: credentials come from arguments or the ``CRCNS_USERNAME`` / ``CRCNS_PASSWORD``
environment variables and never appear in a log, an error message or a ``repr``.

Example:
    >>> f = RemoteFile("a.zip", "https://example.org/a.zip", extract=True, markers=("a",))
    >>> f.is_archive
    True
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from deepSTRF.datasets.archive import extract_archive
from deepSTRF.datasets.download import ENV_DATA_DIR, DownloadError, download_file, get_data_dir, redact

ZENODO_API = "https://zenodo.org/api/records"
OSF_API = "https://api.osf.io/v2/files"
CRCNS_LOGIN_URL = "https://crcns.org/login_form"
CRCNS_DOWNLOAD_URL = "https://download.crcns.org"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset folder and where it comes from.

    Args:
        filename: Path of the file relative to the dataset folder.
        url: Where to download it.
        checksum: Published ``"<algorithm>:<hex>"`` checksum, if known.
        size: Published size in bytes, if known.
        extract: Whether the file is an archive to unpack into the dataset folder.
        markers: Glob patterns (relative to the dataset folder); an archive counts as extracted
            when any of them matches (default: the archive name without its extension); a plain
            file counts as present when it exists or any of them matches.
        description: What the file holds (shown in error messages).

    Example:
        >>> RemoteFile("x.mat", "https://example.org/x.mat").is_archive
        False
    """

    filename: str
    url: str
    checksum: str | None = None
    size: int | None = None
    extract: bool = False
    markers: tuple[str, ...] = ()
    description: str = ""

    @property
    def is_archive(self) -> bool:
        """Whether this file is unpacked after download."""
        return self.extract

    def extracted(self, root: Path) -> bool:
        """Whether the archive's content is already present in ``root``."""
        patterns = self.markers or (self.filename.split(".")[0],)
        return any(any(root.glob(p)) for p in patterns)

    def present(self, root: Path) -> bool:
        """Whether the file (for an archive: its extracted content) is in ``root``.

        A plain file also counts as present when one of its ``markers`` matches (e.g. a
        ``.tgz`` read directly, or already extracted to a folder of the same name).
        """
        if self.extract:
            return self.extracted(root)
        return (root / self.filename).exists() or any(any(root.glob(p)) for p in self.markers)


def ensure_files(
    root: str | os.PathLike[str],
    files: Sequence[RemoteFile],
    *,
    download: bool,
    dataset: str,
    resolve: Callable[[list[RemoteFile], urllib.request.OpenerDirector | None], list[RemoteFile]] | None = None,
    opener: Callable[[], urllib.request.OpenerDirector] | None = None,
    progress: bool = True,
) -> Path:
    """Make sure every file is in ``root``, downloading and extracting what is missing.

    Files already present cause no network access. Archives already downloaded but not
    extracted are extracted without network access.

    Args:
        root: The dataset folder.
        files: Files the dataset needs.
        download: Whether missing files may be downloaded.
        dataset: Dataset name, for messages.
        resolve: Optional function ``(files, opener) -> files`` adding published checksums and
            sizes to the files about to be downloaded (called only when something must be downloaded).
        opener: Optional factory of a ``urllib`` opener (e.g. one that logs in), called once and
            only when something must be downloaded.
        progress: Show progress bars.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false; the message lists
            each file, its URL and where to put it.
        DownloadError: If a download fails (see :func:`~deepSTRF.datasets.download.download_file`).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "x.mat").write_bytes(b"")
        ...     files = [RemoteFile("x.mat", "https://example.org/x.mat")]
        ...     ensure_files(d, files, download=False, dataset="demo") == Path(d)
        True
    """
    root = Path(root)
    missing = [f for f in files if not f.present(root)]
    to_extract = [f for f in missing if f.extract and (root / f.filename).exists()]
    to_download = [f for f in missing if f not in to_extract]
    if to_download and not download:
        lines = "\n".join(f"  - {f.filename} ({f.description or 'data'}): {redact(f.url)}" for f in to_download)
        raise FileNotFoundError(
            f"The {dataset} dataset is not complete in {root}. Missing:\n{lines}\n"
            f"Pass download=True to fetch them, or download them yourself and place them in {root} "
            "(archives may be placed either as downloaded or already extracted). Without `root`, datasets "
            f"live in the deepSTRF cache folder {get_data_dir()} (set {ENV_DATA_DIR} to move it)."
        )
    for f in to_extract:
        extract_archive(root / f.filename, root)
    if to_download:
        session = opener() if opener is not None else None
        for f in resolve(list(to_download), session) if resolve is not None else to_download:
            download_file(
                f.url,
                root / f.filename,
                checksum=f.checksum,
                size=f.size,
                progress=progress,
                opener=session,
                reject_html=session is not None,
            )
            if f.extract:
                extract_archive(root / f.filename, root)
    return root


def zenodo_files(record_id: int | str, *, timeout_s: float = 60.0) -> dict[str, tuple[str | None, int | None]]:
    """Published checksums and sizes of the files of a Zenodo record.

    Args:
        record_id: Numeric Zenodo record id.
        timeout_s: Request time-out.

    Returns:
        ``{file name: (checksum or None, size or None)}``, checksums as ``"md5:<hex>"``.

    Raises:
        DownloadError: If the record cannot be read.

    Example:
        >>> f"{ZENODO_API}/8044773"  # the record read by zenodo_files(8044773)
        'https://zenodo.org/api/records/8044773'
    """
    payload = _get_json(f"{ZENODO_API}/{record_id}", timeout_s)
    entries = payload.get("files", [])
    if isinstance(entries, dict):  # some API versions nest the list under "entries"
        entries = list(entries.get("entries", {}).values()) if isinstance(entries.get("entries"), dict) else []
    out: dict[str, tuple[str | None, int | None]] = {}
    for entry in entries:
        name = entry.get("key") or entry.get("filename")
        if name:
            out[str(name)] = (entry.get("checksum"), entry.get("size") or entry.get("filesize"))
    return out


def osf_file(guid: str, *, timeout_s: float = 60.0) -> tuple[str | None, int | None]:
    """Published SHA-256 and size of an OSF file, from the OSF API.

    Args:
        guid: The file's OSF GUID (e.g. ``"gdwyd"``).
        timeout_s: Request time-out.

    Returns:
        ``(checksum or None, size or None)`` with the checksum as ``"sha256:<hex>"``.

    Raises:
        DownloadError: If the API cannot be read.

    Example:
        >>> f"{OSF_API}/gdwyd/"  # the entry read by osf_file("gdwyd")
        'https://api.osf.io/v2/files/gdwyd/'
    """
    attributes = _get_json(f"{OSF_API}/{guid}/", timeout_s).get("data", {}).get("attributes", {})
    sha256 = attributes.get("extra", {}).get("hashes", {}).get("sha256")
    return (f"sha256:{sha256}" if sha256 else None), attributes.get("size")


def _get_json(url: str, timeout_s: float, opener: urllib.request.OpenerDirector | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        if opener is None:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read().decode("utf-8"))
        with opener.open(request, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise DownloadError(f"Could not read {url} ({getattr(err, 'reason', err)})") from err


@dataclass(frozen=True)
class CRCNSCredentials:
    """A CRCNS account (free registration at https://crcns.org). Neither field is ever shown.

    Example:
        >>> creds = CRCNSCredentials("alice", "secret")
        >>> creds
        CRCNSCredentials(<hidden>)
        >>> creds.username
        'alice'
    """

    username: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "CRCNSCredentials(<hidden>)"


def crcns_credentials(username: str | None = None, password: str | None = None) -> CRCNSCredentials:
    """Take CRCNS credentials from the arguments, else from ``CRCNS_USERNAME`` / ``CRCNS_PASSWORD``.

    Args:
        username: CRCNS user name.
        password: CRCNS password.

    Returns:
        The credentials.

    Raises:
        ValueError: If either is missing (the message never contains a value).

    Example:
        >>> crcns_credentials("alice", "secret").username
        'alice'
    """
    username = username or os.environ.get("CRCNS_USERNAME") or None
    password = password or os.environ.get("CRCNS_PASSWORD") or None
    if not username or not password:
        raise ValueError(
            "CRCNS data need a free CRCNS account (https://crcns.org/register): pass `username=` and `password=`, "
            "or set the CRCNS_USERNAME and CRCNS_PASSWORD environment variables"
        )
    return CRCNSCredentials(username, password)


def crcns_login(credentials: CRCNSCredentials, *, timeout_s: float = 60.0) -> urllib.request.OpenerDirector:
    """Log in to CRCNS and return an opener holding the session cookie.

    The form fields (``__ac_name`` / ``__ac_password`` posted to :data:`CRCNS_LOGIN_URL`)
    follow the CRCNS site as of 2026 and are not verified here; a failed login is detected
    when no cookie is set, or later when a download answers with an HTML page.

    Args:
        credentials: The account.
        timeout_s: Request time-out.

    Returns:
        A ``urllib`` opener to pass to the downloads.

    Raises:
        DownloadError: If the login request fails or sets no session cookie.

    Example:
        >>> CRCNS_LOGIN_URL  # where crcns_login(crcns_credentials()) posts the account
        'https://crcns.org/login_form'
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = {"__ac_name": credentials.username, "__ac_password": credentials.password, "form.submitted": "1"}
    request = urllib.request.Request(CRCNS_LOGIN_URL, data=urllib.parse.urlencode(form).encode("ascii"))
    try:
        opener.open(request, timeout=timeout_s).close()
    except (OSError, urllib.error.HTTPError) as err:
        raise DownloadError(f"Could not log in to CRCNS at {CRCNS_LOGIN_URL} ({getattr(err, 'reason', err)})") from err
    if not list(jar):
        raise DownloadError(f"CRCNS login at {CRCNS_LOGIN_URL} failed: check the user name and password")
    return opener


def crcns_file_sizes(dataset: str, opener: urllib.request.OpenerDirector, *, timeout_s: float = 60.0) -> dict[str, int]:
    """Sizes published in a CRCNS data set's ``filelist.txt`` (lines ``<path> <size>``).

    Args:
        dataset: CRCNS data set id, e.g. ``"aa-1"``.
        opener: A logged-in opener from :func:`crcns_login`.
        timeout_s: Request time-out.

    Returns:
        ``{path: size in bytes}``; paths as listed (e.g. ``"aa-1/crcns-aa1.zip"`` or ``"crcns-aa1.zip"``).

    Raises:
        DownloadError: If the list cannot be read.

    Example:
        >>> f"{CRCNS_DOWNLOAD_URL}/aa-1/filelist.txt"  # read by crcns_file_sizes("aa-1", opener)
        'https://download.crcns.org/aa-1/filelist.txt'
    """
    url = f"{CRCNS_DOWNLOAD_URL}/{dataset}/filelist.txt"
    try:
        with opener.open(url, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except OSError as err:
        raise DownloadError(f"Could not read {url} ({getattr(err, 'reason', err)})") from err
    sizes = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1].isdigit():
            sizes[" ".join(parts[:-1])] = int(parts[-1])
    return sizes


def with_crcns_sizes(
    files: list[RemoteFile], dataset: str, opener: urllib.request.OpenerDirector | None
) -> list[RemoteFile]:
    """Add the sizes listed in the CRCNS ``filelist.txt`` to ``files`` (matched by file name).

    Args:
        files: Files about to be downloaded from CRCNS.
        dataset: CRCNS data set id, e.g. ``"aa-1"``.
        opener: A logged-in opener from :func:`crcns_login`.

    Returns:
        The files, with ``size`` filled in where the list gives one.

    Raises:
        DownloadError: If the list cannot be read.

    Example:
        >>> with_crcns_sizes([], "aa-1", None)
        []
    """
    if not files:
        return []
    if opener is None:
        raise DownloadError("CRCNS downloads need a logged-in opener (see crcns_login)")
    sizes = crcns_file_sizes(dataset, opener)
    by_name = {Path(path).name: size for path, size in sizes.items()}
    return [replace(f, size=by_name.get(Path(f.filename).name, f.size)) for f in files]


def ensure_crcns_files(
    folder: Path,
    files: list[RemoteFile],
    dataset: str,
    *,
    download: bool,
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """:func:`ensure_files` for a CRCNS data set: log in only if something must be downloaded.

    Args:
        folder: The dataset folder.
        files: The files the loader needs.
        dataset: CRCNS data set id, e.g. ``"aa-1"`` (also names the dataset in messages).
        download: Download missing files (otherwise a missing file is an error).
        username: CRCNS user name (else ``CRCNS_USERNAME``).
        password: CRCNS password (else ``CRCNS_PASSWORD``; never shown or stored).
        progress: Show progress bars.

    Returns:
        The dataset folder.

    Raises:
        FileNotFoundError: If a file is missing and ``download`` is False.
        ValueError: If credentials are needed but missing.
        DownloadError: If the login or a download fails.

    Example:
        >>> import tempfile
        >>> ensure_crcns_files(Path(tempfile.mkdtemp()), [], "aa-1", download=False).is_dir()
        True
    """
    return ensure_files(
        folder,
        files,
        download=download,
        dataset=f"CRCNS {dataset.upper().replace('-', '')}",
        resolve=lambda found, opener: with_crcns_sizes(found, dataset, opener),
        opener=lambda: crcns_login(crcns_credentials(username, password)),
        progress=progress,
    )
