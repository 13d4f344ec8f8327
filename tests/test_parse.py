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

    assert f"{ORIGIN}/projects/blue-carbon-coastal-restoration/" in [
        entry.detail_url for entry in listing.entries]
    assert all(entry.detail_url.startswith(f"{ORIGIN}/") for entry in listing.entries)
    assert listing.next_url is None


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
