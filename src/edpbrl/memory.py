"""Process memory: settings for long-running processes (the web app, memory benchmarks), and
values computed once and shared by every session that uses the same objects."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

# values that depend only on objects many sessions share (the prior, the MDP): computed once per
# object and shared read-only, so that a server holding hundreds of sessions holds them once
_SHARED: OrderedDict[tuple, tuple] = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_MAX = 16


def shared_value(kind: str, owner, compute: Callable):
    """``compute()`` once per (``kind``, ``owner`` object); the last 16 are kept. An entry holds
    only a weak reference to its owner (the MDP cache may drop an MDP: its values must not keep it
    alive), which also tells a reused id from its first owner. Callers must never modify the
    value they get: other sessions hold the same object."""
    key = (kind, id(owner))
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is not None and hit[0]() is owner:
            _SHARED.move_to_end(key)
            return hit[1]
    value = compute()
    try:
        ref = weakref.ref(owner)
    except TypeError:  # cannot be weakly referenced: nothing to share it with
        return value
    with _SHARED_LOCK:
        _SHARED[key] = (ref, value)
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)
    return value


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
