import subprocess
import sys
import textwrap

import pytest

from deepSTRF.utils import performance
from deepSTRF.utils.performance import tune_allocator

# A fresh interpreter mallocs a 4 MiB block, and reports whether glibc served it by mmap
# (mallinfo2's count of mmapped blocks goes up) before and after an optional tune_allocator().
_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from deepSTRF.utils.performance import tune_allocator
    libc = ctypes.CDLL("libc.so.6")
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    libc.mallinfo2.restype = Info
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    applied = tune_allocator() if sys.argv[1] == "tune" else None
    before = libc.mallinfo2().hblks
    block = libc.malloc(4 * 1024 * 1024)
    mapped = libc.mallinfo2().hblks - before
    libc.free(block)
    print(applied, mapped)
    """
)


def _probe(mode):
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(performance._glibc() is None, reason="mallopt is glibc-only; elsewhere the call is a no-op")
def test_large_blocks_come_from_the_heap_once_tuned():
    assert _probe("default") == ["None", "1"]  # glibc's default: a 4 MiB block gets its own mmap
    assert _probe("tune") == ["True", "0"]


def test_non_glibc_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(performance, "_glibc", lambda: None)
    assert tune_allocator() is False


def test_bad_thresholds():
    with pytest.raises(TypeError, match=r"`mmap_threshold` must be an int number of bytes, got float"):
        tune_allocator(mmap_threshold=1.5)
    with pytest.raises(ValueError, match=r"`trim_threshold` must be >= 0 bytes, got -1"):
        tune_allocator(trim_threshold=-1)
    with pytest.raises(ValueError, match=r"`mmap_threshold` must be <= 33554432 bytes"):
        tune_allocator(mmap_threshold=64 * 1024**2)
