"""A shared deployment on localhost: Streamlit replicas and nginx from deploy/ (tests, bench).

:class:`Replica` is ``streamlit run dashboard.py`` on a free port with the given
environment (e.g. ``LAGEBILD_DB``); :class:`Nginx` runs Debian's nginx in the foreground
with ``deploy/nginx/lagebild.conf``, its upstream servers and port replaced, in a
temporary prefix (no system files touched).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pgcluster import free_port

REPO = Path(__file__).resolve().parent.parent
SITE_CONF = REPO / "deploy" / "nginx" / "lagebild.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


#: Server options of a replica in a shared deployment beyond the defaults, as in
#: deploy/systemd/lagebild@.service (tests/test_deploy_options.py keeps the two equal).
#: ``runner.postScriptGC false``: no full garbage collection after every script run (it took
#: about a tenth of a replica's CPU per rerun under load; Python's own generational
#: collector still runs, and bench/load.py checks RSS over 500 sessions).
SERVER_OPTIONS = ("--runner.postScriptGC", "false")
#: The environment the systemd unit sets for every replica (``Environment=``), kept equal by
#: tests/test_deploy_options.py: first runs of sessions one at a time (ui/admission.py).
SERVER_ENV: dict[str, str] = {"LAGEBILD_MAX_FIRST_RUNS": "1"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_healthy(url: str, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Replica:
    """One ``streamlit run`` process (a replica of the app)."""

    def __init__(self, env: dict[str, str], port: int | None = None, log_dir: Path | None = None,
                 options: tuple[str, ...] | None = None) -> None:
        """``options``: more ``streamlit run`` options (default :data:`SERVER_OPTIONS`, as the
        systemd unit runs a replica)."""
        self.port = port or free_port()
        self.options = SERVER_OPTIONS if options is None else options
        self.env = {**SERVER_ENV, **os.environ, "LAGEBILD_TILES": "none", **env}  # the caller may override
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"lagebild-replica-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Replica:
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType",
             "none", "--browser.gatherUsageStats", "false", *self.options],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            wait_healthy(f"{self.url}/_stcore/health", proc=self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: the replica dies as in a crash (no clean shutdown)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()


#: What bench/load.py adds to the site: the replica that answered, so runs are attributed to
#: replicas (not part of deploy/: a production site does not tell browsers its upstreams).
UPSTREAM_HEADER = "add_header X-Lagebild-Upstream $upstream_addr always;"


def render_site(ports: list[int], listen: int, upstream_header: bool = False) -> str:
    """deploy/nginx/lagebild.conf with these replica ports and this listen port (and, for the
    load bench, a response header naming the replica that answered)."""
    text = SITE_CONF.read_text(encoding="utf-8")
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports)
    text, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n(?:    server 127\.0\.0\.1:\d+ [^\n]*\n)*",
                      servers + "\n", text)
    if n != 1:
        raise RuntimeError(f"{SITE_CONF}: expected one block of upstream servers, found {n}")
    text, n = re.subn(r"(?m)^    listen 80;", f"    listen 127.0.0.1:{listen};", text)
    if n != 1:
        raise RuntimeError(f"{SITE_CONF}: expected one 'listen 80;', found {n}")
    if upstream_header:
        text, n = re.subn(r"(?m)^(        proxy_pass http://lagebild;\n)", rf"\1        {UPSTREAM_HEADER}\n",
                          text)
        if n != 1:
            raise RuntimeError(f"{SITE_CONF}: expected one 'proxy_pass http://lagebild;', found {n}")
    return text


class Nginx:
    """Debian's nginx in the foreground, in a temporary prefix, with the deploy/ site."""

    def __init__(self, ports: list[int], port: int | None = None, upstream_header: bool = False) -> None:
        self.port = port or free_port()
        self.ports = ports
        self.upstream_header = upstream_header
        self.dir = Path(tempfile.mkdtemp(prefix="lagebild-nginx-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.dir / sub).mkdir()
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.dir}/error.log warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\n  access_log {self.dir}/access.log;\n"
            f"  client_body_temp_path {self.dir}/client_body;\n  proxy_temp_path {self.dir}/proxy;\n"
            f"  fastcgi_temp_path {self.dir}/fastcgi;\n  uwsgi_temp_path {self.dir}/uwsgi;\n"
            f"  scgi_temp_path {self.dir}/scgi;\n"
            + render_site(self.ports, self.port, self.upstream_header) + "\n}\n", encoding="utf-8")
        if os.geteuid() == 0:
            os.chmod(self.dir, 0o755)
        check = subprocess.run([NGINX, "-t", "-q", "-p", str(self.dir), "-c", str(conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr}")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(f"{self.url}/_stcore/health", proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def established(pid: int) -> int:
    """How many established TCP connections the process ``pid`` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "01" and parts[9] in inodes:
                count += 1
    return count
