"""Process-level settings that make CPU training and inference faster.

PyTorch allocates every intermediate tensor with ``malloc``. With glibc's defaults,
blocks of a few megabytes (a ``(8, 73, 999)`` float32 activation is 2.3 MB) are
served by fresh ``mmap`` calls, or by heap memory that is handed back to the system
as soon as it is freed, so each new activation pays for page faults and for the
kernel zeroing its pages. On the spectrogram models of this library that overhead
can exceed the arithmetic itself, and on waveform models (activations of 100 MB and
more) it is a third to a half of the step time (see ``benchmarks/README.md``).
:func:`tune_allocator` raises glibc's trim threshold and stops it from mapping blocks
of their own, so freed blocks are reused. It changes the whole process, so the
library never calls it on import: the ``deepstrf`` command calls it, and scripts opt
in with one line.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

__all__ = ["tune_allocator"]

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_DEFAULT_MMAP_MAX = 65536  # glibc's default number of simultaneously mapped blocks
_MAX_MMAP_THRESHOLD = 32 * 1024**2  # glibc refuses larger values on 64-bit systems


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def tune_allocator(
    mmap_threshold: int = _MAX_MMAP_THRESHOLD, trim_threshold: int = 1024**3, heap_only: bool = True
) -> bool:
    """Let glibc's ``malloc`` keep and reuse freed blocks instead of returning them.

    Blocks smaller than ``mmap_threshold`` bytes come from the heap rather than from
    their own ``mmap``, and up to ``trim_threshold`` bytes of free heap stay with the
    process. With ``heap_only`` every block comes from the heap, however large: the
    activations of waveform models are then reused too (ICNet's first 128-channel layer
    outputs 160 MB for a batch of 8 five-second 16 kHz sounds), which makes ICNet's
    training step 1.6 times and its eval forward 2 times faster on CPU (see
    ``benchmarks/README.md``). The price is a higher resident memory after a peak (at
    most about ``trim_threshold`` bytes, plus heap fragmentation). Calling it again with
    other values replaces them.

    Args:
        mmap_threshold: Size in bytes from which a block gets its own ``mmap``
            (at most 32 MiB, glibc's limit on 64-bit systems); unused with ``heap_only``.
        trim_threshold: Free bytes at the top of the heap kept before memory is
            returned to the system.
        heap_only: Never serve a block by its own ``mmap`` (glibc's ``M_MMAP_MAX = 0``);
            ``False`` restores glibc's default of mapping blocks above ``mmap_threshold``.

    Returns:
        ``True`` when the settings were applied; ``False`` where the C library is not
        glibc (macOS, Windows, musl), in which case nothing changes.

    Raises:
        TypeError: If a threshold is not an int or ``heap_only`` not a bool.
        ValueError: If a threshold is negative or ``mmap_threshold`` exceeds 32 MiB.

    Example:
        >>> from deepSTRF.utils.performance import tune_allocator
        >>> tune_allocator() in (True, False)
        True
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"`{name}` must be an int number of bytes, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"`{name}` must be >= 0 bytes, got {value}")
    if not isinstance(heap_only, bool):
        raise TypeError(f"`heap_only` must be a bool, got {type(heap_only).__name__}")
    if mmap_threshold > _MAX_MMAP_THRESHOLD:
        raise ValueError(f"`mmap_threshold` must be <= {_MAX_MMAP_THRESHOLD} bytes (32 MiB), got {mmap_threshold}")
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1)) == 1
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
    count_ok = libc.mallopt(_M_MMAP_MAX, 0 if heap_only else _DEFAULT_MMAP_MAX) == 1
    return trim_ok and mmap_ok and count_ok
