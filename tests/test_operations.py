"""Running from cron: kills at set points, the run lock, rebuild, probe, staleness,
pruning and migrations, with real processes and real database files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ALT_CONFIG, MAIN_CONFIG, PROJECT_ROOT, crawl_args, read_rows, run_cli

from pipeline import store

ORIGIN = "https://parispeaceforum.org"
CONTENT = "SELECT url, title, summary, description, updated_at FROM projects ORDER BY url"


def _start_crawl(database: Path, server, *extra: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *crawl_args(MAIN_CONFIG, database, server, *extra)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_request(server, path: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while path not in server.requests.paths():
        assert time.monotonic() < deadline, f"no request for {path}"
        time.sleep(0.01)


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()


def _integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.fixture
def published(tmp_path: Path, site_server) -> Path:  # type: ignore[no-untyped-def]
    """A database holding one published full sweep of the fixture site."""
    database = tmp_path / "db.sqlite"
    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server))
    assert result.returncode == 0, result.stderr
    site_server.requests.clear()
    return database


@pytest.mark.parametrize("slow_path", ["/projects/page/2/", "/projects/digimente/"])
def test_kill_during_listing_or_details_loses_nothing(published: Path, site_server, slow_path: str) -> None:  # type: ignore[no-untyped-def]
    before = read_rows(published, CONTENT)
    raw_before = read_rows(published, "SELECT COUNT(*) AS n FROM raw_pages")
    site_server.delays[slow_path] = 30
    crawler = _start_crawl(published, site_server, "--full")
    _wait_for_request(site_server, slow_path)

    _kill(crawler)
    site_server.delays.clear()

    assert _integrity(published) == "ok"
    assert read_rows(published, CONTENT) == before
    assert read_rows(published, "SELECT COUNT(*) AS n FROM raw_pages") == raw_before
    result = run_cli(*crawl_args(MAIN_CONFIG, published, site_server))
    assert result.returncode == 0, result.stderr
    assert read_rows(published, "SELECT id, status FROM runs ORDER BY id") == [
        {"id": 1, "status": "succeeded"}, {"id": 2, "status": "interrupted"},
        {"id": 3, "status": "succeeded"}]
    assert read_rows(published, CONTENT) == before
    assert read_rows(published, "SELECT COUNT(*) AS n FROM staged_entries") == [{"n": 0}]


def test_kill_during_publishing_leaves_old_or_new_records_whole(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    crawler = _start_crawl(database, site_server)
    assert crawler.stderr is not None
    for line in crawler.stderr:
        if "publishing" in line:
            break

    _kill(crawler)

    assert _integrity(database) == "ok"
    count = read_rows(database, "SELECT COUNT(*) AS n FROM projects")[0]["n"]
    assert count in (0, 27)
    assert read_rows(database, "SELECT COUNT(*) AS n FROM raw_pages WHERE kind = 'detail'") == [{"n": 27}]
    site_server.requests.clear()
    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server))
    assert result.returncode == 0, result.stderr
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects") == [{"n": 27}]
    assert [p for p in site_server.requests.paths() if p.startswith("/projects/digimente")] == []


def test_second_run_on_a_busy_database_exits_5_at_once(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    site_server.delays["/projects/page/2/"] = 30
    first = _start_crawl(published, site_server, "--full")
    _wait_for_request(site_server, "/projects/page/2/")

    started = time.monotonic()
    second = run_cli(*crawl_args(MAIN_CONFIG, published, site_server))
    elapsed = time.monotonic() - started
    _kill(first)

    assert (second.returncode, second.stdout) == (5, "")
    assert second.stderr == (f"error: {published}: another run holds the database "
                             f"(lock {published}.lock); try again when it ends\n")
    assert elapsed < 10


def test_run_through_a_symbolic_link_to_a_busy_database_exits_5(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    link = published.with_name("link.db")
    link.symlink_to(published)
    site_server.delays["/projects/page/2/"] = 30
    first = _start_crawl(published, site_server, "--full")
    _wait_for_request(site_server, "/projects/page/2/")

    second = run_cli(*crawl_args(MAIN_CONFIG, link, site_server))
    _kill(first)

    assert second.returncode == 5, second.stderr
    assert f"(lock {published}.lock)" in second.stderr
    assert not Path(f"{link}.lock").exists()


def test_lock_left_by_a_killed_run_does_not_block(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    site_server.delays["/projects/page/2/"] = 30
    first = _start_crawl(published, site_server)
    _wait_for_request(site_server, "/projects/page/2/")
    _kill(first)
    site_server.delays.clear()

    result = run_cli(*crawl_args(MAIN_CONFIG, published, site_server))

    assert Path(f"{published}.lock").exists()
    assert result.returncode == 0, result.stderr


def test_readers_are_not_blocked_while_a_crawl_runs(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    site_server.delays["/projects/digimente/"] = 30
    crawler = _start_crawl(published, site_server, "--full")
    _wait_for_request(site_server, "/projects/digimente/")

    started = time.monotonic()
    with sqlite3.connect(published, timeout=0.5) as reader:
        count = reader.execute("SELECT COUNT(*) FROM current_projects").fetchone()[0]
    elapsed = time.monotonic() - started
    _kill(crawler)

    assert count == 27
    assert elapsed < 0.5


def _parser_change(tmp_path: Path) -> Path:
    """The bundled config, changed to drop section headings from descriptions."""
    config = tmp_path / "changed.toml"
    text = MAIN_CONFIG.read_text(encoding="utf-8")
    config.write_text(text.replace('"script", "style", "nav"]', '"script", "style", "nav", "h2"]'),
                      encoding="utf-8")
    return config


def test_rebuild_applies_a_parser_change_and_keeps_history(published: Path, tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    config = _parser_change(tmp_path)

    result = run_cli("rebuild", "--config", str(config), "--db", str(published))
    changes = read_rows(published, "SELECT run_id, field, COUNT(*) AS n FROM changes "
                                   "WHERE run_id = 2 GROUP BY field")
    digimente = read_rows(published, "SELECT description FROM projects WHERE url = ?",
                          (f"{ORIGIN}/projects/digimente/",))[0]["description"]

    assert result.returncode == 0, result.stderr
    assert result.stdout == ("rebuild 2: 27 records re-derived, 22 changed, 0 without a stored page\n"
                             "  description: 22\n")
    assert changes == [{"run_id": 2, "field": "description", "n": 22}]
    assert not digimente.startswith("Project presentation")
    assert site_server.requests.paths() == []


def test_rebuild_dry_run_reports_and_writes_nothing(published: Path, tmp_path: Path) -> None:
    before = read_rows(published, CONTENT)

    result = run_cli("rebuild", "--dry-run", "--config", str(_parser_change(tmp_path)),
                     "--db", str(published))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rebuild 2: 27 records re-derived, 22 would change, 0 without a stored page",
        "  description: 22", "dry run: nothing was written"]
    assert read_rows(published, CONTENT) == before
    assert read_rows(published, "SELECT COUNT(*) AS n FROM changes WHERE run_id = 2") == [{"n": 0}]


def test_rebuild_while_a_reader_holds_the_database_open(published: Path, tmp_path: Path) -> None:
    reader = sqlite3.connect(published, isolation_level=None)
    reader.execute("BEGIN")
    old = reader.execute("SELECT description FROM projects ORDER BY url").fetchall()

    result = run_cli("rebuild", "--config", str(_parser_change(tmp_path)), "--db", str(published))
    still = reader.execute("SELECT description FROM projects ORDER BY url").fetchall()
    reader.execute("COMMIT")
    fresh = reader.execute("SELECT description FROM projects ORDER BY url").fetchall()
    reader.close()

    assert result.returncode == 0, result.stderr
    assert still == old
    assert sum(1 for a, b in zip(old, fresh) if a != b) == 22


def test_probe_reports_every_selector_on_a_matching_site(site_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("probe", "--config", str(MAIN_CONFIG), "--base-url", site_server.url)
    lines = result.stdout.splitlines()

    assert result.returncode == 0, result.stderr
    assert lines[:3] == [f"first listing page: {ORIGIN}/projects/",
                         f"last listing page: {ORIGIN}/projects/page/3/",
                         f"detail page: {ORIGIN}/fr/projets/projet-phare-lutte-contre-la-desinformation/"]
    assert "[first listing] listing.entry 'article.project-card': 10 matches" in lines
    assert "[last listing] listing.entry 'article.project-card': 7 matches" in lines
    assert "[detail] detail.content '.entry-content': 1 match" in lines
    assert "MISSING" not in result.stdout


def test_probe_names_the_selectors_a_redesign_broke(alt_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("probe", "--config", str(MAIN_CONFIG), "--base-url", alt_server.url)

    assert result.returncode == 4
    assert "[first listing] listing.entry 'article.project-card': 0 matches  MISSING" in result.stdout.splitlines()
    assert result.stderr == "error: no listing entry found, so no detail page to probe\n"


def test_probe_offline_on_an_empty_store_says_so_in_one_line(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "empty.db"
    assert run_cli(*crawl_args(MAIN_CONFIG, database, site_server, "--max-pages", "1")).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM raw_pages")

    result = run_cli("probe", "--offline", "--db", str(database), "--config", str(MAIN_CONFIG))

    assert (result.returncode, result.stdout, result.stderr) == (
        3, "", f"error: cannot read the first listing page: {ORIGIN}/projects/: not in the raw "
               "store; crawl it once first\n")


def test_probe_offline_reads_the_raw_store(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("probe", "--offline", "--db", str(published), "--config", str(ALT_CONFIG))

    assert result.returncode == 4
    assert "[first listing] listing.entry '.post-grid .card': 0 matches  MISSING" in result.stdout.splitlines()
    assert site_server.requests.paths() == []


def _set_runs(database: Path, *, hours_ago: float, last_status: str | None = None) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE runs SET started_at = strftime('%Y-%m-%dT%H:%M:%SZ', started_at, ?), "
            "ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', ended_at, ?)",
            (f"-{hours_ago} hours", f"-{hours_ago} hours"))
        if last_status:
            connection.execute("UPDATE runs SET status = ?, reason = 'test' WHERE id = "
                               "(SELECT MAX(id) FROM runs)", (last_status,))


def test_check_passes_on_fresh_data(published: Path) -> None:
    result = run_cli("check", "--db", str(published), "--max-age", "2h")

    assert result.returncode == 0
    assert result.stdout.startswith("fresh: last published run 1 ended ")


def test_check_fails_on_old_data(published: Path) -> None:
    _set_runs(published, hours_ago=30)

    result = run_cli("check", "--db", str(published), "--max-age", "26h")

    assert result.returncode == 6
    assert result.stderr.startswith("stale: last published run 1 ended ")
    assert result.stderr.endswith("30 h ago (over 26 h)\n")


def test_check_fails_when_the_last_run_failed(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    run_cli(*crawl_args(MAIN_CONFIG, published, site_server))
    _set_runs(published, hours_ago=0, last_status="refused")

    result = run_cli("check", "--db", str(published))

    assert (result.returncode, result.stderr) == (6, "failing: last run 2 refused: test\n")


def test_check_names_a_failed_first_run_not_a_stale_one(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    for listing_page in [site_copy / "projects" / "index.html", *site_copy.glob("index@*.html")]:
        listing_page.unlink()
    database = tmp_path / "never.db"
    assert run_cli(*crawl_args(MAIN_CONFIG, database, site_server)).returncode == 3

    result = run_cli("check", "--db", str(database))

    assert result.returncode == 6
    assert result.stderr.startswith("failing: last run 1 failed: no listing page could be read")


def test_show_reads_without_writing(tmp_path: Path, published: Path) -> None:
    before = published.read_bytes()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")

    assert run_cli("show", "--db", str(published)).returncode == 0
    result = run_cli("show", "--db", str(empty))

    assert published.read_bytes() == before
    assert (result.returncode, result.stderr, empty.read_bytes()) == (
        1, f"error: {empty}: not a database written by `pipeline crawl`\n", b"")


def test_check_on_a_missing_database(tmp_path: Path) -> None:
    result = run_cli("check", "--db", str(tmp_path / "none.db"))

    assert (result.returncode, result.stderr) == (
        1, f"error: {tmp_path / 'none.db'}: no database here; run `pipeline crawl` first\n")


def test_prune_keeps_the_configured_versions(published: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    page = site_copy / "projects" / "digimente" / "index.html"
    original = page.read_text(encoding="utf-8")
    for version in range(4):
        page.write_text(original.replace("</footer>", f"<!-- v{version} --></footer>"), encoding="utf-8")
        run_cli(*crawl_args(MAIN_CONFIG, published, site_server, "--full"))
    url = f"{ORIGIN}/projects/digimente/"
    assert read_rows(published, "SELECT COUNT(*) AS n FROM raw_pages WHERE url = ?", (url,)) == [{"n": 5}]

    result = run_cli("prune", "--config", str(MAIN_CONFIG), "--db", str(published))

    assert (result.returncode, result.stdout) == (0, "pruned 2 old raw page versions; kept 3 per URL\n")
    assert read_rows(published, "SELECT COUNT(*) AS n FROM raw_pages WHERE url = ?", (url,)) == [{"n": 3}]


def test_prune_keeps_the_page_a_record_was_parsed_from(published: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    page = site_copy / "projects" / "digimente" / "index.html"
    original = page.read_text(encoding="utf-8")
    # Three refused sweeps, each storing a newer, broken version of the page.
    for version in range(3):
        broken = original.replace("entry-content", "post-body").replace("</footer>", f"<!-- v{version} --></footer>")
        page.write_text(broken, encoding="utf-8")
        assert run_cli(*crawl_args(MAIN_CONFIG, published, site_server, "--full")).returncode == 4
    url = f"{ORIGIN}/projects/digimente/"
    parsed_from = "SELECT COUNT(*) AS n FROM raw_pages JOIN projects ON raw_pages.sha256 = projects.detail_sha256 WHERE raw_pages.url = ?"

    result = run_cli("prune", "--config", str(MAIN_CONFIG), "--db", str(published))
    rebuild = run_cli("rebuild", "--config", str(MAIN_CONFIG), "--db", str(published))

    assert (result.returncode, result.stdout) == (0, "pruned 0 old raw page versions; kept 3 per URL\n")
    assert read_rows(published, "SELECT COUNT(*) AS n FROM raw_pages WHERE url = ?", (url,)) == [{"n": 4}]
    assert read_rows(published, parsed_from, (url,)) == [{"n": 1}]
    assert (rebuild.returncode, rebuild.stdout) == (
        0, "rebuild 5: 27 records re-derived, 0 changed, 0 without a stored page\n")
    assert read_rows(published, "SELECT json_extract(counts, '$.changed') AS changed, "
                                "json_extract(counts, '$.unchanged') AS unchanged FROM runs WHERE id = 5") == [
        {"changed": 0, "unchanged": 27}]


@pytest.mark.parametrize("version", [1, 2])
def test_migration_from_an_earlier_schema_keeps_data(tmp_path: Path, version: int) -> None:
    database = tmp_path / "old.db"
    connection = sqlite3.connect(database, isolation_level=None)
    import sqlite_utils

    old = sqlite_utils.Database(connection)
    for step in range(1, version + 1):
        store._MIGRATIONS[step](old)
    connection.execute(f"PRAGMA user_version = {version}")
    connection.execute("INSERT INTO projects (url, title, description, missed_sweeps) "
                       "VALUES ('https://x.org/p/', 'Old title', 'Kept text', 0)")
    connection.execute("INSERT INTO runs (started_at, status) VALUES ('2026-01-01T00:00:00Z', 'succeeded')")
    connection.close()

    migrated = store.open_database(database)
    version_now = store.schema_version(migrated)
    rows = list(migrated.query("SELECT url, title, description FROM projects"))
    found = list(migrated.query(
        "SELECT url FROM projects_fts JOIN projects ON projects.rowid = projects_fts.rowid "
        "WHERE projects_fts MATCH 'kept'"))
    migrated.close()

    assert version_now == store.SCHEMA_VERSION == 3
    assert rows == [{"url": "https://x.org/p/", "title": "Old title", "description": "Kept text"}]
    assert found == [{"url": "https://x.org/p/"}]


def test_summary_json_and_json_logs(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    summary = tmp_path / "summary.json"

    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, "--summary-json",
                                 str(summary), "--log-format", "json"))
    written: dict[str, Any] = json.loads(summary.read_text(encoding="utf-8"))
    logs = [json.loads(line) for line in result.stderr.splitlines()]

    assert result.returncode == 0
    assert (written["status"], written["exit_status"], written["counts"]["new"]) == ("succeeded", 0, 27)
    assert written["line"] == result.stdout.strip()
    assert {entry["level"] for entry in logs} == {"INFO"}
    assert [entry for entry in logs if entry.get("stage") == "detail"][0]["url"].startswith(ORIGIN)


def test_quiet_run_prints_nothing(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*crawl_args(MAIN_CONFIG, tmp_path / "db.sqlite", site_server, "--quiet"))

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_full_text_index_follows_the_records(published: Path) -> None:
    rows = read_rows(published, "SELECT projects.url FROM projects_fts JOIN projects "
                                "ON projects.rowid = projects_fts.rowid "
                                "WHERE projects_fts MATCH 'DigiMENTE' ORDER BY projects.url")

    assert rows == [{"url": f"{ORIGIN}/projects/digimente/"}]


def test_show_prints_what_the_database_holds(published: Path) -> None:
    result = run_cli("show", "--db", str(published), "--json")
    shown = json.loads(result.stdout)

    assert result.returncode == 0
    assert (shown["projects"], shown["current_projects"], shown["removed_projects"]) == (27, 27, 0)
    assert shown["themes"]["ensuring-trust-and-safety-in-the-digital-world"] == 14
    assert shown["recent_runs"][0]["status"] == "succeeded"


def test_sigterm_records_the_run_as_interrupted(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    site_server.delays["/projects/digimente/"] = 30
    crawler = _start_crawl(published, site_server, "--full")
    _wait_for_request(site_server, "/projects/digimente/")

    crawler.send_signal(signal.SIGTERM)
    _, stderr = crawler.communicate(timeout=20)

    assert crawler.returncode == 130
    assert stderr.splitlines()[-1] == "error: interrupted"
    assert read_rows(published, "SELECT id, status, reason FROM runs ORDER BY id") == [
        {"id": 1, "status": "succeeded", "reason": None},
        {"id": 2, "status": "interrupted", "reason": "stopped by a signal"}]
    assert _integrity(published) == "ok"


def test_killed_worker_process_ends_the_crawl_with_its_cause_recorded(published: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    site_server.delays["/projects/digimente/"] = 30
    crawler = _start_crawl(published, site_server, "--full", "--processes", "2")
    _wait_for_request(site_server, "/projects/digimente/")
    children = Path(f"/proc/{crawler.pid}/task/{crawler.pid}/children").read_text().split()

    os.kill(int(children[0]), signal.SIGKILL)
    _, stderr = crawler.communicate(timeout=20)

    assert crawler.returncode == 1
    assert stderr.splitlines()[-1].startswith("error: unexpected BrokenProcessPool: ")
    runs = read_rows(published, "SELECT id, status, reason FROM runs ORDER BY id")
    assert [(run["id"], run["status"]) for run in runs] == [(1, "succeeded"), (2, "interrupted")]
    assert runs[1]["reason"].startswith("stopped by an error: BrokenProcessPool: ")
    assert _integrity(published) == "ok"


def test_sigterm_while_publishing_lets_the_run_end_as_recorded(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    summary_path = tmp_path / "summary.json"
    crawler = _start_crawl(database, site_server, "--summary-json", str(summary_path))
    assert crawler.stderr is not None
    for line in crawler.stderr:
        if "publishing" in line:
            break

    crawler.send_signal(signal.SIGTERM)
    stdout, _ = crawler.communicate(timeout=20)

    runs = read_rows(database, "SELECT id, status FROM runs")
    assert (crawler.returncode, runs) == (0, [{"id": 1, "status": "succeeded"}])
    assert stdout.startswith("run 1 succeeded (full sweep): ")
    assert json.loads(summary_path.read_text(encoding="utf-8"))["status"] == "succeeded"


def test_rebuild_that_would_empty_a_required_field_is_refused(published: Path, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(MAIN_CONFIG.read_text(encoding="utf-8").replace(
        'content = ".entry-content"', 'content = ".post-body"'), encoding="utf-8")
    before = read_rows(published, CONTENT)

    result = run_cli("rebuild", "--config", str(config), "--db", str(published))

    assert result.returncode == 4
    assert result.stdout.splitlines()[0] == (
        "rebuild 2: 27 records re-derived, 27 would change, 0 without a stored page")
    assert result.stderr == (
        "refused: field 'description' would be empty on 100% of the records "
        "(quality.max_empty_ratio allows 20%); nothing was written\n")
    assert read_rows(published, CONTENT) == before
    assert read_rows(published, "SELECT kind, status FROM runs WHERE id = 2") == [
        {"kind": "rebuild", "status": "refused"}]


def test_unreachable_site_fails_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "down.toml"
    config.write_text(MAIN_CONFIG.read_text(encoding="utf-8").replace(
        "backoff_initial_seconds = 2", "backoff_initial_seconds = 0"), encoding="utf-8")

    result = run_cli("crawl", "--quiet", "--config", str(config), "--db", str(tmp_path / "db.sqlite"),
                     "--base-url", "http://127.0.0.1:9")

    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        "failed: no listing page could be read; first failure: "
        "https://parispeaceforum.org/projects/: robots.txt unreachable (cannot connect: "
        "[Errno 111] Connection refused); nothing on this host is fetched\n")


def test_json_logs_keep_the_last_line_json_too(tmp_path: Path) -> None:
    config = tmp_path / "down.toml"
    config.write_text(MAIN_CONFIG.read_text(encoding="utf-8").replace(
        "backoff_initial_seconds = 2", "backoff_initial_seconds = 0"), encoding="utf-8")

    result = run_cli("crawl", "--quiet", "--log-format", "json", "--config", str(config),
                     "--db", str(tmp_path / "db.sqlite"), "--base-url", "http://127.0.0.1:9")
    last = json.loads(result.stderr.splitlines()[-1])

    assert result.returncode == 3
    assert (last["level"], last["logger"]) == ("ERROR", "pipeline.cli")
    assert last["message"].startswith("failed: no listing page could be read")
