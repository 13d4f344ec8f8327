"""Read-side commands: describe what a database holds, tell whether it is fresh,
and prune old raw pages. None of them touch the network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from pipeline import store
from pipeline.errors import ConfigError, StorageError
from pipeline.lock import hold_run_lock

EXIT_STALE = 6
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def require_database(database_path: str | Path) -> None:
    """Raise StorageError unless a database file is there."""
    if not Path(database_path).is_file():
        raise StorageError(
            "no database here; run `pipeline crawl` first", path=str(database_path)
        )


def open_existing(database_path: str | Path) -> sqlite_utils.Database:
    """Open a database that must already exist (readers never create one)."""
    require_database(database_path)
    return store.open_database(database_path)


def open_for_reading(database_path: str | Path) -> sqlite_utils.Database:
    """Open an existing database read-only: `show`, `check`, `probe --offline`."""
    require_database(database_path)
    return store.open_database_for_reading(database_path)


def describe_database(database_path: str | Path) -> dict[str, Any]:
    """Counts of records, themes, runs and failures, for `show`."""
    database = open_for_reading(database_path)
    try:
        runs = [
            dict(
                zip(
                    (
                        "id",
                        "kind",
                        "started_at",
                        "ended_at",
                        "status",
                        "is_full_sweep",
                        "counts",
                        "reason",
                    ),
                    row,
                )
            )
            for row in database.execute(
                "SELECT id, kind, started_at, ended_at, status, is_full_sweep, counts, reason "
                "FROM runs ORDER BY id DESC LIMIT 5"
            )
        ]
        for run in runs:
            run["counts"] = json.loads(run["counts"] or "{}")
        return {
            "database": str(database_path),
            "schema_version": store.schema_version(database),
            "projects": _count(database, "SELECT COUNT(*) FROM projects"),
            "current_projects": _count(
                database, "SELECT COUNT(*) FROM current_projects"
            ),
            "removed_projects": _count(
                database, "SELECT COUNT(*) FROM projects WHERE removed_at IS NOT NULL"
            ),
            "themes": dict(
                database.execute(
                    "SELECT theme, COUNT(*) FROM project_themes GROUP BY theme ORDER BY theme"
                ).fetchall()
            ),
            "raw_pages": _count(database, "SELECT COUNT(*) FROM raw_pages"),
            "changes": _count(database, "SELECT COUNT(*) FROM changes"),
            "recent_runs": runs,
            "last_run_failures": [
                dict(zip(("url", "kind", "status", "error"), row))
                for row in database.execute(
                    "SELECT url, kind, status, error FROM fetch_failures "
                    "WHERE run_id = (SELECT MAX(id) FROM runs) ORDER BY id LIMIT 20"
                )
            ],
        }
    finally:
        database.close()


def _count(database: sqlite_utils.Database, sql: str) -> int:
    return int(database.execute(sql).fetchone()[0])


def _run_line(run: dict[str, Any]) -> str:
    counts = run["counts"]
    if run["kind"] == "rebuild":
        figures = (
            f"records={counts.get('records', 0)} changed={counts.get('changed', 0)}"
        )
    else:
        sweep = "full" if run["is_full_sweep"] else "incr"
        figures = (
            f"{sweep} requests={counts.get('requests', 0)} new={counts.get('new', 0)} "
            f"changed={counts.get('changed', 0)} failed={counts.get('failed', 0)}"
        )
    reason = f"  ({run['reason']})" if run["reason"] else ""
    return (
        f"  {run['id']:>4} {run['kind']:<7} {run['status']:<11} {run['started_at']} "
        f"{figures}{reason}"
    )


def render_description(description: dict[str, Any]) -> str:
    """`show` as lines of text."""
    lines = [
        f"database        {description['database']} (schema {description['schema_version']})",
        f"projects        {description['current_projects']} current, "
        f"{description['removed_projects']} removed",
        f"raw pages       {description['raw_pages']}",
        f"changes         {description['changes']}",
        "themes          "
        + (
            ", ".join(
                f"{slug} ({count})" for slug, count in description["themes"].items()
            )
            or "none"
        ),
        "recent runs",
    ]
    for run in description["recent_runs"]:
        lines.append(_run_line(run))
    for failure in description["last_run_failures"]:
        lines.append(
            f"  failure: {failure['kind']} {failure['url']}: {failure['error']}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Freshness:
    """The verdict of `check`: one line, and a problem when there is one."""

    line: str
    problem: bool

    @property
    def exit_status(self) -> int:
        return EXIT_STALE if self.problem else 0


def parse_age(text: str) -> timedelta:
    """'90m', '26h', '2d' as a timedelta; raises ConfigError otherwise."""
    found = _AGE.match(text)
    try:
        if found:
            return timedelta(
                seconds=float(found.group(1)) * _UNIT_SECONDS[found.group(2)]
            )
    except OverflowError:
        pass
    raise ConfigError(f"--max-age must look like 90m, 26h or 2d, got {text!r}")


def check_freshness(database_path: str | Path, *, max_age: timedelta) -> Freshness:
    """Whether the last published run is recent enough and the last run went well."""
    database = open_for_reading(database_path)
    try:
        finished = store.last_run(
            database,
            statuses=("succeeded", "partial", "refused", "interrupted", "failed"),
        )
        published = store.last_run(database, statuses=("succeeded", "partial"))
    finally:
        database.close()

    if finished is not None and finished["status"] in (
        "refused",
        "interrupted",
        "failed",
    ):
        reason = f": {finished['reason']}" if finished["reason"] else ""
        return Freshness(
            f"failing: last run {finished['id']} {finished['status']}{reason}", True
        )
    if published is None:
        return Freshness(f"stale: {database_path} has no published run", True)
    ended = datetime.strptime(published["ended_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
    age = datetime.now(timezone.utc) - ended
    if age > max_age:
        return Freshness(
            f"stale: last published run {published['id']} ended "
            f"{published['ended_at']}, {_human(age)} ago (over {_human(max_age)})",
            True,
        )
    return Freshness(
        f"fresh: last published run {published['id']} ended "
        f"{published['ended_at']}, {_human(age)} ago",
        False,
    )


def _human(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


def run_prune(database_path: str | Path, *, keep_versions: int) -> int:
    """Delete old raw page versions under the run lock, then vacuum; returns rows deleted."""
    require_database(database_path)
    with hold_run_lock(database_path):
        database = open_existing(database_path)
        try:
            return store.prune_raw_pages(database, keep_versions=keep_versions)
        finally:
            database.close()
