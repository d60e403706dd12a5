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
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from deepSTRF.datasets.archive import extract_archive
from deepSTRF.datasets.download import ENV_DATA_DIR, DownloadError, download_file, get_data_dir, redact

ZENODO_API = "https://zenodo.org/api/records"
OSF_API = "https://api.osf.io/v2/files"
OSF_DOWNLOAD_URL = "https://osf.io/download"
GITHUB_RAW_URL = "https://raw.githubusercontent.com"
CRCNS_LOGIN_URL = "https://crcns.org/login_form"
CRCNS_DOWNLOAD_URL = "https://download.crcns.org"
FIGSHARE_API = "https://api.figshare.com/v2/articles"
DRUM_DOWNLOAD_URL = "https://drum.lib.umd.edu/bitstreams"
DRUM_API = "https://drum.lib.umd.edu/server/api/core/bitstreams"
#: How a dataset's host is reached: anonymously, or with a free CRCNS account.
ACCESS_KINDS = ("open", "crcns")


def expand_url(url: str) -> str:
    """Replace the host names (``{zenodo}``, ``{osf}``, ``{crcns}``, ``{github}``, ``{figshare}``, ``{drum}``) in a URL.

    The hosts are read from this module at call time (tests point them to a local server).

    Example:
        >>> expand_url("{crcns}/aa-1/crcns-aa1.zip")
        'https://download.crcns.org/aa-1/crcns-aa1.zip'
    """
    if "{" not in url:
        return url
    hosts = {
        "zenodo": ZENODO_API,
        "osf": OSF_DOWNLOAD_URL,
        "crcns": CRCNS_DOWNLOAD_URL,
        "github": GITHUB_RAW_URL,
        "figshare": FIGSHARE_API,
        "drum": DRUM_DOWNLOAD_URL,
    }
    return url.format(**hosts)


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
        part: The part of the dataset the file belongs to (an area, an animal), for partial
            downloads; ``None`` for files every part needs.
        published: Where the host publishes the file's checksum when ``checksum`` is not pinned:
            ``"osf:<guid>"``, ``"zenodo:<record>"``, ``"crcns:<data set>"``, ``"drum:<uuid>"`` or
            ``"figshare:<article>"`` (figshare also gives the download URL).
        approx_size: Approximate size in bytes, shown by dry runs before the host is asked.
        strip: Leading folders of an archive to drop when extracting (see
            :func:`~deepSTRF.datasets.archive.extract_archive`).

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
    part: str | None = None
    published: str | None = None
    approx_size: int | None = None
    strip: int = 0

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


def plan_files(root: str | os.PathLike[str], files: Sequence[RemoteFile]) -> list[RemoteFile]:
    """The files of ``files`` that are absent from ``root`` and must be downloaded (URLs expanded).

    An archive already downloaded but not extracted needs no download and is not listed.

    Args:
        root: The dataset folder.
        files: Files the dataset needs.

    Returns:
        The files to download, in order.

    Example:
        >>> import tempfile
        >>> plan_files(tempfile.mkdtemp(), [RemoteFile("a.mat", "{crcns}/x/a.mat")])[0].url
        'https://download.crcns.org/x/a.mat'
    """
    root = Path(root)
    out = []
    for f in files:
        if f.present(root) or (f.extract and (root / f.filename).exists()):
            continue
        out.append(replace(f, url=expand_url(f.url)))
    return out


