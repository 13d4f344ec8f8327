"""Whole crawls through the CLI, in a subprocess, against a tiny site with one fault.

The site is one listing page of three entries: two healthy detail pages and one
whose link points at a fault endpoint of tests/faultserver.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from faultserver import FaultServer, serve_faults

SITE = "https://parispeaceforum.org"
MAX_ATTEMPTS = 3

CONFIG_TOML = f"""\
[site]
name = "Fault site"
start_urls = ["{SITE}/projects/"]
allowed_hosts = ["parispeaceforum.org"]

[listing]
entry = "article.project-card"
title = ".entry-title"
link = "a.more-link"
summary = ".entry-summary"

[detail]
title = "h1.entry-title"
content = ".entry-content"

[fetch]
contact = "mailto:faults@example.org"
timeout_seconds = 5
max_attempts = {MAX_ATTEMPTS}
backoff_initial_seconds = 0.01
backoff_max_seconds = 0.05

[politeness]
min_delay_seconds = 0
"""

ENTRY_HTML = """\
<article class="project-card">
<h2 class="entry-title"><a href="{link}">{title}</a></h2>
<div class="entry-summary"><p>{title} in a few words.
<a class="more-link" href="{link}">Continued</a></p></div>
</article>
"""

DETAIL_HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><article>
<h1 class="entry-title">{title}</h1>
<div class="entry-content">
<p>{title} is a project described at some length here.</p>
</div>
</article></body></html>
"""


@pytest.fixture(scope="session")
def running_server() -> Iterator[FaultServer]:
    with serve_faults() as server:
        yield server


@pytest.fixture
def server(running_server: FaultServer) -> FaultServer:
    running_server.reset()
    return running_server


def serve_tiny_site(server: FaultServer, *, fault_path: str) -> None:
    """A listing of Alpha, the fault, and Gamma; Alpha and Gamma are healthy."""
    links = [
        ("Alpha", "/projects/alpha/"),
        ("Fault", fault_path),
        ("Gamma", "/projects/gamma/"),
    ]
    entries = "".join(
        ENTRY_HTML.format(title=title, link=f"{SITE}{path}") for title, path in links
    )
    listing = f"<!DOCTYPE html><html><body>{entries}</body></html>"
    server.add_page("/projects/", listing.encode("utf-8"))
    for title, path in (links[0], links[2]):
        server.add_page(path, DETAIL_HTML.format(title=title).encode("utf-8"))


def crawl(
    server: FaultServer, tmp_path: Path, *extra: str, config: str = CONFIG_TOML
) -> subprocess.CompletedProcess[str]:
    config_path = tmp_path / "site.toml"
    config_path.write_text(config, encoding="utf-8")
    # A proxy from the environment would take requests away from 127.0.0.1.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.lower().endswith("_proxy")
    }
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "crawl",
        "--config",
        str(config_path),
        "--db",
        str(tmp_path / "projects.db"),
        "--base-url",
        server.url,
        "--min-delay",
        "0",
        *extra,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def failure_rows(database_path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database_path) as connection:
        return connection.execute(
            "SELECT url, kind, status, error, attempts FROM fetch_failures ORDER BY id"
        ).fetchall()


