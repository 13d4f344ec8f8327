"""Draw the bench site's listing and detail pages in the fixture site's markup
(tests/fixtures/site): the classes that bench.toml selects, in a full page.

Deciding what a project is belongs to projects; writing files to sitegen.
"""

from __future__ import annotations

import json
import random
from html import escape

import sitetext
from boilerplate import ORIGIN, SITE_NAME, head_assets, site_footer, site_header
from projects import Project, listing_url, make_project, slugify

_EXCERPT_WORDS = 55
_RELATED_PROJECTS = 3
# Page numbers shown on each side of the current one, as WordPress's paginate_links.
_PAGINATION_SPAN = 2
# The JSON-LD nodes every page repeats: the website and who publishes it.
_SITE_GRAPH = (
    {"@type": "WebSite", "@id": f"{ORIGIN}/#website", "url": f"{ORIGIN}/",
     "name": SITE_NAME, "publisher": {"@id": f"{ORIGIN}/#organization"}},
    {"@type": "Organization", "@id": f"{ORIGIN}/#organization", "name": SITE_NAME,
     "url": f"{ORIGIN}/", "logo": f"{ORIGIN}/app/uploads/2020/01/logo.svg"},
)  # fmt: skip


# Listing pages ---------------------------------------------------------------


def render_listing_page(
    projects: list[Project], page_number: int, page_count: int
) -> str:
    """One listing page: its entries as project cards, then the pagination."""
    cards = "\n".join(_project_card(project) for project in projects)
    filters = "\n".join(
        f'<li><a href="{ORIGIN}/themes/{slugify(theme)}/">{escape(theme)}</a></li>'
        for theme in sitetext.THEMES
    )
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>Projects - Page {page_number} - {SITE_NAME}</title>
<link rel="canonical" href="{listing_url(page_number)}">
{_listing_relations(page_number, page_count)}
<meta property="og:type" content="website">
<meta property="og:site_name" content="{SITE_NAME}">
{head_assets()}
</head>
<body class="archive post-type-archive post-type-archive-project paged-{page_number}">
{site_header()}
<div id="content" class="site-content">
<main id="main" class="site-main">
<header class="page-header">
<h1 class="page-title">Projects</h1>
<div class="archive-description"><p>Since 2018, the {SITE_NAME} has supported
projects that bring concrete solutions to global challenges.</p></div>
</header>
<div class="projects-filter"><span class="projects-filter__label">Filter by theme</span>
<ul class="projects-filter__list">
{filters}
</ul></div>
<div class="projects-grid">
{cards}
</div>
{_pagination(page_number, page_count)}
</main>
{_newsletter_aside()}
</div>
{site_footer()}
</body>
</html>
"""


def _listing_relations(page_number: int, page_count: int) -> str:
    links = []
    if page_number > 1:
        links.append(f'<link rel="prev" href="{listing_url(page_number - 1)}">')
    if page_number < page_count:
        links.append(f'<link rel="next" href="{listing_url(page_number + 1)}">')
    return "\n".join(links)


def _project_card(project: Project) -> str:
    # Some themes print root-relative links; the crawler must resolve both kinds.
    href = project.url if project.index % 5 else f"/projects/{project.slug}/"
    excerpt = escape(" ".join(project.presentation.split()[:_EXCERPT_WORDS]))
    post = f"post-{project.post_id}"
    classes = f"project-card {post} type-project status-publish"
    return f"""<article id="{post}" class="{classes}">
<h2 class="entry-title"><a href="{href}" rel="bookmark">{escape(project.title)}</a></h2>
<div class="entry-summary"><p>{excerpt} …
<a class="more-link" href="{href}">Continued</a></p></div>
</article>"""


def _pagination(page_number: int, page_count: int) -> str:
    parts = []
    if page_number > 1:
        previous_url = listing_url(page_number - 1)
        parts.append(f'<a class="prev page-numbers" href="{previous_url}">Previous</a>')
    parts += _page_number_links(page_number, page_count)
    if page_number < page_count:
        next_url = listing_url(page_number + 1)
        parts.append(f'<a class="next page-numbers" href="{next_url}">Next</a>')
    links = " ".join(parts)
    return f'<nav class="pagination" aria-label="Projects navigation">\n{links}\n</nav>'


def _page_number_links(page_number: int, page_count: int) -> list[str]:
    """The first page, the last, and a few around the current one, with gaps shown."""
    near = range(page_number - _PAGINATION_SPAN, page_number + _PAGINATION_SPAN + 1)
    shown = sorted(n for n in {1, page_count, *near} if 1 <= n <= page_count)
    links = []
    previous = 0
    for number in shown:
        if number > previous + 1:
            links.append('<span class="page-numbers dots">…</span>')
        if number == page_number:
            links.append(
                f'<span aria-current="page" class="page-numbers current">'
                f"{number}</span>"
            )
        else:
            links.append(
                f'<a class="page-numbers" href="{listing_url(number)}">' f"{number}</a>"
            )
        previous = number
    return links


def _newsletter_aside() -> str:
    return f"""<aside id="secondary" class="widget-area">
