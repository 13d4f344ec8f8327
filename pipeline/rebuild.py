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
from typing import Any

import sqlite_utils

from pipeline import PARSER_VERSION, store
from pipeline.config import SiteConfig
from pipeline.lock import hold_run_lock
from pipeline.normalize import utc_now
from pipeline.parse import parse_detail, parse_listing
from pipeline.publish import detail_as_dict, publish_record
from pipeline.report import open_existing

logger = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    """What a rebuild changed, or would change in a dry run."""

    run_id: int
    is_dry_run: bool
    records: int = 0
    changed: int = 0
    without_raw_page: int = 0
    fields: Counter[str] = field(default_factory=Counter)

    def render(self) -> str:
        verb = "would change" if self.is_dry_run else "changed"
        lines = [f"rebuild {self.run_id}: {self.records} records re-derived, "
                 f"{self.changed} {verb}, {self.without_raw_page} without a stored page"]
        lines += [f"  {name}: {count}" for name, count in sorted(self.fields.items())]
        if self.is_dry_run:
            lines.append("dry run: nothing was written")
        return "\n".join(lines)


def run_rebuild(config: SiteConfig, database_path: str | Path, *, dry_run: bool) -> RebuildReport:
    """Re-parse every record's stored pages; write the changes unless dry_run.

    Raises LockedError when a crawl holds the database.
    """
    with hold_run_lock(database_path):
        database = open_existing(database_path)
        try:
            store.ensure_field_columns(database, list(config.detail.fields))
            return _rebuild(config, database, dry_run=dry_run)
        finally:
            database.close()


def _rebuild(config: SiteConfig, database: sqlite_utils.Database, *, dry_run: bool) -> RebuildReport:
    now = utc_now()
    run_id = store.start_run(database, kind="rebuild", started_at=now, is_full_sweep=False,
                             parser_version=PARSER_VERSION)
    report = RebuildReport(run_id, dry_run)
    listing_entries = _listing_entries(config, database)
    counts: dict[str, int] = Counter()
    database.execute("BEGIN IMMEDIATE")
    try:
        for project in _projects(database):
            _rebuild_record(config, database, project, listing_entries, run_id, now, counts, report)
        report.changed = counts["changed"]
        report.fields.update(dict(database.execute(
            "SELECT field, COUNT(*) FROM changes WHERE run_id = ? GROUP BY field", (run_id,)
        ).fetchall()))
    except BaseException:
        database.execute("ROLLBACK")
        raise
    database.execute("ROLLBACK" if dry_run else "COMMIT")
    store.finish_run(database, run_id, status="dry-run" if dry_run else "succeeded",
                     ended_at=utc_now(), counts={**counts, "records": report.records})
    return report


def _projects(database: sqlite_utils.Database) -> list[dict[str, Any]]:
    cursor = database.execute("SELECT * FROM projects ORDER BY url")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _listing_entries(config: SiteConfig, database: sqlite_utils.Database) -> dict[str, Any]:
    """Every detail link's entry as the newest stored listing pages show it."""
    entries: dict[str, Any] = {}
    for raw in store.iter_latest_raw_pages(database, kind="listing"):
        listing = parse_listing(raw.text, page_url=raw.url, listing=config.listing)
        for entry in listing.entries:
            entries.setdefault(entry.detail_url, entry)
    return entries


def _rebuild_record(
    config: SiteConfig,
    database: sqlite_utils.Database,
    project: dict[str, Any],
    listing_entries: dict[str, Any],
    run_id: int,
    now: str,
    counts: dict[str, int],
    report: RebuildReport,
) -> None:
    link = project["detail_link"] or project["url"]
    raw = store.latest_raw_page(database, project["url"]) or store.latest_raw_page(database, link)
    report.records += 1
    if raw is None:
        report.without_raw_page += 1
        return

    listed = listing_entries.get(link)
    entry = {
        "listing_url": project["listing_url"],
        "position": project["listing_position"],
        "title": listed.title if listed else project["listing_title"],
        "summary": listed.summary if listed else project["listing_summary"],
        "themes": set(json.loads(project["listing_themes"] or "[]")),
    }
    parsed = parse_detail(raw.text, page_url=raw.final_url, detail=config.detail, site=config.site)
    found = {"url": project["url"], "status": raw.status, "outcome": "parsed",
             "detail": detail_as_dict(parsed)}
    publish_record(database, config, link=link, entry=entry, found=found, run_id=run_id,
                   now=now, is_complete_sweep=False, counts=counts, is_rebuild=True)
