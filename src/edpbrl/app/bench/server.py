"""``edpbrl serve`` as a subprocess on loopback, and its memory (``/proc/PID/status``)."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ...errors import EdpbrlError


class BenchError(EdpbrlError):
    """A load or crash test cannot run as asked."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash; BenchError unless its host is a loopback address."""
    host = urlsplit(url).hostname or ""
    try:
        loop = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = False
    if not loop:
        raise BenchError(f"load tests run on loopback only, not {host or url!r}")
    return url.rstrip("/")


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (VmRSS), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def health(url: str, timeout: float = 2.0) -> dict | None:
    """``GET /api/health`` as a dict, or None when the server does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=timeout) as r:
            return json.load(r)
    except (OSError, ValueError, urllib.error.URLError):
        return None


class ServerProcess:
    """``python -m edpbrl.cli serve`` on 127.0.0.1:``port`` over ``db``; logs to ``log``.

    ``args``: extra ``serve`` options (``["--embedder", "hashing", ...]``). A restart reuses the
    port and the database, as a real restart would.
    """

    def __init__(self, db: Path, log: Path, args: list[str] | None = None, port: int | None = None):
        self.db, self.log = Path(db), Path(log)
        self.args = list(args or [])
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        cmd = [sys.executable, "-m", "edpbrl.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--db", str(self.db), *self.args]
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
        self.started_at = time.monotonic()

    def wait_up(self, timeout: float = 120.0, ready: bool = True) -> float:
        """Seconds from :meth:`start` until the server answers (and says ready, if ``ready``)."""
        deadline = time.monotonic() + timeout
        while True:
            h = health(self.url, timeout=1.0)
            if h is not None and h.get("warmup", {}).get("state") == "failed":
                raise BenchError(f"the server could not warm up: {h['warmup'].get('error')}")
            if h is not None and (h.get("ready") or not ready):
                return time.monotonic() - (self.started_at or 0.0)
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(f"the server exited ({self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"the server did not come up in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.05)

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_mb(self) -> float | None:
        return None if self.pid is None else rss_mb(self.pid)
