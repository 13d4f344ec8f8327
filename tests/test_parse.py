"""Listing and detail extraction, on the fixture pages and on small inline HTML."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, MAIN_CONFIG
from selectolax.lexbor import LexborHTMLParser

from pipeline.config import load_config
from pipeline.parse import parse_detail, parse_listing
from pipeline.text import block_text

CONFIG = load_config(MAIN_CONFIG)
SITE = FIXTURES / "site"
ORIGIN = "https://parispeaceforum.org"
THEME_PAGE = "index@themes=ensuring-trust-and-safety-in-the-digital-world.html"
THEME_URL = f"{ORIGIN}/?themes=ensuring-trust-and-safety-in-the-digital-world"


def _listing(relative: str, url: str):  # type: ignore[no-untyped-def]
    html = (SITE / relative).read_text(encoding="utf-8")
    return parse_listing(html, page_url=url, listing=CONFIG.listing)


def _detail(path: str):  # type: ignore[no-untyped-def]
    raw = (SITE / path.strip("/") / "index.html").read_bytes()
    from pipeline.charset import decode_body

    html = decode_body(raw, content_type="text/html").text
    return parse_detail(html, page_url=f"{ORIGIN}{path}", detail=CONFIG.detail, site=CONFIG.site)


def test_seed_listing_gives_the_ten_titles_in_page_order() -> None:
    listing = _listing(THEME_PAGE, THEME_URL)

    assert [entry.title for entry in listing.entries] == [
        "Paris Call: Taming the Cyber Mercenary Market",
        "EmpatIA: AI to solve public issues in LATAM",
        "Paris Call: Protecting Critical Infrastructures Against Systemic Harms",
        "Children Online Protection Lab",
        "CAST: The Conflict Alert System",
        "Initiate: Digital Rights in Society",
        "Paris Call for Trust and Security in Cyberspace",
        None,
        "Disinformation and digital marketing",
        "Projet phare « Lutte contre la désinformation »",
    ]
    assert [entry.position for entry in listing.entries] == list(range(1, 11))


def test_seed_summary_loses_its_link_text_and_odd_spaces() -> None:
    entries = _listing(THEME_PAGE, THEME_URL).entries

    assert entries[0].summary == (
        "Taming the Cyber Mercenary Market A Multistakeholder Blueprint Towards Increased "
        "Transparency and Cyber Stability In an era where States are increasingly leveraging "
        "cyber capabilities for strategic and national security objectives, the recourse to "
        "external suppliers has become commonplace. As a result, a rapidly growing market for "
        "offensive cyber tools and services has developed to …"
    )
    assert entries[3].summary.endswith("hateful content online. CONTEXT …")
    assert entries[1].summary.startswith("2022-23 Scale-up project Overview EmpatIA explores")


def test_listing_links_are_absolute_canonical_and_untracked() -> None:
    listing = _listing("index@themes=climate-and-environment.html",
                       f"{ORIGIN}/?themes=climate-and-environment")

    links = [entry.detail_url for entry in listing.entries]
    assert f"{ORIGIN}/projects/blue-carbon-coastal-restoration/" in links
    # Parsing keeps the host a link names; the crawl puts it on site.canonical_origin.
    assert [link for link in links if not link.startswith(f"{ORIGIN}/")] == [
        "http://www.parispeaceforum.org/projects/ai-for-climate/"]
    assert listing.next_url is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.parispeaceforum.org/projects/x/?p=5", f"{ORIGIN}/projects/x/?p=5"),
        ("http://parispeaceforum.org/", f"{ORIGIN}/"),
        ("https://example.org/projects/x/", "https://example.org/projects/x/"),
    ],
)
def test_links_to_any_allowed_host_go_on_the_canonical_origin(url: str, expected: str) -> None:
    assert CONFIG.site.canonical_url(url) == expected


def test_relative_links_and_missing_slash_are_resolved() -> None:
    page1 = _listing("projects/index.html", f"{ORIGIN}/projects/")
    page3 = _listing("projects/page/3/index.html", f"{ORIGIN}/projects/page/3/")

    assert f"{ORIGIN}/projects/children-online-protection-lab/" in [
        entry.detail_url for entry in page1.entries]
    assert f"{ORIGIN}/projects/peacebuilding-through-sport/" in [
        entry.detail_url for entry in page3.entries]
    assert page1.next_url == f"{ORIGIN}/projects/page/2/"


def test_base_href_decides_where_relative_links_point() -> None:
    listing = _listing("page/2/index@themes=ensuring-trust-and-safety-in-the-digital-world.html",
                       f"{ORIGIN}/page/2/?themes=ensuring-trust-and-safety-in-the-digital-world")

    assert len(listing.entries) == 4
    assert all(entry.detail_url.startswith(f"{ORIGIN}/projects/") for entry in listing.entries)


def test_detail_page_gives_title_dates_fields_and_themes() -> None:
    page = _detail("/projects/empatia-ai-to-solve-public-issues-in-latam/")

    assert page.title == "EmpatIA: AI to solve public issues in LATAM"
    assert page.language == "en-US"
    assert page.fields["scale_up_label"] == "2022-23 Scale-up project"
    assert [theme.slug for theme in page.themes] == [
        "ensuring-trust-and-safety-in-the-digital-world"]


def test_empty_h1_falls_back_to_og_title() -> None:
    page = _detail("/projects/open-source-epidemic-intelligence/")

    assert page.title == "Open Source Epidemic Intelligence"


def test_page_without_h1_or_og_title_uses_title_minus_site_name() -> None:
    page = _detail("/projects/microfinance-for-refugee-entrepreneurs/")

    assert page.title == "Microfinance for Refugee Entrepreneurs"
    assert page.canonical_url is None and page.image_url is None


def test_dates_from_json_ld_are_converted_to_utc() -> None:
    page = _detail("/projects/water-peace-and-security-partnership/")

    assert page.published_at == "2021-05-31T23:15:00Z"


def test_older_place_page_fields_come_from_content_lines() -> None:
    page = _detail("/place/solar-lanterns-for-off-grid-schools/")

    assert {name: page.fields[name] for name in ("region", "edition_year", "project_lead")} == {
        "region": "South Asia", "edition_year": "2018", "project_lead": "Barefoot Energy Collective"}


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>Line<br>break</p>", "Line\nbreak"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<ol><li>a</li><li>b</li></ol><p>after</p>", "a\nb\n\nafter"),
        ("<h2>Head</h2>text <em>inline</em> more", "Head\n\ntext inline more"),
        ("<p>&nbsp;</p><p>x\u00a0\u00a0y</p>", "x y"),
        ("<p>keep</p><script>drop()</script><style>p{}</style>", "keep"),
        ("<ul><li>a<ul><li>nested</li></ul></li></ul>", "a\nnested"),
        ("<table><tr><th>Year</th><th>Place</th></tr><tr><td>2018</td><td>Paris</td></tr></table>",
         "Year Place\n\n2018 Paris"),
        ("<p><strong>Pro</strong>ject <sup>1</sup></p>", "Project 1"),
        ("<pre>line 1\n  line 2</pre><p>after</p>", "line 1\nline 2\n\nafter"),
        ("<blockquote>quoted</blockquote><p>after</p>", "quoted\n\nafter"),
    ],
)
def test_block_text_keeps_paragraph_and_list_breaks(html: str, expected: str) -> None:
    node = LexborHTMLParser(f"<div id=c>{html}</div>").css_first("#c")

    assert block_text(node) == expected


def test_summary_drops_any_configured_link_text() -> None:
    html = ('<article class="project-card"><h2 class="entry-title"><a href="/p/x">X</a></h2>'
            '<div class="entry-summary"><p>Text … <a class="more-link" href="/p/x">'
            "Read more</a></p></div></article>")

    listing = parse_listing(html, page_url=f"{ORIGIN}/projects/", listing=CONFIG.listing)

    assert [(e.title, e.summary, e.detail_url) for e in listing.entries] == [
        ("X", "Text …", f"{ORIGIN}/p/x/")]


def test_entry_without_a_link_is_skipped_not_invented() -> None:
    html = ('<article class="project-card"><h2 class="entry-title">No link</h2>'
            '<div class="entry-summary">Text</div></article>')

    listing = parse_listing(html, page_url=f"{ORIGIN}/projects/", listing=CONFIG.listing)

    assert listing.entries == []


def _entry_html(excerpt: str, *, more_href: str = "/projects/x/") -> str:
    return ('<article class="project-card"><h2 class="entry-title"><a href="/projects/x/">X</a>'
            f'</h2><div class="entry-summary"><p>{excerpt} <a class="more-link" '
            f'href="{more_href}">Continued</a></p></div></article>')


def _summary_of(html: str) -> str | None:
    listing = parse_listing(html, page_url=f"{ORIGIN}/projects/", listing=CONFIG.listing)
    return listing.entries[0].summary


@pytest.mark.parametrize(
    ("excerpt_html", "expected"),
    [
        ("The work has continued …", "The work has continued …"),
        ('Text … <a href="/projects/x/">Read more &raquo;</a>', "Text …"),
        ('Text … <a href="/projects/x/">Read more <span aria-hidden="true">→</span></a>', "Text …"),
        ('Text … <a href="/projects/x/">Read more<span class="screen-reader-text"> about X'
         "</span></a>", "Text …"),
    ],
)
def test_summary_drops_the_link_not_the_words_before_it(excerpt_html: str, expected: str) -> None:
    assert _summary_of(_entry_html(excerpt_html)) == expected


def test_summary_with_link_text_as_plain_text_loses_it() -> None:
    html = ('<article class="project-card"><h2 class="entry-title"><a href="/projects/x/">X</a>'
            '</h2><div class="entry-summary"><p>Text … Continued</p></div></article>')

    assert _summary_of(html) == "Text …"


@pytest.mark.parametrize("href", ["#", "", "javascript:void(0)", "/projects/"])
def test_more_link_that_leads_nowhere_falls_back_to_the_title_link(href: str) -> None:
    listing = parse_listing(_entry_html("Text …", more_href=href), page_url=f"{ORIGIN}/projects/",
                            listing=CONFIG.listing)

    assert [entry.detail_url for entry in listing.entries] == [f"{ORIGIN}/projects/x/"]


def _parse_inline_detail(head: str, body: str):  # type: ignore[no-untyped-def]
    html = f"<html lang=en><head>{head}</head><body>{body}</body></html>"
    return parse_detail(html, page_url=f"{ORIGIN}/projects/x/", detail=CONFIG.detail,
                        site=CONFIG.site)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta property="og:title" content="DigiMENTE - Paris Peace Forum">', "DigiMENTE"),
        ("<title>Microfinance &#8211; Paris Peace Forum</title>", "Microfinance"),
        ("<title>Peace: - Paris Peace Forum</title>", "Peace:"),
        ("<title>Paris Peace Forum</title>", "Paris Peace Forum"),
        ("<title>Ocean Forum</title>", "Ocean Forum"),
    ],
)
def test_title_without_h1_loses_the_site_name_only(head: str, expected: str) -> None:
    assert _parse_inline_detail(head, '<div class="entry-content">x</div>').title == expected


def test_theme_slug_comes_from_a_term_link_path() -> None:
    body = ('<div class="project-themes"><a href="/themes/inclusive-economy/">Économie inclusive</a>'
            '<a href="/?themes=climate">Climat</a><a href="#">Santé &amp; bien-être</a></div>'
            '<div class="entry-content">x</div>')

    themes = _parse_inline_detail("", body).themes

    assert [(theme.slug, theme.name) for theme in themes] == [
        ("inclusive-economy", "Économie inclusive"), ("climate", "Climat"),
        ("sante-bien-etre", "Santé & bien-être")]


def test_json_ld_dates_come_from_the_page_node_not_from_what_it_lists() -> None:
    graph = ('{"@graph": [{"@type": "ItemList", "itemListElement": [{"item": '
             '{"datePublished": "2025-05-05T10:00:00+00:00"}}]}, {"@type": "WebPage", '
             '"datePublished": "2020-11-11T14:00:00+01:00", "dateModified": "2021-05-05"}]}')
    body = f'<div class="entry-content"><script type="application/ld+json">{graph}</script>x</div>'

    page = _parse_inline_detail("", body)

    assert (page.published_at, page.modified_at, page.description) == (
        "2020-11-11T13:00:00Z", "2021-05-05T00:00:00Z", "x")


def test_field_pattern_reads_a_label_and_its_value_across_a_line_break() -> None:
    body = '<div class="entry-content"><p><strong>Project led by:</strong><br>Jane Doe</p></div>'

    assert _parse_inline_detail("", body).fields["project_lead"] == "Jane Doe"


def test_more_link_to_the_listing_page_under_a_base_href_falls_back_to_the_title_link() -> None:
    html = ('<html><head><base href="https://parispeaceforum.org/"></head><body>'
            + _entry_html("Text …", more_href=f"{ORIGIN}/?themes=climate") + "</body></html>")

    listing = parse_listing(html, page_url=f"{ORIGIN}/?themes=climate", listing=CONFIG.listing)

    assert [entry.detail_url for entry in listing.entries] == [f"{ORIGIN}/projects/x/"]