def ensure_files(
    root: str | os.PathLike[str],
    files: Sequence[RemoteFile],
    *,
    download: bool,
    dataset: str,
    resolve: Callable[[list[RemoteFile], urllib.request.OpenerDirector | None], list[RemoteFile]] | None = None,
    opener: Callable[[], urllib.request.OpenerDirector] | None = None,
    access: str = "open",
    username: str | None = None,
    password: str | None = None,
    progress: bool = True,
) -> Path:
    """Make sure every file is in ``root``, downloading and extracting what is missing.

    Files already present cause no network access. Archives already downloaded but not
    extracted are extracted without network access. Before downloading, checksums and sizes
    the files do not pin are read from where the host publishes them (``RemoteFile.published``).

    Args:
        root: The dataset folder.
        files: Files the dataset needs (URLs may name hosts, see :func:`expand_url`).
        download: Whether missing files may be downloaded.
        dataset: Dataset name, for messages.
        resolve: Optional function ``(files, opener) -> files`` adding checksums and sizes to the
            files about to be downloaded (default: :func:`resolve_published`).
        opener: Optional factory of a ``urllib`` opener (e.g. one that logs in), called once and
            only when something must be downloaded (default for ``access='crcns'``: a CRCNS login).
        access: ``'open'`` or ``'crcns'`` (see :data:`ACCESS_KINDS`).
        username: CRCNS user name (else ``CRCNS_USERNAME``), for ``access='crcns'``.
        password: CRCNS password (else ``CRCNS_PASSWORD``; never shown or stored).
        progress: Show progress bars.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: If files are missing and ``download`` is false; the message lists
            each file, its URL and where to put it.
        ValueError: If ``access`` is unknown, or CRCNS credentials are needed and missing.
        DownloadError: If a download fails (see :func:`~deepSTRF.datasets.download.download_file`).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "x.mat").write_bytes(b"")
        ...     files = [RemoteFile("x.mat", "https://example.org/x.mat")]
        ...     ensure_files(d, files, download=False, dataset="demo") == Path(d)
        True
    """
    if access not in ACCESS_KINDS:
        raise ValueError(f"`access` must be one of {list(ACCESS_KINDS)}, got {access!r}")
    root = Path(root)
    missing = [f for f in files if not f.present(root)]
    to_extract = [f for f in missing if f.extract and (root / f.filename).exists()]
    to_download = plan_files(root, files)
    if to_download and not download:
        lines = "\n".join(f"  - {f.filename} ({f.description or 'data'}): {redact(f.url)}" for f in to_download)
        raise FileNotFoundError(
            f"The {dataset} dataset is not complete in {root}. Missing:\n{lines}\n"
            f"Pass download=True to fetch them, or download them yourself and place them in {root} "
            "(archives may be placed either as downloaded or already extracted). Without `root`, datasets "
            f"live in the deepSTRF cache folder {get_data_dir()} (set {ENV_DATA_DIR} to move it)."
        )
    for f in to_extract:
        extract_archive(root / f.filename, root, strip=f.strip)
    if to_download:
        if opener is None and access == "crcns":
            credentials = crcns_credentials(username, password)  # raises before any request when missing
            opener = lambda: crcns_login(credentials, _crcns_dataset(to_download))  # noqa: E731
        session = opener() if opener is not None else None
        resolved = (resolve or resolve_published)(list(to_download), session)
        total = sum((f.size if f.size is not None else f.approx_size) or 0 for f in resolved)
        with tqdm(
            total=total or None,
            unit="B",
            unit_scale=True,
            desc=f"{dataset} ({len(resolved)} file{'s' if len(resolved) > 1 else ''})",
            disable=not progress or len(resolved) < 2,
        ) as overall:
            for f in resolved:
                path = download_file(
                    f.url,
                    root / f.filename,
                    checksum=f.checksum,
                    size=f.size,
                    progress=progress,
                    opener=session,
                    reject_html=session is not None,
                )
                overall.update(path.stat().st_size)
                if f.extract:
                    extract_archive(root / f.filename, root, strip=f.strip)
    return root


def _crcns_dataset(files: Sequence[RemoteFile]) -> str | None:
    for f in files:
        kind, _, key = (f.published or "").partition(":")
        if kind == "crcns":
            return key
    return None


#: Environment variable that allows downloading a file whose published checksum cannot be read.
ENV_ALLOW_UNVERIFIED = "DEEPSTRF_ALLOW_UNVERIFIED"


