"""Serve HTTP faults on 127.0.0.1 for the fetcher's tests, from a background thread.

Every endpoint is named for the fault it produces:

    /status/CODES/             each request gets the next code of CODES (500-500-200);
                               the last one repeats; a 3xx redirects to ?to=URL
    /retry-after/VALUE/        a 429 with Retry-After: VALUE, then a 200
    /retry-after-date/SECONDS/ a 503 with Retry-After as an HTTP date SECONDS ahead,
                               then a 200
    /slow/SECONDS/             waits SECONDS before answering
    /trickle/BYTES/            sends a BYTES-long body one byte every TRICKLE_SECONDS
    /trickle-headers/          sends header lines one every TRICKLE_SECONDS, without end
    /reset/                    resets the connection (TCP RST) instead of answering
    /truncated/                declares TRUNCATED_DECLARED_BYTES, sends fewer, hangs up
    /redirect-loop/a/          redirects to /redirect-loop/b/, which redirects back
    /redirect-chain/N/         N redirects in a row, then a 200
    /redirect-off-host/        redirects to /off-host-target/ on http://localhost:PORT
    /gzip/                     a small page, gzipped
    /gzip-bomb/                BOMB_BYTES of zeros, gzipped
    /gzip-cut/                 a gzipped page cut in half, no Content-Length, then hangs up
    /empty/                    a 200 with an empty HTML body
    /latin1-etag/              a page whose ETag holds a byte outside ASCII; a 304
                               to its If-None-Match
    /oversized/                declares and sends OVERSIZED_BYTES
    /unsized/                  sends OVERSIZED_BYTES without a Content-Length
    /charset/bom-contrary-header/  UTF-8 with a BOM, labelled iso-8859-1 in the header
    /charset/meta-only/        windows-1252 declared only in a <meta>
    /charset/undecodable/      UTF-8 with two bytes that are not UTF-8
    /not-modified/             ETag and Last-Modified; a 304 to matching validators
    /pdf/                      a PDF
    /page/NAME/                a small HTML page

Pages added with add_page() (a robots.txt, a tiny site) come before all of these;
anything else is a 404. Each request is logged, with its headers and arrival time,
before it is answered.

Library: `with serve_faults() as server: ... server.url ... server.requests`.
"""

from __future__ import annotations

import functools
import socket
import struct
import sys
import threading
import time
import zlib
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qs, urlsplit

ETAG = '"v1"'
LAST_MODIFIED_HEADER = "Wed, 04 Nov 2026 10:00:00 GMT"
BOMB_BYTES = 50 * 1024 * 1024
OVERSIZED_BYTES = 2_000_000
TRUNCATED_DECLARED_BYTES = 100
TRUNCATED_BODY = b"<p>cut off"
TRICKLE_SECONDS = 0.05
# A handler gives up on a silent client after this, so no thread waits forever.
CONNECTION_TIMEOUT_SECONDS = 5
_WRITE_BYTES = 65536
_HTML = "text/html; charset=utf-8"

CHARSET_PAGES = {
    "/charset/bom-contrary-header/": (
        "text/html; charset=iso-8859-1",
        b"\xef\xbb\xbf<p>caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve</p>",
    ),
    "/charset/meta-only/": (
        "text/html",
        b'<html><head><meta charset="windows-1252"></head>'
        b"<body><p>caf\xe9 \x93quoted\x94</p></body></html>",
    ),
    "/charset/undecodable/": (
        "text/html; charset=utf-8",
        b"<p>ok \xff bad \xc3 end</p>",
    ),
}
PDF_BODY = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


class LoggedRequest(NamedTuple):
    """One request the server received, in arrival order."""

    method: str
    target: str
    path: str
    headers: dict[str, str]
    received_at: float


class _Page(NamedTuple):
    status: int
    content_type: str
    body: bytes


