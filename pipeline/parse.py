"""Extract listing entries and detail-page fields from HTML, driven by the site config.

Parsing is pure: HTML and its URL in, dataclasses out. Fetching, deciding what
to store and storing are left to other stages.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.normalize import normalize_date, normalize_text, normalize_url
from pipeline.text import block_text, inline_text

if TYPE_CHECKING:
    from pipeline.config import DetailSection, FieldSpec, ListingSection, SiteSection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListingEntry:
    """One entry of a listing page: what the listing says about a project."""

    detail_url: str
    title: str | None
    summary: str | None
    position: int


@dataclass(frozen=True)
class ListingPage:
    """The entries of one listing page and the link to the next one."""

    url: str
    entries: list[ListingEntry]
    next_url: str | None


@dataclass(frozen=True)
class Theme:
    """A theme a project belongs to: its slug and, when a page names it, its name."""

    slug: str
    name: str | None


@dataclass(frozen=True)
class DetailPage:
    """Everything a detail page says about a project."""

    title: str | None
    description: str | None
    language: str | None
    canonical_url: str | None
    image_url: str | None
    published_at: str | None
    modified_at: str | None
    alternates: dict[str, str] = field(default_factory=dict)
    themes: list[Theme] = field(default_factory=list)
    fields: dict[str, str | None] = field(default_factory=dict)


def detail_as_dict(page: DetailPage) -> dict[str, Any]:
    """A parsed detail page as plain JSON-ready data, for staging.

    Written out rather than dataclasses.asdict, whose deep copy costs more than
    the rest of turning a page into a record."""
    return {
        "title": page.title,
        "description": page.description,
        "language": page.language,
        "canonical_url": page.canonical_url,
        "image_url": page.image_url,
        "published_at": page.published_at,
        "modified_at": page.modified_at,
        "alternates": dict(page.alternates),
        "themes": [{"slug": theme.slug, "name": theme.name} for theme in page.themes],
        "fields": dict(page.fields),
    }


def parse_listing(html: str, *, page_url: str, listing: ListingSection) -> ListingPage:
    """Read the entries and the next-page link of one listing page."""
    tree = LexborHTMLParser(html)
    base_url = _base_url(tree, page_url)
    entries: list[ListingEntry] = []
    for node in tree.css(listing.entry):
        entry = _parse_entry(node, base_url, listing, position=len(entries) + 1)
        if entry is not None:
            entries.append(entry)
    return ListingPage(page_url, entries, _next_page_url(tree, base_url, listing))


def _parse_entry(
    node: LexborNode, base_url: str, listing: ListingSection, *, position: int
) -> ListingEntry | None:
    link = node.css_first(listing.link) or _title_link(node, listing)
    href = link.attributes.get("href") if link is not None else None
    detail_url = normalize_url(href, base_url=base_url) if href else None
    if detail_url is None:
        logger.warning(
            "Listing entry %d has no usable detail link; check listing.link",
            position,
            extra={"selector": listing.link},
        )
        return None

    title_node = node.css_first(listing.title)
    title = normalize_text(inline_text(title_node)) if title_node else None
    summary_node = node.css_first(listing.summary)
    summary = _summary_text(summary_node, listing.link_texts) if summary_node else None
    return ListingEntry(detail_url, title, summary, position)


def _title_link(node: LexborNode, listing: ListingSection) -> LexborNode | None:
    title_node = node.css_first(listing.title)
    if title_node is None:
        return None
    if title_node.tag == "a":
        return title_node
    return title_node.css_first("a[href]")


def _summary_text(node: LexborNode, link_texts: list[str]) -> str | None:
    """The excerpt's text without its trailing "Continued"-style link."""
    wanted = {text.casefold() for text in link_texts}
    for anchor in node.css("a"):
        if (normalize_text(anchor.text()) or "").casefold() in wanted:
            anchor.decompose()
    text = normalize_text(inline_text(node)) or ""
    for link_text in link_texts:
        if text.casefold().endswith(" " + link_text.casefold()):
            text = text[: -len(link_text)].rstrip()
    return text or None


def _next_page_url(
    tree: LexborHTMLParser, base_url: str, listing: ListingSection
) -> str | None:
    candidates = tree.css(listing.next_page) if listing.next_page else []
    candidates += tree.css('link[rel="next"], a[rel="next"]')
    for node in candidates:
        href = node.attributes.get("href")
        if href:
            return normalize_url(href, base_url=base_url)
    return None


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    base = tree.css_first("base[href]")
    href = base.attributes.get("href") if base is not None else None
    return normalize_url(href, base_url=page_url) or page_url if href else page_url


