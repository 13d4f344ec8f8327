"""Turn a run's staged listing entries and detail pages into records: publish them
with their history in one transaction, which the quality gate rolls back when
what the run found looks like a broken parser.
"""

from __future__ import annotations

import json
import logging
import statistics
from typing import Any, Iterator

import sqlite_utils

from pipeline import store
from pipeline.config import SiteConfig
from pipeline.errors import QualityGateError

logger = logging.getLogger(__name__)

_DETAIL_CONTENT = (
    "description",
    "language",
    "canonical_url",
    "image_url",
    "published_at",
    "modified_at",
    "alternates",
)
# Columns that say when a project was last seen or fetched; a rebuild sees nothing.
_SIGHTING_COLUMNS = (
    "last_seen_at",
    "last_seen_run_id",
    "detail_fetched_at",
    "last_status",
    "removed_at",
    "missed_sweeps",
)
# Outcomes whose detail fields were read from a page during this run.
_FRESH_OUTCOMES = ("parsed", "not-modified")


def check_before_publishing(
    database: sqlite_utils.Database,
    config: SiteConfig,
    problems: list[str],
    *,
    projects: int,
    is_complete: bool,
) -> None:
    """Refuse the run (QualityGateError) before anything is written: for a
    problem the crawl met, or a complete sweep far smaller than the recent ones.

    The fill rates are judged by publish_run, which reads every record anyway.
    """
    if problems:
        raise QualityGateError(problems[0])
    if is_complete:
        _check_sweep_size(database, projects, config)


class _FillTally:
    """How many of the records parsed this run have each required field."""

    def __init__(self, required: list[str]) -> None:
        self.filled = {name: 0 for name in required}
        self.parsed = 0

    def add(self, entry: dict[str, Any], found: dict[str, Any]) -> None:
        if found["outcome"] != "parsed":
            return
        self.parsed += 1
        values = _fill_values(entry, found["detail"])
        for name in self.filled:
            self.filled[name] += bool(values.get(name))

    def rates(self) -> dict[str, float]:
        if not self.parsed:
            return {}
        return {
            name: round(count / self.parsed, 4) for name, count in self.filled.items()
        }


def _check_fill(
    database: sqlite_utils.Database, tally: _FillTally, config: SiteConfig
) -> None:
    rates = tally.rates()
    _check_empty_fields(rates, tally.parsed, config)
    _check_fill_drop(database, rates, tally.parsed, config)