class RequestLog:
    """The requests received; handler threads append under a lock."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def paths(self) -> list[str]:
        return [item.path for item in self.snapshot()]

    def __getitem__(self, index: int) -> LoggedRequest:
        return self.snapshot()[index]

    def __len__(self) -> int:
        return len(self.snapshot())


@functools.cache
def gzip_bomb() -> bytes:
    """BOMB_BYTES of zeros gzipped, built a block at a time to stay small."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(BOMB_BYTES // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip_page(body: bytes = b"<p>unzipped</p>") -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class FaultRequestHandler(BaseHTTPRequestHandler):
    """Answers GET with the fault its path names."""

    server: _FaultHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "FaultServer/1.0"
    timeout = CONNECTION_TIMEOUT_SECONDS
    # Headers and body go out in separate writes; Nagle would hold the body back.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.request_log.append(
            LoggedRequest(
                self.command,
                self.path,
                path,
                dict(self.headers.items()),
                time.monotonic(),
            )
        )
        page = self.server.pages.get(path)
        if page is not None:
            self._send(page.status, page.body, content_type=page.content_type)
            return
        segments = path.strip("/").split("/")
        respond = self._routes().get(segments[0], self._send_not_found)
        respond(segments[1:])

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests read server.requests instead of stderr."""

    def _routes(self) -> dict[str, Callable[[list[str]], None]]:
        return {
            "status": self._status,
            "retry-after": self._retry_after,
            "retry-after-date": self._retry_after_date,
            "slow": self._slow,
            "trickle": self._trickle,
            "trickle-headers": self._trickle_headers,
            "gzip-cut": self._gzip_cut,
            "empty": self._empty,
            "latin1-etag": self._latin1_etag,
            "reset": self._reset,
            "truncated": self._truncated,
            "redirect-loop": self._redirect_loop,
            "redirect-chain": self._redirect_chain,
            "redirect-off-host": self._redirect_off_host,
            "gzip": self._gzip,
            "gzip-bomb": self._gzip_bomb,
            "oversized": self._oversized,
            "unsized": self._unsized,
            "charset": self._charset,
            "not-modified": self._not_modified,
            "pdf": self._pdf,
            "page": self._page,
        }

    def _send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = _HTML,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_page(self, text: str) -> None:
        self._send(HTTPStatus.OK, f"<p>{text}</p>".encode())

    def _send_redirect(self, location: str) -> None:
        self._send(HTTPStatus.FOUND, headers={"Location": location})

    def _send_not_found(self, arguments: list[str]) -> None:
        self._send(HTTPStatus.NOT_FOUND, b"<p>not found</p>")

    def _count(self) -> int:
        """How many requests for this path came before this one."""
        return self.server.count(urlsplit(self.path).path)

    def _status(self, arguments: list[str]) -> None:
        codes = [int(code) for code in arguments[0].split("-")]
        status = codes[min(self._count(), len(codes) - 1)]
        if status == HTTPStatus.NOT_MODIFIED:
            # Whatever the request asked: a server that answers 304 regardless.
            self.send_response(status)
            self.end_headers()
            return
        if 300 <= status < 400:
            location = parse_qs(urlsplit(self.path).query)["to"][0]
            self._send(status, headers={"Location": location})
            return
        self._send(status, f"<p>HTTP {status}</p>".encode())

    def _retry_after(self, arguments: list[str]) -> None:
        if self._count() == 0:
            headers = {"Retry-After": arguments[0]}
            self._send(HTTPStatus.TOO_MANY_REQUESTS, headers=headers)
            return
        self._send_page("after the wait")

    def _retry_after_date(self, arguments: list[str]) -> None:
        if self._count() == 0:
            moment = int(time.time()) + int(arguments[0])
            headers = {"Retry-After": formatdate(moment, usegmt=True)}
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, headers=headers)
            return
        self._send_page("after the date")

    def _slow(self, arguments: list[str]) -> None:
        self.server.stopping.wait(float(arguments[0]))
        self._send_page("too late")

    def _trickle(self, arguments: list[str]) -> None:
        size = int(arguments[0])
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _HTML)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for _ in range(size):
            self.wfile.write(b"x")
            if self.server.stopping.wait(TRICKLE_SECONDS):
                break

    def _trickle_headers(self, arguments: list[str]) -> None:
        self.send_response(HTTPStatus.OK)
        self.flush_headers()
        number = 0
        while not self.server.stopping.wait(TRICKLE_SECONDS):
            number += 1
            self.wfile.write(f"X-Filler-{number}: x\r\n".encode())
            self.wfile.flush()

    def _gzip_cut(self, arguments: list[str]) -> None:
        compressed = gzip_page(b"<p>" + b"a long page " * 500 + b"</p>")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _HTML)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(compressed[: len(compressed) // 2])

    def _empty(self, arguments: list[str]) -> None:
        self._send(HTTPStatus.OK, b"")

    def _latin1_etag(self, arguments: list[str]) -> None:
        etag = '"v\u00e9"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.end_headers()
            return
        self._send(HTTPStatus.OK, b"<p>current</p>", headers={"ETag": etag})

    def _reset(self, arguments: list[str]) -> None:
        # A zero linger time makes close() send RST instead of FIN.
        linger = struct.pack("ii", 1, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.close_connection = True
        self.rfile.close()
        self.connection.close()

    def _truncated(self, arguments: list[str]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _HTML)
        self.send_header("Content-Length", str(TRUNCATED_DECLARED_BYTES))
        self.end_headers()
        self.wfile.write(TRUNCATED_BODY)
        self.close_connection = True

    def _redirect_loop(self, arguments: list[str]) -> None:
        other = "b" if arguments[0] == "a" else "a"
        self._send_redirect(f"/redirect-loop/{other}/")

    def _redirect_chain(self, arguments: list[str]) -> None:
        remaining = int(arguments[0])
        if remaining == 0:
            self._send_page("end of the chain")
            return
        self._send_redirect(f"/redirect-chain/{remaining - 1}/")

    def _redirect_off_host(self, arguments: list[str]) -> None:
        self._send_redirect(f"{self.server.off_host_url}/off-host-target/")

    def _gzip(self, arguments: list[str]) -> None:
        self._send(HTTPStatus.OK, gzip_page(), headers={"Content-Encoding": "gzip"})

    def _gzip_bomb(self, arguments: list[str]) -> None:
        self._send(HTTPStatus.OK, gzip_bomb(), headers={"Content-Encoding": "gzip"})

    def _oversized(self, arguments: list[str]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _HTML)
        self.send_header("Content-Length", str(OVERSIZED_BYTES))
        self.end_headers()
        self._write_filler(OVERSIZED_BYTES)

    def _unsized(self, arguments: list[str]) -> None:
        # Without a length, the end of the body is the end of the connection.
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _HTML)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self._write_filler(OVERSIZED_BYTES)

    def _write_filler(self, size: int) -> None:
        block = b"a" * _WRITE_BYTES
        for start in range(0, size, _WRITE_BYTES):
            self.wfile.write(block[: size - start])

    def _charset(self, arguments: list[str]) -> None:
        content_type, body = CHARSET_PAGES[urlsplit(self.path).path]
        self._send(HTTPStatus.OK, body, content_type=content_type)

    def _not_modified(self, arguments: list[str]) -> None:
        validators = {"ETag": ETAG, "Last-Modified": LAST_MODIFIED_HEADER}
        if (
            self.headers.get("If-None-Match") == ETAG
            or self.headers.get("If-Modified-Since") == LAST_MODIFIED_HEADER
        ):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self._send(HTTPStatus.OK, b"<p>current</p>", headers=validators)

    def _pdf(self, arguments: list[str]) -> None:
        self._send(HTTPStatus.OK, PDF_BODY, content_type="application/pdf")

    def _page(self, arguments: list[str]) -> None:
        self._send_page(arguments[0])


class _FaultHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        self.request_log = RequestLog()
        self.pages: dict[str, _Page] = {}
        self.stopping = threading.Event()
        self.off_host_url = ""
        self._counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        super().__init__(address, FaultRequestHandler)

    def count(self, path: str) -> int:
        with self._counts_lock:
            seen = self._counts.get(path, 0)
            self._counts[path] = seen + 1
            return seen

    def forget_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up or goes silent: many faults cause that."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FaultServer:
    """The fault endpoints served from a background thread; stop() ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = _FaultHTTPServer((host, port))
        self.host = host
        self.port = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        # The same server under another host name: a host the site does not allow.
        self.off_host_url = f"http://localhost:{self.port}"
        self._httpd.off_host_url = self.off_host_url
        self.requests = self._httpd.request_log
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            name=f"faultserver-{self.port}",
            daemon=True,
        )

    def add_page(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = _HTML,
        status: int = HTTPStatus.OK,
    ) -> None:
        """Serve body at path until the next reset()."""
        self._httpd.pages[path] = _Page(status, content_type, body)

    def reset(self) -> None:
        """Forget the requests, the per-path counts and the added pages."""
        self.requests.clear()
        self._httpd.forget_counts()
        self._httpd.pages.clear()

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release waiting handlers, stop serving and close the socket."""
        self._httpd.stopping.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_faults(host: str = "127.0.0.1", port: int = 0) -> FaultServer:
    """Start serving the fault endpoints on host:port (0: any free port)."""
    return FaultServer(host, port).start()
