"""Incremental runs, history, removals and the quality gate, against a site copy
that each test edits between runs; the server's request log is the evidence."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import MAIN_CONFIG, PROJECT_ROOT, crawl_args, read_rows, run_cli

ORIGIN = "https://parispeaceforum.org"
THEME = "themes=ensuring-trust-and-safety-in-the-digital-world"
MOBILE_CLINICS = f"{ORIGIN}/place/mobile-clinics-for-displaced-populations/"
CONTENT_COLUMNS = (
    "url", "title", "title_source", "summary", "description", "language", "canonical_url",
    "image_url", "published_at", "modified_at", "alternates", "themes", "organization",
    "scale_up_label", "region", "edition_year", "project_lead", "updated_at", "removed_at",
)


def _listing_files(site: Path) -> list[Path]:
    return sorted([*site.glob("index@*.html"), *site.glob("page/*/index@*.html"),
                   site / "projects" / "index.html", *site.glob("projects/page/*/index.html")])


def _edit_listings(site: Path, old: str, new: str) -> None:
    for page in _listing_files(site):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace(old, new), encoding="utf-8")


def _remove_entry(site: Path, path: str) -> None:
    """Drop a project's entry from every listing page, as if it left the directory."""
    entry = re.compile(r'<article [^>]*project-card.*?</article>\s*', re.S)
    for page in _listing_files(site):
        text = page.read_text(encoding="utf-8")
        page.write_text(entry.sub(lambda m: "" if path in m.group(0) else m.group(0), text),
                        encoding="utf-8")


def _content(database: Path) -> list[dict[str, Any]]:
    return read_rows(database, f"SELECT {', '.join(CONTENT_COLUMNS)} FROM projects ORDER BY url")


