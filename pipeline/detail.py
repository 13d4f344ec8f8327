"""Fetch and parse detail pages, in threads of the crawl's process or in worker
processes of their own.

A detail job goes out with what the store knows of its page; a detail result
comes back with the page's fields, its body packed for the raw store, and
what went wrong. The crawl alone writes to the database.

Worker processes pay off when the server answers faster than one interpreter
can parse: each has its own HTTP client, one request in flight, and the crawl
fetcher's host turns, so that the delay and the concurrency cap hold across
all of them.
"""

from __future__ import annotations

import logging
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from pipeline import store
from pipeline.config import SiteConfig
from pipeline.errors import FetchError, PermanentFetchError
from pipeline.fetch import (
    FetchedPage,
    Fetcher,
    FetcherHandover,
    FetchOptions,
    FetchStats,
)
from pipeline.parse import detail_as_dict, parse_detail
from pipeline.pool import HELD_WHILE_FORKING, fork_context, prepare_worker, warm_up

logger = logging.getLogger(__name__)

# Futures kept out per fetch thread, and batches (a listing page's detail
# pages) per worker process: enough to keep each busy, few enough that memory
# does not grow with the site.
_FUTURES_PER_THREAD = 4
_BATCHES_PER_PROCESS = 2


@dataclass
class DetailJob:
    """A detail link to resolve, and what is stored about it already."""

    link: str
    stored: dict[str, Any] | None
    raw: store.RawPage | None
    must_fetch: bool


@dataclass
class DetailResult:
    """What became of a detail job. The page comes back without its body, which
    travels packed for the raw store."""

    link: str
    outcome: str
    url: str
    status: int | None = None
    page: FetchedPage | None = None
    body_bytes: int = 0
    # The page's fields, packed for staging (store.pack_detail) where they were
    # parsed: a worker's CPU packs them, and fewer bytes travel back.
    packed_detail: bytes | None = None
    error: FetchError | None = None
    # The stored page a 304 confirmed, and a new body packed for the store.
    raw_id: int | None = None
    packed_body: bytes | None = None
    # The page the detail fields were parsed from.
    sha256: str | None = None
    # Counted by a worker process's fetcher; threads count on the crawl's own.
    fetch_stats: FetchStats | None = None


def record_holds(
    config: SiteConfig, stored: dict[str, Any] | None, raw: store.RawPage
) -> bool:
    """Whether a record's fields were parsed from this very page, by this parser
    and these selectors: then parsing the page again would change nothing."""
    return (
        stored is not None
        and stored.get("parser_version") == config.parser_version
        and is_page_of(stored, raw)
    )


def is_page_of(stored: dict[str, Any], raw: store.RawPage | None) -> bool:
    """Whether a stored page is the one the record was parsed from (or there is
    none to compare)."""
    return raw is None or stored.get("detail_sha256") == raw.sha256


def parse_packed(config: SiteConfig, html: str, url: str) -> bytes:
    """A detail page's fields, packed for staging."""
    parsed = parse_detail(html, page_url=url, detail=config.detail, site=config.site)
    return store.pack_detail(detail_as_dict(parsed))


def fetch_detail(fetcher: Fetcher, config: SiteConfig, job: DetailJob) -> DetailResult:
    """Fetch a detail page conditionally, then parse it when it is new or changed."""
    raw = job.raw
    try:
        page = fetcher.fetch(
            job.link,
            etag=raw.etag if raw else None,
            last_modified=raw.last_modified if raw else None,
        )
    except FetchError as error:
        outcome = "gone" if error.is_gone else "failed"
        return DetailResult(job.link, outcome, job.link, error.status, error=error)

    if page.is_not_modified:
        if raw is not None:
            return _revalidated(config, job, page, raw)
        unusable = PermanentFetchError(
            "HTTP 304 to a request without validators: nothing stored to reuse",
            url=job.link,
            status=304,
            attempts=page.attempts,
        )
        return DetailResult(job.link, "failed", job.link, 304, error=unusable)
    if not page.is_html:
        return _packed(
            DetailResult(job.link, "not-html", page.final_url, page.status), page
        )
    result = DetailResult(
        job.link,
        "parsed",
        page.final_url,
        page.status,
        packed_detail=parse_packed(config, page.text, page.final_url),
        sha256=page.sha256,
    )
    return _packed(result, page)


