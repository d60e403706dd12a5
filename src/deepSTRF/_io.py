"""Crash-safe file writes shared by every module that writes a file of a run or checkpoint.

Every JSON, CSV and state file goes through :func:`atomic_write_bytes` (or its text
and JSON forms): the content is written to a temporary file in the destination
folder, flushed to disk (``fsync``), renamed over the destination (``os.replace``,
atomic on POSIX and Windows) and the folder entry is flushed in turn. A process
killed at any instant leaves the old file or the new one, never a torn one.

Temporary names carry the writer's process id, ``.<name>.<pid>.<random>.tmp``;
the next write of the same file removes those left behind by a process that no
longer runs (or by this process, outside a write). The same naming serves the
staging folders of :func:`deepSTRF.models.checkpoint.save_pretrained_to_dir`.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = atomic_write_json(f"{tmp}/scores.json", {"cc": 0.5})
    ...     print(path.read_text(), end="")
    {
      "cc": 0.5
    }
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "remove_stale",
    "stale_siblings",
    "temp_sibling",
    "write_synced",
]

# Temporary paths being written by this process right now: never treated as stale.
_ACTIVE: set[Path] = set()
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8,}\.(?P<kind>tmp|partial|old)$")


def temp_sibling(path: Path, kind: str) -> Path:
    """A fresh temporary path next to ``path``: ``.<name>.<pid>.<random>.<kind>``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.{kind}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":
        return True  # on Windows os.kill(pid, 0) would send CTRL_C_EVENT: never guess, keep the files
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or cannot tell: keep its files
    return True


def stale_siblings(path: Path, kinds: tuple[str, ...] = ("tmp", "partial", "old")) -> list[Path]:
    """Temporary siblings of ``path`` left by an interrupted write (dead writer, or this process outside a write)."""
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match or match["name"] != path.name or match["kind"] not in kinds or entry in _ACTIVE:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or not _pid_alive(pid):
            found.append(entry)
    return sorted(found)


def remove_stale(path: Path, kinds: tuple[str, ...] = ("tmp", "partial", "old")) -> None:
    """Delete the stale temporary siblings of ``path`` (see :func:`stale_siblings`)."""
    for entry in stale_siblings(path, kinds):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            try:
                entry.unlink()
            except OSError:
                pass


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Create (or truncate) ``path``, write ``data`` and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically: temporary file, ``fsync``, rename, folder ``fsync``.

    Args:
        path: Destination file; its folder is created if needed.
        data: The new content.

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Raises:
        OSError: If the folder cannot be written; the destination is then unchanged.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     atomic_write_bytes(f"{tmp}/a/b.bin", b"xyz").read_bytes()
        b'xyz'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path, ("tmp",))
    tmp = temp_sibling(path, "tmp")
    _ACTIVE.add(tmp)
    try:
        write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    finally:
        _ACTIVE.discard(tmp)
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any, **dumps_kwargs: Any) -> Path:
    """:func:`atomic_write_bytes` of ``json.dumps(payload, indent=2)`` plus a final newline."""
    dumps_kwargs.setdefault("indent", 2)
    return atomic_write_text(path, json.dumps(payload, **dumps_kwargs) + "\n")


class CorruptFileError(ValueError):
    """A file of a run or checkpoint exists but cannot be parsed; the message names it.

    Example:
        >>> issubclass(CorruptFileError, ValueError)
        True
    """


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file, with an error that names the file when it is not valid JSON.

    Raises:
        FileNotFoundError: If the file does not exist.
        CorruptFileError: If it is not UTF-8 JSON.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = Path(tmp, "m.json").write_text("{")
        ...     try:
        ...         read_json(Path(tmp, "m.json"))
        ...     except CorruptFileError as err:
        ...         print(str(err).split(tmp)[1][:25])
        /m.json is not valid JSON
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFileError(f"{path} is not valid JSON ({err}); restore it or delete the folder") from None
