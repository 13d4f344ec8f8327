"""Show what every configured selector matches on real pages: the first thing to
run after a site redesign. Reads the site (politely) or the raw store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sqlite_utils
from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline import store
from pipeline.config import SiteConfig
from pipeline.errors import FetchError, PipelineError
from pipeline.fetch import Fetcher, FetchOptions
from pipeline.normalize import normalize_text, normalize_url
from pipeline.parse import parse_detail, parse_listing
from pipeline.report import open_for_reading
from pipeline.text import inline_text

# Reads a page's HTML by URL, from the site or from the raw store.
PageReader = Callable[[str], str]

EXIT_UNREACHABLE = 3
EXIT_SELECTOR_BROKEN = 4
_SAMPLES = 3
_SAMPLE_CHARS = 70
# Listing selectors that must match on every listing page for a crawl to work.
_REQUIRED_LISTING = ("entry", "title", "link", "summary")


@dataclass
class SelectorLine:
    """One selector on one page: how many nodes matched, and a few of their values."""

    page: str
    key: str
    selector: str
    matches: int
    samples: list[str]
    is_required: bool


@dataclass
class ProbeReport:
    pages: dict[str, str] = field(default_factory=dict)
    lines: list[SelectorLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    is_unreachable: bool = False

    @property
    def exit_status(self) -> int:
        if self.is_unreachable:
            return EXIT_UNREACHABLE
        broken = any(line.is_required and line.matches == 0 for line in self.lines)
        return EXIT_SELECTOR_BROKEN if broken or self.problems else 0

    def render(self) -> str:
        out = [f"{role}: {url}" for role, url in self.pages.items()]
        for line in self.lines:
            flag = "  MISSING" if line.is_required and line.matches == 0 else ""
            out.append(
                f"[{line.page}] {line.key} {line.selector!r}: {line.matches} "
                f"match{'es' if line.matches != 1 else ''}{flag}"
            )
            out += [f"    {sample}" for sample in line.samples]
        return "\n".join(out)


def run_probe(
    config: SiteConfig, *, base_url: str | None, database_path: str | Path | None
) -> ProbeReport:
    """Probe the first and last listing page and one detail page."""
    if database_path is not None:
        database = open_for_reading(database_path)
        try:
            return _probe(config, lambda url: _stored_html(database, url))
        finally:
            database.close()
    with Fetcher(config, options=FetchOptions(base_url=base_url)) as fetcher:
        return _probe(config, lambda url: fetcher.fetch(url).text)


def _stored_html(database: sqlite_utils.Database, url: str) -> str:
    raw = store.latest_raw_page(database, url)
    if raw is None:
        raise PipelineError(f"{url}: not in the raw store; crawl it once first")
    return raw.text


def _probe(config: SiteConfig, read: PageReader) -> ProbeReport:
    report = ProbeReport()
    first_url = config.site.start_urls[0]
    try:
        first_html = read(first_url)
    except (FetchError, PipelineError) as error:
        report.problems.append(f"cannot read the first listing page: {error}")
        report.is_unreachable = True
        return report
    report.pages["first listing page"] = first_url
    _probe_listing(config, "first listing", first_html, first_url, report)

    last_url, last_html = _last_listing_page(config, first_url, first_html, read)
    if last_url != first_url:
        report.pages["last listing page"] = last_url
        _probe_listing(config, "last listing", last_html, last_url, report)

    listing = parse_listing(first_html, page_url=first_url, listing=config.listing)
    if not listing.entries:
        report.problems.append("no listing entry found, so no detail page to probe")
        return report
    detail_url = listing.entries[0].detail_url
    try:
        detail_html = read(detail_url)
    except (FetchError, PipelineError) as error:
        report.problems.append(f"cannot read the detail page: {error}")
        return report
    report.pages["detail page"] = detail_url
    _probe_detail(config, detail_html, detail_url, report)
    return report


def _last_listing_page(
    config: SiteConfig, first_url: str, first_html: str, read: PageReader
) -> tuple[str, str]:
    """The last page, guessed from numbered pagination links, else followed to its end."""
    listing = parse_listing(first_html, page_url=first_url, listing=config.listing)
    if listing.next_url is None:
        return first_url, first_html
    guess = _highest_numbered_page(first_html, first_url, listing.next_url)
    if guess is not None:
        return guess, read(guess)

    url, html = first_url, first_html
    seen = {url}
    for _ in range(config.listing.max_pages):
        nxt = parse_listing(html, page_url=url, listing=config.listing).next_url
        if nxt is None or nxt in seen:
            break
        seen.add(nxt)
        url, html = nxt, read(nxt)
    return url, html


def _highest_numbered_page(html: str, page_url: str, next_url: str) -> str | None:
    """Among the page's links shaped like the next-page link, the highest page number."""
    number = re.search(r"\d+(?!.*\d)", next_url)
    if number is None:
        return None
    shape = re.compile(
        re.escape(next_url[: number.start()])
        + r"(\d+)"
        + re.escape(next_url[number.end() :])
        + "$"
    )
    best: tuple[int, str] | None = None
    for anchor in LexborHTMLParser(html).css("a[href]"):
        url = normalize_url(anchor.attributes.get("href") or "", base_url=page_url)
        found = shape.match(url or "")
        if found and (best is None or int(found.group(1)) > best[0]):
            best = (int(found.group(1)), url or "")
    return best[1] if best else None


