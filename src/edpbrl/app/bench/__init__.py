"""Load, soak and crash tests of the web app, on loopback only (``edpbrl bench app|crash``).

:mod:`.server` runs ``edpbrl serve`` as a subprocess on a free loopback port and samples its
memory; :mod:`.people` simulates people answering with think time (each from its own loopback
address, so per-client limits apply per person) and keeps a ledger of every answer sent and
acknowledged; :mod:`.verify` reads the store back and checks the ledger against it; :mod:`.load`
(throughput, latency percentiles, memory over time) and :mod:`.crash` (SIGKILL at random
points, restart, time to the next accepted answer) put them together.

Needs ``httpx`` (in the ``app`` extra).
"""

from .crash import CrashConfig, run_crash
from .load import LoadConfig, run_load

__all__ = ["CrashConfig", "LoadConfig", "run_crash", "run_load"]
