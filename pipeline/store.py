"""Keep raw pages, staged run results, published records and their history in SQLite.

The store only stores: it never decides whether a page should be fetched or a
record published. Every write commits on its own except publish(), which
writes a whole run's records in one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import zlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils
from isal import isal_zlib

from pipeline.charset import decode_stored
from pipeline.errors import StorageError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 10_000

# Columns of projects that a configured extra field may not take as its name.
RESERVED_COLUMNS = frozenset(
    "url title title_source summary description language canonical_url image_url "
    "published_at modified_at alternates themes detail_themes listing_themes "
    "detail_link listing_title listing_summary detail_title listing_url "
    "listing_position first_seen_at last_seen_at updated_at detail_fetched_at "
    "last_status last_changed_run_id last_seen_run_id parser_version detail_sha256 removed_at "
    "missed_sweeps rowid".split()
)

# Content fields: a change to any of these is a change of the record.
CONTENT_FIELDS = (
    "title",
    "title_source",
    "summary",
    "description",
    "language",
    "canonical_url",
    "image_url",
    "published_at",
    "modified_at",
    "alternates",
    "themes",
)


@dataclass(frozen=True)
class RawPage:
    """A stored response body and what is known about it."""

    id: int
    url: str
    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    fetched_at: str
    validated_at: str
    sha256: str
    compressed_body: bytes
    charset: str | None
    charset_source: str | None

    @cached_property
    def body(self) -> bytes:
        return zlib.decompress(self.compressed_body)

    @property
    def text(self) -> str:
        """The body decoded exactly as it was when fetched."""
        return decode_stored(self.body, charset=self.charset)


def open_database(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a database in WAL mode, migrated to the current schema."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        database = sqlite_utils.Database(connection)
        ensure_schema(database)
        # A read-only file opens and reads; find it out now, not mid-run.
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(f"PRAGMA user_version = {schema_version(database)}")
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "readonly" not in str(error):
            raise StorageError(
                f"cannot open database: {error}", path=str(path)
            ) from error
        raise StorageError(
            "cannot write the database: read-only; the file and its folder must be "
            "writable",
            path=str(path),
        ) from error
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot open database: {error}", path=str(path)) from error
    except OSError as error:
        raise StorageError(
            f"cannot open database: {error.strerror}", path=str(path)
        ) from error
    return database


def open_database_for_reading(path: str | Path) -> sqlite_utils.Database:
    """Open an existing database read-only, for commands that only look at it.

    Nothing is created or written, so a reader with read access only can use
    it. A database of an older schema is migrated first, through open_database,
    since the queries expect today's tables.
    """
    path = Path(path)
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
        )
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as error:
        raise StorageError(f"cannot open database: {error}", path=str(path)) from error
    if version == 0:
        connection.close()
        raise StorageError("not a database written by `pipeline crawl`", path=str(path))
    if version < SCHEMA_VERSION:
        connection.close()
        return open_database(path)
    return sqlite_utils.Database(connection)


def schema_version(database: sqlite_utils.Database) -> int:
    return int(database.execute("PRAGMA user_version").fetchone()[0])


def ensure_schema(database: sqlite_utils.Database) -> None:
    """Create or migrate every table; idempotent, and keeps all existing rows."""
    version = schema_version(database)
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this program's "
            f"{SCHEMA_VERSION}; upgrade the program"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with _transaction(database):
            _MIGRATIONS[target](database)
            database.execute(f"PRAGMA user_version = {target}")
        logger.debug("Migrated the database to schema version %d", target)


def _migrate_to_1(database: sqlite_utils.Database) -> None:
    database.executescript(
        """
        CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'crawl',
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL,
            pid INTEGER,
            is_full_sweep INTEGER NOT NULL DEFAULT 0,
            is_complete INTEGER NOT NULL DEFAULT 0,
            parser_version TEXT,
            counts TEXT,
            reason TEXT
        );
        CREATE TABLE IF NOT EXISTS raw_pages (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            final_url TEXT NOT NULL,
            status INTEGER NOT NULL,
            etag TEXT,
            last_modified TEXT,
            content_type TEXT,
            fetched_at TEXT NOT NULL,
            validated_at TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            body BLOB NOT NULL,
            body_bytes INTEGER NOT NULL,
            charset TEXT,
            charset_source TEXT,
            run_id INTEGER
        );
        CREATE INDEX IF NOT EXISTS raw_pages_by_url ON raw_pages (url, id);
        CREATE TABLE IF NOT EXISTS projects (
            url TEXT PRIMARY KEY,
            title TEXT,
            title_source TEXT,
            summary TEXT,
            description TEXT,
            language TEXT,
            canonical_url TEXT,
            image_url TEXT,
            published_at TEXT,
            modified_at TEXT,
            alternates TEXT,
            themes TEXT,
            detail_themes TEXT,
            listing_themes TEXT,
            detail_link TEXT,
            listing_title TEXT,
            listing_summary TEXT,
            detail_title TEXT,
            listing_url TEXT,
            listing_position INTEGER,
            first_seen_at TEXT,
            last_seen_at TEXT,
            updated_at TEXT,
            detail_fetched_at TEXT,
            last_status INTEGER,
            last_changed_run_id INTEGER,
            last_seen_run_id INTEGER,
            parser_version TEXT,
            detail_sha256 TEXT,
            removed_at TEXT,
            missed_sweeps INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS projects_by_detail_link ON projects (detail_link);
        CREATE TABLE IF NOT EXISTS project_themes (
            project_url TEXT NOT NULL,
            theme TEXT NOT NULL,
            theme_name TEXT,
            PRIMARY KEY (project_url, theme)
        );
        CREATE TABLE IF NOT EXISTS fetch_failures (
            id INTEGER PRIMARY KEY,
            run_id INTEGER,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            status INTEGER,
            error TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            failed_at TEXT NOT NULL
        );
        """
    )


def _migrate_to_2(database: sqlite_utils.Database) -> None:
    database.executescript(
        """
        CREATE TABLE IF NOT EXISTS changes (
            id INTEGER PRIMARY KEY,
            project_url TEXT NOT NULL,
            run_id INTEGER NOT NULL,
            changed_at TEXT NOT NULL,
            field TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT
        );
        CREATE INDEX IF NOT EXISTS changes_by_run ON changes (run_id);
        CREATE INDEX IF NOT EXISTS changes_by_project ON changes (project_url, id);
        CREATE TABLE IF NOT EXISTS staged_entries (
            run_id INTEGER NOT NULL,
            detail_link TEXT NOT NULL,
            listing_url TEXT NOT NULL,
            position INTEGER NOT NULL,
            title TEXT,
            summary TEXT,
            theme TEXT
        );
        CREATE INDEX IF NOT EXISTS staged_entries_by_link ON staged_entries (run_id, detail_link);
        CREATE TABLE IF NOT EXISTS staged_details (
            run_id INTEGER NOT NULL,
            detail_link TEXT NOT NULL,
            url TEXT NOT NULL,
            status INTEGER,
            outcome TEXT NOT NULL,
            detail TEXT,
            sha256 TEXT,
            PRIMARY KEY (run_id, detail_link)
        );
        DROP VIEW IF EXISTS current_projects;
        CREATE VIEW current_projects AS
            SELECT * FROM projects WHERE removed_at IS NULL;
        """
    )


def _migrate_to_3(database: sqlite_utils.Database) -> None:
    if "projects_fts" not in database.table_names():
        database["projects"].enable_fts(  # type: ignore[union-attr]
            ["title", "summary", "description"],
            create_triggers=True,
            tokenize="unicode61",
        )
    # Every run updates bookkeeping columns; re-index only when indexed text moves.
    database.executescript(
        """
        DROP TRIGGER IF EXISTS projects_au;
        CREATE TRIGGER projects_au AFTER UPDATE ON projects
        WHEN old.title IS NOT new.title OR old.summary IS NOT new.summary
            OR old.description IS NOT new.description
        BEGIN
            INSERT INTO projects_fts (projects_fts, rowid, title, summary, description)
                VALUES ('delete', old.rowid, old.title, old.summary, old.description);
            INSERT INTO projects_fts (rowid, title, summary, description)
                VALUES (new.rowid, new.title, new.summary, new.description);
        END;
        """
    )


# Raw pages that parsing may read: HTML, or of no declared type.
_IS_HTML = (
    "(content_type IS NULL OR lower(content_type) LIKE 'text/html%' "
    "OR lower(content_type) LIKE 'application/xhtml+xml%')"
)

_MIGRATIONS = {1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3}


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""

    def __init__(self, database: sqlite_utils.Database) -> None:
        self._connection = database.conn

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self._connection.execute("COMMIT")
        else:
            self._connection.execute("ROLLBACK")


def transaction(database: sqlite_utils.Database) -> _transaction:
    """A write transaction: everything inside commits together or not at all."""
    return _transaction(database)


def ensure_field_columns(database: sqlite_utils.Database, names: list[str]) -> None:
    """Give every configured extra field its own column in projects; idempotent."""
    existing = set(database["projects"].columns_dict)
    for name in names:
        if name not in existing:
            database.execute(f"ALTER TABLE projects ADD COLUMN [{name}] TEXT")


# Raw pages -------------------------------------------------------------------


def save_raw_page(
    database: sqlite_utils.Database,
    *,
    run_id: int,
    kind: str,
    url: str,
    final_url: str,
    status: int,
    etag: str | None,
    last_modified: str | None,
    content_type: str | None,
    fetched_at: str,
    sha256: str,
    body_bytes: int,
    compressed_body: bytes,
    charset: str | None,
    charset_source: str | None,
) -> int:
    """Keep a response body (packed by pack_body); a body equal to the URL's
    latest is only revalidated."""
    latest = database.execute(
        "SELECT id, sha256 FROM raw_pages WHERE url = ? ORDER BY id DESC LIMIT 1",
        (url,),
    ).fetchone()
    if latest is not None and latest[1] == sha256:
        mark_raw_page_validated(
            database, latest[0], at=fetched_at, etag=etag, last_modified=last_modified
        )
        return int(latest[0])
    cursor = database.execute(
        """INSERT INTO raw_pages (url, kind, final_url, status, etag, last_modified,
               content_type, fetched_at, validated_at, sha256, body, body_bytes,
               charset, charset_source, run_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            url,
            kind,
            final_url,
            status,
            etag,
            last_modified,
            content_type,
            fetched_at,
            fetched_at,
            sha256,
            compressed_body,
            body_bytes,
            charset,
            charset_source,
            run_id,
        ),
    )
    return int(cursor.lastrowid or 0)


