"""Write the synthetic bench site to a folder: robots.txt, listing pages of ten
entries with pagination, and one detail page of 25 to 40 KB per project.

The same seed and size give byte-identical files with one fixed modification
time, so nginx's ETag and Last-Modified repeat from run to run. Serving the
files is left to the nginx module.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pages import render_detail_page, render_listing_page
from projects import make_project

ENTRIES_PER_LISTING_PAGE = 10
FILE_MTIME_SECONDS = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc).timestamp()
ROBOTS_TXT = "User-agent: *\nDisallow: /wp-admin/\nAllow: /\n"


@dataclass(frozen=True)
class SiteStats:
    """What was written: page counts, sizes in bytes, and a digest of every file."""

    projects: int
    listing_pages: int
    total_bytes: int
    smallest_detail_bytes: int
    largest_detail_bytes: int
    sha256: str


class _SiteWriter:
    """Writes pages under a root, keeping their sizes and a digest of all of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.digest = hashlib.sha256()
        self.total_bytes = 0

    def write(self, relative_path: str, text: str) -> int:
        body = text.encode("utf-8")
        path = self.root / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        os.utime(path, (FILE_MTIME_SECONDS, FILE_MTIME_SECONDS))
        self.digest.update(relative_path.encode() + b"\0" + body)
        self.total_bytes += len(body)
        return len(body)


def write_site(root: Path, *, projects: int, seed: int) -> SiteStats:
    """Write the whole site under root (created if missing); returns what it holds."""
    writer = _SiteWriter(root)
    writer.write("robots.txt", ROBOTS_TXT)
    listing_pages = math.ceil(projects / ENTRIES_PER_LISTING_PAGE)
    detail_sizes = []
    for page_number in range(1, listing_pages + 1):
        first = (page_number - 1) * ENTRIES_PER_LISTING_PAGE
        last = min(first + ENTRIES_PER_LISTING_PAGE, projects)
        page_projects = [make_project(seed, index) for index in range(first, last)]
        listing = render_listing_page(page_projects, page_number, listing_pages)
        writer.write(_listing_path(page_number), listing)
        for project in page_projects:
            detail = render_detail_page(project, seed=seed, total_projects=projects)
            path = f"projects/{project.slug}/index.html"
            detail_sizes.append(writer.write(path, detail))
    return SiteStats(
        projects,
        listing_pages,
        writer.total_bytes,
        min(detail_sizes),
        max(detail_sizes),
        writer.digest.hexdigest(),
    )


def _listing_path(page_number: int) -> str:
    """Plain folders, as nginx's `index index.html` serves /projects/page/2/."""
    if page_number == 1:
        return "projects/index.html"
    return f"projects/page/{page_number}/index.html"
