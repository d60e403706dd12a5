"""Extract zip and tar archives without letting any member escape the target folder.

Every member is checked before anything is written: absolute paths, drive letters,
``..`` components, links (symbolic or hard) and special files (devices, FIFOs) are
refused. The archive is unpacked into a temporary folder next to the target, and its
top-level entries are then renamed into place, so an interrupted extraction never
leaves a half-written tree under its final name.

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


def check_archive(archive: str | os.PathLike[str]) -> None:
    """Raise if any member of a zip or tar archive is unsafe to extract.

    Args:
        archive: Path to a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file.

    Raises:
        UnsafeArchiveError: If a member is absolute, contains ``..``, is a link or a special file.
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
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tf:
            _tar_members(archive, tf)
    else:
        raise ValueError(f"`archive` must be a zip or tar file, got {archive}")


def extract_archive(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, strip: int = 0) -> list[Path]:
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

    Returns:
        The top-level paths created in ``dest``, sorted.

    Raises:
        UnsafeArchiveError: If a member could escape ``dest`` or is a link or special file.
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
    check_archive(archive)
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
