"""Bound every socket read and write of a request by a wall-clock limit of its own.

httpx's timeouts apply to each read: a server that sends one header line a
second never trips them, and could hold a run for days. The fetcher gives each
request a time box; this module makes the sockets under httpx keep to it.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import httpcore

if TYPE_CHECKING:
    import ssl

    import httpx

logger = logging.getLogger(__name__)

# The message of the timeout raised when a request's time box runs out, so
# that the fetcher can tell it from an ordinary read timeout.
OUT_OF_TIME = "request ran past its time box"

_box = threading.local()


@contextmanager
def time_box(seconds: float) -> Iterator[None]:
    """Within this block, the calling thread's socket operations end by then."""
    previous = getattr(_box, "ends_at", None)
    _box.ends_at = time.monotonic() + seconds
    try:
        yield
    finally:
        _box.ends_at = previous


def bound_client(client: httpx.Client) -> bool:
    """Put the bounded sockets under every transport of a client.

    Returns False, changing nothing, when httpx's transports are not built
    the way this expects (a newer httpx); the per-read timeouts still hold.
    """
    transports = [client._transport, *client._mounts.values()]
    pools = [getattr(transport, "_pool", None) for transport in transports]
    if not all(hasattr(pool, "_network_backend") for pool in pools if pool):
        logger.debug("httpx transports have no network backend to wrap")
        return False
    for pool in pools:
        if pool is not None:
            pool._network_backend = _BoundedBackend(pool._network_backend)
    return True


def _seconds_left(timeout: float | None, error: type[Exception]) -> float | None:
    ends_at: float | None = getattr(_box, "ends_at", None)
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    if left <= 0:
        raise error(OUT_OF_TIME)
    return left if timeout is None else min(timeout, left)


@contextmanager
def _naming_the_time_box(error: type[Exception]) -> Iterator[None]:
    """A socket timeout at the end of the time box is the box's, not the read's."""
    try:
        yield
    except error:
        ends_at: float | None = getattr(_box, "ends_at", None)
        # A poll may wake a hair early; a hundredth of a second is no read timeout.
        if ends_at is not None and ends_at - time.monotonic() < 0.01:
            raise error(OUT_OF_TIME) from None
        raise


class _BoundedStream(httpcore.NetworkStream):
    """A connection whose every operation waits no longer than the time box."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        left = _seconds_left(timeout, httpcore.ReadTimeout)
        with _naming_the_time_box(httpcore.ReadTimeout):
            return self._inner.read(max_bytes, left)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        left = _seconds_left(timeout, httpcore.WriteTimeout)
        with _naming_the_time_box(httpcore.WriteTimeout):
            self._inner.write(buffer, left)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _seconds_left(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    """Opens connections as usual and hands them out bounded."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _seconds_left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(
            host, port, left, local_address, socket_options
        )
        return _BoundedStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _seconds_left(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(
            self._inner.connect_unix_socket(path, left, socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