<section class="widget widget_newsletter"><h2 class="widget-title">Newsletter</h2>
<p>Get the latest news from the Forum and its projects in your inbox.</p>
<form class="newsletter-form" action="{ORIGIN}/newsletter/" method="post">
<input type="email" name="email" placeholder="Your email" required>
<button type="submit">Subscribe</button></form></section>
</aside>"""


# Detail pages ----------------------------------------------------------------


def render_detail_page(project: Project, *, seed: int, total_projects: int) -> str:
    """A project's detail page, padded with progress reports to its planned size."""
    rng = random.Random(f"{seed}:content:{project.index}")
    before = _detail_head(project) + _article_top(project)
    after = _article_bottom(project) + _detail_bottom(seed, rng, total_projects)
    sections = [_core_sections(project, rng)]
    size = len(before) + len(after) + len(sections[0])
    while True:
        section = _report_section(rng, project.edition_year + len(sections))
        if size + len(section) > project.detail_characters:
            return before + "\n".join(sections) + after
        sections.append(section)
        size += len(section) + 1


def _detail_head(project: Project) -> str:
    description = escape(" ".join(project.presentation.split()[:30]), quote=True)
    title = escape(project.title, quote=True)
    published = project.published_at.isoformat()
    modified = project.modified_at.isoformat()
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>{escape(project.title)} - {SITE_NAME}</title>
<meta name="description" content="{description}">
<link rel="canonical" href="{project.url}">
<link rel="alternate" hreflang="en" href="{project.url}">
<link rel="alternate" hreflang="fr" href="{ORIGIN}/fr/projets/{project.slug}/">
<meta property="og:locale" content="en_US">
<meta property="og:type" content="article">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:url" content="{project.url}">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="article:published_time" content="{published}">
<meta property="article:modified_time" content="{modified}">
<meta property="og:image" content="{project.image_url}">
<meta property="og:image:width" content="1200">
<meta property="og:image:height" content="630">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{title}">
<meta name="twitter:description" content="{description}">
<script type="application/ld+json">{_json_ld(project)}</script>
{head_assets()}
</head>
<body class="project-template-default single single-project postid-{project.post_id}">
{site_header()}
<div id="content" class="site-content">
<nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="{ORIGIN}/">Home</a> ›
<a href="{ORIGIN}/projects/">Projects</a> › <span>{escape(project.title)}</span></nav>
<main id="main" class="site-main">
"""


def _json_ld(project: Project) -> str:
    """The Yoast-style @graph: page, image and breadcrumbs, then the site's nodes."""
    crumbs = [
        {"@type": "ListItem", "position": 1, "name": "Home", "item": f"{ORIGIN}/"},
        {"@type": "ListItem", "position": 2, "name": "Projects",
         "item": f"{ORIGIN}/projects/"},
        {"@type": "ListItem", "position": 3, "name": project.title},
    ]  # fmt: skip
    page = {
        "@type": "WebPage",
        "@id": project.url,
        "url": project.url,
        "name": f"{project.title} - {SITE_NAME}",
        "isPartOf": {"@id": f"{ORIGIN}/#website"},
        "primaryImageOfPage": {"@id": f"{project.url}#primaryimage"},
        "datePublished": project.published_at.isoformat(),
        "dateModified": project.modified_at.isoformat(),
        "breadcrumb": {"@id": f"{project.url}#breadcrumb"},
        "inLanguage": "en-US",
    }
    image = {"@type": "ImageObject", "@id": f"{project.url}#primaryimage",
             "url": project.image_url, "width": 1200, "height": 630}  # fmt: skip
    breadcrumbs = {"@type": "BreadcrumbList", "@id": f"{project.url}#breadcrumb",
                   "itemListElement": crumbs}  # fmt: skip
    graph = [page, image, breadcrumbs, *_SITE_GRAPH]
    document = {"@context": "https://schema.org", "@graph": graph}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _article_top(project: Project) -> str:
    themes = " ".join(
        f'<a href="{ORIGIN}/themes/{slugify(theme)}/" rel="tag">{escape(theme)}</a>'
        for theme in project.themes
    )
    label = ""
    if project.label:
        label = f'<p class="project-label">{escape(project.label)}</p>\n'
    post = f"post-{project.post_id}"
    return f"""<article id="{post}" class="project type-project status-publish">
<div class="project-themes">{themes}</div>
<h1 class="entry-title">{escape(project.title)}</h1>
<p class="project-organization">{escape(project.organization)}</p>
{label}<p class="project-region">Region: {project.region}</p>
<div class="entry-content">
"""