def _probe_listing(
    config: SiteConfig, page: str, html: str, url: str, report: ProbeReport
) -> None:
    tree = LexborHTMLParser(html)
    entries = tree.css(config.listing.entry)
    report.lines.append(
        _line(page, "listing.entry", config.listing.entry, entries, True)
    )
    for key in ("title", "link", "summary"):
        selector = getattr(config.listing, key)
        nodes = [node for entry in entries for node in entry.css(selector)[:1]]
        report.lines.append(
            _line(
                page,
                f"listing.{key}",
                selector,
                nodes,
                True,
                attribute="href" if key == "link" else None,
            )
        )
    if config.listing.next_page:
        nodes = tree.css(config.listing.next_page)
        report.lines.append(
            _line(
                page,
                "listing.next_page",
                config.listing.next_page,
                nodes,
                False,
                attribute="href",
            )
        )


def _probe_detail(config: SiteConfig, html: str, url: str, report: ProbeReport) -> None:
    tree = LexborHTMLParser(html)
    detail = config.detail
    for key, selector, required in (
        ("detail.title", detail.title, False),
        ("detail.content", detail.content, True),
        ("detail.themes", detail.themes, False),
    ):
        if selector:
            report.lines.append(
                _line("detail", key, selector, tree.css(selector), required)
            )
    for selector in detail.exclude:
        report.lines.append(
            _line("detail", "detail.exclude", selector, tree.css(selector), False)
        )
    parsed = parse_detail(html, page_url=url, detail=detail, site=config.site)
    for name, spec in detail.fields.items():
        value = parsed.fields.get(name)
        shown = spec.selector or f"pattern {spec.pattern}"
        matches = (
            len(tree.css(spec.selector)) if spec.selector else int(value is not None)
        )
        report.lines.append(
            SelectorLine(
                "detail",
                f"detail.fields.{name}",
                shown,
                matches,
                [_clip(value)] if value else [],
                False,
            )
        )


def _line(
    page: str,
    key: str,
    selector: str,
    nodes: list[LexborNode],
    required: bool,
    attribute: str | None = None,
) -> SelectorLine:
    samples = []
    for node in nodes[:_SAMPLES]:
        value = (
            node.attributes.get(attribute)
            if attribute
            else normalize_text(inline_text(node))
        )
        samples.append(_clip(value or ""))
    return SelectorLine(page, key, selector, len(nodes), samples, required)


def _clip(text: str) -> str:
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"
