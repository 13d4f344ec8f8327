"""Fetch pages politely and defensively: retries, robots.txt, caps, redirects, charsets.

The fetcher only fetches. Whether a page needs fetching, and what is kept of
it, is decided by the crawl and the store.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import threading
import time
import zlib
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from multiprocessing.context import BaseContext
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from protego import Protego
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from pipeline import wire
from pipeline.charset import DecodedBody, decode_body
from pipeline.config import FetchSection, SiteConfig
from pipeline.errors import (
    ConfigError,
    DeadlineExceeded,
    DisallowedByRobots,
    FetchError,
    PermanentFetchError,
    SiteUnreachable,
    TransientFetchError,
)
from pipeline.normalize import normalize_url, utc_now

logger = logging.getLogger(__name__)

_RETRIED_STATUSES = frozenset(
    {408, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524}
)
_GONE_STATUSES = frozenset({404, 410})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchOptions:
    """Command-line overrides of the config's fetch and politeness settings."""

    base_url: str | None = None
    concurrency: int | None = None
    min_delay_seconds: float | None = None


@dataclass(frozen=True)
class FetchedPage:
    """One HTTP response: what was asked, what came back, and how it was decoded."""

    url: str
    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    fetched_at: str
    body: bytes
    attempts: int
    decoded: DecodedBody | None = None
    # Hex SHA-256 of the body, taken in the fetching thread (hashlib releases the GIL).
    sha256: str = ""

    @property
    def is_not_modified(self) -> bool:
        return self.status == 304

    @property
    def is_html(self) -> bool:
        return _is_html_type(self.content_type)

    @property
    def text(self) -> str:
        return self.decoded.text if self.decoded else ""