def parse_detail(
    html: str, *, page_url: str, detail: DetailSection, site: SiteSection
) -> DetailPage:
    """Read the title, main text, metadata and configured fields of a detail page."""
    tree = LexborHTMLParser(html)
    base_url = _base_url(tree, page_url)
    description = _content_text(tree, detail)
    published_at, modified_at = _dates(tree)
    return DetailPage(
        title=_detail_title(tree, detail, site),
        description=description,
        language=_attribute(tree.css_first("html"), "lang"),
        canonical_url=_link_url(tree, 'link[rel="canonical"]', base_url),
        image_url=_link_url(tree, 'meta[property="og:image"]', base_url, "content"),
        published_at=published_at,
        modified_at=modified_at,
        alternates=_alternates(tree, base_url),
        themes=_themes(tree, detail, site.theme_parameter),
        fields={
            name: _extract_field(tree, spec, description)
            for name, spec in detail.fields.items()
        },
    )


def _detail_title(
    tree: LexborHTMLParser, detail: DetailSection, site: SiteSection
) -> str | None:
    heading = tree.css_first(detail.title)
    title = normalize_text(inline_text(heading)) if heading is not None else None
    if title:
        return title

    og_title = normalize_text(
        _attribute(tree.css_first('meta[property="og:title"]'), "content")
    )
    if og_title:
        return og_title

    head_title = tree.css_first("title")
    text = normalize_text(head_title.text()) if head_title is not None else None
    for suffix in site.title_suffixes:
        if text and text.endswith(suffix.strip()) and text != suffix.strip():
            return normalize_text(text[: -len(suffix.strip())].rstrip(" -|–—:"))
    return text


def _content_text(tree: LexborHTMLParser, detail: DetailSection) -> str | None:
    content = tree.css_first(detail.content)
    if content is None:
        return None
    for selector in detail.exclude:
        for node in content.css(selector):
            node.decompose()
    return block_text(content)


def _attribute(node: LexborNode | None, name: str) -> str | None:
    if node is None:
        return None
    return node.attributes.get(name) or None


def _link_url(
    tree: LexborHTMLParser, selector: str, base_url: str, attribute: str = "href"
) -> str | None:
    value = _attribute(tree.css_first(selector), attribute)
    return normalize_url(value, base_url=base_url) if value else None


def _alternates(tree: LexborHTMLParser, base_url: str) -> dict[str, str]:
    alternates: dict[str, str] = {}
    for node in tree.css('link[rel="alternate"][hreflang]'):
        href = node.attributes.get("href")
        url = normalize_url(href, base_url=base_url) if href else None
        if url:
            alternates[node.attributes.get("hreflang") or ""] = url
    return alternates


def _dates(tree: LexborHTMLParser) -> tuple[str | None, str | None]:
    """Published and modified dates from Open Graph meta, else from JSON-LD."""
    published = _meta_date(tree, "article:published_time", "datePublished")
    modified = _meta_date(tree, "article:modified_time", "dateModified")
    if published and modified:
        return published, modified

    linked = dict(_json_ld_values(tree, {"datePublished", "dateModified"}))
    return (
        published or normalize_date(linked.get("datePublished")),
        modified or normalize_date(linked.get("dateModified")),
    )


def _meta_date(tree: LexborHTMLParser, property_name: str, itemprop: str) -> str | None:
    selector = f'meta[property="{property_name}"], meta[itemprop="{itemprop}"]'
    return normalize_date(_attribute(tree.css_first(selector), "content"))


def _json_ld_values(
    tree: LexborHTMLParser, keys: set[str]
) -> Iterator[tuple[str, str]]:
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            document = json.loads(script.text())
        except ValueError:
            logger.debug("Skipping a JSON-LD block that is not valid JSON")
            continue
        yield from _walk_json(document, keys)


def _walk_json(value: Any, keys: set[str]) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str):
                yield key, item
            else:
                yield from _walk_json(item, keys)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_json(item, keys)


def _themes(
    tree: LexborHTMLParser, detail: DetailSection, parameter: str
) -> list[Theme]:
    if detail.themes is None:
        return []
    themes: dict[str, Theme] = {}
    for node in tree.css(detail.themes):
        name = normalize_text(inline_text(node))
        slug = theme_slug_from_url(node.attributes.get("href") or "", parameter)
        slug = slug or (slugify(name) if name else None)
        if slug and slug not in themes:
            themes[slug] = Theme(slug, name)
    return list(themes.values())


def theme_slug_from_url(url: str, parameter: str) -> str | None:
    """The theme a URL filters on (``?themes=slug``), if any."""
    values = parse_qs(urlsplit(url).query).get(parameter)
    return values[0] if values else None


def slugify(text: str) -> str:
    """A WordPress-like slug: lowercase ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _extract_field(
    tree: LexborHTMLParser, spec: FieldSpec, description: str | None
) -> str | None:
    """A configured field: the selector's text, narrowed by the pattern if it matches.

    With no selector, or one that matches nothing, the pattern is tried on
    each line of the main text instead.
    """
    pattern = re.compile(spec.pattern) if spec.pattern else None
    node = tree.css_first(spec.selector) if spec.selector else None
    if node is not None:
        text = normalize_text(inline_text(node))
        found = pattern.search(text) if pattern and text else None
        return normalize_text(found.group(1)) if found else text

    if pattern is None or description is None:
        return None
    for line in description.split("\n"):
        found = pattern.search(line)
        if found:
            return normalize_text(found.group(1))
    return None
