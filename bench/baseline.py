"""The fixed baseline the bench compares our crawler to: the scraper one would
write in an afternoon.

One persistent httpx.Client, one request at a time, BeautifulSoup with lxml,
the same fields as bench.toml, one sqlite-utils upsert per record. No retries,
no robots.txt, no raw page store: it sets the floor, it is not a crawler.

    python bench/baseline.py --start-url URL --base-url MIRROR --db FILE \
        --summary-json FILE
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import sqlite_utils
from bs4 import BeautifulSoup, Tag

USER_AGENT = "bench-baseline/1 (+mailto:bench@example.org)"
TIMEOUT_SECONDS = 30.0
EXCLUDED_FROM_CONTENT = (
    ".sharedaddy",
    ".share-buttons",
    ".related-projects",
    "script",
    "style",
    "nav",
)
LINK_TEXTS = ("Continued", "Read more")
REGION = re.compile(r"(?:Geographical Area|Region)\s*:\s*(.+)")
EDITION_YEAR = re.compile(r"Selected at the (\d{4}) Bench Forum")
PROJECT_LEAD = re.compile(r"Project led by\s*:\s*(.+)")


@dataclass(frozen=True)
class Entry:
    """What one listing card says about a project."""

    detail_url: str
    title: str | None
    summary: str | None


@dataclass
class Totals:
    """What a baseline run did, for its summary file."""

    listing_pages: int = 0
    detail_pages: int = 0
    records: int = 0

    @property
    def requests(self) -> int:
        return self.listing_pages + self.detail_pages


def crawl(start_url: str, *, base_url: str, database: sqlite_utils.Database) -> Totals:
    """Walk the listing from start_url, fetching and storing every detail page."""
    totals = Totals()
    with httpx.Client(
        headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT_SECONDS
    ) as client:
        page_url: str | None = start_url
        while page_url is not None:
            soup = _fetch_soup(client, page_url, base_url)
            totals.listing_pages += 1
            for entry in extract_entries(soup, page_url):
                detail = _fetch_soup(client, entry.detail_url, base_url)
                totals.detail_pages += 1
                upsert_record(database, extract_record(detail, entry, page_url))
                totals.records += 1
            page_url = _next_page_url(soup, page_url)
    return totals


def _fetch_soup(client: httpx.Client, url: str, base_url: str) -> BeautifulSoup:
    site = urlsplit(url)
    mirror = urlsplit(base_url)
    response = client.get(
        urlunsplit((mirror.scheme, mirror.netloc, site.path, site.query, ""))
    )
    response.raise_for_status()
    return BeautifulSoup(response.text, "lxml")


def _next_page_url(soup: BeautifulSoup, page_url: str) -> str | None:
    link = soup.select_one("a.next.page-numbers")
    href = link.get("href") if link is not None else None
    return urljoin(page_url, str(href)) if href else None


def _text(node: Tag | None, separator: str = " ") -> str | None:
    if node is None:
        return None
    return " ".join(node.get_text(separator).split()) or None


def extract_entries(soup: BeautifulSoup, page_url: str) -> list[Entry]:
    """The project cards of one listing page."""
    entries = []
    for card in soup.select("article.project-card"):
        link = card.select_one("a.more-link") or card.select_one(".entry-title a")
        href = link.get("href") if link is not None else None
        if not href:
            continue
        summary = card.select_one(".entry-summary")
        if summary is not None:
            for more in summary.select("a.more-link"):
                more.decompose()
        summary_text = (_text(summary) or "").rstrip(" …") or None
        detail_url = urljoin(page_url, str(href))
        entries.append(
            Entry(detail_url, _text(card.select_one(".entry-title")), summary_text)
        )
    return entries


def extract_record(
    soup: BeautifulSoup, entry: Entry, listing_url: str
) -> dict[str, Any]:
    """One record from a detail page and the listing card that led to it."""
    description = _description(soup)
    canonical = _attribute(soup, 'link[rel="canonical"]', "href")
    return {
        "url": canonical or entry.detail_url,
        "detail_link": entry.detail_url,
        "title": entry.title or _text(soup.select_one("h1.entry-title")),
        "summary": entry.summary,
        "description": description,
        "language": soup.html.get("lang") if soup.html is not None else None,
        "canonical_url": canonical,
        "image_url": _attribute(soup, 'meta[property="og:image"]', "content"),
        "published_at": _attribute(
            soup, 'meta[property="article:published_time"]', "content"
        ),
        "modified_at": _attribute(
            soup, 'meta[property="article:modified_time"]', "content"
        ),
        "themes": json.dumps(
            [_text(link) for link in soup.select(".project-themes a")]
        ),
        "organization": _text(soup.select_one(".project-organization")),
        "scale_up_label": _text(soup.select_one(".project-label")),
        "region": _search(REGION, _text(soup.select_one(".project-region"))),
        "edition_year": _search_lines(EDITION_YEAR, description),
        "project_lead": _search_lines(PROJECT_LEAD, description),
        "listing_url": listing_url,
    }


def _description(soup: BeautifulSoup) -> str | None:
    content = soup.select_one(".entry-content")
    if content is None:
        return None
    for selector in EXCLUDED_FROM_CONTENT:
        for node in content.select(selector):
            node.decompose()
    return content.get_text("\n", strip=True) or None


def _attribute(soup: BeautifulSoup, selector: str, name: str) -> str | None:
    node = soup.select_one(selector)
    value = node.get(name) if node is not None else None
    return str(value) if value else None


def _search(pattern: re.Pattern[str], text: str | None) -> str | None:
    found = pattern.search(text) if text else None
    return found.group(1).strip() if found else text


def _search_lines(pattern: re.Pattern[str], text: str | None) -> str | None:
    for line in (text or "").split("\n"):
        found = pattern.search(line)
        if found:
            return found.group(1).strip()
    return None


def upsert_record(database: sqlite_utils.Database, record: dict[str, Any]) -> None:
    """Insert or update one record and its theme rows, keyed by URL."""
    database.table("projects").upsert(record, pk="url", alter=True)
    themes = [
        {"project_url": record["url"], "theme": theme}
        for theme in json.loads(record["themes"])
    ]
    if themes:
        database.table("project_themes").upsert_all(themes, pk=("project_url", "theme"))


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-url", required=True)
    parser.add_argument("--base-url", required=True, help="Mirror to send requests to.")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--summary-json", required=True, type=Path)
    options = parser.parse_args(arguments)

    database = sqlite_utils.Database(options.db)
    # The crawler writes in WAL mode too; a rollback journal would only slow us.
    database.enable_wal()
    try:
        totals = crawl(options.start_url, base_url=options.base_url, database=database)
    finally:
        database.close()
    summary = {
        "listing_pages": totals.listing_pages,
        "detail_pages": totals.detail_pages,
        "requests": totals.requests,
        "records": totals.records,
    }
    options.summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
