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
from urllib.parse import parse_qs, unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pipeline.normalize import normalize_date, normalize_text, normalize_url
from pipeline.text import block_text, inline_text

if TYPE_CHECKING:
    from pipeline.config import DetailSection, FieldSpec, ListingSection, SiteSection

logger = logging.getLogger(__name__)

# What themes put after a "Read more" link text: arrows, guillemets, spaces.
_TRAILING_ARROWS = " »›→⟶➔>"
# What separates a page's title from the site's name in <title> and og:title.
_TITLE_SEPARATORS = "-|–—:·•"


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
    # Where a link that leads nowhere ("#", "") ends up: never a detail page.
    nowhere = {normalize_url(page_url), normalize_url(base_url)}
    entries: list[ListingEntry] = []
    for node in tree.css(listing.entry):
        position = len(entries) + 1
        entry = _parse_entry(node, base_url, nowhere, listing, position=position)
        if entry is not None:
            entries.append(entry)
    return ListingPage(page_url, entries, _next_page_url(tree, base_url, listing))


def _parse_entry(
    node: LexborNode,
    base_url: str,
    nowhere: set[str | None],
    listing: ListingSection,
    *,
    position: int,
) -> ListingEntry | None:
    detail_url = _detail_link(node, base_url, nowhere, listing)
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


def _detail_link(
    node: LexborNode, base_url: str, nowhere: set[str | None], listing: ListingSection
) -> str | None:
    """The entry's detail URL: the configured link, else the title's link.

    A link that leads nowhere (``#``, ``javascript:``, the listing page itself)
    is passed over, so that a theme's placeholder button does not become a
    record of the listing page.
    """
    for link in (node.css_first(listing.link), _title_link(node, listing)):
        href = link.attributes.get("href") if link is not None else None
        url = normalize_url(href, base_url=base_url) if href else None
        if url is not None and url not in nowhere:
            return url
    return None


def _title_link(node: LexborNode, listing: ListingSection) -> LexborNode | None:
    title_node = node.css_first(listing.title)
    if title_node is None:
        return None
    if title_node.tag == "a":
        return title_node
    return title_node.css_first("a[href]")


def _summary_text(node: LexborNode, link_texts: list[str]) -> str | None:
    """The excerpt's text without its trailing "Continued"-style link.

    The link element goes when there is one; only an excerpt whose link text
    is plain text loses its last words, so a sentence that ends in "continued"
    keeps them.
    """
    has_dropped_link = False
    for anchor in node.css("a"):
        if _is_more_link_text(inline_text(anchor), link_texts):
            anchor.decompose()
            has_dropped_link = True
    text = normalize_text(inline_text(node)) or ""
    if not has_dropped_link:
        text = _without_trailing_link_text(text, link_texts)
    return text or None


def _is_more_link_text(text: str, link_texts: list[str]) -> bool:
    """Whether a link's text is a "read more" link: the text itself, maybe followed
    by an arrow or the title it leads to ("Continue reading “Title”")."""
    folded = (normalize_text(text) or "").casefold()
    for link_text in link_texts:
        wanted = link_text.casefold()
        if folded == wanted:
            return True
        rest = folded[len(wanted) :]
        if folded.startswith(wanted) and not rest[:1].isalnum():
            return True
    return False


