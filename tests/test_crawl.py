"""The main job end to end: the CLI crawls a fixture site served on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ALT_CONFIG, MAIN_CONFIG, crawl_args, read_rows, run_cli

RECORD_FIELDS = (
    "title", "title_source", "summary", "description", "language", "canonical_url",
    "image_url", "published_at", "modified_at", "organization", "scale_up_label",
    "region", "edition_year", "project_lead",
)
BOOKKEEPING = {
    "last_seen_at", "last_seen_run_id", "detail_fetched_at", "listing_url",
    "listing_position", "last_status", "missed_sweeps",
}


def _records(database: Path) -> dict[str, dict[str, Any]]:
    rows = read_rows(database, "SELECT * FROM projects")
    themes = read_rows(database, "SELECT project_url, theme FROM project_themes ORDER BY theme")
    records = {row["url"]: row for row in rows}
    for row in records.values():
        row["themes"] = [t["theme"] for t in themes if t["project_url"] == row["url"]]
    return records


def _as_expected(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in (*RECORD_FIELDS, "themes")}


@pytest.fixture
def crawled(tmp_path: Path, site_server) -> Path:  # type: ignore[no-untyped-def]
    database = tmp_path / "projects.db"
    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server))
    assert result.returncode == 0, result.stderr
    return database


def test_crawl_stores_every_project_exactly_as_expected(crawled: Path, expected_projects) -> None:  # type: ignore[no-untyped-def]
    records = _records(crawled)

    assert sorted(records) == sorted(expected_projects)
    for url, expected in expected_projects.items():
        wanted = {name: expected[name] for name in (*RECORD_FIELDS, "themes")}
        assert _as_expected(records[url]) == wanted, url


def test_empty_listing_title_comes_from_the_detail_page(crawled: Path) -> None:
    rows = read_rows(crawled, "SELECT url, title, title_source FROM projects "
                              "WHERE title_source = 'detail'")

    assert rows == [{"url": "https://parispeaceforum.org/projects/digimente/",
                     "title": "DigiMENTE", "title_source": "detail"}]


def test_summaries_never_keep_the_link_text(crawled: Path) -> None:
    summaries = [row["summary"] for row in read_rows(crawled, "SELECT summary FROM projects")]

    assert len(summaries) == 27
    assert [s for s in summaries if s.endswith("Continued") or not s.endswith("…")] == []


def test_descriptions_hold_no_navigation_footer_or_share_text(crawled: Path) -> None:
    descriptions = [row["description"] for row in read_rows(crawled, "SELECT description FROM projects")]
    chrome = ("Share this", "Related projects", "© 2026", "Newsletter", "Home")

    assert all(descriptions)
    assert [(d[:40], word) for d in descriptions for word in chrome if word in d] == []


def test_project_under_two_themes_is_one_record_with_both(crawled: Path) -> None:
    rows = read_rows(
        crawled,
        "SELECT theme FROM project_themes WHERE project_url = ? ORDER BY theme",
        ("https://parispeaceforum.org/projects/ai-for-climate/",),
    )

    assert [row["theme"] for row in rows] == [
        "climate-and-environment", "ensuring-trust-and-safety-in-the-digital-world"]


def test_windows_1252_page_keeps_its_accents(crawled: Path, expected_projects) -> None:  # type: ignore[no-untyped-def]
    url = "https://parispeaceforum.org/fr/projets/projet-phare-lutte-contre-la-desinformation/"
    row = read_rows(crawled, "SELECT description, language FROM projects WHERE url = ?", (url,))[0]
    raw = read_rows(crawled, "SELECT charset, charset_source FROM raw_pages WHERE url = ?", (url,))

    assert row["description"] == expected_projects[url]["description"]
    assert "désinformation" in row["description"] and "\ufffd" not in row["description"]
    assert row["language"] == "fr-FR"
    assert raw == [{"charset": "windows-1252", "charset_source": "meta"}]


def test_crawl_prints_one_summary_line(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*crawl_args(MAIN_CONFIG, tmp_path / "db.sqlite", site_server))

    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "run 1 succeeded (full sweep): 34 requests, 0 not modified, 0 skipped, 0 failed; "
        "projects 27 new, 0 changed, 0 unchanged, 0 removed"
    ]


def test_second_run_over_unchanged_site_changes_no_content(crawled: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    before = _records(crawled)

    result = run_cli(*crawl_args(MAIN_CONFIG, crawled, site_server, "--full"))
    after = _records(crawled)

    assert result.returncode == 0, result.stderr
    strip = lambda rows: {url: {k: v for k, v in row.items() if k not in BOOKKEEPING}  # noqa: E731
                          for url, row in rows.items()}
    assert strip(after) == strip(before)
    assert read_rows(crawled, "SELECT COUNT(*) AS n FROM changes WHERE run_id = 2") == [{"n": 0}]
    assert {row["last_seen_run_id"] for row in after.values()} == {2}


def test_changed_summary_updates_its_record_and_updated_at(crawled: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    url = "https://parispeaceforum.org/projects/cast-the-conflict-alert-system/"
    before = _records(crawled)[url]
    listing = site_copy / "index@themes=ensuring-trust-and-safety-in-the-digital-world.html"
    for page in [listing, *(site_copy / "projects").glob("**/index.html")]:
        if page.parent.name == "projects" or "page" in page.parts or page == listing:
            text = page.read_text(encoding="utf-8")
            page.write_text(text.replace("This tool is unique", "This tool is one of a kind"),
                            encoding="utf-8")

    result = run_cli(*crawl_args(MAIN_CONFIG, crawled, site_server, "--full"))
    after = _records(crawled)[url]
    changes = read_rows(crawled, "SELECT project_url, field FROM changes WHERE run_id = 2")

    assert result.returncode == 0, result.stderr
    assert after["summary"] == before["summary"].replace("This tool is unique", "This tool is one of a kind")
    assert after["updated_at"] >= before["updated_at"] and after["last_changed_run_id"] == 2
    assert changes == [{"project_url": url, "field": "summary"}]


def test_alternate_theme_gives_the_same_records(tmp_path: Path, crawled: Path, alt_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "alt.db"

    result = run_cli(*crawl_args(ALT_CONFIG, database, alt_server))

    assert result.returncode == 0, result.stderr
    main = {url: _as_expected(row) for url, row in _records(crawled).items()}
    alt = {url: _as_expected(row) for url, row in _records(database).items()}
    assert alt == main


def test_stored_urls_stay_on_the_site_host(crawled: Path) -> None:
    urls = [row["url"] for row in read_rows(crawled, "SELECT url FROM projects")]
    urls += [row["url"] for row in read_rows(crawled, "SELECT url FROM raw_pages")]

    assert [url for url in urls if not url.startswith("https://parispeaceforum.org/")] == []


def test_requests_never_repeat_a_page_within_a_run(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    run_cli(*crawl_args(MAIN_CONFIG, tmp_path / "db.sqlite", site_server))
    paths = site_server.requests.paths()

    assert len(paths) == 34
    assert len(set(paths)) == 34
    assert [p for p in paths if "utm_" in p or "#" in p] == []


def test_concurrent_crawl_gives_the_same_records(tmp_path: Path, crawled: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "concurrent.db"

    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, "--concurrency", "4"))

    assert result.returncode == 0, result.stderr
    main = {url: _as_expected(row) for url, row in _records(crawled).items()}
    assert {url: _as_expected(row) for url, row in _records(database).items()} == main


def test_record_key_is_the_detail_url_after_redirects(tmp_path: Path, site_server, site_copy: Path) -> None:  # type: ignore[no-untyped-def]
    moved = site_copy / "projects" / "digimente.v2"
    moved.mkdir()
    (moved / "index.html").write_bytes((site_copy / "projects" / "digimente" / "index.html").read_bytes())
    for page in [*site_copy.glob("index@*.html"), *site_copy.glob("**/page/*/index*.html"),
                 site_copy / "projects" / "index.html"]:
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("/projects/digimente/", "/projects/digimente.v2"), encoding="utf-8")
    database = tmp_path / "db.sqlite"

    first = run_cli(*crawl_args(MAIN_CONFIG, database, site_server))
    second = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, "--full"))
    rows = read_rows(database, "SELECT url, detail_link, title FROM projects WHERE title = 'DigiMENTE'")

    assert (first.returncode, second.returncode) == (0, 0)
    assert rows == [{"url": "https://parispeaceforum.org/projects/digimente.v2/",
                     "detail_link": "https://parispeaceforum.org/projects/digimente.v2",
                     "title": "DigiMENTE"}]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM projects") == [{"n": 27}]
    assert "projects 0 new, 0 changed, 27 unchanged" in second.stdout
