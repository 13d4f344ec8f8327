"""Serve a generated site with Debian's nginx on 127.0.0.1, and count its requests.

nginx runs as our own child process with its own config, logs and pid under a
work folder, and is stopped by that pid. What the site holds is left to sitegen.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

NGINX_CANDIDATES = (
    "/usr/sbin/nginx",
    "/usr/local/sbin/nginx",
    "/usr/local/nginx/sbin/nginx",
)
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0

# One line per request: status, then the path as asked (the query string included).
_LOG_FORMAT = "$status $request_uri $body_bytes_sent"

_CONFIG_TEMPLATE = """# Written by bench/nginx.py for one bench run.
daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;

events {{
    worker_connections 512;
}}

http {{
    types {{
        text/html html;
        text/plain txt;
    }}
    default_type application/octet-stream;
    charset utf-8;
    sendfile on;
    keepalive_timeout 65s;
    # Crawlers keep one connection for thousands of requests; so do we.
    keepalive_requests 1000000;

    client_body_temp_path {work}/temp/body;
    proxy_temp_path {work}/temp/proxy;
    fastcgi_temp_path {work}/temp/fastcgi;
    uwsgi_temp_path {work}/temp/uwsgi;
    scgi_temp_path {work}/temp/scgi;

    log_format bench '{log_format}';
    access_log {work}/access.log bench;

    server {{
        listen 127.0.0.1:{port};
        server_name bench.example;
        root {site};
        index index.html;
        etag on;
        if_modified_since before;

        location / {{
            try_files $uri $uri/ =404;
        }}
    }}
}}
"""


class NginxError(RuntimeError):
    """Raised by this module when nginx cannot be found, installed, started or
    stopped."""


@dataclass(frozen=True)
class Server:
    """A running nginx: where to send requests, and where it logs them."""

    base_url: str
    access_log: Path
    pid: int


@dataclass
class RequestCounts:
    """Requests nginx logged in one stretch of a run, by status and by kind."""

    statuses: Counter[int] = field(default_factory=Counter)
    robots_requests: int = 0
    body_bytes: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def page_requests(self) -> int:
        """Requests other than for robots.txt."""
        return self.requests - self.robots_requests


def find_nginx(*, may_install: bool) -> Path:
    """The nginx binary; installs Debian's package first when allowed and missing.

    Raises NginxError when there is none and it cannot be installed.
    """
    found = _installed_nginx()
    if found is not None:
        return found
    if not may_install:
        raise NginxError("nginx is not installed; run `apt-get install -y nginx`")
    if os.geteuid() != 0:
        raise NginxError(
            "nginx is not installed and we are not root; "
            "run `sudo apt-get install -y nginx`"
        )
    _install_nginx()
    found = _installed_nginx()
    if found is None:
        raise NginxError("apt-get installed nginx but no nginx binary was found")
    return found


def _installed_nginx() -> Path | None:
    on_path = shutil.which("nginx")
    if on_path:
        return Path(on_path)
    for candidate in NGINX_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _install_nginx() -> None:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "nginx"],
    ):
        completed = subprocess.run(
            command, env=environment, capture_output=True, text=True
        )
        if completed.returncode != 0:
            last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise NginxError(f"`{' '.join(command)}` failed: {last_line}")


@contextmanager
def serve_site(nginx: Path, site_root: Path, work_dir: Path) -> Iterator[Server]:
    """Serve site_root on a free port of 127.0.0.1 until the block ends."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "temp").mkdir(exist_ok=True)
    port = _free_port()
    config_path = work_dir / "nginx.conf"
    config_path.write_text(
        _CONFIG_TEMPLATE.format(
            work=work_dir,
            site=site_root.resolve(),
            port=port,
            log_format=_LOG_FORMAT,
        )
    )
    error_log = work_dir / "error.log"
    command = [
        str(nginx),
        "-p",
        str(work_dir),
        "-e",
        str(error_log),
        "-c",
        str(config_path),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_listening(process, port, error_log)
        yield Server(f"http://127.0.0.1:{port}", work_dir / "access.log", process.pid)
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(
    process: subprocess.Popen[bytes], port: int, error_log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NginxError(
                f"nginx exited with status {process.returncode}: "
                f"{_last_error(error_log)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise NginxError(
        f"nginx did not listen on port {port} within "
        f"{START_TIMEOUT_SECONDS:.0f} s: {_last_error(error_log)}"
    )


def _last_error(error_log: Path) -> str:
    try:
        lines = error_log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no error log"
    return lines[-1] if lines else "error log is empty"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Graceful shutdown of our own master process (SIGQUIT), then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def access_log_bytes(server: Server) -> int:
    """How far the access log has grown: mark this before a stretch to count."""
    try:
        return server.access_log.stat().st_size
    except FileNotFoundError:
        return 0


def count_requests(server: Server, *, since_bytes: int) -> RequestCounts:
    """Requests logged after the mark since_bytes, by status."""
    counts = RequestCounts()
    with server.access_log.open("rb") as log:
        log.seek(since_bytes)
        for line in log:
            status, path, body_bytes = line.decode("utf-8", "replace").split()
            counts.statuses[int(status)] += 1
            counts.body_bytes += int(body_bytes)
            if path == "/robots.txt":
                counts.robots_requests += 1
    return counts