def _without_trailing_link_text(text: str, link_texts: list[str]) -> str:
    bare = text.rstrip(_TRAILING_ARROWS)
    for link_text in link_texts:
        if bare.casefold().endswith(" " + link_text.casefold()):
            return bare[: -len(link_text)].rstrip()
    return text


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
    # Everything outside the main text is read first: cutting the excluded
    # parts out of the content (scripts among them) changes the tree.
    title = _detail_title(tree, detail, site)
    published_at, modified_at = _dates(tree)
    themes = _themes(tree, detail, site.theme_parameter)
    field_texts = {
        name: _field_node_text(tree, spec) for name, spec in detail.fields.items()
    }

    description = _content_text(tree, detail)
    return DetailPage(
        title=title,
        description=description,
        language=_attribute(tree.css_first("html"), "lang"),
        canonical_url=_link_url(tree, 'link[rel="canonical"]', base_url),
        image_url=_link_url(tree, 'meta[property="og:image"]', base_url, "content"),
        published_at=published_at,
        modified_at=modified_at,
        alternates=_alternates(tree, base_url),
        themes=themes,
        fields={
            name: _extract_field(spec, field_texts[name], description)
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
        return _without_site_name(og_title, site)

    head_title = tree.css_first("title")
    text = normalize_text(head_title.text()) if head_title is not None else None
    return _without_site_name(text, site) if text else None


def _without_site_name(title: str, site: SiteSection) -> str:
    """A page title without the site's name that SEO plugins append to it.

    The configured suffixes come first; then the site's name after any usual
    separator ("Title – Site", "Title | Site"). A title that is only the
    site's name stays whole.
    """
    for suffix in site.title_suffixes:
        suffix = normalize_text(suffix) or ""
        head = title[: -len(suffix)].rstrip() if title.endswith(suffix) else ""
        if suffix and head:
            return head

    head = title[: -len(site.name)].rstrip() if title.endswith(site.name) else ""
    if head[-1:] and head[-1] in _TITLE_SEPARATORS:
        return head[:-1].rstrip() or title
    return title


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

    linked: dict[str, str] = {}
    for key, value in _json_ld_values(tree, {"datePublished", "dateModified"}):
        linked.setdefault(key, value)
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


def _walk_json(document: Any, keys: set[str]) -> Iterator[tuple[str, str]]:
    """Values of the wanted keys, the shallowest first.

    The page's own node sits at the top (or at the top of an ``@graph``);
    dates deeper down belong to things it mentions: a list item, an author.
    """
    level = [document]
    while level:
        deeper: list[Any] = []
        for value in level:
            if isinstance(value, list):
                deeper.extend(value)
            elif isinstance(value, dict):
                for key, item in value.items():
                    if key in keys and isinstance(item, str):
                        yield key, item
                    elif key == "@graph" and isinstance(item, list):
                        level.extend(item)
                    else:
                        deeper.append(item)
        level = deeper


def _themes(
    tree: LexborHTMLParser, detail: DetailSection, parameter: str
) -> list[Theme]:
    if detail.themes is None:
        return []
    themes: dict[str, Theme] = {}
    for node in tree.css(detail.themes):
        name = normalize_text(inline_text(node))
        slug = _theme_slug_of_link(node.attributes.get("href") or "", parameter)
        slug = slug or (slugify(name) if name else None)
        if slug and slug not in themes:
            themes[slug] = Theme(slug, name)
    return list(themes.values())


def _theme_slug_of_link(href: str, parameter: str) -> str | None:
    """A theme link's slug: its ``?themes=`` value, else its last path segment
    (``/themes/inclusive-economy/``), which is how WordPress links a term."""
    slug = theme_slug_from_url(href, parameter)
    if slug:
        return slug
    try:
        path = urlsplit(href).path
    except ValueError:
        return None
    segments = [part for part in path.split("/") if part]
    return unquote(segments[-1]) if segments else None


def theme_slug_from_url(url: str, parameter: str) -> str | None:
    """The theme a URL filters on (``?themes=slug``), if any."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    values = parse_qs(query).get(parameter)
    return values[0] if values else None


def slugify(text: str) -> str:
    """A WordPress-like slug: lowercase ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _field_node_text(tree: LexborHTMLParser, spec: FieldSpec) -> str | None:
    """The text of a field's selector on the whole page; None if it matches nothing."""
    node = tree.css_first(spec.selector) if spec.selector else None
    return normalize_text(inline_text(node)) or "" if node is not None else None


def _extract_field(
    spec: FieldSpec, node_text: str | None, description: str | None
) -> str | None:
    """A configured field: the selector's text, narrowed by the pattern if it matches.

    With no selector, or one that matches nothing, the pattern is searched in
    the main text instead, where ``\\s`` may cross a line break ("Project led
    by:" on one line, the name on the next) and ``.`` stops at one.
    """
    pattern = re.compile(spec.pattern) if spec.pattern else None
    if node_text is not None:
        found = pattern.search(node_text) if pattern and node_text else None
        return normalize_text(found.group(1)) if found else (node_text or None)

    found = pattern.search(description) if pattern and description else None
    return normalize_text(found.group(1)) if found else None