def allow_unverified() -> bool:
    """Whether ``DEEPSTRF_ALLOW_UNVERIFIED`` is set to a true value (``1``, ``true``, ``yes``, ``on``).

    Example:
        >>> allow_unverified() in (True, False)
        True
    """
    return os.environ.get(ENV_ALLOW_UNVERIFIED, "").strip().lower() in ("1", "true", "yes", "on")


def with_published_checksums(
    files: list[RemoteFile], lookup: Callable[[RemoteFile], tuple[str | None, int | None]]
) -> list[RemoteFile]:
    """Fill in checksums and sizes from the host's API.

    When the host's API cannot answer, the download is refused with a :class:`DownloadError`,
    unless ``DEEPSTRF_ALLOW_UNVERIFIED=1`` opts in to downloading the file unverified (with a
    warning).

    Args:
        files: Files about to be downloaded.
        lookup: ``file -> (checksum or None, size or None)``; may raise DownloadError or KeyError.

    Returns:
        The files, with what the host published filled in (pinned checksums are kept).

    Example:
        >>> with_published_checksums([RemoteFile("a", "https://x/a")], lambda f: ("md5:00", 3))[0].size
        3
    """
    out = []
    for f in files:
        if f.checksum is not None:
            out.append(f)
            continue
        try:
            checksum, size = lookup(f)
        except (DownloadError, KeyError) as err:
            if not allow_unverified():
                raise DownloadError(
                    f"could not read the published checksum of {f.filename} ({err}), so it cannot be verified; "
                    f"try again later, or set {ENV_ALLOW_UNVERIFIED}=1 to download it without verification"
                ) from err
            warnings.warn(
                redact(
                    f"could not read the published checksum of {f.filename} ({err}); it will be downloaded "
                    f"unverified ({ENV_ALLOW_UNVERIFIED} is set)"
                ),
                RuntimeWarning,
                stacklevel=3,
            )
            checksum, size = None, None
        out.append(replace(f, checksum=checksum or None, size=size if size is not None else f.size))
    return out


def resolve_published(files: list[RemoteFile], opener: urllib.request.OpenerDirector | None = None) -> list[RemoteFile]:
    """Add to each file the checksum and size its host publishes (``RemoteFile.published``).

    OSF and Zenodo answers that cannot be read are an error unless ``DEEPSTRF_ALLOW_UNVERIFIED=1``
    (then a warning, and the file is downloaded unverified); CRCNS lists that cannot be read are
    an error.

    Args:
        files: Files about to be downloaded.
        opener: The logged-in opener, for CRCNS files.

    Returns:
        The files in the same order, completed.

    Raises:
        DownloadError: If a CRCNS list cannot be read.

    Example:
        >>> resolve_published([RemoteFile("a", "https://x/a", checksum="md5:00")])[0].checksum
        'md5:00'
    """
    zenodo: dict[str, dict[str, tuple[str | None, int | None]]] = {}
    files = with_figshare_urls(files)

    def lookup(f: RemoteFile) -> tuple[str | None, int | None]:
        kind, _, key = (f.published or "").partition(":")
        if kind == "osf":
            return osf_file(key)
        if kind == "drum":
            return drum_bitstream(key)
        if kind == "zenodo":
            if key not in zenodo:
                zenodo[key] = zenodo_files(key)
            return zenodo[key][Path(f.filename).name]
        return None, None

    done = list(files)
    crcns: dict[str, list[int]] = {}
    others = []
    for i, f in enumerate(files):
        kind, _, key = (f.published or "").partition(":")
        if kind == "crcns":
            crcns.setdefault(key, []).append(i)
        else:
            others.append(i)
    for i, f in zip(others, with_published_checksums([files[i] for i in others], lookup), strict=True):
        done[i] = f
    for dataset, indices in crcns.items():
        for i, f in zip(indices, with_crcns_sizes([files[i] for i in indices], dataset, opener), strict=True):
            done[i] = f
    return done


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


