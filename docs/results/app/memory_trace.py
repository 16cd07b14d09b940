"""Where does a server's memory go? ``edpbrl serve`` with a thread that logs it once a minute.

Each line of the log (JSON) has the process's RSS; glibc's heap as ``mallinfo2`` reports it —
``arena_mb`` (the main heap), ``mmap_mb`` (large blocks, e.g. tensors), ``used_mb`` / ``free_mb``
(in use / free inside the heap); the number of Python objects the collector tracks and the types
that grew most since the last line; the live session runtimes and the shared encoder's cached and
pinned rows. A flat ``runtimes`` with a growing ``mmap_mb`` points at large blocks held outside the
live sessions; ``runtimes`` falling with no fall in ``objects`` at objects held by reference cycles
(freed only by a full garbage collection).

Usage (a server on port 8766 traced while ``edpbrl bench app --url`` loads it):

    HF_HUB_OFFLINE=1 MEM_LOG=mem.jsonl .venv/bin/python docs/results/app/memory_trace.py \\
        serve --db /tmp/app.db --port 8766 --embedder minilm

``MEM_INTERVAL`` sets the seconds between lines (default 60). Linux with glibc only.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import sys
import threading
import time

INTERVAL = float(os.environ.get("MEM_INTERVAL", "60"))
LOG = os.environ.get("MEM_LOG", "mem.jsonl")
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def trace() -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    mb = 2**20
    previous, t0 = None, time.time()
    while True:
        time.sleep(INTERVAL)
        heap = libc.mallinfo2()
        objects = gc.get_objects()
        counts = collections.Counter(type(o).__name__ for o in objects)
        rec = {
            "t": round(time.time() - t0),
            "rss_mb": round(rss_mb(), 1),
            "arena_mb": round(heap.arena / mb, 1),
            "mmap_mb": round(heap.hblkhd / mb, 1),
            "used_mb": round(heap.uordblks / mb, 1),
            "free_mb": round(heap.fordblks / mb, 1),
            "objects": len(objects),
            "threads": threading.active_count(),
        }
        from edpbrl.app.sessions import SessionManager, SharedEmbedder

        for o in objects:
            if isinstance(o, SessionManager):
                rec["runtimes"] = o.n_live
            elif isinstance(o, SharedEmbedder):
                rec["encoder_rows"], rec["encoder_pinned"] = len(o._rows), o.n_pinned
        del objects
        if previous is not None:
            grew = {k: v - previous.get(k, 0) for k, v in counts.most_common(400)}
            rec["grew"] = {k: d for k, d in sorted(grew.items(), key=lambda x: -x[1])[:8] if d > 200}
        previous = counts
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    threading.Thread(target=trace, daemon=True, name="memory-trace").start()
    from edpbrl.cli.main import main

    sys.exit(main(sys.argv[1:]))