@dataclass
class FetchStats:
    """Counts for the run summary; updated by every fetch."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    gave_up: int = 0
    replaced_pages: int = 0

    def since(self, earlier: FetchStats) -> FetchStats:
        """The counts added after `earlier`, a copy of these taken before."""
        return FetchStats(
            *(
                getattr(self, counter.name) - getattr(earlier, counter.name)
                for counter in fields(self)
            )
        )

    def add(self, other: FetchStats) -> None:
        for counter in fields(self):
            name = counter.name
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _HostTurns:
    """Spaces requests to one host by a minimum delay and caps them in flight.

    Made with a multiprocessing context, it is shared by the worker processes
    forked after it, so that they keep the delay and the cap together.
    """

    def __init__(
        self,
        *,
        delay_seconds: float,
        concurrency: int,
        shared_by: BaseContext | None = None,
    ) -> None:
        self._slots: Any
        self._lock: Any
        # [the delay, the earliest start of the next request], on the monotonic
        # clock, which all processes of one machine share.
        self._times: Any
        if shared_by is None:
            self._slots = threading.BoundedSemaphore(concurrency)
            self._lock = threading.Lock()
            self._times = [delay_seconds, 0.0]
        else:
            self._slots = shared_by.BoundedSemaphore(concurrency)
            self._lock = shared_by.Lock()
            self._times = shared_by.Array("d", [delay_seconds, 0.0], lock=False)

    def acquire(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        *,
        latest_start: float,
    ) -> bool:
        """Wait for this host's next turn; False, holding nothing, if that turn
        comes at or after latest_start (the run's deadline)."""
        self._slots.acquire()
        with self._lock:
            now = clock()
            start = max(now, self._times[1])
            self._times[1] = start + self._times[0]
        if start >= latest_start:
            self._slots.release()
            return False
        if start > now:
            sleep(start - now)
        return True

    def release(self) -> None:
        self._slots.release()

    def raise_delay(self, delay_seconds: float) -> None:
        """Lengthen the delay, also before the next request already planned."""
        with self._lock:
            if delay_seconds > self._times[0]:
                self._times[1] += delay_seconds - self._times[0]
                self._times[0] = delay_seconds


@dataclass
class FetcherHandover:
    """What a worker process's fetcher takes over from the crawl's own: the
    shared host turns, robots.txt already read, and the run's deadline."""

    turns: dict[str, _HostTurns]
    robots: dict[str, Protego | FetchError | None]
    deadline: float


class Fetcher:
    """An HTTP client for one site: polite, bounded and safe. Use as a context manager.

    Thread-safe: a crawl may call fetch() from several threads.
    """

    def __init__(
        self,
        config: SiteConfig,
        *,
        options: FetchOptions = FetchOptions(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared_by: BaseContext | None = None,
        handover: FetcherHandover | None = None,
    ) -> None:
        """shared_by: a multiprocessing context for worker processes to come,
        whose fetchers are then made with this one's handover()."""
        self.config = config
        self.stats = FetchStats()
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._deadline = clock() + config.fetch.run_deadline_seconds
        self._mirror = _mirror_origin(options.base_url)
        self._turns: dict[str, _HostTurns] = {}
        self._failures_in_a_row: dict[str, int] = {}
        self._hosts_down: dict[str, str] = {}
        self._robots: dict[str, Protego | FetchError | None] = {}
        if shared_by is not None:
            # Every host a request may go to gets its turns now, before workers fork.
            for host in config.site.allowed_hosts:
                self._turns[host] = self._new_turns(shared_by)
        if handover is not None:
            self._turns = handover.turns
            self._robots = dict(handover.robots)
            self._deadline = handover.deadline
        self._state_lock = threading.Lock()
        self._robots_lock = threading.Lock()
        self._client = self._open_client()

    def _open_client(self) -> httpx.Client:
        fetch = self.config.fetch
        try:
            return self._client_with(fetch)
        except ImportError as error:
            # httpx needs an extra package for a SOCKS proxy named in ALL_PROXY.
            raise ConfigError(
                f"the proxy set in the environment cannot be used: {error}"
            ) from None

    def _client_with(self, fetch: FetchSection) -> httpx.Client:
        client = httpx.Client(
            headers={
                "User-Agent": self.config.user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                # Only encodings we can decompress under the size cap ourselves.
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(fetch.timeout_seconds),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=self.concurrency * 2),
            trust_env=True,
        )
        wire.bound_client(client)
        return client

    @property
    def fetch_options(self) -> FetchOptions:
        return self._options

    @property
    def concurrency(self) -> int:
        return self._options.concurrency or self.config.politeness.concurrency

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def handover(self) -> FetcherHandover:
        """What a worker process's fetcher needs to act as part of this one."""
        with self._robots_lock:
            robots = dict(self._robots)
        return FetcherHandover(dict(self._turns), robots, self._deadline)

    def _seconds_to_deadline(self) -> float:
        return max(0.0, self._deadline - self._clock())

    @property
    def deadline_passed(self) -> bool:
        return self._clock() >= self._deadline

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchedPage:
        """GET a page on an allowed host, following redirects and retrying transients.

        Sends If-None-Match / If-Modified-Since when validators are given; a 304
        comes back as a page with status 304 and no body. Raises FetchError
        subclasses carrying the URL, status and attempts.
        """
        self.check_allowed(url, url)
        self._check_host_up(url)
        self._check_robots(url)
        return self._fetch_retrying(url, etag, last_modified)

    def _fetch_retrying(
        self, url: str, etag: str | None, last_modified: str | None
    ) -> FetchedPage:
        retrying = Retrying(
            stop=stop_after_attempt(self.config.fetch.max_attempts),
            wait=self._wait_before_retry,
            retry=retry_if_exception_type(TransientFetchError),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        host = urlsplit(url).hostname or ""
        try:
            for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    page = self._fetch_following(url, etag, last_modified, number)
                    self._note_host_answered(host)
                    return page
        except FetchError as error:
            with self._state_lock:
                self.stats.gave_up += 1
            if isinstance(error, TransientFetchError):
                self._note_host_failed(host, error)
            raise error
        raise AssertionError("tenacity either returns or raises")

    def _note_host_answered(self, host: str) -> None:
        with self._state_lock:
            self._failures_in_a_row[host] = 0

    def _note_host_failed(self, host: str, error: FetchError) -> None:
        """Count URLs given up in a row; past the limit the host is taken as down."""
        limit = self.config.fetch.host_down_after_failures
        with self._state_lock:
            self._failures_in_a_row[host] = self._failures_in_a_row.get(host, 0) + 1
            if self._failures_in_a_row[host] >= limit and host not in self._hosts_down:
                self._hosts_down[host] = error.reason
                logger.warning(
                    "%s gave up on %d URLs in a row (last: %s); skipping the rest of it "
                    "for this run (fetch.host_down_after_failures)",
                    host,
                    limit,
                    error.reason,
                )

    def _check_host_up(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        reason = self._hosts_down.get(host)
        if reason is not None:
            raise SiteUnreachable(
                f"host stopped answering ({reason}); the rest of it is skipped this run",
                url=url,
                attempts=0,
            )

    def _wait_before_retry(self, state: RetryCallState) -> float:
        fetch = self.config.fetch
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after_seconds", None)
        if retry_after is not None:
            wait = float(retry_after)
        else:
            wait = _backoff_seconds(
                state.attempt_number,
                initial_seconds=fetch.backoff_initial_seconds,
                max_seconds=fetch.backoff_max_seconds,
            )
        # No wait runs past the deadline: the next attempt then stops the URL.
        return min(wait, self._seconds_to_deadline())

    def _log_retry(self, state: RetryCallState) -> None:
        with self._state_lock:
            self.stats.retries += 1
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.debug(
            "Retrying %s after attempt %d (%s); waiting %.2f s",
            getattr(error, "url", "?"),
            state.attempt_number,
            getattr(error, "reason", error),
            wait,
            extra={"url": getattr(error, "url", None), "attempt": state.attempt_number},
        )

    def _fetch_following(
        self, url: str, etag: str | None, last_modified: str | None, attempt: int
    ) -> FetchedPage:
        """One attempt: the request and each redirect it leads to, within the caps."""
        seen = {url}
        current = url
        for _ in range(self.config.fetch.max_redirects + 1):
            response = self._request_once(current, etag, last_modified, attempt)
            if isinstance(response, FetchedPage):
                return replace(response, url=url)
            target = normalize_url(response, base_url=current)
            if target is None:
                raise PermanentFetchError(
                    f"redirect to an unusable URL {response!r}",
                    url=url,
                    attempts=attempt,
                )
            self.check_allowed(target, url, redirect=True, attempts=attempt)
            if target in seen:
                raise PermanentFetchError(
                    f"redirect loop through {target}", url=url, attempts=attempt
                )
            seen.add(target)
            self._check_robots(target)
            current = target
        raise PermanentFetchError(
            f"more than {self.config.fetch.max_redirects} redirects "
            "(fetch.max_redirects)",
            url=url,
            attempts=attempt,
        )

    def _request_once(
        self, url: str, etag: str | None, last_modified: str | None, attempt: int
    ) -> FetchedPage | str:
        """A page, or the Location of a redirect."""
        if self.deadline_passed:
            raise DeadlineExceeded(
                "run deadline passed (fetch.run_deadline_seconds)",
                url=url,
                attempts=attempt,
            )
        headers = {}
        if etag and _is_sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified and _is_sendable(last_modified):
            headers["If-Modified-Since"] = last_modified

        turns = self._turns_for(url)
        if not turns.acquire(self._clock, self._sleep, latest_start=self._deadline):
            raise DeadlineExceeded(
                "the host's next turn (politeness delay or Crawl-delay) comes after "
                "the run deadline (fetch.run_deadline_seconds)",
                url=url,
                attempts=attempt,
            )
        try:
            return self._exchange(url, headers, attempt)
        finally:
            turns.release()

    def _exchange(
        self, url: str, headers: dict[str, str], attempt: int
    ) -> FetchedPage | str:
        with self._state_lock:
            self.stats.requests += 1
        started = self._clock()
        try:
            with (
                wire.time_box(self._time_box_seconds()),
                self._client.stream(
                    "GET", self._to_request_url(url), headers=headers
                ) as response,
            ):
                return self._read_response(url, response, attempt, started)
        except httpx.TimeoutException as error:
            raise self._timeout_error(url, attempt, error) from error
        except httpx.ConnectError as error:
            raise TransientFetchError(
                f"cannot connect: {error}", url=url, attempts=attempt
            ) from error
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as error:
            raise TransientFetchError(
                f"connection broken: {error or type(error).__name__}",
                url=url,
                attempts=attempt,
            ) from error
        except httpx.HTTPError as error:
            raise PermanentFetchError(
                f"HTTP error: {error}", url=url, attempts=attempt
            ) from error

    def _time_box_seconds(self) -> float:
        """A whole response may take 4 timeouts, and never past the run deadline."""
        whole_response = self.config.fetch.timeout_seconds * 4
        return min(whole_response, self._seconds_to_deadline())

    def _timeout_error(
        self, url: str, attempt: int, error: httpx.TimeoutException
    ) -> FetchError:
        if self.deadline_passed:
            return DeadlineExceeded(
                "run deadline passed while waiting for the server "
                "(fetch.run_deadline_seconds)",
                url=url,
                attempts=attempt,
            )
        if str(error) == wire.OUT_OF_TIME:
            return TransientFetchError(
                "response took longer than 4 x fetch.timeout_seconds",
                url=url,
                attempts=attempt,
            )
        return TransientFetchError(
            f"timed out ({type(error).__name__})", url=url, attempts=attempt
        )

    def _read_response(
        self, url: str, response: httpx.Response, attempt: int, started: float
    ) -> FetchedPage | str:
        status = response.status_code
        if status in _REDIRECT_STATUSES and "location" in response.headers:
            return self._to_site_url(response.headers["location"], url)
        _raise_for_status(
            url, response, attempt, self.config.fetch.retry_after_cap_seconds
        )

        body = b""
        if status != 304:
            body = self._read_body(url, response, attempt, started)
        if (
            status == 200
            and not body.strip()
            and _is_html_type(response.headers.get("content-type"))
        ):
            # What a PHP site sends when it fails half-way ("white screen").
            raise TransientFetchError(
                "empty body (HTTP 200)", url=url, status=status, attempts=attempt
            )
        page = FetchedPage(
            url=url,
            final_url=url,
            status=status,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=response.headers.get("content-type"),
            fetched_at=utc_now(),
            body=body,
            attempts=attempt,
            sha256=hashlib.sha256(body).hexdigest(),
        )
        return self._decoded(page)

    def _decoded(self, page: FetchedPage) -> FetchedPage:
        if page.status == 304:
            with self._state_lock:
                self.stats.not_modified += 1
            return page
        decoded = decode_body(page.body, content_type=page.content_type)
        if decoded.replaced_characters:
            with self._state_lock:
                self.stats.replaced_pages += 1
            logger.warning(
                "Replaced %d undecodable characters in %s (read as %s, from %s)",
                decoded.replaced_characters,
                page.url,
                decoded.charset,
                decoded.source,
                extra={"url": page.url},
            )
        return replace(page, decoded=decoded)

    def _read_body(
        self, url: str, response: httpx.Response, attempt: int, started: float
    ) -> bytes:
        cap = self.config.fetch.max_response_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise PermanentFetchError(
                f"response of {declared} bytes is over the cap of {cap} "
                "(fetch.max_response_bytes)",
                url=url,
                status=response.status_code,
                attempts=attempt,
            )

        decoder = _Decompressor(response.headers.get("content-encoding", ""), cap)
        chunks: list[bytes] = []
        raw_bytes = 0
        # No chunk size: a fixed size would buffer a trickle past the checks below.
        for raw in response.iter_raw():
            raw_bytes += len(raw)
            chunks.append(decoder.feed(raw, url=url, attempt=attempt))
            self._check_slow_response(url, attempt, started)
        chunks.append(decoder.finish(url=url, attempt=attempt))

        if declared and declared.isdigit() and raw_bytes < int(declared):
            raise TransientFetchError(
                f"body of {raw_bytes} bytes is shorter than its Content-Length {declared}",
                url=url,
                attempts=attempt,
            )
        return b"".join(chunks)

    def _check_slow_response(self, url: str, attempt: int, started: float) -> None:
        """Stop a server that trickles bytes to defeat the per-read timeout."""
        now = self._clock()
        if now - started > self.config.fetch.timeout_seconds * 4:
            raise TransientFetchError(
                "response took longer than 4 x fetch.timeout_seconds",
                url=url,
                attempts=attempt,
            )
        if now >= self._deadline:
            raise DeadlineExceeded(
                "run deadline passed while reading (fetch.run_deadline_seconds)",
                url=url,
                attempts=attempt,
            )

    def _turns_for(self, url: str) -> _HostTurns:
        host = urlsplit(url).hostname or ""
        with self._state_lock:
            if host not in self._turns:
                self._turns[host] = self._new_turns(None)
            return self._turns[host]

    def _new_turns(self, shared_by: BaseContext | None) -> _HostTurns:
        delay = self._options.min_delay_seconds
        if delay is None:
            delay = self.config.politeness.min_delay_seconds
        return _HostTurns(
            delay_seconds=delay, concurrency=self.concurrency, shared_by=shared_by
        )

    def check_allowed(
        self, url: str, origin: str, *, redirect: bool = False, attempts: int = 0
    ) -> None:
        """Refuse a URL off site.allowed_hosts; attempts counts requests made for origin."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme in ("http", "https") and host in self.config.site.allowed_hosts:
            return
        what = "redirect to" if redirect else "link to"
        raise PermanentFetchError(
            f"{what} {url} refused: host {host!r} is not in site.allowed_hosts",
            url=origin,
            attempts=attempts,
        )

    def _check_robots(self, url: str) -> None:
        if not self.config.politeness.obey_robots:
            return
        rules = self._robots_for(url)
        if isinstance(rules, FetchError):
            # RFC 9309: while robots.txt cannot be read, assume everything is disallowed.
            raise SiteUnreachable(
                f"robots.txt unreachable ({rules.reason}); nothing on this host is fetched",
                url=url,
                status=rules.status,
                attempts=0,
            )
        if rules is not None and not rules.can_fetch(url, self.config.user_agent):
            raise DisallowedByRobots("disallowed by robots.txt", url=url, attempts=0)

    def _robots_for(self, url: str) -> Protego | FetchError | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin)
            return self._robots[origin]

    def _load_robots(self, origin: str) -> Protego | FetchError | None:
        """robots.txt per RFC 9309: a 4xx allows all; one that cannot be read, nothing."""
        robots_url = origin + "/robots.txt"
        try:
            page = self._fetch_retrying(robots_url, None, None)
        except DeadlineExceeded:
            raise
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                return None
            logger.warning(
                "robots.txt at %s cannot be read (%s); fetching nothing on this host",
                robots_url,
                error.reason,
                extra={"url": robots_url},
            )
            return error

        rules = Protego.parse(page.text)
        crawl_delay = rules.crawl_delay(self.config.user_agent)
        if crawl_delay:
            # A delay past the whole run's length means one request a run at most.
            delay = min(float(crawl_delay), self.config.fetch.run_deadline_seconds)
            self._turns_for(robots_url).raise_delay(delay)
            logger.info(
                "robots.txt asks for a Crawl-delay of %s s; honouring it", crawl_delay
            )
        return rules

    def _to_request_url(self, url: str) -> str:
        """The URL to request: on the mirror when --base-url is given."""
        if self._mirror is None:
            return url
        parts = urlsplit(url)
        return urlunsplit(
            (self._mirror[0], self._mirror[1], parts.path, parts.query, "")
        )

    def _to_site_url(self, location: str, current: str) -> str:
        """A redirect target as a site URL: a mirror address maps back to the site."""
        try:
            absolute = urljoin(self._to_request_url(current), location)
            parts = urlsplit(absolute)
        except ValueError:
            # Unparseable ("http://[oops/"): normalize_url refuses it next.
            return location
        if self._mirror is not None and (parts.scheme, parts.netloc) == self._mirror:
            site = urlsplit(current)
            return urlunsplit(
                (site.scheme, site.netloc, parts.path, parts.query, parts.fragment)
            )
        return absolute


def _is_sendable(validator: str) -> bool:
    """Whether a stored ETag or Last-Modified can go back in a header as it is.

    A server may send bytes outside ASCII; sent back, they would fail every
    later request of the URL, so such a validator is left out instead.
    """
    return validator.isascii() and validator.isprintable()


def _is_html_type(content_type: str | None) -> bool:
    """HTML, or of no declared type (then taken as HTML)."""
    kind = (content_type or "text/html").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


def _backoff_seconds(
    attempt: int, *, initial_seconds: float, max_seconds: float
) -> float:
    """Doubling waits with up to one initial wait of jitter, so that retries spread out."""
    exponential = initial_seconds * 2.0 ** (attempt - 1)
    return min(max_seconds, exponential + random.uniform(0, initial_seconds))


def _mirror_origin(base_url: str | None) -> tuple[str, str] | None:
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return parts.scheme, parts.netloc


def _raise_for_status(
    url: str, response: httpx.Response, attempt: int, cap: float
) -> None:
    status = response.status_code
    if status < 400 or status == 304:
        return
    if status in _GONE_STATUSES:
        raise PermanentFetchError(
            f"gone (HTTP {status})", url=url, status=status, attempts=attempt
        )
    if status not in _RETRIED_STATUSES and status < 500:
        raise PermanentFetchError(
            f"HTTP {status}", url=url, status=status, attempts=attempt
        )

    retry_after = _retry_after_seconds(response.headers.get("retry-after"))
    if retry_after is not None and retry_after > cap:
        raise PermanentFetchError(
            f"HTTP {status} with Retry-After {retry_after:.0f} s, over the cap of "
            f"{cap:.0f} s (fetch.retry_after_cap_seconds)",
            url=url,
            status=status,
            attempts=attempt,
        )
    error = TransientFetchError(
        f"HTTP {status}", url=url, status=status, attempts=attempt
    )
    error.retry_after_seconds = retry_after
    raise error


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its two forms (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


class _Decompressor:
    """Decompresses gzip or deflate incrementally, refusing output past a cap."""

    def __init__(self, encoding: str, cap_bytes: int) -> None:
        encoding = encoding.strip().lower()
        self._cap_bytes = cap_bytes
        self._produced = 0
        self._zlib = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()

    def feed(self, raw: bytes, *, url: str, attempt: int) -> bytes:
        if self._zlib is None:
            return self._count(raw, url, attempt)
        try:
            out = self._zlib.decompress(raw, self._cap_bytes - self._produced + 1)
        except zlib.error as error:
            raise PermanentFetchError(
                f"corrupt compressed body: {error}", url=url, attempts=attempt
            ) from error
        return self._count(out, url, attempt)

    def finish(self, *, url: str, attempt: int) -> bytes:
        if self._zlib is None:
            return b""
        tail = self._count(self._zlib.flush(), url, attempt)
        if not self._zlib.eof:
            # A cut connection without a Content-Length looks like a whole
            # body; only the compressed stream's own end tells.
            raise TransientFetchError(
                "compressed body ends before its end marker (cut off)",
                url=url,
                attempts=attempt,
            )
        return tail

    def _count(self, chunk: bytes, url: str, attempt: int) -> bytes:
        self._produced += len(chunk)
        if self._produced > self._cap_bytes:
            raise PermanentFetchError(
                f"body is over the cap of {self._cap_bytes} bytes once decompressed "
                "(fetch.max_response_bytes)",
                url=url,
                attempts=attempt,
            )
        return chunk
