"""Extract zip and tar archives without letting any member escape the target folder.

Every member is checked before anything is written: absolute paths, drive letters,
``..`` components, links (symbolic or hard) and special files (devices, FIFOs) are
refused. The archive is unpacked into a temporary folder next to the target, and its
top-level entries are then renamed into place, so an interrupted extraction never
leaves a half-written tree under its final name.

Archives are also refused, before anything is written, when they would expand
beyond a limit (a "zip bomb"): more than :data:`MAX_MEMBERS` members, more than
:data:`MAX_TOTAL_BYTES` uncompressed, or more than :data:`MAX_RATIO` times the
archive's own size. The sizes are those recorded in the archive, which the
extraction enforces (zip) or are exact (tar). Each limit can be raised for one call
(``extract_archive(..., max_total_bytes=...)``) or for the process with the
environment variables ``DEEPSTRF_MAX_EXTRACT_BYTES``, ``DEEPSTRF_MAX_EXTRACT_MEMBERS``
and ``DEEPSTRF_MAX_EXTRACT_RATIO``.

Example:
    >>> import tempfile, zipfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     archive = Path(d) / "a.zip"
    ...     with zipfile.ZipFile(archive, "w") as zf:
    ...         zf.writestr("data/x.txt", "hi")
    ...     [p.name for p in extract_archive(archive, Path(d) / "out")]
    ['data']
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

#: Default largest total uncompressed size of an archive, in bytes (64 GiB).
MAX_TOTAL_BYTES = 64 * 2**30
#: Default largest number of members of an archive.
MAX_MEMBERS = 200_000
#: Default largest ratio of the uncompressed size to the archive's size.
MAX_RATIO = 200.0
_LIMIT_ENV = {
    "max_total_bytes": ("DEEPSTRF_MAX_EXTRACT_BYTES", MAX_TOTAL_BYTES),
    "max_members": ("DEEPSTRF_MAX_EXTRACT_MEMBERS", MAX_MEMBERS),
    "max_ratio": ("DEEPSTRF_MAX_EXTRACT_RATIO", MAX_RATIO),
}


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder, or is a link or special file.

    Example:
        >>> issubclass(UnsafeArchiveError, ValueError)
        True
    """


