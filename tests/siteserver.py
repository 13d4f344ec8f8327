"""Serve a fixture site (tests/fixtures/site/, site-alt/) on 127.0.0.1 for tests.

URL to file: a path ending in "/" serves P/index.html, any other path the file P
itself; a query string Q serves P/index@Q.html when that file exists, else the
plain file. Tracking parameters (utm_*, fbclid, gclid) are ignored. A folder
path without its trailing slash answers 301 to P/, as WordPress does; anything
else missing answers 404. Responses carry a strong ETag and a fixed
Last-Modified, and answer conditional requests with 304.

Library: `with serve(root) as server: ... server.url ... server.requests`.
CLI: `python tests/siteserver.py ROOT [--port N]` serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

# A constant date, so that headers do not depend on when files were checked out.
LAST_MODIFIED = datetime(2026, 11, 4, 10, 0, 0, tzinfo=timezone.utc)
LAST_MODIFIED_HEADER = "Wed, 04 Nov 2026 10:00:00 GMT"
ETAG_HEX_CHARS = 16
TRACKING_PARAMETER_PREFIXES = ("utm_",)
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid"})

CONTENT_TYPES = {
    # No charset for HTML: the page's own <meta> must decide its encoding.
    ".html": "text/html",
    ".txt": "text/plain",
    ".json": "application/json",
    ".xml": "application/xml",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

NOT_FOUND_BODY = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Not found</title>"
    b"</head><body><h1>404 Not found</h1></body></html>\n"
)


class LoggedRequest(NamedTuple):
    """One request the server received, in arrival order."""

    method: str
    path: str
    headers: dict[str, str]
    # time.monotonic() at arrival: the clock every process of the machine shares.
    arrived_at: float = 0.0


class RequestLog(list[LoggedRequest]):
    """The list of requests received; handler threads append under a lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[LoggedRequest]:
        """A copy to iterate over while requests may still arrive."""
        with self._lock:
            return list(self)

    def paths(self) -> list[str]:
        return [item.path for item in self.snapshot()]


def strip_tracking_query(query: str) -> str:
    """Drop the tracking parameters from a raw query string, keeping the rest as is."""
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0]
        if not pair or name in TRACKING_PARAMETERS:
            continue
        if name.startswith(TRACKING_PARAMETER_PREFIXES):
            continue
        kept.append(pair)
    return "&".join(kept)


def candidate_files(path: str, query: str) -> list[str]:
    """Relative file names that may serve a URL path and query, best first."""
    relative = path.lstrip("/")
    directory = relative if relative.endswith("/") or not relative else relative + "/"
    candidates = []
    if query:
        candidates.append(f"{directory}index@{query}.html")
    if path.endswith("/"):
        candidates.append(f"{relative}index.html")
    elif relative:
        candidates.append(relative)
    return candidates


def etag_for(content: bytes) -> str:
    return '"' + hashlib.sha256(content).hexdigest()[:ETAG_HEX_CHARS] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    tags = (tag.strip() for tag in header.split(","))
    # If-None-Match uses the weak comparison (RFC 9110, 13.1.2).
    return any(tag.removeprefix("W/") == etag for tag in tags)


def _not_modified_since(header: str) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return LAST_MODIFIED <= since


class SiteRequestHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD from the server's root directory."""

    server: _SiteHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"
    # Headers and body go out in two writes; with Nagle on, the second one
    # waits for the client's delayed ACK, about 40 ms a response.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests read server.requests instead of stderr."""

    def _respond(self, *, send_body: bool) -> None:
        self.server.request_log.append(
            LoggedRequest(
                self.command, self.path, dict(self.headers.items()), time.monotonic()
            )
        )
        delay_seconds = self.server.delays.get(self.path)
        if delay_seconds:
            # A slow page lets a test act while a client waits on it.
            self.server.release.wait(delay_seconds)
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        query = strip_tracking_query(parts.query)

        file = self._find_file(path, query)
        if self.path in self.server.redirects:
            self._send_redirect(self.server.redirects[self.path], status=HTTPStatus.FOUND)
        elif file is not None:
            self._send_file(file, send_body=send_body)
        elif self._is_directory(path):
            location = parts.path + "/" + (f"?{parts.query}" if parts.query else "")
            self._send_redirect(location)
        else:
            self._send_not_found(send_body=send_body)

    def _resolve(self, relative: str) -> Path | None:
        root = self.server.root
        target = (root / relative).resolve()
        if target != root and root not in target.parents:
            return None
        return target

    def _find_file(self, path: str, query: str) -> Path | None:
        for relative in candidate_files(path, query):
            target = self._resolve(relative)
            if target is not None and target.is_file():
                return target
        return None

    def _is_directory(self, path: str) -> bool:
        """A path without its trailing slash that names a served folder."""
        if path.endswith("/"):
            return False
        target = self._resolve(path.lstrip("/"))
        return target is not None and (target / "index.html").is_file()

    def _send_file(self, file: Path, *, send_body: bool) -> None:
        content = file.read_bytes()
        etag = etag_for(content)
        if self._is_not_modified(etag):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED_HEADER)
            self.end_headers()
            return
        content_type = self.server.content_types.get(self.path) or CONTENT_TYPES.get(
            file.suffix.lower(), DEFAULT_CONTENT_TYPE
        )
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", LAST_MODIFIED_HEADER)
        self.end_headers()
        if send_body:
            self.wfile.write(content)

    def _is_not_modified(self, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None:
            return _not_modified_since(if_modified_since)
        return False

    def _send_redirect(
        self, location: str, *, status: HTTPStatus = HTTPStatus.MOVED_PERMANENTLY
    ) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_not_found(self, *, send_body: bool) -> None:
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(NOT_FOUND_BODY)))
        self.end_headers()
        if send_body:
            self.wfile.write(NOT_FOUND_BODY)


class _SiteHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path) -> None:
        self.root = root
        self.request_log = RequestLog()
        self.delays: dict[str, float] = {}
        # Set by tests: request target -> a 302's Location, or a Content-Type
        # to send instead of the one the file's name gives.
        self.redirects: dict[str, str] = {}
        self.content_types: dict[str, str] = {}
        self.release = threading.Event()
        super().__init__(address, SiteRequestHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Keep quiet when a client hangs up; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SiteServer:
    """A fixture site served from a background thread; stop() ends it."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"site root is not a folder: {str(root)!r}")
        self._httpd = _SiteHTTPServer((host, port), self.root)
        self.host = host
        self.port = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.requests = self._httpd.request_log
        # Request path (with query) -> seconds to wait before answering.
        self.delays = self._httpd.delays
        self.redirects = self._httpd.redirects
        self.content_types = self._httpd.content_types
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            name=f"siteserver-{self.port}",
            daemon=True,
        )

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        self._httpd.release.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(root: Path, host: str = "127.0.0.1", port: int = 0) -> SiteServer:
    """Start serving root on host:port (0: any free port) and return the server."""
    return SiteServer(root, host, port).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fixture site folder.")
    parser.add_argument(
        "root", type=Path, help="folder to serve, e.g. tests/fixtures/site"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    arguments = parser.parse_args(argv)

    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    try:
        server = serve(arguments.root, arguments.host, arguments.port)
    except OSError as error:
        print(f"siteserver: {error}", file=sys.stderr)
        return 1
    print(f"serving {arguments.root} on {server.url}", flush=True)
    while not stopping.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
