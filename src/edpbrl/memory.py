"""Process memory settings for long-running processes (the web app, memory benchmarks)."""

from __future__ import annotations


def tune_malloc() -> None:
    """glibc: two malloc arenas (not one per thread, each keeping what its thread freed) and a
    fixed 256 KiB mmap threshold (large tensors go back to the system when freed), so that a
    server's memory stays flat under load. A no-op where glibc's ``mallopt`` is not found."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD (setting it turns the dynamic one off)
    except (OSError, AttributeError):
        pass