def _check_name(archive: Path, name: str) -> str:
    """Return the normalised relative POSIX name of a member, or raise if it could escape."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path; refusing to extract")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} climbs out with '..'; refusing to extract")
    return posixpath.join(*parts) if parts else ""


def _limit(name: str, value: float | None) -> float:
    """A limit given to the call, else from its environment variable, else the default."""
    env, default = _LIMIT_ENV[name]
    if value is not None:
        chosen: object = value
    else:
        text = os.environ.get(env, "").strip()
        if not text:
            return float(default)
        try:
            chosen = float(text)
        except ValueError:
            raise ValueError(f"{env} must be a number, got {text!r}") from None
    if isinstance(chosen, bool) or not isinstance(chosen, (int, float)) or not chosen > 0:
        raise ValueError(f"`{name}` must be a number > 0, got {chosen!r}")
    return float(chosen)


def _check_size(
    archive: Path, sizes: list[int], max_total_bytes: float | None, max_members: float | None, max_ratio: float | None
) -> None:
    """Refuse an archive whose member count, total size or expansion ratio exceeds the limits."""
    members, total = len(sizes), sum(sizes)
    limit = _limit("max_members", max_members)
    if members > limit:
        raise UnsafeArchiveError(
            f"{archive.name}: {members} members, more than the limit of {limit:.0f}; refusing to extract "
            f"(raise it with max_members= or {_LIMIT_ENV['max_members'][0]} if the archive is trusted)"
        )
    limit = _limit("max_total_bytes", max_total_bytes)
    if total > limit:
        raise UnsafeArchiveError(
            f"{archive.name}: would expand to {total} bytes, more than the limit of {limit:.0f}; refusing to extract "
            f"(raise it with max_total_bytes= or {_LIMIT_ENV['max_total_bytes'][0]} if the archive is trusted)"
        )
    ratio, limit = total / max(archive.stat().st_size, 1), _limit("max_ratio", max_ratio)
    if ratio > limit:
        raise UnsafeArchiveError(
            f"{archive.name}: would expand {ratio:.0f} times its size ({total} bytes), more than the limit of "
            f"{limit:g} times; refusing to extract (a compression bomb?) (raise it with max_ratio= or "
            f"{_LIMIT_ENV['max_ratio'][0]} if the archive is trusted)"
        )


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(
                f"{archive.name}: member {info.filename!r} is a symbolic link; refusing to extract"
            )


def _tar_members(archive: Path, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for info in members:
        _check_name(archive, info.name)
        if info.issym() or info.islnk():
            raise UnsafeArchiveError(
                f"{archive.name}: member {info.name!r} is a link (to {info.linkname!r}); refusing to extract"
            )
        if not (info.isfile() or info.isdir()):
            raise UnsafeArchiveError(f"{archive.name}: member {info.name!r} is a special file; refusing to extract")
    return members


def check_archive(
    archive: str | os.PathLike[str],
    *,
    max_total_bytes: float | None = None,
    max_members: float | None = None,
    max_ratio: float | None = None,
) -> None:
    """Raise if any member of a zip or tar archive is unsafe to extract, or the archive too large.

    Args:
        archive: Path to a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file.
        max_total_bytes: Largest total uncompressed size; ``None``: ``DEEPSTRF_MAX_EXTRACT_BYTES``
            or :data:`MAX_TOTAL_BYTES`.
        max_members: Largest number of members; ``None``: ``DEEPSTRF_MAX_EXTRACT_MEMBERS`` or
            :data:`MAX_MEMBERS`.
        max_ratio: Largest uncompressed / archive size ratio; ``None``: ``DEEPSTRF_MAX_EXTRACT_RATIO``
            or :data:`MAX_RATIO`.

    Raises:
        UnsafeArchiveError: If a member is absolute, contains ``..``, is a link or a special file,
            or the archive exceeds a limit.
        ValueError: If the file is neither a zip nor a tar archive.

    Example:
        >>> import tempfile, zipfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     bad = Path(d) / "bad.zip"
        ...     with zipfile.ZipFile(bad, "w") as zf:
        ...         zf.writestr("../evil.txt", "x")
        ...     try:
        ...         check_archive(bad)
        ...     except UnsafeArchiveError as err:
        ...         print(err)
        bad.zip: member '../evil.txt' climbs out with '..'; refusing to extract
    """
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _zip_members(archive, zf)
            sizes = [info.file_size for info in zf.infolist()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tf:
            sizes = [info.size for info in _tar_members(archive, tf)]
    else:
        raise ValueError(f"`archive` must be a zip or tar file, got {archive}")
    _check_size(archive, sizes, max_total_bytes, max_members, max_ratio)


def extract_archive(
    archive: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    strip: int = 0,
    max_total_bytes: float | None = None,
    max_members: float | None = None,
    max_ratio: float | None = None,
) -> list[Path]:
    """Safely extract a zip or tar archive into ``dest``.

    The archive's top-level entries become entries of ``dest`` (which is created if
    needed). Nothing is written until every member has passed the checks of
    :func:`check_archive`; extraction happens in a temporary folder inside ``dest``
    whose entries are then renamed into place.

    Args:
        archive: The archive file.
        dest: Folder to extract into.
        strip: Leading folders to drop (each must be the archive's only top-level entry at its
            level), e.g. 2 for archives that wrap everything in ``crcns/aa2/``.
        max_total_bytes: Largest total uncompressed size (see :func:`check_archive`).
        max_members: Largest number of members.
        max_ratio: Largest uncompressed / archive size ratio.

    Returns:
        The top-level paths created in ``dest``, sorted.

    Raises:
        UnsafeArchiveError: If a member could escape ``dest`` or is a link or special file, or
            the archive exceeds a size limit (nothing is written then).
        FileExistsError: If a top-level entry of the archive already exists in ``dest``.
        ValueError: If the file is neither a zip nor a tar archive, or ``strip`` cannot be applied.

    Example:
        >>> import tempfile, tarfile, io
        >>> with tempfile.TemporaryDirectory() as d:
        ...     archive = Path(d) / "a.tgz"
        ...     with tarfile.open(archive, "w:gz") as tf:
        ...         info = tarfile.TarInfo("rec/rec.meta.json"); info.size = 2
        ...         tf.addfile(info, io.BytesIO(b"{}"))
        ...     out = extract_archive(archive, d)
        ...     (out[0] / "rec.meta.json").read_text()
        '{}'
    """
    archive, dest = Path(archive), Path(dest)
    check_archive(archive, max_total_bytes=max_total_bytes, max_members=max_members, max_ratio=max_ratio)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive.name}-", dir=dest))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with tarfile.open(archive, "r:*") as tf:
                members = _tar_members(archive, tf)
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python without extraction filters; members were checked above
                    tf.extractall(tmp, members=members)
        top = tmp
        for level in range(strip):
            inside = sorted(top.iterdir())
            if len(inside) != 1 or not inside[0].is_dir():
                raise ValueError(
                    f"`strip` must leave one folder per level; level {level} of {archive.name} holds "
                    f"{[p.name for p in inside]}"
                )
            top = inside[0]
        entries = sorted(top.iterdir())
        clashes = [e.name for e in entries if (dest / e.name).exists()]
        if clashes:
            raise FileExistsError(f"{archive.name}: {clashes} already exist in {dest}; remove them to extract again")
        created = []
        for entry in entries:
            os.replace(entry, dest / entry.name)
            created.append(dest / entry.name)
        return created
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
