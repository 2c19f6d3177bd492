"""A throwaway PostgreSQL 15 cluster on localhost for tests and benchmarks.

Debian's binaries (postgresql-15, postgresql-15-postgis-3; ``make test`` installs them).
PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to the
``postgres`` system user (or ``nobody``) and is started with ``runuser``. Data directory and
unix socket live in a fresh temporary directory, the port is a free one, authentication is
``trust`` on 127.0.0.1 only; :meth:`Cluster.stop` removes everything.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

SUPERUSER = "lagebild"


def bindir() -> Path | None:
    """The directory of PostgreSQL's server binaries (None: not installed)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and Path(found).parent.joinpath("initdb").exists() else None


def postgis_available() -> bool:
    return bool(glob.glob("/usr/share/postgresql/*/extension/postgis.control"))


def available() -> bool:
    return bindir() is not None and postgis_available()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to own the cluster")


class Cluster:
    """One running cluster; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql-15)")
        self.port = port or free_port()
        self.user = _run_as()
        self.tmp = Path(tempfile.mkdtemp(prefix="lagebild-pg-"))
        self.data = self.tmp / "data"
        self.sock = self.tmp / "sock"
        self.log = self.tmp / "postgres.log"
        self.settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                         "max_connections": "200", "shared_buffers": "128MB",
                         **(settings or {})}

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(a) for a in args]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def start(self) -> Cluster:
        self.sock.mkdir()
        if self.user:
            info = pwd.getpwnam(self.user)
            os.chmod(self.tmp, 0o755)
            for p in (self.tmp, self.sock):
                os.chown(p, info.pw_uid, info.pw_gid)
        subprocess.run(self._cmd(self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust",
                                 "-E", "UTF8", "--no-locale", "--no-sync"),
                       check=True, capture_output=True, cwd=self.tmp)
        opts = [f"-p {self.port}", "-h 127.0.0.1", f"-k {self.sock}"]
        opts += [f"-c {k}={v}" for k, v in self.settings.items()]
        proc = subprocess.run(self._cmd(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w",
                                        "-t", "60", "-o", " ".join(opts), "start"),
                              capture_output=True, text=True, cwd=self.tmp)
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {proc.stderr}\n{log[-2000:]}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": SUPERUSER}
        proc = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-c", sql],
                              capture_output=True, text=True, env=env, check=True)
        return proc.stdout

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        tpl = f" TEMPLATE {template}" if template else ""
        self.psql(f"CREATE DATABASE {name}{tpl}")
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(self._cmd(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                                     "stop"), capture_output=True, cwd=self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