def _core_sections(project: Project, rng: random.Random) -> str:
    """Presentation, results, approach, quote, organization, lead and edition."""
    results = "\n".join(
        f"<li>{escape(sitetext.sentence(rng))}</li>" for _ in range(rng.randint(3, 6))
    )
    steps = "\n".join(
        f"<li><strong>{sitetext.title_words(rng, low=1, high=2)}</strong>: "
        f"{escape(sitetext.sentence(rng))}</li>"
        for _ in range(rng.randint(2, 4))
    )
    website = f"https://{project.slug.split('-')[0]}.example/"
    return f"""<h2>Project presentation</h2>
<p>{escape(project.presentation)}</p>
<p>{escape(sitetext.sentences(rng, low=3, high=6))}
<a href="{website}">Visit the project website</a>.</p>
<h2>Expected results</h2>
<ul>
{results}
</ul>
<h2>Approach</h2>
<ol>
{steps}
</ol>
<blockquote><p>{escape(sitetext.sentence(rng))}</p>
<cite>{escape(project.lead)}</cite></blockquote>
<h2>Organization presentation</h2>
<p>{escape(sitetext.sentences(rng, low=2, high=4))}</p>
<p>Project led by: {escape(project.organization)}</p>
<p>Selected at the {project.edition_year} {SITE_NAME}.</p>"""


def _report_section(rng: random.Random, year: int) -> str:
    paragraphs = "\n".join(
        f"<p>{escape(sitetext.sentences(rng, low=2, high=5))}</p>"
        for _ in range(rng.randint(2, 4))
    )
    return f"<h3>Progress report {year}</h3>\n{paragraphs}"


def _article_bottom(project: Project) -> str:
    """An inline script and the share buttons: inside the content, both excluded."""
    share = "\n".join(
        f'<li class="share-{name}"><a class="share-{name} sd-button" '
        f'href="{project.url}share/{name}/" rel="nofollow noopener noreferrer" '
        f'target="_blank"><span>{name.capitalize()}</span></a></li>'
        for name in ("social", "email", "print")
    )
    return f"""
<script>window.benchReady && window.benchReady(function (theme) {{
  theme.postId = {project.post_id}; }});</script>
<div class="sharedaddy sd-sharing-enabled">
<div class="robots-nocontent sd-block sd-social"><h3 class="sd-title">Share this:</h3>
<div class="sd-content"><ul>
{share}
<li class="share-end"></li>
</ul></div></div></div>
</div>
</article>
"""


def _detail_bottom(seed: int, rng: random.Random, total_projects: int) -> str:
    cards = "\n".join(
        _related_card(make_project(seed, rng.randrange(total_projects)))
        for _ in range(_RELATED_PROJECTS)
    )
    return f"""<section class="related-projects">
<h2>Related projects</h2>
{cards}
</section>
</main>
</div>
{site_footer()}
</body>
</html>
"""


def _related_card(project: Project) -> str:
    teaser = escape(" ".join(project.presentation.split()[:18]))
    title = escape(project.title)
    return f"""<article class="related-card">
<h3 class="related-card__title"><a href="{project.url}">{title}</a></h3>
<p>{teaser} …</p>
</article>"""
