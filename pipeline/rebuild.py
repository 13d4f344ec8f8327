"""Re-derive every record from the stored raw pages with today's parser and config.

No network: listing and detail pages come from the raw store. The rebuild runs
under the run lock in one transaction, so readers see the old records or the
new ones, never a mix; a dry run rolls that transaction back.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from pipeline import store
from pipeline.config import SiteConfig
from pipeline.errors import interruption_reason
from pipeline.lock import hold_run_lock
from pipeline.normalize import utc_now
from pipeline.parse import parse_listing
from pipeline.pool import ParsePool, default_processes
from pipeline.publish import publish_record
from pipeline.report import open_existing, require_database

logger = logging.getLogger(__name__)

# Records re-derived per round of parallel parsing; bounds memory on big sites.
_BATCH_PROJECTS = 64


@dataclass
class RebuildReport:
    """What a rebuild changed, or would change in a dry run."""

    run_id: int
    is_dry_run: bool
    records: int = 0
    changed: int = 0
    without_raw_page: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    refusal: str | None = None

    @property
    def exit_status(self) -> int:
        return 4 if self.refusal else 0

    def render(self) -> str:
        verb = "would change" if self.is_dry_run or self.refusal else "changed"
        lines = [
            f"rebuild {self.run_id}: {self.records} records re-derived, "
            f"{self.changed} {verb}, {self.without_raw_page} without a stored page"
        ]
        lines += [f"  {name}: {count}" for name, count in sorted(self.fields.items())]
        if self.is_dry_run and not self.refusal:
            lines.append("dry run: nothing was written")
        return "\n".join(lines)


def run_rebuild(
    config: SiteConfig, database_path: str | Path, *, dry_run: bool
) -> RebuildReport:
    """Re-parse every record's stored pages; write the changes unless dry_run.

    Raises LockedError when a crawl holds the database.
    """
    require_database(database_path)
    # Workers are forked first, so that they never inherit the lock or the database.
    with (
        ParsePool(config, processes=default_processes()) as parser,
        hold_run_lock(database_path),
    ):
        database = open_existing(database_path)
        try:
            store.ensure_field_columns(database, list(config.detail.fields))
            store.mark_interrupted_runs(database, at=utc_now())
            return _rebuild(config, database, parser, dry_run=dry_run)
        finally:
            database.close()


def _rebuild(
    config: SiteConfig,
    database: sqlite_utils.Database,
    parser: ParsePool,
    *,
    dry_run: bool,
) -> RebuildReport:
    now = utc_now()
    run_id = store.start_run(
        database,
        kind="rebuild",
        started_at=now,
        is_full_sweep=False,
        parser_version=config.parser_version,
    )
    report = RebuildReport(run_id, dry_run)
    listing_entries = _listing_entries(config, database)
    counts: dict[str, int] = Counter()
    before = _fill_rates(database, config.quality.required_fields)
    database.execute("BEGIN IMMEDIATE")
    try:
        # Each batch is handed to the parsers before the one before it is
        # written, so that parsing and writing overlap.
        parsing: _Batch | None = None
        for urls in _batches(_project_urls(database)):
            following = _start_batch(database, parser, urls, report)
            if parsing is not None:
                _finish_batch(
                    config, database, parsing, listing_entries, run_id, now, counts
                )
            parsing = following
        if parsing is not None:
            _finish_batch(
                config, database, parsing, listing_entries, run_id, now, counts
            )
        report.changed = counts["changed"]
        report.fields.update(
            dict(
                database.execute(
                    "SELECT field, COUNT(*) FROM changes WHERE run_id = ? GROUP BY field",
                    (run_id,),
                ).fetchall()
            )
        )
        report.refusal = _refusal(
            config, before, _fill_rates(database, config.quality.required_fields)
        )
    except BaseException as error:
        database.execute("ROLLBACK")
        store.finish_run(
            database,
            run_id,
            status="interrupted",
            ended_at=utc_now(),
            counts=dict(counts),
            reason=interruption_reason(error),
        )
        raise
    database.execute("ROLLBACK" if dry_run or report.refusal else "COMMIT")
    status = "refused" if report.refusal else "dry-run" if dry_run else "succeeded"
    store.finish_run(
        database,
        run_id,
        status=status,
        ended_at=utc_now(),
        # Zero counts too, so that queries on runs.counts find every key.
        counts={
            "changed": counts["changed"],
            "unchanged": counts["unchanged"],
            **counts,
            "records": report.records,
        },
        reason=report.refusal,
    )
    return report


def _fill_rates(database: sqlite_utils.Database, fields: list[str]) -> dict[str, float]:
    """Share of current records with each field filled."""
    total = database.execute("SELECT COUNT(*) FROM current_projects").fetchone()[0]
    rates = {}
    for name in fields:
        filled = database.execute(
            f"SELECT COUNT(*) FROM current_projects WHERE [{name}] IS NOT NULL"
        ).fetchone()[0]
        rates[name] = filled / total if total else 1.0
    return rates


def _refusal(
    config: SiteConfig, before: dict[str, float], after: dict[str, float]
) -> str | None:
    """Why the rebuilt records must not be kept: the crawl's quality gate, applied
    to the whole dataset. None when they may."""
    quality = config.quality
    for name, rate in after.items():
        drop_points = (before[name] - rate) * 100
        if rate < before[name] and 1 - rate > quality.max_empty_ratio:
            return (
                f"field {name!r} would be empty on {1 - rate:.0%} of the records "
                f"(quality.max_empty_ratio allows {quality.max_empty_ratio:.0%}); "
                "nothing was written"
            )
        if drop_points > quality.max_fill_drop_points:
            return (
                f"field {name!r} fill rate would fall from {before[name]:.0%} to "
                f"{rate:.0%} (quality.max_fill_drop_points); nothing was written"
            )
    return None


def _project_urls(database: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in database.execute("SELECT url FROM projects ORDER BY url")]


def _batches(urls: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(urls), _BATCH_PROJECTS):
        yield urls[start : start + _BATCH_PROJECTS]


def _listing_entries(
    config: SiteConfig, database: sqlite_utils.Database
) -> dict[str, Any]:
    """Every detail link's entry as the newest stored listing pages show it."""
    entries: dict[str, Any] = {}
    for raw in store.iter_latest_raw_pages(database, kind="listing"):
        listing = parse_listing(
            raw.text, page_url=raw.final_url, listing=config.listing
        )
        for entry in listing.entries:
            entries.setdefault(config.site.canonical_url(entry.detail_url), entry)
    return entries