def drum_bitstream(uuid: str, *, timeout_s: float = 60.0) -> tuple[str | None, int | None]:
    """Published checksum and size of a bitstream of the University of Maryland repository (DRUM, DSpace 7).

    Args:
        uuid: The bitstream's UUID (as in ``https://drum.lib.umd.edu/bitstreams/<uuid>/download``).
        timeout_s: Request time-out.

    Returns:
        ``("md5:<hex>" or None, size or None)``.

    Raises:
        DownloadError: If the repository cannot be read.

    Example:
        >>> f"{DRUM_API}/<uuid>"  # the record read by drum_bitstream(uuid)
        'https://drum.lib.umd.edu/server/api/core/bitstreams/<uuid>'
    """
    payload = _get_json(f"{DRUM_API}/{uuid}", timeout_s)
    check = payload.get("checksum") or {}
    algorithm = str(check.get("checkSumAlgorithm", "")).lower()
    value = check.get("value")
    size = payload.get("sizeBytes")
    checksum = f"{algorithm}:{value}" if value and algorithm in ("md5", "sha1", "sha256") else None
    return checksum, int(size) if size is not None else None


def figshare_files(article: int | str, *, timeout_s: float = 60.0) -> dict[str, tuple[str, str | None, int | None]]:
    """Download URL, published MD5 and size of each file of a figshare article.

    Args:
        article: The article id.
        timeout_s: Request time-out.

    Returns:
        ``{file name: (download URL, "md5:<hex>" or None, size or None)}``.

    Raises:
        DownloadError: If the article cannot be read.

    Example:
        >>> f"{FIGSHARE_API}/29203457/files"  # the list read by figshare_files(29203457)
        'https://api.figshare.com/v2/articles/29203457/files'
    """
    url = f"{FIGSHARE_API}/{article}/files"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            entries = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise DownloadError(f"Could not read {url} ({getattr(err, 'reason', err)})") from err
    out = {}
    for e in entries if isinstance(entries, list) else []:
        md5 = e.get("supplied_md5") or e.get("computed_md5")
        size = e.get("size")
        out[str(e["name"])] = (str(e["download_url"]), f"md5:{md5}" if md5 else None, int(size) if size else None)
    return out


def with_figshare_urls(files: Sequence[RemoteFile]) -> list[RemoteFile]:
    """Give files published on figshare (``published="figshare:<article>"``) their URL, MD5 and size.

    figshare download URLs are only known from the article's file list, read once per article.

    Raises:
        DownloadError: If the list cannot be read or lacks a file.

    Example:
        >>> with_figshare_urls([RemoteFile("a", "https://x/a")])[0].url
        'https://x/a'
    """
    listings: dict[str, dict[str, tuple[str, str | None, int | None]]] = {}
    out = []
    for f in files:
        kind, _, key = (f.published or "").partition(":")
        if kind != "figshare":
            out.append(f)
            continue
        if key not in listings:
            listings[key] = figshare_files(key)
        if f.filename not in listings[key]:
            raise DownloadError(f"figshare article {key} lists no file {f.filename} (it has {sorted(listings[key])})")
        url, checksum, size = listings[key][f.filename]
        out.append(replace(f, url=url, checksum=f.checksum or checksum, size=f.size if f.size is not None else size))
    return out


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


#: A browser-like user agent: the CRCNS login form answers scripts without one differently.
CRCNS_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) deepSTRF-downloader"


def crcns_login_form(credentials: CRCNSCredentials) -> dict[str, str]:
    """The fields of the CRCNS (Plone) login form, as the site expects them.

    Example:
        >>> sorted(crcns_login_form(CRCNSCredentials("alice", "secret")))[:3]
        ['__ac_name', '__ac_password', 'came_from']
    """
    return {
        "came_from": "",
        "form.submitted": "1",
        "js_enabled": "0",
        "cookies_enabled": "",
        "login_name": "",
        "pwd_empty": "0",
        "__ac_name": credentials.username,
        "__ac_password": credentials.password,
        "submit": "Log in",
    }


