import subprocess
import sys
import textwrap

import pytest

from deepSTRF.utils import performance
from deepSTRF.utils.performance import tune_allocator

# A fresh interpreter mallocs a 4 MiB and a 64 MiB block, and reports whether glibc served each
# by mmap (mallinfo2's count of mmapped blocks goes up) before and after an optional
# tune_allocator(); then whether a 256 MiB block can still be had from another thread (whose
# arena cannot hold it, so glibc must fall back to the main heap when mmap is off).
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
    import threading
    mode = sys.argv[1]
    applied = None if mode == "default" else tune_allocator(heap_only=mode == "heap")
    mapped = []
    for mib in (4, 64):
        before = libc.mallinfo2().hblks
        block = libc.malloc(mib * 1024 * 1024)
        mapped.append(libc.mallinfo2().hblks - before)
        libc.free(block)
    got = []
    def grab():
        block = libc.malloc(256 * 1024 * 1024)
        got.append(block is not None)
        libc.free(block)
    thread = threading.Thread(target=grab)
    thread.start()
    thread.join()
    print(applied, *mapped, *got)
    """
)


def _probe(mode):
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(performance._glibc() is None, reason="mallopt is glibc-only; elsewhere the call is a no-op")
def test_large_blocks_come_from_the_heap_once_tuned():
    assert _probe("default") == ["None", "1", "1", "True"]  # glibc's default: a 4 MiB block gets its own mmap
    assert _probe("heap") == ["True", "0", "0", "True"]
    assert _probe("threshold") == ["True", "0", "1", "True"]  # heap_only=False: only up to the threshold


def test_non_glibc_platforms_are_left_alone(monkeypatch):
    monkeypatch.setattr(performance, "_glibc", lambda: None)
    assert tune_allocator() is False


def test_bad_thresholds():
    with pytest.raises(TypeError, match=r"`mmap_threshold` must be an int number of bytes, got float"):
        tune_allocator(mmap_threshold=1.5)
    with pytest.raises(ValueError, match=r"`trim_threshold` must be >= 0 bytes, got -1"):
        tune_allocator(trim_threshold=-1)
    with pytest.raises(TypeError, match=r"`heap_only` must be a bool, got int"):
        tune_allocator(heap_only=1)
    with pytest.raises(ValueError, match=r"`mmap_threshold` must be <= 33554432 bytes"):
        tune_allocator(mmap_threshold=64 * 1024**2)