def _revalidated(
    config: SiteConfig, job: DetailJob, page: FetchedPage, raw: store.RawPage
) -> DetailResult:
    """A 304: the stored page stands, and is parsed only when the record lags it."""
    if job.stored is not None and record_holds(config, job.stored, raw):
        return DetailResult(
            job.link, "not-modified", job.stored["url"], 304, page=page, raw_id=raw.id
        )
    return DetailResult(
        job.link,
        "parsed",
        raw.final_url,
        304,
        page=page,
        packed_detail=parse_packed(config, raw.text, raw.final_url),
        raw_id=raw.id,
        sha256=raw.sha256,
    )


def _packed(result: DetailResult, page: FetchedPage) -> DetailResult:
    """The result with the body packed here, off the crawl's main thread (zlib
    releases the GIL), and dropped from the page along with its decoded text."""
    result.packed_body = store.pack_body(page.body)
    result.body_bytes = len(page.body)
    decoded = replace(page.decoded, text="") if page.decoded else None
    result.page = replace(page, body=b"", decoded=decoded)
    return result


class DetailWorkers:
    """Runs detail jobs in threads sharing the crawl's fetcher, or in worker
    processes with fetchers of their own (processes > 0)."""

    def __init__(self, config: SiteConfig, fetcher: Fetcher, *, processes: int) -> None:
        self._config = config
        self._fetcher = fetcher
        self._processes = processes
        self._executor: ThreadPoolExecutor | ProcessPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        """Futures to keep out at most; bounds memory on big sites."""
        if self._processes < 1:
            return self._fetcher.concurrency * _FUTURES_PER_THREAD
        return self._processes * _BATCHES_PER_PROCESS

    def submit(self, jobs: list[DetailJob]) -> list[Future[list[DetailResult]]]:
        """Start the jobs: one future each in threads, one for the batch in a
        worker process, where each job sent alone would cost a round trip."""
        if self._executor is None:
            self._executor = self._start()
        if isinstance(self._executor, ThreadPoolExecutor):
            return [
                self._executor.submit(
                    _fetch_in_thread, self._fetcher, self._config, job
                )
                for job in jobs
            ]
        return [self._executor.submit(_fetch_in_worker, jobs)]

    def _start(self) -> ThreadPoolExecutor | ProcessPoolExecutor:
        if self._processes < 1:
            return ThreadPoolExecutor(
                max_workers=self._fetcher.concurrency, thread_name_prefix="detail"
            )

        # Started at the first job, once the first listing brought robots.txt in.
        setup = (self._config, self._fetcher.fetch_options, self._fetcher.handover())
        executor = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=fork_context(),
            initializer=_start_worker,
            initargs=setup,
        )
        logger.debug("Fetching detail pages in %d worker processes", self._processes)
        # With fork, every worker is forked at the first submit; a signal held
        # meanwhile arrives once they stand.
        signal.pthread_sigmask(signal.SIG_BLOCK, HELD_WHILE_FORKING)
        try:
            executor.submit(warm_up).result()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_WHILE_FORKING)
        return executor

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the jobs out, or with cancel, drop those not started."""
        if self._executor is not None:
            self._executor.shutdown(wait=not cancel, cancel_futures=cancel)
            self._executor = None


# The fetcher of a worker process, made once by its initializer.
_worker_fetcher: Fetcher | None = None
_worker_config: SiteConfig | None = None


def _start_worker(
    config: SiteConfig, options: FetchOptions, handover: FetcherHandover
) -> None:
    global _worker_fetcher, _worker_config
    prepare_worker()
    _worker_config = config
    _worker_fetcher = Fetcher(config, options=options, handover=handover)


def _fetch_in_thread(
    fetcher: Fetcher, config: SiteConfig, job: DetailJob
) -> list[DetailResult]:
    return [fetch_detail(fetcher, config, job)]


def _fetch_in_worker(jobs: list[DetailJob]) -> list[DetailResult]:
    assert _worker_fetcher is not None and _worker_config is not None
    results = []
    for job in jobs:
        before = replace(_worker_fetcher.stats)
        result = fetch_detail(_worker_fetcher, _worker_config, job)
        result.fetch_stats = _worker_fetcher.stats.since(before)
        results.append(result)
    return results