# With worker processes, errors and pages travel back to the crawl by pickle.
@pytest.mark.parametrize("workers", [[], ["--processes", "2", "--concurrency", "2"]])
def test_detail_page_answering_503_every_time_fails_the_run_with_status_3(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/status/503/")

    result = crawl(server, tmp_path, *workers)

    assert result.returncode == 3, result.stderr
    assert failure_rows(tmp_path / "projects.db") == [
        (f"{SITE}/status/503/", "detail", 503, "HTTP 503", MAX_ATTEMPTS)
    ]
    assert server.requests.paths().count("/status/503/") == MAX_ATTEMPTS


# With worker processes, errors and pages travel back to the crawl by pickle.
@pytest.mark.parametrize("workers", [[], ["--processes", "2", "--concurrency", "2"]])
def test_detail_page_answering_404_is_recorded_gone_and_the_run_succeeds(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/status/404/")

    result = crawl(server, tmp_path, *workers)

    assert result.returncode == 0, result.stderr
    assert failure_rows(tmp_path / "projects.db") == [
        (f"{SITE}/status/404/", "gone", 404, "gone (HTTP 404)", 1)
    ]


# With worker processes, errors and pages travel back to the crawl by pickle.
@pytest.mark.parametrize("workers", [[], ["--processes", "2", "--concurrency", "2"]])
def test_detail_page_that_is_a_pdf_is_recorded_not_html_and_skipped(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/pdf/")

    result = crawl(server, tmp_path, *workers)

    assert result.returncode == 0, result.stderr
    assert failure_rows(tmp_path / "projects.db") == [
        (f"{SITE}/pdf/", "not-html", 200, "not HTML: application/pdf", 1)
    ]


WORKER_MODES = [[], ["--processes", "2", "--concurrency", "2"]]


def run_counts(database_path: Path) -> dict[str, object]:
    with sqlite3.connect(database_path) as connection:
        status, is_complete, counts = connection.execute(
            "SELECT status, is_complete, counts FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return {"status": status, "is_complete": is_complete, **json.loads(counts)}


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_detail_page_that_fails_twice_is_retried_and_stored(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/status/500-500-200/")
    # The fault endpoint's page has no .entry-content: one record in three.
    config = CONFIG_TOML + "\n[quality]\nmax_empty_ratio = 0.5\n"

    result = crawl(server, tmp_path, *workers, config=config)

    assert result.returncode == 0, result.stderr
    counts = run_counts(tmp_path / "projects.db")
    # robots.txt, the listing, Alpha, three attempts at the fault, Gamma.
    assert (counts["requests"], counts["retries"], counts["failed"]) == (7, 2, 0)
    assert server.requests.paths().count("/status/500-500-200/") == 3
    assert failure_rows(tmp_path / "projects.db") == []


@pytest.mark.parametrize("workers", WORKER_MODES)
def test_run_deadline_stops_the_details_and_ends_the_run_partial(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/slow/2/")
    config = CONFIG_TOML.replace(
        "backoff_max_seconds = 0.05\n",
        "backoff_max_seconds = 0.05\nrun_deadline_seconds = 1\n",
    )

    result = crawl(server, tmp_path, *workers, config=config)

    assert result.returncode == 3, result.stderr
    failures = failure_rows(tmp_path / "projects.db")
    assert {row[1] for row in failures} == {"deadline"}
    assert (f"{SITE}/slow/2/", "deadline") in {row[:2] for row in failures}
    counts = run_counts(tmp_path / "projects.db")
    assert (counts["status"], counts["is_complete"]) == ("partial", 0)


# With worker processes, errors and pages travel back to the crawl by pickle.
@pytest.mark.parametrize("workers", [[], ["--processes", "2", "--concurrency", "2"]])
def test_detail_page_answering_304_to_a_first_request_is_a_failure_not_a_record(
    server: FaultServer, tmp_path: Path, workers: list[str]
) -> None:
    serve_tiny_site(server, fault_path="/status/304/")

    result = crawl(server, tmp_path, *workers)

    assert result.returncode == 3, result.stderr
    assert failure_rows(tmp_path / "projects.db") == [
        (f"{SITE}/status/304/", "detail", 304,
         "HTTP 304 to a request without validators: nothing stored to reuse", 1)
    ]
    with sqlite3.connect(tmp_path / "projects.db") as connection:
        rows = connection.execute(
            "SELECT url, description FROM projects ORDER BY url").fetchall()
    assert rows == [
        (f"{SITE}/projects/alpha/", "Alpha is a project described at some length here."),
        (f"{SITE}/projects/gamma/", "Gamma is a project described at some length here."),
        (f"{SITE}/status/304/", None),
    ]