def _fill_values(entry: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """The fields of a record as published, for counting which are filled."""
    return {
        "title": entry["title"] or detail.get("title"),
        "summary": entry["summary"],
        **{key: detail.get(key) for key in _DETAIL_CONTENT},
        **detail.get("fields", {}),
    }


def _selector_of(field: str, config: SiteConfig) -> str:
    if field == "title":
        return f"listing.title {config.listing.title!r} / detail.title {config.detail.title!r}"
    if field == "summary":
        return f"listing.summary {config.listing.summary!r}"
    if field in config.detail.fields:
        spec = config.detail.fields[field]
        return f"detail.fields.{field} {spec.selector or spec.pattern!r}"
    return f"detail.content {config.detail.content!r}"


def _check_empty_fields(
    rates: dict[str, float], parsed: int, config: SiteConfig
) -> None:
    allowed = config.quality.max_empty_ratio
    for name, rate in rates.items():
        if 1 - rate > allowed:
            raise QualityGateError(
                f"field {name!r} is empty on {1 - rate:.0%} of the {parsed} records parsed "
                f"(quality.max_empty_ratio allows {allowed:.0%}); check "
                f"{_selector_of(name, config)}"
            )


def _check_fill_drop(
    database: sqlite_utils.Database,
    rates: dict[str, float],
    parsed: int,
    config: SiteConfig,
) -> None:
    # A handful of re-parsed pages says too little about a fill rate to compare.
    if parsed < 5:
        return
    previous = store.recent_complete_sweeps(database, limit=1)
    before = previous[0].get("fill_rates", {}) if previous else {}
    limit = config.quality.max_fill_drop_points
    for name, rate in rates.items():
        if name in before and (before[name] - rate) * 100 > limit:
            raise QualityGateError(
                f"field {name!r} fill rate fell from {before[name]:.0%} to {rate:.0%}, "
                f"more than {limit:.0f} points (quality.max_fill_drop_points); check "
                f"{_selector_of(name, config)}"
            )


def _check_sweep_size(
    database: sqlite_utils.Database, found: int, config: SiteConfig
) -> None:
    sizes = [
        sweep.get("projects_seen", 0)
        for sweep in store.recent_complete_sweeps(database, limit=3)
    ]
    if not sizes:
        return
    median = statistics.median(sizes)
    ratio = config.quality.min_sweep_ratio
    if found < median * ratio:
        raise QualityGateError(
            f"this sweep found {found} projects, under {ratio:.0%} of the recent median "
            f"{median:g} (quality.min_sweep_ratio); check listing.entry {config.listing.entry!r}"
        )


def publish_run(
    database: sqlite_utils.Database,
    config: SiteConfig,
    *,
    run_id: int,
    now: str,
    is_complete_sweep: bool,
) -> dict[str, Any]:
    """Write a run's records, their changes and removals, and return its counts
    with the fill rates of the records it parsed.

    Call it inside one transaction (store.transaction) with the run's own end,
    so that readers see all of a run or none of it: when the fill rates look
    like a broken parser it raises QualityGateError, and the transaction rolls
    back every record. Idempotent over unchanged input: content fields and
    updated_at only move on a real change.
    """
    counts = {"new": 0, "changed": 0, "unchanged": 0, "removed": 0, "returned": 0}
    tally = _FillTally(config.quality.required_fields)
    seen: set[str] = set()
    for link, entry, found in store.iter_staged_projects(database, run_id):
        tally.add(entry, found)
        url = publish_record(
            database,
            config,
            link=link,
            entry=entry,
            found=found,
            run_id=run_id,
            now=now,
            is_complete_sweep=is_complete_sweep,
            counts=counts,
        )
        if url:
            seen.add(url)
    measured = {"parsed": tally.parsed, "fill_rates": tally.rates()}
    try:
        _check_fill(database, tally, config)
    except QualityGateError as refusal:
        refusal.counts = measured
        raise
    if is_complete_sweep:
        _mark_missing(database, config, seen, run_id, now, counts)
    return {**counts, **measured}


def publish_record(
    database: sqlite_utils.Database,
    config: SiteConfig,
    *,
    link: str,
    entry: dict[str, Any],
    found: dict[str, Any],
    run_id: int,
    now: str,
    is_complete_sweep: bool,
    counts: dict[str, int],
    is_rebuild: bool = False,
    stored: dict[str, Any] | None = None,
) -> str | None:
    """Write one record from its listing entry and detail outcome, with its changes.

    Returns the record's URL, or None when its detail page is gone. A rebuild
    leaves the sighting columns (last seen, last fetched) as they were, and
    passes the stored record it has already read.
    """
    if stored is None:
        stored = store.load_project(database, found["url"])
    if stored is None and link != found["url"]:
        stored = store.load_project(database, link)
    if found["outcome"] == "gone":
        _note_gone(database, stored, found)
        return None

    url, detail = _detail_of(found, stored, config)
    row = _compose(config, link, url, entry, detail, stored, is_complete_sweep)
    changed = _diff(stored, row, config)
    has_returned = (
        not is_rebuild and stored is not None and bool(stored.get("removed_at"))
    )
    if has_returned and stored is not None:
        counts["returned"] += 1
        changed.append(("removed_at", stored["removed_at"], None))

    _bookkeep(
        row,
        stored,
        found,
        run_id,
        now,
        changed_any=bool(changed),
        parser_version=config.parser_version,
    )
    if is_rebuild and stored is not None:
        for name in _SIGHTING_COLUMNS:
            row[name] = stored.get(name)

    _save_history(database, url, stored, changed, run_id=run_id, now=now, counts=counts)
    theme_names = row.pop("_theme_names")
    if stored is None or _differs(stored, row):
        store.save_project(database, row)
        store.save_project_themes(database, url, theme_names)
    return url


def _note_gone(
    database: sqlite_utils.Database,
    stored: dict[str, Any] | None,
    found: dict[str, Any],
) -> None:
    """A gone detail page keeps its record (removal decides) but notes the status."""
    if stored is not None:
        database.execute(
            "UPDATE projects SET last_status = ? WHERE url = ?",
            (found["status"], stored["url"]),
        )


def _detail_of(
    found: dict[str, Any], stored: dict[str, Any] | None, config: SiteConfig
) -> tuple[str, dict[str, Any]]:
    """The record's URL and detail fields: parsed this run, or kept from before."""
    if found["outcome"] == "parsed":
        return found["url"], found["detail"]
    url: str = found["url"] if stored is None else stored["url"]
    return url, _stored_detail(stored, config)


def _save_history(
    database: sqlite_utils.Database,
    url: str,
    stored: dict[str, Any] | None,
    changed: list[tuple[str, Any, Any]],
    *,
    run_id: int,
    now: str,
    counts: dict[str, int],
) -> None:
    """Count the record as new, changed or unchanged, and write its change rows."""
    if stored is None:
        counts["new"] += 1
        changed = [("project", None, "added")]
    elif changed:
        counts["changed"] += 1
    else:
        counts["unchanged"] += 1
    for name, old, new in changed:
        store.save_change(
            database,
            project_url=url,
            run_id=run_id,
            changed_at=now,
            field=name,
            old_value=old,
            new_value=new,
        )


def _differs(stored: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether writing the row would change anything (a rebuild often would not)."""
    return any(
        _comparable(stored.get(name)) != _comparable(value)
        for name, value in row.items()
    )


def _stored_detail(stored: dict[str, Any] | None, config: SiteConfig) -> dict[str, Any]:
    """The detail fields a record already holds, for pages not parsed this run."""
    if stored is None:
        return {}
    return {
        "title": stored.get("detail_title"),
        **{key: stored.get(key) for key in _DETAIL_CONTENT},
        "alternates": json.loads(stored.get("alternates") or "{}"),
        "themes": json.loads(stored.get("detail_themes") or "[]"),
        "fields": {name: stored.get(name) for name in config.detail.fields},
    }


def _compose(
    config: SiteConfig,
    link: str,
    url: str,
    entry: dict[str, Any],
    detail: dict[str, Any],
    stored: dict[str, Any] | None,
    is_complete_sweep: bool,
) -> dict[str, Any]:
    """A record's row from its listing entry and its detail page."""
    listing_themes = set(entry["themes"])
    if stored is not None and not is_complete_sweep:
        # An incremental run sees only some listings; themes seen before still hold.
        listing_themes |= set(json.loads(stored.get("listing_themes") or "[]"))
    detail_themes = detail.get("themes") or []
    theme_names: dict[str, str | None] = {slug: None for slug in listing_themes}
    theme_names.update({theme["slug"]: theme["name"] for theme in detail_themes})

    title_source = (
        "listing" if entry["title"] else ("detail" if detail.get("title") else None)
    )
    row: dict[str, Any] = {
        "url": url,
        "title": entry["title"] or detail.get("title"),
        "title_source": title_source,
        "summary": entry["summary"],
        **{key: detail.get(key) for key in _DETAIL_CONTENT},
        "alternates": detail.get("alternates") or None,
        "themes": sorted(theme_names) or None,
        **{
            name: (detail.get("fields") or {}).get(name)
            for name in config.detail.fields
        },
        "detail_themes": detail_themes or None,
        "listing_themes": sorted(listing_themes) or None,
        "detail_link": link,
        "listing_title": entry["title"],
        "listing_summary": entry["summary"],
        "detail_title": detail.get("title"),
        "listing_url": entry["listing_url"],
        "listing_position": entry["position"],
        "_theme_names": theme_names,
    }
    return row


def _content_fields(config: SiteConfig) -> Iterator[str]:
    yield from store.CONTENT_FIELDS
    yield from config.detail.fields


def _diff(
    stored: dict[str, Any] | None, row: dict[str, Any], config: SiteConfig
) -> list[tuple[str, Any, Any]]:
    """The content fields whose value differs from the stored record."""
    if stored is None:
        return []
    changed = []
    for name in _content_fields(config):
        old = stored.get(name)
        new = row.get(name)
        if _comparable(old) != _comparable(new):
            changed.append((name, old, new))
    return changed


def _comparable(value: Any) -> Any:
    """A stored or new value in one form: JSON text loaded, empty collections as None."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value or None if isinstance(value, (dict, list)) else value


def _bookkeep(
    row: dict[str, Any],
    stored: dict[str, Any] | None,
    found: dict[str, Any],
    run_id: int,
    now: str,
    *,
    changed_any: bool,
    parser_version: str,
) -> None:
    """Provenance columns: these may move on any run, content columns may not."""
    is_fresh = found["outcome"] in _FRESH_OUTCOMES
    is_parsed = found["outcome"] == "parsed"
    stored = stored or {}
    is_new = not stored
    row.update(
        first_seen_at=stored.get("first_seen_at") or now,
        last_seen_at=now,
        updated_at=now if is_new or changed_any else stored.get("updated_at"),
        detail_fetched_at=now if is_fresh else stored.get("detail_fetched_at"),
        last_status=found["status"]
        if found["status"] is not None
        else stored.get("last_status"),
        last_changed_run_id=run_id
        if is_new or changed_any
        else stored.get("last_changed_run_id"),
        last_seen_run_id=run_id,
        parser_version=parser_version if is_parsed else stored.get("parser_version"),
        detail_sha256=found.get("sha256") if is_parsed else stored.get("detail_sha256"),
        removed_at=None,
        missed_sweeps=0,
    )


def _mark_missing(
    database: sqlite_utils.Database,
    config: SiteConfig,
    seen: set[str],
    run_id: int,
    now: str,
    counts: dict[str, int],
) -> None:
    """Projects a complete sweep did not find: count the miss, mark removed after M."""
    limit = config.incremental.removal_after_missed_sweeps
    rows = database.execute(
        "SELECT url, missed_sweeps FROM projects WHERE removed_at IS NULL"
    ).fetchall()
    for url, missed in rows:
        if url in seen:
            continue
        missed += 1
        if missed >= limit:
            database.execute(
                "UPDATE projects SET missed_sweeps = ?, removed_at = ? WHERE url = ?",
                (missed, now, url),
            )
            store.save_change(
                database,
                project_url=url,
                run_id=run_id,
                changed_at=now,
                field="removed_at",
                old_value=None,
                new_value=now,
            )
            counts["removed"] += 1
        else:
            database.execute(
                "UPDATE projects SET missed_sweeps = ? WHERE url = ?", (missed, url)
            )