def pack_body(body: bytes) -> bytes:
    """A body as the raw page store keeps it: a zlib stream, which any zlib
    reads back. ISA-L writes it at level 1 four times as fast as zlib's own
    level 1, and a little smaller; it releases the GIL, so fetch threads pack
    in parallel."""
    return isal_zlib.compress(body, 1)


def pack_detail(detail: dict[str, Any]) -> bytes:
    """A detail page's fields as staged_details keeps them: JSON, packed like a
    body. Packed, a run's staged fields are a quarter of the pages to write,
    read back and free."""
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
    return pack_body(text.encode("utf-8"))


def unpack_detail(packed: bytes) -> dict[str, Any]:
    """The fields pack_detail packed."""
    detail: dict[str, Any] = json.loads(zlib.decompress(packed))
    return detail


def mark_raw_page_validated(
    database: sqlite_utils.Database,
    raw_page_id: int,
    *,
    at: str,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """Record that the server confirmed a stored page is still current."""
    database.execute(
        """UPDATE raw_pages SET validated_at = ?,
               etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)
           WHERE id = ?""",
        (at, etag, last_modified, raw_page_id),
    )


def latest_raw_page(
    database: sqlite_utils.Database, url: str, *, preferring: str | None = None
) -> RawPage | None:
    """The newest stored HTML body of a URL, or None if none was stored.

    With preferring (a SHA-256), the body with that digest comes first when it
    is still stored: the page a record was parsed from. Bodies that were not
    HTML (a PDF where a page was) are kept but never come back from here.
    """
    row = database.execute(
        f"""SELECT id, url, final_url, status, etag, last_modified, content_type,
                  fetched_at, validated_at, sha256, body, charset, charset_source
           FROM raw_pages WHERE url = ? AND {_IS_HTML}
           ORDER BY sha256 IS ? DESC, id DESC LIMIT 1""",
        (url, preferring),
    ).fetchone()
    if row is None:
        return None
    return RawPage(*row)


def iter_latest_raw_pages(
    database: sqlite_utils.Database, *, kind: str
) -> Iterator[RawPage]:
    """The newest stored body of every URL of one kind (listing, detail), one at a time."""
    ids = [
        row[0]
        for row in database.execute(
            f"SELECT MAX(id) FROM raw_pages WHERE kind = ? AND {_IS_HTML} "
            "GROUP BY url ORDER BY MAX(id)",
            (kind,),
        )
    ]
    for raw_page_id in ids:
        row = database.execute(
            """SELECT id, url, final_url, status, etag, last_modified, content_type,
                      fetched_at, validated_at, sha256, body, charset, charset_source
               FROM raw_pages WHERE id = ?""",
            (raw_page_id,),
        ).fetchone()
        yield RawPage(*row)


def prune_raw_pages(database: sqlite_utils.Database, *, keep_versions: int) -> int:
    """Delete all but the newest versions of each URL's body, keeping every body
    a record was parsed from; returns rows deleted.

    Refused runs store pages too: the newest versions of a URL may all be
    pages that were never published, and the record's own is what a rebuild
    re-parses.
    """
    with transaction(database):
        cursor = database.execute(
            """DELETE FROM raw_pages WHERE id IN (
                   SELECT id FROM (
                       SELECT id, sha256, ROW_NUMBER() OVER (
                           PARTITION BY url ORDER BY id DESC) AS version
                       FROM raw_pages)
                   WHERE version > ?
                     AND sha256 NOT IN (SELECT detail_sha256 FROM projects
                                        WHERE detail_sha256 IS NOT NULL))""",
            (keep_versions,),
        )
        deleted = cursor.rowcount
    database.execute("VACUUM")
    return deleted


# Runs ------------------------------------------------------------------------


def start_run(
    database: sqlite_utils.Database,
    *,
    kind: str,
    started_at: str,
    is_full_sweep: bool,
    parser_version: str,
) -> int:
    """Record a new run as running; returns its id."""
    cursor = database.execute(
        """INSERT INTO runs (kind, started_at, status, pid, is_full_sweep, parser_version)
           VALUES (?, ?, 'running', ?, ?, ?)""",
        (kind, started_at, os.getpid(), int(is_full_sweep), parser_version),
    )
    return int(cursor.lastrowid or 0)


def finish_run(
    database: sqlite_utils.Database,
    run_id: int,
    *,
    status: str,
    ended_at: str,
    counts: dict[str, Any],
    is_complete: bool = False,
    reason: str | None = None,
) -> None:
    """Record how a run ended, with its counts."""
    database.execute(
        """UPDATE runs SET status = ?, ended_at = ?, counts = ?, is_complete = ?,
               reason = ? WHERE id = ?""",
        (
            status,
            ended_at,
            json.dumps(counts, sort_keys=True),
            int(is_complete),
            reason,
            run_id,
        ),
    )


def mark_interrupted_runs(database: sqlite_utils.Database, *, at: str) -> int:
    """Runs left 'running' by a dead process are interrupted; returns how many.

    Only called under the run lock, so no other run can be live.
    """
    cursor = database.execute(
        """UPDATE runs SET status = 'interrupted', ended_at = COALESCE(ended_at, ?),
               reason = 'the process ended before the run finished'
           WHERE status = 'running'""",
        (at,),
    )
    return cursor.rowcount


def last_run(
    database: sqlite_utils.Database,
    *,
    statuses: tuple[str, ...] | None = None,
    complete_only: bool = False,
) -> dict[str, Any] | None:
    """The newest run, optionally only among some statuses or complete sweeps."""
    sql = "SELECT * FROM runs WHERE kind = 'crawl'"
    parameters: list[Any] = []
    if statuses:
        sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
        parameters.extend(statuses)
    if complete_only:
        sql += " AND is_complete = 1"
    row = database.execute(sql + " ORDER BY id DESC LIMIT 1", parameters).fetchone()
    if row is None:
        return None
    columns = [d[0] for d in database.execute(sql + " LIMIT 0", parameters).description]
    return dict(zip(columns, row))


def recent_complete_sweeps(
    database: sqlite_utils.Database, *, limit: int
) -> list[dict[str, Any]]:
    """Counts of the newest published complete sweeps, newest first."""
    rows = database.execute(
        """SELECT counts FROM runs WHERE kind = 'crawl' AND is_complete = 1
               AND status IN ('succeeded', 'partial')
           ORDER BY id DESC LIMIT ?""",
        (limit,),
    ).fetchall()
    return [json.loads(row[0] or "{}") for row in rows]


# Failures --------------------------------------------------------------------


def save_failure(
    database: sqlite_utils.Database,
    *,
    run_id: int,
    url: str,
    kind: str,
    status: int | None,
    error: str,
    attempts: int,
    failed_at: str,
) -> None:
    """Record a URL the run gave up on, skipped or found gone."""
    database.execute(
        """INSERT INTO fetch_failures (run_id, url, kind, status, error, attempts, failed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (run_id, url, kind, status, error, attempts, failed_at),
    )


# Staging ---------------------------------------------------------------------


def stage_entries(
    database: sqlite_utils.Database,
    *,
    run_id: int,
    listing_url: str,
    theme: str | None,
    entries: Iterable[tuple[str, int, str | None, str | None]],
) -> None:
    """Keep one listing page's sightings of projects until the run publishes:
    (detail link, position, title, summary) each."""
    database.conn.executemany(
        """INSERT INTO staged_entries
               (run_id, detail_link, listing_url, position, title, summary, theme)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [
            (run_id, link, listing_url, position, title, summary, theme)
            for link, position, title, summary in entries
        ],
    )


def stage_detail(
    database: sqlite_utils.Database,
    *,
    run_id: int,
    detail_link: str,
    url: str,
    status: int | None,
    outcome: str,
    packed_detail: bytes | None,
    sha256: str | None = None,
) -> None:
    """Keep what a detail page gave (its fields packed by pack_detail), or why it
    gave nothing, until the run publishes; sha256 names the stored page the
    fields were parsed from."""
    database.execute(
        """INSERT OR REPLACE INTO staged_details
               (run_id, detail_link, url, status, outcome, detail, sha256)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (
            run_id,
            detail_link,
            url,
            status,
            outcome,
            packed_detail,
            sha256,
        ),
    )


# Themes travel joined by the unit separator, which no URL-derived slug holds.
_THEME_SEPARATOR = "\x1f"
_STAGED_PROJECTS = """
    SELECT first.detail_link, first.listing_url, first.position, first.title,
           first.summary,
           (SELECT group_concat(sighting.theme, char(31)) FROM staged_entries AS sighting
             WHERE sighting.run_id = first.run_id
               AND sighting.detail_link = first.detail_link) AS themes,
           found.url, found.status, found.outcome, found.detail, found.sha256
    FROM staged_entries AS first
    LEFT JOIN staged_details AS found
      ON found.run_id = first.run_id AND found.detail_link = first.detail_link
    WHERE first.run_id = ?
      AND first.rowid = (SELECT MIN(earlier.rowid) FROM staged_entries AS earlier
                          WHERE earlier.run_id = first.run_id
                            AND earlier.detail_link = first.detail_link)
    ORDER BY first.rowid
"""


def count_staged_projects(database: sqlite_utils.Database, run_id: int) -> int:
    """How many projects (distinct detail links) a run staged."""
    row = database.execute(
        "SELECT COUNT(DISTINCT detail_link) FROM staged_entries WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return int(row[0])


def iter_staged_projects(
    database: sqlite_utils.Database, run_id: int
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each project a run staged, in the order first seen: (detail link, entry,
    detail outcome).

    The entry is the link's first listing sighting, with the themes of all its
    sightings; the outcome says what its detail page gave. One query streams
    them, so that memory does not grow with the site.
    """
    for row in database.execute(_STAGED_PROJECTS, (run_id,)):
        link, listing_url, position, title, summary, themes = row[:6]
        entry = {
            "listing_url": listing_url,
            "position": position,
            "title": title,
            "summary": summary,
            "themes": set(filter(None, (themes or "").split(_THEME_SEPARATOR))),
        }
        yield link, entry, _staged_detail(link, *row[6:])


def _staged_detail(
    link: str,
    url: str | None,
    status: int | None,
    outcome: str | None,
    packed_detail: bytes | None,
    sha256: str | None,
) -> dict[str, Any]:
    if outcome is None:
        # No detail outcome was staged: the record stands as it is.
        return {
            "url": link,
            "status": None,
            "outcome": "kept",
            "detail": None,
            "sha256": None,
        }
    return {
        "url": url,
        "status": status,
        "outcome": outcome,
        "detail": unpack_detail(packed_detail) if packed_detail else None,
        "sha256": sha256,
    }


def clear_staging(
    database: sqlite_utils.Database, *, run_id: int | None = None
) -> None:
    """Drop a run's staged rows once they are published or refused; every run's
    when run_id is None."""
    where, parameters = (
        ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
    )
    database.execute(f"DELETE FROM staged_entries {where}", parameters)
    database.execute(f"DELETE FROM staged_details {where}", parameters)


# Records ---------------------------------------------------------------------


def load_project(database: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """A published record by its URL or by the listing link that leads to it."""
    cursor = database.execute(
        "SELECT * FROM projects WHERE url = ? OR detail_link = ? LIMIT 1", (url, url)
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row))


def save_change(
    database: sqlite_utils.Database,
    *,
    project_url: str,
    run_id: int,
    changed_at: str,
    field: str,
    old_value: Any,
    new_value: Any,
) -> None:
    """One row of history: a field of a record moved from one value to another."""
    database.execute(
        """INSERT INTO changes (project_url, run_id, changed_at, field, old_value, new_value)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (
            project_url,
            run_id,
            changed_at,
            field,
            _as_text(old_value),
            _as_text(new_value),
        ),
    )


def _as_text(value: Any) -> Any:
    """Lists and mappings are stored as JSON text; scalars as they are."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def save_project(database: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Insert or replace a whole record row, keyed by its URL."""
    database.execute(
        _upsert_sql(tuple(row)), [_as_text(value) for value in row.values()]
    )


@lru_cache(maxsize=16)
def _upsert_sql(columns: tuple[str, ...]) -> str:
    # Every record of a run has the same columns: one statement, built once.
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f"[{name}]" for name in columns)
    updates = ", ".join(
        f"[{name}] = excluded.[{name}]" for name in columns if name != "url"
    )
    return (
        f"INSERT INTO projects ({names}) VALUES ({placeholders}) "
        f"ON CONFLICT(url) DO UPDATE SET {updates}"
    )


def save_project_themes(
    database: sqlite_utils.Database, project_url: str, themes: dict[str, str | None]
) -> None:
    """Make project_themes hold exactly these themes for the project."""
    database.execute("DELETE FROM project_themes WHERE project_url = ?", (project_url,))
    for slug, name in sorted(themes.items()):
        database.execute(
            "INSERT INTO project_themes (project_url, theme, theme_name) VALUES (?, ?, ?)",
            (project_url, slug, name),
        )
