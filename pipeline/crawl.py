"""Run a crawl: walk the listings, decide which detail pages need fetching, stage
what comes back, and publish it through the quality gate.

This module decides; fetch fetches, parse extracts, store stores, and publish
turns staged results into records.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlite_utils

from pipeline import store
from pipeline.config import SiteConfig
from pipeline.detail import (
    DetailJob,
    DetailResult,
    DetailWorkers,
    is_page_of,
    parse_packed,
    record_holds,
)
from pipeline.errors import (
    DeadlineExceeded,
    DisallowedByRobots,
    FetchError,
    PermanentFetchError,
    QualityGateError,
    SiteUnreachable,
    interruption_reason,
)
from pipeline.fetch import FetchedPage, Fetcher, FetchOptions, FetchStats
from pipeline.lock import hold_run_lock
from pipeline.normalize import utc_now
from pipeline.parse import (
    ListingEntry,
    ListingPage,
    parse_listing,
    theme_slug_from_url,
)
from pipeline.pool import fork_context
from pipeline.publish import check_before_publishing, publish_run

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, str], None]

# Counters every run records, zero or not, so that queries on runs.counts find them.
_RUN_COUNTERS = (
    "requests",
    "not_modified",
    "skipped",
    "failed",
    "gone",
    "retries",
    "listing_pages",
    "entries",
    "duplicates",
    "robots_disallowed",
    "off_host",
    "not_html",
    "replaced_pages",
)


@dataclass(frozen=True)
class CrawlOptions:
    """What a crawl may do beyond its config: command-line overrides."""

    base_url: str | None = None
    max_pages: int | None = None
    concurrency: int | None = None
    min_delay_seconds: float | None = None
    processes: int | None = None
    is_full: bool = False


@dataclass
class RunSummary:
    """How a run ended: its status, exit status and counts."""

    run_id: int
    status: str
    is_full_sweep: bool
    is_complete: bool
    counts: dict[str, Any]
    reason: str | None = None

    @property
    def exit_status(self) -> int:
        return {"succeeded": 0, "partial": 3, "failed": 3, "refused": 4}.get(
            self.status, 1
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_status": self.exit_status, "line": self.line()}

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        c = self.counts
        sweep = "full sweep" if self.is_full_sweep else "incremental"
        return (
            f"run {self.run_id} {self.status} ({sweep}): "
            f"{c.get('requests', 0)} requests, {c.get('not_modified', 0)} not modified, "
            f"{c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed; projects "
            f"{c.get('new', 0)} new, {c.get('changed', 0)} changed, "
            f"{c.get('unchanged', 0)} unchanged, {c.get('removed', 0)} removed"
        )


@dataclass
class _RunState:
    """What a run has learned so far, beyond what is staged in the database."""

    counts: Counter[str] = field(default_factory=Counter)
    status_mix: Counter[str] = field(default_factory=Counter)
    seen_links: set[str] = field(default_factory=set)
    fetched_listing_urls: set[str] = field(default_factory=set)
    gate_problems: list[str] = field(default_factory=list)
    is_complete: bool = True
    deadline_hit: bool = False
    is_site_unreachable: bool = False
    first_failure: str | None = None


def run_crawl(
    config: SiteConfig,
    database_path: str | Path,
    *,
    options: CrawlOptions = CrawlOptions(),
    progress: ProgressCallback | None = None,
) -> RunSummary:
    """Crawl the site into the database under the run lock.

    Raises LockedError when another run holds the database, StorageError
    when the database cannot be used. A refused or partial run is not an
    error: the summary says so.
    """
    with hold_run_lock(database_path):
        database = store.open_database(database_path)
        try:
            return _Crawl(config, database, options, progress).run()
        finally:
            database.close()


class _Crawl:
    def __init__(
        self,
        config: SiteConfig,
        database: sqlite_utils.Database,
        options: CrawlOptions,
        progress: ProgressCallback | None,
    ) -> None:
        self.config = config
        self.database = database
        self.options = options
        self.progress = progress or (lambda kind, url: None)
        self.state = _RunState()
        self.started_at = utc_now()
        store.ensure_field_columns(database, list(config.detail.fields))
        interrupted = store.mark_interrupted_runs(database, at=self.started_at)
        if interrupted:
            logger.warning("Marked %d earlier run(s) as interrupted", interrupted)
        # Under the lock no other run is live: staged rows left behind are a dead run's.
        store.clear_staging(database)
        self.is_full_sweep = options.is_full or self._full_sweep_due()
        self.fresh_since = self._last_publish_time()
        self.run_id = store.start_run(
            database,
            kind="crawl",
            started_at=self.started_at,
            is_full_sweep=self.is_full_sweep,
            parser_version=config.parser_version,
        )

    def _full_sweep_due(self) -> bool:
        last = store.last_run(
            self.database, statuses=("succeeded", "partial"), complete_only=True
        )
        if last is None:
            return True
        age = _age(last["started_at"])
        return age >= timedelta(hours=self.config.incremental.full_sweep_every_hours)

    def _last_publish_time(self) -> str:
        last = store.last_run(
            self.database, statuses=("succeeded", "partial", "refused")
        )
        return (last or {}).get("ended_at") or ""

    def run(self) -> RunSummary:
        kind = "full sweep" if self.is_full_sweep else "incremental run"
        logger.info(
            "Run %d started (%s)", self.run_id, kind, extra={"run_id": self.run_id}
        )
        try:
            self._collect()
            counts = self._finish_counts()
            if not counts.get("listing_pages"):
                return self._end(
                    "failed", counts=counts, reason=self._nothing_read_reason()
                )
            counts["projects_seen"] = store.count_staged_projects(
                self.database, self.run_id
            )
            check_before_publishing(
                self.database,
                self.config,
                self.state.gate_problems,
                projects=counts["projects_seen"],
                is_complete=self._is_complete_sweep(),
            )
        except QualityGateError as refusal:
            return self._refuse(refusal)
        except BaseException as error:
            self._end_abruptly(error)
            raise

        # Records and the run's end commit together; Ctrl-C waits for the commit.
        with _signals_deferred():
            logger.info(
                "Run %d: checking and publishing %d projects",
                self.run_id,
                counts["projects_seen"],
                extra={"run_id": self.run_id, "stage": "publish"},
            )
            try:
                return self._publish(counts)
            except QualityGateError as refusal:
                # Raised inside the transaction: no record of this run was kept.
                return self._refuse(refusal)

    def _publish(self, counts: dict[str, Any]) -> RunSummary:
        with store.transaction(self.database):
            counts.update(
                publish_run(
                    self.database,
                    self.config,
                    run_id=self.run_id,
                    now=utc_now(),
                    is_complete_sweep=self._is_complete_sweep(),
                )
            )
            return self._end(
                "partial" if counts["failed"] else "succeeded", counts=counts
            )

    def _refuse(self, refusal: QualityGateError) -> RunSummary:
        counts = {**self._finish_counts(), **refusal.counts}
        counts["projects_seen"] = store.count_staged_projects(
            self.database, self.run_id
        )
        return self._end("refused", counts=counts, reason=str(refusal))

    def _nothing_read_reason(self) -> str:
        first = self.state.first_failure or "no start URL could be read"
        return f"no listing page could be read; first failure: {first}"

    def _is_complete_sweep(self) -> bool:
        return (
            self.is_full_sweep
            and self.state.is_complete
            and not self.state.deadline_hit
        )

    def _end(
        self, status: str, *, counts: dict[str, Any], reason: str | None = None
    ) -> RunSummary:
        store.clear_staging(self.database, run_id=self.run_id)
        store.finish_run(
            self.database,
            self.run_id,
            status=status,
            ended_at=utc_now(),
            counts=counts,
            is_complete=self._is_complete_sweep() and status != "refused",
            reason=reason,
        )
        return RunSummary(
            self.run_id,
            status,
            self.is_full_sweep,
            self._is_complete_sweep(),
            counts,
            reason,
        )

    def _end_abruptly(self, error: BaseException) -> None:
        """Record an exception or interrupt; staged rows stay for the record."""
        try:
            store.finish_run(
                self.database,
                self.run_id,
                status="interrupted",
                ended_at=utc_now(),
                counts=self._finish_counts(),
                reason=interruption_reason(error),
            )
        except Exception:
            logger.debug(
                "Could not record the end of run %d", self.run_id, exc_info=True
            )

    def _finish_counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {name: 0 for name in _RUN_COUNTERS}
        counts.update(self.state.counts)
        counts["status_mix"] = dict(sorted(self.state.status_mix.items()))
        return counts

    # Collecting ------------------------------------------------------------

    def _collect(self) -> None:
        fetch_options = FetchOptions(
            base_url=self.options.base_url,
            concurrency=self.options.concurrency,
            min_delay_seconds=self.options.min_delay_seconds,
        )
        processes = self._worker_processes()
        shared_by = fork_context() if processes else None
        with Fetcher(
            self.config, options=fetch_options, shared_by=shared_by
        ) as fetcher:
            self.fetcher = fetcher
            self.workers = DetailWorkers(self.config, fetcher, processes=processes)
            self.worker_stats = FetchStats()
            self.in_flight: set[Future[list[DetailResult]]] = set()
            try:
                for start_url in self.config.site.start_urls:
                    if self.state.deadline_hit or self.state.is_site_unreachable:
                        break
                    self._walk_listing(start_url)
                self._drain(until_empty=True)
            except BaseException:
                # An interrupt must not wait for requests still in flight.
                self.workers.close(cancel=True)
                raise
            self.workers.close()
            self._count_fetch_stats(fetcher)

    def _worker_processes(self) -> int:
        """Detail worker processes: each has one request in flight, so no more
        than the concurrency allows."""
        processes = self.options.processes
        if processes is None:
            processes = self.config.fetch.processes
        concurrency = self.options.concurrency or self.config.politeness.concurrency
        if processes > concurrency:
            logger.warning(
                "Starting %d worker processes, not %d: each has a request in "
                "flight, and politeness.concurrency (or --concurrency) allows %d",
                concurrency,
                processes,
                concurrency,
            )
        return min(processes, concurrency)

    def _count_fetch_stats(self, fetcher: Fetcher) -> None:
        stats = fetcher.stats
        stats.add(self.worker_stats)
        self.state.counts.update(
            requests=stats.requests,
            not_modified=stats.not_modified,
            retries=stats.retries,
            replaced_pages=stats.replaced_pages,
        )

    def _walk_listing(self, start_url: str) -> None:
        """Follow one start URL's pagination, scheduling every entry's detail page."""
        theme = theme_slug_from_url(start_url, self.config.site.theme_parameter)
        max_pages = self.options.max_pages or self.config.listing.max_pages
        url: str | None = self.config.site.canonical_url(start_url)
        pages = 0
        unchanged_streak = 0
        walk_links: set[str] = set()
        while url is not None:
            if url in self.state.fetched_listing_urls:
                break
            if pages >= max_pages:
                logger.warning(
                    "Stopped %s after %d listing pages (listing.max_pages)",
                    start_url,
                    pages,
                )
                self.state.is_complete = False
                break
            listing = self._read_listing(url)
            if listing is None:
                self.state.is_complete = False
                break
            pages += 1
            changed = self._take_entries(listing, theme)
            self._drain(until_empty=False)
            links = {entry.detail_url for entry in listing.entries}
            if links and links <= walk_links:
                # A page repeating only what this walk has seen: pagination went round.
                break
            walk_links |= links
            unchanged_streak = unchanged_streak + 1 if changed == 0 else 0
            if (
                not self.is_full_sweep
                and unchanged_streak
                >= self.config.incremental.stop_after_unchanged_pages
            ):
                logger.info(
                    "Stopped %s early: %d listing pages in a row brought nothing new",
                    start_url,
                    unchanged_streak,
                )
                self.state.is_complete = False
                break
            url = listing.next_url

    def _read_listing(self, url: str) -> ListingPage | None:
        self.state.fetched_listing_urls.add(url)
        raw = store.latest_raw_page(self.database, url)
        page = self._fetch_or_record(url, raw)
        if page is None:
            return None
        if page.final_url != url and page.final_url in self.state.fetched_listing_urls:
            # Some sites send a page past the end back to page 1: the pages in
            # between were never seen, so nothing may be judged missing.
            logger.warning(
                "Listing page %s redirects to %s, read already in this run; the "
                "walk stops there and this run marks nothing removed",
                url,
                page.final_url,
                extra={"url": url, "run_id": self.run_id, "stage": "listing"},
            )
            self.state.is_complete = False
            return None
        self.progress("listing", url)
        text, body_bytes = self._page_text(url, page, raw)
        # Relative links resolve against where the page ended up after redirects.
        final_url = raw.final_url if page.is_not_modified and raw else page.final_url
        listing = self._on_canonical_origin(
            parse_listing(text, page_url=final_url, listing=self.config.listing)
        )
        self.state.counts["listing_pages"] += 1
        self.state.counts["entries"] += len(listing.entries)
        if (
            not listing.entries
            and body_bytes > self.config.quality.empty_listing_min_bytes
        ):
            self.state.gate_problems.append(
                f"listing page {url} ({body_bytes} bytes) yielded no entry: "
                f"selector listing.entry {self.config.listing.entry!r} matched nothing"
            )
        elif not listing.entries:
            # Too small to judge the selectors, too empty to judge removals by.
            self.state.is_complete = False
            logger.warning(
                "Listing page %s (%d bytes) has no entry; this run marks nothing "
                "removed",
                url,
                body_bytes,
                extra={"url": url, "run_id": self.run_id},
            )
        logger.info(
            "Listing page %s: %d entries",
            url,
            len(listing.entries),
            extra={"url": url, "run_id": self.run_id, "stage": "listing"},
        )
        return listing

    def _on_canonical_origin(self, listing: ListingPage) -> ListingPage:
        """The listing with its links on site.canonical_origin, when one is set."""
        site = self.config.site
        if site.canonical_origin is None:
            return listing
        entries = [
            replace(entry, detail_url=site.canonical_url(entry.detail_url))
            for entry in listing.entries
        ]
        next_url = site.canonical_url(listing.next_url) if listing.next_url else None
        return ListingPage(listing.url, entries, next_url)

    def _page_text(
        self, url: str, page: FetchedPage, raw: store.RawPage | None
    ) -> tuple[str, int]:
        """The HTML of a fetched page, from the store when the server said 304."""
        if page.is_not_modified and raw is not None:
            store.mark_raw_page_validated(
                self.database,
                raw.id,
                at=page.fetched_at,
                etag=page.etag,
                last_modified=page.last_modified,
            )
            return raw.text, len(raw.body)
        packed_body = store.pack_body(page.body)
        self._save_raw(
            page, kind="listing", packed_body=packed_body, body_bytes=len(page.body)
        )
        return page.text, len(page.body)

    def _save_raw(
        self, page: FetchedPage, *, kind: str, packed_body: bytes, body_bytes: int
    ) -> None:
        decoded = page.decoded
        store.save_raw_page(
            self.database,
            run_id=self.run_id,
            kind=kind,
            url=page.url,
            final_url=page.final_url,
            status=page.status,
            etag=page.etag,
            last_modified=page.last_modified,
            content_type=page.content_type,
            fetched_at=page.fetched_at,
            sha256=page.sha256,
            body_bytes=body_bytes,
            compressed_body=packed_body,
            charset=decoded.charset if decoded else None,
            charset_source=decoded.source if decoded else None,
        )

    def _fetch_or_record(
        self, url: str, raw: store.RawPage | None
    ) -> FetchedPage | None:
        """Fetch conditionally on the main thread; a failure is recorded, not raised."""
        try:
            page = self.fetcher.fetch(
                url,
                etag=raw.etag if raw else None,
                last_modified=raw.last_modified if raw else None,
            )
        except FetchError as error:
            self._record_failure(error, kind="listing")
            return None
        self.state.status_mix[str(page.status)] += 1
        if page.is_not_modified and raw is None:
            self._record_failure(
                PermanentFetchError("304 for a page never stored", url=url),
                kind="listing",
            )
            return None
        return page

    def _take_entries(self, listing: ListingPage, theme: str | None) -> int:
        """Stage a listing page's entries; returns how many are new or changed."""
        with store.transaction(self.database):
            store.stage_entries(
                self.database,
                run_id=self.run_id,
                listing_url=listing.url,
                theme=theme,
                entries=[
                    (entry.detail_url, entry.position, entry.title, entry.summary)
                    for entry in listing.entries
                ],
            )
        changed = 0
        to_fetch: list[DetailJob] = []
        kept: list[DetailResult] = []
        for entry in listing.entries:
            if entry.detail_url in self.state.seen_links:
                self.state.counts["duplicates"] += 1
                continue
            self.state.seen_links.add(entry.detail_url)
            job = self._plan_detail(entry)
            if job.stored is None or self._listing_changed(entry, job.stored):
                changed += 1
            if not job.must_fetch:
                kept.append(self._resolve_unfetched(job))
            elif self._is_allowed(job):
                to_fetch.append(job)
        self._absorb(kept)
        self._submit(to_fetch)
        return changed

    def _listing_changed(self, entry: ListingEntry, stored: dict[str, Any]) -> bool:
        return (
            stored.get("removed_at") is not None
            or entry.title != stored.get("listing_title")
            or entry.summary != stored.get("listing_summary")
        )

    def _plan_detail(self, entry: ListingEntry) -> DetailJob:
        """Decide whether a detail page is requested at all (then conditionally)."""
        stored = store.load_project(self.database, entry.detail_url)
        raw_url = stored["url"] if stored else entry.detail_url
        raw = store.latest_raw_page(self.database, raw_url)
        if raw is None and stored is not None:
            raw = store.latest_raw_page(self.database, entry.detail_url)
        max_age = timedelta(days=self.config.incremental.detail_max_age_days)
        is_recent = raw is not None and _age(raw.validated_at) < max_age
        if is_recent and raw is not None and raw.validated_at > self.fresh_since:
            # Fetched since the last publish, by this run or one that died.
            return DetailJob(entry.detail_url, stored, raw, must_fetch=False)
        must_fetch = (
            self.is_full_sweep
            or stored is None
            or self._listing_changed(entry, stored)
            or not is_recent
            # A page stored since, by a run that was refused or failed, was never
            # accepted: the site is asked again rather than trusted on it.
            or not is_page_of(stored, raw)
        )
        return DetailJob(entry.detail_url, stored, raw, must_fetch=must_fetch)

    def _is_allowed(self, job: DetailJob) -> bool:
        try:
            self.fetcher.check_allowed(job.link, job.link)
        except PermanentFetchError as error:
            self._record_failure(error, kind="off-host")
            return False
        return True

    def _submit(self, jobs: list[DetailJob]) -> None:
        if not jobs:
            return
        while len(self.in_flight) >= self.workers.capacity:
            self._drain(until_empty=False, block=True)
        self.in_flight.update(self.workers.submit(jobs))

    def _drain(self, *, until_empty: bool, block: bool = False) -> None:
        while self.in_flight:
            timeout = None if (until_empty or block) else 0
            done, self.in_flight = wait(
                self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED
            )
            self._absorb([result for future in done for result in future.result()])
            if not until_empty:
                return

    def _resolve_unfetched(self, job: DetailJob) -> DetailResult:
        """A detail page not requested this run: the stored record stands, or the
        stored raw page is parsed when the record does not hold its fields yet."""
        self.state.counts["skipped"] += 1
        if job.raw is not None and not record_holds(self.config, job.stored, job.raw):
            return DetailResult(
                job.link,
                "parsed",
                job.raw.final_url,
                job.raw.status,
                packed_detail=parse_packed(
                    self.config, job.raw.text, job.raw.final_url
                ),
                sha256=job.raw.sha256,
            )
        if job.stored is not None:
            return DetailResult(
                job.link, "kept", job.stored["url"], job.stored.get("last_status")
            )
        return DetailResult(job.link, "kept", job.link)

    def _absorb(self, results: list[DetailResult]) -> None:
        """Main thread: store what detail jobs brought back and stage their
        outcomes, in one transaction: commits cost more than rows."""
        if not results:
            return
        with store.transaction(self.database):
            for result in results:
                self._absorb_unlocked(result)

    def _absorb_unlocked(self, result: DetailResult) -> None:
        page = result.page
        if result.fetch_stats is not None:
            self.worker_stats.add(result.fetch_stats)
        if page is not None:
            self.state.status_mix[str(page.status)] += 1
            if page.is_not_modified and result.raw_id is not None:
                store.mark_raw_page_validated(
                    self.database,
                    result.raw_id,
                    at=page.fetched_at,
                    etag=page.etag,
                    last_modified=page.last_modified,
                )
            elif result.packed_body is not None:
                self._save_raw(
                    page,
                    kind="detail",
                    packed_body=result.packed_body,
                    body_bytes=result.body_bytes,
                )
            self.progress("detail", result.link)
            logger.info(
                "Detail page %s: HTTP %d, %s",
                result.link,
                page.status,
                result.outcome,
                extra={"url": result.link, "run_id": self.run_id, "stage": "detail"},
            )
        if result.error is not None:
            self._record_detail_error(result.error)
        if result.outcome == "not-html":
            self.state.counts["not_html"] += 1
            store.save_failure(
                self.database,
                run_id=self.run_id,
                url=result.link,
                kind="not-html",
                status=result.status,
                error=f"not HTML: {page.content_type if page else '?'}",
                attempts=page.attempts if page else 1,
                failed_at=utc_now(),
            )
        self.state.counts[f"detail_{result.outcome.replace('-', '_')}"] += 1
        store.stage_detail(
            self.database,
            run_id=self.run_id,
            detail_link=result.link,
            url=self.config.site.canonical_url(result.url),
            status=result.status,
            outcome=result.outcome,
            packed_detail=result.packed_detail,
            sha256=result.sha256,
        )

    def _record_detail_error(self, error: FetchError) -> None:
        if error.is_gone:
            self.state.status_mix[str(error.status)] += 1
            self.state.counts["gone"] += 1
            store.save_failure(
                self.database,
                run_id=self.run_id,
                url=error.url,
                kind="gone",
                status=error.status,
                error=error.reason,
                attempts=error.attempts,
                failed_at=utc_now(),
            )
            logger.info(
                "Detail page %s is gone (HTTP %s)",
                error.url,
                error.status,
                extra={"url": error.url},
            )
            return
        self._record_failure(error, kind="detail")

    def _record_failure(self, error: FetchError, *, kind: str) -> None:
        if isinstance(error, SiteUnreachable):
            self.state.is_site_unreachable = True
            self.state.is_complete = False
            kind, counter = "unreachable", "failed"
        elif isinstance(error, DisallowedByRobots):
            kind, counter = "robots", "robots_disallowed"
        elif isinstance(error, DeadlineExceeded):
            self.state.deadline_hit = True
            kind, counter = "deadline", "failed"
        elif kind == "off-host":
            counter = "off_host"
        else:
            counter = "failed"
        self.state.counts[counter] += 1
        self.state.first_failure = self.state.first_failure or str(error)
        if error.status is not None:
            self.state.status_mix[str(error.status)] += 1
        store.save_failure(
            self.database,
            run_id=self.run_id,
            url=error.url,
            kind=kind,
            status=error.status,
            error=error.reason,
            attempts=error.attempts,
            failed_at=utc_now(),
        )
        if kind == "unreachable":
            return  # The fetcher said it once; the run's last line says it again.
        level = (
            logging.WARNING
            if counter in ("robots_disallowed", "off_host")
            else logging.ERROR
        )
        logger.log(
            level,
            "Gave up on %s: %s (%s attempt(s))",
            error.url,
            error.reason,
            error.attempts,
            extra={"url": error.url, "run_id": self.run_id},
        )


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Note SIGINT and SIGTERM instead of acting on them until the block ends, so
    that a publish is never cut in half.

    Handlers, not a signal mask: the mask is per thread, and the kernel hands a
    signal to any thread that does not block it (a fetch or hashing thread).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, frame: arrived.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        # A stop asked for while publishing came too late to stop anything: the
        # run is whole, so it ends as it went (its summary, its exit status).
        for late in arrived:
            logger.info(
                "%s came while publishing; the run had finished, so it stands",
                signal.Signals(late).name,
            )


def _age(timestamp: str) -> timedelta:
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
    return datetime.now(timezone.utc) - moment