@dataclass
class _Batch:
    """Records being rebuilt: their rows, stored pages, and fields as parsed."""

    projects: list[dict[str, Any]]
    raws: list[store.RawPage | None]
    details: Iterator[dict[str, Any]]


def _start_batch(
    database: sqlite_utils.Database,
    parser: ParsePool,
    urls: list[str],
    report: RebuildReport,
) -> _Batch:
    """Load a batch of records and set their stored pages parsing."""
    projects = [store.load_project(database, url) or {} for url in urls]
    raws = [_stored_detail_page(database, project) for project in projects]
    report.records += len(projects)
    report.without_raw_page += sum(1 for raw in raws if raw is None)
    details = parser.parse_details([raw for raw in raws if raw is not None])
    return _Batch(projects, raws, iter(details))


def _finish_batch(
    config: SiteConfig,
    database: sqlite_utils.Database,
    batch: _Batch,
    listing_entries: dict[str, Any],
    run_id: int,
    now: str,
    counts: dict[str, int],
) -> None:
    """Write a batch of records from their freshly parsed fields."""
    for project, raw in zip(batch.projects, batch.raws):
        if raw is None:
            continue
        link = project["detail_link"] or project["url"]
        found = {
            "url": project["url"],
            "status": raw.status,
            "outcome": "parsed",
            "detail": next(batch.details),
            "sha256": raw.sha256,
        }
        publish_record(
            database,
            config,
            link=link,
            entry=_entry(project, listing_entries.get(link)),
            found=found,
            run_id=run_id,
            now=now,
            is_complete_sweep=False,
            counts=counts,
            is_rebuild=True,
            stored=project or None,
        )


def _stored_detail_page(
    database: sqlite_utils.Database, project: dict[str, Any]
) -> store.RawPage | None:
    # The page the record was parsed from: a later one a refused run kept was
    # never accepted, and the next crawl asks the site about it again.
    parsed_from = project.get("detail_sha256")
    raw = store.latest_raw_page(database, project["url"], preferring=parsed_from)
    if raw is None and project.get("detail_link"):
        raw = store.latest_raw_page(
            database, project["detail_link"], preferring=parsed_from
        )
    return raw


def _entry(project: dict[str, Any], listed: Any) -> dict[str, Any]:
    """A record's listing entry: as the stored listing pages show it, else as kept."""
    return {
        "listing_url": project["listing_url"],
        "position": project["listing_position"],
        "title": listed.title if listed else project["listing_title"],
        "summary": listed.summary if listed else project["listing_summary"],
        "themes": set(json.loads(project["listing_themes"] or "[]")),
    }