def _crawl(database: Path, server, *extra: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    result = run_cli(*crawl_args(MAIN_CONFIG, database, server, *extra))
    assert result.returncode in (0, 3, 4), result.stderr
    return result


def _age_database(database: Path, *, runs_hours: float = 0, pages_days: float = 0) -> None:
    """Move stored timestamps back, as if the last runs happened long ago."""
    with sqlite3.connect(database) as connection:
        if runs_hours:
            connection.execute(
                "UPDATE runs SET started_at = strftime('%Y-%m-%dT%H:%M:%SZ', started_at, ?), "
                "ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', ended_at, ?)",
                (f"-{runs_hours} hours", f"-{runs_hours} hours"))
        if pages_days:
            connection.execute(
                "UPDATE raw_pages SET validated_at = "
                "strftime('%Y-%m-%dT%H:%M:%SZ', validated_at, ?)", (f"-{pages_days} days",))


def test_no_change_run_sends_only_k_conditional_listing_requests(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    site_server.requests.clear()

    result = _crawl(database, site_server)
    requests = site_server.requests.snapshot()

    assert [request.path for request in requests] == [
        "/robots.txt", "/projects/", "/projects/page/2/", f"/?{THEME}", f"/page/2/?{THEME}",
        "/?themes=climate-and-environment",
    ]
    assert all("If-None-Match" in request.headers for request in requests[1:])
    assert result.stdout.startswith("run 2 succeeded (incremental): 6 requests, 5 not modified,")
    assert _content(database) == before
    assert read_rows(database, "SELECT is_full_sweep, is_complete FROM runs WHERE id = 2") == [
        {"is_full_sweep": 0, "is_complete": 0}]


def test_full_sweep_over_unchanged_site_downloads_no_body(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    site_server.requests.clear()

    result = _crawl(database, site_server, "--full")
    requests = site_server.requests.snapshot()

    assert len(requests) == 34
    assert [r.path for r in requests if "If-None-Match" not in r.headers] == ["/robots.txt"]
    assert result.stdout.startswith("run 2 succeeded (full sweep): 34 requests, 33 not modified,")


def test_edited_summary_on_page_3_waits_for_the_next_full_sweep(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    _edit_listings(site_copy, "on a fixed weekly schedule", "on a fixed daily schedule")

    _crawl(database, site_server)
    unchanged = read_rows(database, "SELECT summary FROM projects WHERE url = ?", (MOBILE_CLINICS,))
    site_server.requests.clear()
    _crawl(database, site_server, "--full")
    changes = read_rows(database, "SELECT project_url, run_id, field, old_value, new_value FROM changes WHERE run_id > 1")

    assert "weekly" in unchanged[0]["summary"]
    assert [(c["project_url"], c["run_id"], c["field"]) for c in changes] == [
        (MOBILE_CLINICS, 3, "summary")]
    assert changes[0]["new_value"] == changes[0]["old_value"].replace("weekly", "daily")
    assert "/projects/page/3/" in site_server.requests.paths()


def test_edited_summary_is_found_once_a_full_sweep_is_due_by_age(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    _edit_listings(site_copy, "on a fixed weekly schedule", "on a fixed daily schedule")
    _age_database(database, runs_hours=25)

    result = _crawl(database, site_server)
    changes = read_rows(database, "SELECT project_url, run_id, field FROM changes WHERE run_id > 1")

    assert result.stdout.startswith("run 2 succeeded (full sweep)")
    assert changes == [{"project_url": MOBILE_CLINICS, "run_id": 2, "field": "summary"}]


def test_detail_pages_older_than_their_max_age_are_revalidated(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    _age_database(database, pages_days=8)
    site_server.requests.clear()

    _crawl(database, site_server)
    seen = read_rows(database, "SELECT url FROM projects WHERE last_seen_run_id = 2")
    detail_paths = {r.path for r in site_server.requests.snapshot()
                    if r.path.startswith(("/projects/", "/place/", "/initiatives/", "/fr/"))
                    and "/page/" not in r.path and r.path != "/projects/"}

    assert detail_paths == {row["url"].removeprefix(ORIGIN) for row in seen}
    assert len(detail_paths) == 23
    assert all("If-None-Match" in r.headers for r in site_server.requests.snapshot()[1:])


def test_project_missing_from_two_sweeps_is_removed_after_the_second(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    _remove_entry(site_copy, "/place/mobile-clinics-for-displaced-populations/")

    _crawl(database, site_server, "--full")
    after_first = read_rows(database, "SELECT removed_at, missed_sweeps FROM projects WHERE url = ?", (MOBILE_CLINICS,))
    _crawl(database, site_server, "--full")
    after_second = read_rows(database, "SELECT removed_at, missed_sweeps, last_seen_run_id FROM projects WHERE url = ?", (MOBILE_CLINICS,))
    changes = read_rows(database, "SELECT run_id, field, old_value FROM changes WHERE project_url = ? ORDER BY id", (MOBILE_CLINICS,))

    assert after_first == [{"removed_at": None, "missed_sweeps": 1}]
    assert after_second[0]["removed_at"] is not None and after_second[0]["missed_sweeps"] == 2
    assert after_second[0]["last_seen_run_id"] == 1
    assert changes == [{"run_id": 1, "field": "project", "old_value": None},
                       {"run_id": 3, "field": "removed_at", "old_value": None}]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM current_projects") == [{"n": 26}]


def test_removed_project_that_comes_back_is_a_change(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    listings = {page: page.read_text(encoding="utf-8") for page in _listing_files(site_copy)}
    _remove_entry(site_copy, "/place/mobile-clinics-for-displaced-populations/")
    _crawl(database, site_server, "--full")
    _crawl(database, site_server, "--full")
    for page, text in listings.items():
        page.write_text(text, encoding="utf-8")

    result = _crawl(database, site_server, "--full")
    row = read_rows(database, "SELECT removed_at, missed_sweeps FROM projects WHERE url = ?", (MOBILE_CLINICS,))
    last = read_rows(database, "SELECT field, new_value FROM changes WHERE run_id = 4")

    assert row == [{"removed_at": None, "missed_sweeps": 0}]
    assert last == [{"field": "removed_at", "new_value": None}]
    assert "projects 0 new, 1 changed, 26 unchanged, 0 removed" in result.stdout


def test_added_project_is_new_with_a_change_row(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    source = site_copy / "place" / "mobile-clinics-for-displaced-populations"
    target = site_copy / "place" / "mobile-clinics-for-flood-areas"
    target.mkdir()
    (target / "index.html").write_text(
        (source / "index.html").read_text(encoding="utf-8")
        .replace("mobile-clinics-for-displaced-populations", "mobile-clinics-for-flood-areas"),
        encoding="utf-8")
    page3 = site_copy / "projects" / "page" / "3" / "index.html"
    text = page3.read_text(encoding="utf-8")
    block = re.search(r'<article [^>]*project-card(?:(?!</article>).)*mobile-clinics-for-displaced.*?</article>', text, re.S)
    assert block is not None
    page3.write_text(text.replace(block.group(0), block.group(0) + block.group(0).replace(
        "mobile-clinics-for-displaced-populations", "mobile-clinics-for-flood-areas").replace(
        ">Mobile clinics for displaced populations<", ">Mobile clinics for flood areas<")),
        encoding="utf-8")

    result = _crawl(database, site_server, "--full")
    changes = read_rows(database, "SELECT project_url, field, new_value FROM changes WHERE run_id = 2")

    assert changes == [{"project_url": f"{ORIGIN}/place/mobile-clinics-for-flood-areas/",
                        "field": "project", "new_value": "added"}]
    assert "projects 1 new, 0 changed, 27 unchanged, 0 removed" in result.stdout


def test_detail_page_answering_404_counts_as_missing(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    (site_copy / "place" / "mobile-clinics-for-displaced-populations" / "index.html").unlink()

    first = _crawl(database, site_server, "--full")
    second = _crawl(database, site_server, "--full")
    row = read_rows(database, "SELECT removed_at IS NOT NULL AS removed, last_status FROM projects WHERE url = ?", (MOBILE_CLINICS,))
    gone = read_rows(database, "SELECT run_id, kind, status FROM fetch_failures")

    assert (first.returncode, second.returncode) == (0, 0)
    assert row == [{"removed": 1, "last_status": 404}]
    assert gone == [{"run_id": 2, "kind": "gone", "status": 404}, {"run_id": 3, "kind": "gone", "status": 404}]


def test_redesigned_listing_is_refused_and_changes_nothing(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    _edit_listings(site_copy, "project-card", "teaser-card")

    result = _crawl(database, site_server, "--full")
    size = len((site_copy / "projects" / "index.html").read_bytes())

    assert result.returncode == 4
    assert result.stderr.splitlines()[-1] == (
        f"refused: listing page {ORIGIN}/projects/ ({size} bytes) yielded no entry: "
        "selector listing.entry 'article.project-card' matched nothing")
    assert _content(database) == before
    assert read_rows(database, "SELECT status FROM runs ORDER BY id") == [
        {"status": "succeeded"}, {"status": "refused"}]


def test_redesigned_detail_pages_are_refused_and_change_nothing(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    for page in site_copy.glob("**/index.html"):
        if page not in _listing_files(site_copy):
            page.write_bytes(page.read_bytes().replace(b"entry-content", b"post-body"))

    result = _crawl(database, site_server, "--full")

    assert result.returncode == 4
    assert result.stderr.splitlines()[-1] == (
        "refused: field 'description' is empty on 100% of the 27 records parsed "
        "(quality.max_empty_ratio allows 20%); check detail.content '.entry-content'")
    assert _content(database) == before
    assert read_rows(database, "SELECT COUNT(*) AS n FROM changes WHERE run_id = 2") == [{"n": 0}]
    measured = read_rows(database, "SELECT json_extract(counts, '$.projects_seen') AS seen, "
                                   "json_extract(counts, '$.parsed') AS parsed, "
                                   "json_extract(counts, '$.fill_rates.description') AS description "
                                   "FROM runs WHERE id = 2")
    assert measured == [{"seen": 27, "parsed": 27, "description": 0.0}]


def test_sweep_finding_under_half_the_projects_is_refused(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    for row in before[:15]:
        _remove_entry(site_copy, "/" + row["url"].rstrip("/").rsplit("/", 1)[-1])

    result = _crawl(database, site_server, "--full")

    assert result.returncode == 4
    assert result.stderr.splitlines()[-1] == (
        "refused: this sweep found 12 projects, under 50% of the recent median 27 "
        "(quality.min_sweep_ratio); check listing.entry 'article.project-card'")
    assert _content(database) == before


def test_killed_run_keeps_its_downloads_for_the_next_run(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    slow = "/place/mobile-clinics-for-displaced-populations/"
    site_server.delays[slow] = 30
    crawler = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *crawl_args(MAIN_CONFIG, database, site_server)],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while slow not in site_server.requests.paths() and time.monotonic() < deadline:
        time.sleep(0.02)
    crawler.send_signal(signal.SIGKILL)
    crawler.wait()
    downloaded = {row["url"].removeprefix(ORIGIN) for row in read_rows(
        database, "SELECT url FROM raw_pages WHERE kind = 'detail'")}
    site_server.delays.clear()
    site_server.requests.clear()

    result = _crawl(database, site_server)
    requested = set(site_server.requests.paths())

    assert len(downloaded) >= 20
    assert result.returncode == 0
    assert downloaded & requested == set()
    assert read_rows(database, "SELECT id, status FROM runs ORDER BY id") == [
        {"id": 1, "status": "interrupted"}, {"id": 2, "status": "succeeded"}]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects") == [{"n": 27}]
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_changed_selectors_reparse_stored_pages_without_downloading_them(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    config = tmp_path / "changed.toml"
    config.write_text(MAIN_CONFIG.read_text(encoding="utf-8").replace(
        '"script", "style", "nav"]', '"script", "style", "nav", "h2"]'), encoding="utf-8")
    site_server.requests.clear()

    result = run_cli(*crawl_args(config, database, site_server, "--full"))
    changes = read_rows(database, "SELECT field, COUNT(*) AS n FROM changes WHERE run_id = 2 GROUP BY field")
    versions = read_rows(database, "SELECT DISTINCT parser_version FROM projects")

    assert result.returncode == 0, result.stderr
    assert "34 requests, 33 not modified" in result.stdout
    assert changes == [{"field": "description", "n": 22}]
    assert len(versions) == 1 and versions[0]["parser_version"].startswith("2+")


def test_empty_listing_page_marks_nothing_removed(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    small_page = b"<!DOCTYPE html><html><body><p>Nothing here.</p></body></html>"
    (site_copy / "projects" / "page" / "3" / "index.html").write_bytes(small_page)

    first = _crawl(database, site_server, "--full")
    _crawl(database, site_server, "--full")

    assert first.returncode == 0
    assert (f"Listing page {ORIGIN}/projects/page/3/ ({len(small_page)} bytes) has no entry; "
            "this run marks nothing removed") in first.stderr
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects WHERE removed_at IS NOT NULL") == [{"n": 0}]
    assert read_rows(database, "SELECT is_complete FROM runs WHERE id > 1") == [
        {"is_complete": 0}, {"is_complete": 0}]


def test_empty_listing_body_is_a_failed_page_and_marks_nothing_removed(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    (site_copy / "projects" / "page" / "3" / "index.html").write_bytes(b"")
    config = tmp_path / "fast-retries.toml"
    config.write_text(MAIN_CONFIG.read_text(encoding="utf-8").replace(
        "backoff_initial_seconds = 2", "backoff_initial_seconds = 0.01"), encoding="utf-8")

    results = [run_cli(*crawl_args(config, database, site_server, "--full")) for _ in range(2)]

    assert [result.returncode for result in results] == [3, 3]
    assert read_rows(database, "SELECT url, kind, status, error FROM fetch_failures WHERE run_id = 2") == [
        {"url": f"{ORIGIN}/projects/page/3/", "kind": "listing", "status": 200,
         "error": "empty body (HTTP 200)"}]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects WHERE removed_at IS NOT NULL") == [{"n": 0}]


def test_pages_a_refused_run_stored_are_asked_for_again_not_trusted(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    originals = {}
    for page in site_copy.glob("**/index.html"):
        if page not in _listing_files(site_copy):
            originals[page] = page.read_bytes()
            page.write_bytes(originals[page].replace(b"entry-content", b"post-body"))
    assert _crawl(database, site_server, "--full").returncode == 4
    for page, original in originals.items():
        page.write_bytes(original)
    site_server.requests.clear()

    result = _crawl(database, site_server)

    assert result.returncode == 0, result.stderr
    details = [p for p in site_server.requests.paths() if p.count("/") > 2 and "/page/" not in p]
    seen = read_rows(database, "SELECT json_extract(counts, '$.projects_seen') AS n FROM runs WHERE id = 3")
    assert "/projects/digimente/" in details
    assert [{"n": len(details)}] == seen
    assert _content(database) == before


def test_a_detail_page_that_once_answered_a_pdf_is_not_parsed_from_it(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    before = _content(database)
    site_server.content_types["/projects/digimente/"] = "application/pdf"
    assert _crawl(database, site_server, "--full").returncode == 0
    site_server.content_types.clear()

    rebuilt = run_cli("rebuild", "--config", str(MAIN_CONFIG), "--db", str(database))
    incremental = _crawl(database, site_server)

    assert (rebuilt.returncode, incremental.returncode) == (0, 0)
    assert rebuilt.stdout.splitlines()[0] == (
        "rebuild 3: 27 records re-derived, 0 changed, 0 without a stored page")
    assert _content(database) == before


def test_listing_page_redirected_to_one_already_read_marks_nothing_removed(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    _crawl(database, site_server)
    site_server.redirects["/projects/page/3/"] = "/projects/"

    results = [_crawl(database, site_server, "--full") for _ in range(2)]

    assert [result.returncode for result in results] == [0, 0]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects WHERE removed_at IS NOT NULL") == [{"n": 0}]
    assert read_rows(database, "SELECT id, is_complete FROM runs ORDER BY id") == [
        {"id": 1, "is_complete": 1}, {"id": 2, "is_complete": 0}, {"id": 3, "is_complete": 0}]
    assert "redirects to https://parispeaceforum.org/projects/, read already in this run" in results[0].stderr