def crcns_login(
    credentials: CRCNSCredentials, dataset: str | None = None, *, timeout_s: float = 60.0
) -> urllib.request.OpenerDirector:
    """Log in to CRCNS and return an opener holding the session cookie; check at once that it worked.

    Posts :func:`crcns_login_form` to :data:`CRCNS_LOGIN_URL` with a browser-like user agent,
    then opens the data set's download page (``<CRCNS_DOWNLOAD_URL>/<dataset>``), which says
    "logged in as" only to a logged-in session. Neither the user name nor the password ever
    appears in a message.

    Args:
        credentials: The account.
        dataset: CRCNS data set id whose page confirms the login (e.g. ``"aa-1"``); ``None``
            only checks that a session cookie was set.
        timeout_s: Request time-out.

    Returns:
        A ``urllib`` opener to pass to the downloads.

    Raises:
        DownloadError: If the login request fails, sets no cookie, or the page does not confirm it.

    Example:
        >>> CRCNS_LOGIN_URL  # where crcns_login(crcns_credentials(), "aa-1") posts the account
        'https://crcns.org/login_form'
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", CRCNS_USER_AGENT)]
    data = urllib.parse.urlencode(crcns_login_form(credentials)).encode("ascii")
    request = urllib.request.Request(CRCNS_LOGIN_URL, data=data)
    failed = (
        "CRCNS login failed: the site did not accept the user name and password given (check them, or the "
        "CRCNS_USERNAME / CRCNS_PASSWORD environment variables; the password is never shown)"
    )
    try:
        opener.open(request, timeout=timeout_s).close()
    except (OSError, urllib.error.HTTPError) as err:
        raise DownloadError(f"Could not log in to CRCNS at {CRCNS_LOGIN_URL} ({getattr(err, 'reason', err)})") from err
    if not list(jar):
        raise DownloadError(f"{failed} [no session cookie from {CRCNS_LOGIN_URL}]")
    if dataset is not None:
        page = f"{CRCNS_DOWNLOAD_URL}/{dataset}"
        try:
            with opener.open(page, timeout=timeout_s) as response:
                text = response.read().decode("utf-8", errors="replace")
        except (OSError, urllib.error.HTTPError) as err:
            raise DownloadError(f"Could not open {page} after logging in ({getattr(err, 'reason', err)})") from err
        if "logged in as" not in text.lower():
            raise DownloadError(f"{failed} [{page} does not say 'logged in as']")
    return opener


_FILELIST_LINE = re.compile(r"^[ +]?\s*(\S+)\s+(\d+)(?:\s+\(.*\))?\s*$")
_MD5_LINE = re.compile(r"^([0-9a-fA-F]{32})\s+\*?(.+?)\s*$")


def parse_crcns_filelist(text: str) -> dict[str, int]:
    r"""Sizes listed in a CRCNS ``filelist.txt``.

    Real lines read ``" <path>\t<size> (<human size>)"`` (a leading space or ``+``); lines
    starting with ``#`` are comments. A plain ``<path> <size>`` line is accepted too.

    Args:
        text: The file's content.

    Returns:
        ``{path: size in bytes}``.

    Example:
        >>> parse_crcns_filelist("# files\n aa-1/crcns-aa1.zip\t17012345 (16.2 MB)\n")
        {'aa-1/crcns-aa1.zip': 17012345}
    """
    sizes = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FILELIST_LINE.match(line)
        if match:
            sizes[match.group(1)] = int(match.group(2))
    return sizes


def parse_crcns_checksums(text: str) -> dict[str, str]:
    r"""MD5 sums of a CRCNS ``checksums.md5`` (``md5sum`` output: ``<hex>  <path>``).

    Example:
        >>> parse_crcns_checksums("0cc175b9c0f1b6a831c399e269772661  ./aa-1/crcns-aa1.zip\n")
        {'aa-1/crcns-aa1.zip': 'md5:0cc175b9c0f1b6a831c399e269772661'}
    """
    out = {}
    for line in text.splitlines():
        match = _MD5_LINE.match(line.strip())
        if match:
            out[match.group(2).removeprefix("./")] = "md5:" + match.group(1).lower()
    return out


def _crcns_text(dataset: str, name: str, opener: urllib.request.OpenerDirector, timeout_s: float) -> str:
    url = f"{CRCNS_DOWNLOAD_URL}/{dataset}/{name}"
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return response.read().decode("utf-8", errors="replace")
    except OSError as err:
        raise DownloadError(f"Could not read {url} ({getattr(err, 'reason', err)})") from err


def crcns_file_sizes(dataset: str, opener: urllib.request.OpenerDirector, *, timeout_s: float = 60.0) -> dict[str, int]:
    """Sizes published in a CRCNS data set's ``filelist.txt`` (see :func:`parse_crcns_filelist`).

    Args:
        dataset: CRCNS data set id, e.g. ``"aa-1"``.
        opener: A logged-in opener from :func:`crcns_login`.
        timeout_s: Request time-out.

    Returns:
        ``{path: size in bytes}``; paths as listed (e.g. ``"aa-1/crcns-aa1.zip"``).

    Raises:
        DownloadError: If the list cannot be read.

    Example:
        >>> f"{CRCNS_DOWNLOAD_URL}/aa-1/filelist.txt"  # read by crcns_file_sizes("aa-1", opener)
        'https://download.crcns.org/aa-1/filelist.txt'
    """
    return parse_crcns_filelist(_crcns_text(dataset, "filelist.txt", opener, timeout_s))


def _listed(listed: Mapping[str, object], dataset: str, filename: str) -> object | None:
    for key in (f"{dataset}/{filename}", filename):
        if key in listed:
            return listed[key]
    return {Path(k).name: v for k, v in listed.items()}.get(Path(filename).name)


def with_crcns_sizes(
    files: list[RemoteFile], dataset: str, opener: urllib.request.OpenerDirector | None
) -> list[RemoteFile]:
    """Add the sizes of the CRCNS ``filelist.txt`` and the MD5 sums of ``checksums.md5`` to ``files``.

    A file absent from the list, or a ``checksums.md5`` that cannot be read, gives a warning
    (the file is then checked by what is known); a ``filelist.txt`` that cannot be read is an error.

    Args:
        files: Files about to be downloaded from CRCNS.
        dataset: CRCNS data set id, e.g. ``"aa-1"``.
        opener: A logged-in opener from :func:`crcns_login`.

    Returns:
        The files, with ``size`` and ``checksum`` filled in where the lists give them.

    Raises:
        DownloadError: If the file list cannot be read.

    Example:
        >>> with_crcns_sizes([], "aa-1", None)
        []
    """
    if not files:
        return []
    if opener is None:
        raise DownloadError("CRCNS downloads need a logged-in opener (see crcns_login)")
    sizes = crcns_file_sizes(dataset, opener)
    try:
        sums = parse_crcns_checksums(_crcns_text(dataset, "checksums.md5", opener, 60.0))
    except DownloadError as err:
        warnings.warn(f"CRCNS {dataset}: no checksums.md5 ({err}); sizes only", RuntimeWarning, stacklevel=3)
        sums = {}
    out = []
    for f in files:
        size = _listed(sizes, dataset, f.filename)
        checksum = f.checksum or _listed(sums, dataset, f.filename)
        if size is None:
            warnings.warn(
                f"CRCNS {dataset}: {f.filename} is not in filelist.txt; its size cannot be checked",
                RuntimeWarning,
                stacklevel=3,
            )
        new_size = size if isinstance(size, int) else f.size
        out.append(replace(f, size=new_size, checksum=checksum if isinstance(checksum, str) else None))
    return out


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
    files = [f if f.published else replace(f, published=f"crcns:{dataset}") for f in files]
    return ensure_files(
        folder,
        files,
        download=download,
        dataset=f"CRCNS {dataset.upper().replace('-', '')}",
        access="crcns",
        username=username,
        password=password,
        progress=progress,
    )
