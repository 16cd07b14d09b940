"""A throwaway PostgreSQL server for the tests, from Debian's packages.

:func:`start` finds ``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/*/bin`` (installing the
``postgresql`` package with apt-get once when they are missing and we are root), initialises a
cluster in a fresh temporary directory (as the ``postgres`` system user when we are root:
``initdb`` refuses to run as root), and starts it on a free loopback port with ``trust``
authentication and its unix socket in that directory. :class:`Unavailable` carries a one-line
reason when that cannot be done; the fixtures turn it into a skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

INSTALL_LOCK = Path(tempfile.gettempdir()) / "edpbrl-postgresql-install.lock"
USER = "edpbrl"  # the cluster's superuser


class Unavailable(Exception):
    """PostgreSQL cannot be installed or started here (the message says why, in one line)."""


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _install() -> None:
    """``apt-get install postgresql`` once per machine (workers wait for each other's attempt)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("PostgreSQL server binaries not found and apt-get is not usable (not root)")
    with open(INSTALL_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _bindir() is not None:
            return
        lock.seek(0)
        if lock.read().strip() == "failed":
            raise Unavailable("apt-get install postgresql failed earlier on this machine")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]
        ok = subprocess.run(cmd, env=env, capture_output=True).returncode == 0
        if not ok:  # stale package lists: update once and retry
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            ok = subprocess.run(cmd, env=env, capture_output=True).returncode == 0
        if not ok or _bindir() is None:
            lock.truncate(0)
            lock.write("failed")
            raise Unavailable("apt-get install postgresql failed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running throwaway cluster; :meth:`new_database` gives each test an empty database."""

    bindir: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Server:
    """Initialise and start a cluster (see the module docstring); :class:`Unavailable` if not."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg 3 is not installed (pip install 'edpbrl[postgres]')") from None
    bindir = _bindir()
    if bindir is None:
        _install()
        bindir = _bindir()
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="edpbrl-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise Unavailable("running as root and runuser is missing: cannot run initdb as postgres")
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' system user") from None
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    server = Server(bindir, root, port, as_user)
    init = [
        *as_user,
        str(bindir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        USER,
        "--auth=trust",
        "--no-sync",
        "--no-locale",
        "-E",
        "UTF8",
    ]
    run = subprocess.run(init, capture_output=True, text=True)
    if run.returncode != 0:
        server.stop()
        raise Unavailable(f"initdb failed: {_last_line(run.stderr or run.stdout)}")
    # a test server: durability is the store's business (commit before returning), not the disk's
    opts = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        " -c max_connections=300"
    )
    run = subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(server.data),
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            opts,
            "start",
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        log = ""
        with contextlib.suppress(OSError):
            log = (root / "log").read_text()
        server.stop()
        raise Unavailable(f"pg_ctl start failed: {_last_line(log or run.stderr or run.stdout)}")
    return server


def _last_line(text: str) -> str:
    lines = [x for x in (text or "").strip().splitlines() if x.strip()]
    return lines[-1] if lines else "no output"
