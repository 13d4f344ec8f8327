"""The parts every page of the synthetic bench site shares: assets in the head,
the main menu, the footer and the trailing scripts.

They are built once and reused, as a WordPress theme would print them; the
per-page parts are left to pages.
"""

from __future__ import annotations

import json
from functools import cache

SITE_NAME = "Bench Forum"
ORIGIN = "https://bench.example"

_MENU = {
    "About": ("Mission", "Team", "Governance", "Partners", "Annual reports", "Careers"),
    "Projects": (
        "All projects",
        "Scale-up",
        "Calls for projects",
        "Past editions",
        "Impact",
        "Project map",
        "Evaluation",
    ),
    "Annual Forum": (
        "Programme",
        "Speakers",
        "Registration",
        "Venue",
        "Press",
        "Previous forums",
    ),
    "Initiatives": (
        "Cyberspace",
        "Space",
        "Health",
        "Climate",
        "Digital rights",
        "Ocean",
    ),
    "Publications": ("Reports", "Briefs", "Op-eds", "Podcasts", "Videos", "Newsletter"),
    "Get involved": (
        "Submit a project",
        "Become a partner",
        "Volunteer",
        "Donate",
        "Contact",
    ),
}

_FOOTER_COLUMNS = {
    "The Forum": ("About us", "Our team", "Board", "Partners", "Jobs", "Contact"),
    "Our work": (
        "Projects",
        "Scale-up",
        "Initiatives",
        "Annual Forum",
        "Publications",
        "Events",
    ),
    "Resources": (
        "Press room",
        "Media kit",
        "Annual reports",
        "Open data",
        "FAQ",
        "Newsletter archive",
    ),
}

_STYLED_PARTS = """
    site-header site-branding main-navigation menu-item sub-menu search-form breadcrumbs
    page-header projects-filter projects-grid project-card entry-title entry-summary
    more-link pagination page-numbers project-themes project-organization project-label
    project-region entry-content sharedaddy related-projects related-card widget-area
    widget site-footer footer-widgets social-links site-info
""".split()


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


@cache
def critical_css() -> str:
    """Inline critical CSS, about four kilobytes, as themes print in the head."""
    rules = []
    for number, part in enumerate(_STYLED_PARTS):
        shade = 16 + number * 7
        rules.append(
            f".{part}{{display:block;margin:0 0 {number % 4 + 1}rem;"
            f"padding:.{number % 9 + 1}rem 1rem;color:#{shade:02x}{shade:02x}2a;"
            f"font:400 1rem/1.5 system-ui,sans-serif}}"
        )
        rules.append(f".{part}:hover,.{part}:focus-within{{outline:1px solid #2271b1}}")
    return "\n".join(rules)


@cache
def head_assets() -> str:
    """Stylesheets, fonts, icons and the inline settings script of every page."""
    settings = {
        "ajaxUrl": f"{ORIGIN}/wp-admin/admin-ajax.php",
        "restUrl": f"{ORIGIN}/wp-json/",
        "themeUrl": f"{ORIGIN}/app/themes/bench/",
        "locale": "en_US",
        "strings": {
            _slug(label): label for labels in _MENU.values() for label in labels
        },
    }
    return "\n".join(
        [
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="robots" content="index, follow, max-image-preview:large">',
            '<meta name="generator" content="WordPress 6.4.3">',
            '<link rel="profile" href="https://gmpg.org/xfn/11">',
            f'<link rel="dns-prefetch" href="//stats.{ORIGIN[8:]}">',
            f'<link rel="preload" href="{ORIGIN}/app/themes/bench/fonts/inter.woff2" '
            'as="font" type="font/woff2" crossorigin>',
            f'<link rel="stylesheet" id="bench-theme-css" '
            f'href="{ORIGIN}/app/themes/bench/dist/main.css?ver=3.2.1" media="all">',
            f'<link rel="stylesheet" id="wp-block-library-css" media="all" '
            f'href="{ORIGIN}/wp-includes/css/dist/block-library/style.min.css'
            '?ver=6.4.3">',
            f'<link rel="icon" href="{ORIGIN}/app/uploads/2020/01/favicon-32x32.png" '
            'sizes="32x32">',
            f'<link rel="alternate" type="application/rss+xml" '
            f'title="{SITE_NAME} feed" href="{ORIGIN}/feed/">',
            f'<style id="bench-critical-css">\n{critical_css()}\n</style>',
            '<script id="bench-theme-js-extra">\nvar benchTheme = '
            + json.dumps(settings, separators=(",", ":"))
            + ";\n</script>",
            _LOADER_SCRIPT,
        ]
    )


_LOADER_SCRIPT = """<script id="bench-loader">
(function (window, document) {
  var queue = [], ready = false;
  function run(callback) {
    try { callback(window.benchTheme); } catch (error) {
      if (window.console) { window.console.warn("bench: a script failed", error); }
    }
  }
  window.benchReady = function (callback) {
    ready ? run(callback) : queue.push(callback);
  };
  document.addEventListener("DOMContentLoaded", function () {
    ready = true;
    while (queue.length) { run(queue.shift()); }
    var toggles = document.querySelectorAll(".menu-item-has-children > a");
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].setAttribute("aria-expanded", "false");
      toggles[i].addEventListener("click", function (event) {
        var open = this.getAttribute("aria-expanded") === "true";
        this.setAttribute("aria-expanded", open ? "false" : "true");
        if (!open) { event.preventDefault(); }
      });
    }
  });
})(window, document);
</script>"""


@cache
def site_header() -> str:
    """Skip link, logo, the main menu with its sub-menus, and the search form."""
    items = []
    for number, (label, children) in enumerate(_MENU.items()):
        links = "\n".join(
            f'<li class="menu-item"><a href="{ORIGIN}/{_slug(label)}/{_slug(child)}/">'
            f"{child}</a></li>"
            for child in children
        )
        items.append(
            f'<li class="menu-item menu-item-has-children menu-item-{number}">'
            f'<a href="{ORIGIN}/{_slug(label)}/">{label}</a>\n'
            f'<ul class="sub-menu">\n{links}\n</ul></li>'
        )
    menu = "\n".join(items)
    return f"""<a class="skip-link screen-reader-text" href="#main">Skip to content</a>
<header id="masthead" class="site-header">
<div class="site-branding"><a href="{ORIGIN}/" class="custom-logo-link" rel="home">
<img src="{ORIGIN}/app/uploads/2020/01/logo.svg" class="custom-logo"
 alt="{SITE_NAME}" width="180" height="60"></a></div>
<nav id="site-navigation" class="main-navigation" aria-label="Main menu">
<ul id="primary-menu" class="menu">
{menu}
<li class="menu-item lang-item"><a href="{ORIGIN}/fr/" hreflang="fr">FR</a></li>
</ul>
</nav>
<form role="search" method="get" class="search-form" action="{ORIGIN}/"><label>
<span class="screen-reader-text">Search for:</span>
<input type="search" class="search-field" placeholder="Search …" value="" name="s">
</label></form>
</header>"""


@cache
def site_footer() -> str:
    """Footer widgets, legal links, and the scripts printed before </body>."""
    columns = []
    for title, labels in _FOOTER_COLUMNS.items():
        links = "\n".join(
            f'<li><a href="{ORIGIN}/{_slug(label)}/">{label}</a></li>'
            for label in labels
        )
        columns.append(
            '<section class="widget widget_nav_menu">'
            f'<h2 class="widget-title">{title}</h2>'
            f'\n<ul class="menu">\n{links}\n</ul></section>'
        )
    widgets = "\n".join(columns)
    return f"""<footer id="colophon" class="site-footer">
<div class="footer-widgets">
<section class="widget widget_text"><h2 class="widget-title">{SITE_NAME}</h2>
<p>The {SITE_NAME} is a platform for actors from all over the world who develop
solutions to global challenges.</p>
<address>{SITE_NAME}, 10 rue de l'Exemple, 75010 Paris, France</address></section>
{widgets}
<section class="widget widget_social"><h2 class="widget-title">Follow us</h2>
<ul class="social-links">
<li><a href="https://social.example/benchforum" rel="noopener">Social</a></li>
<li><a href="https://video.example/benchforum" rel="noopener">Video</a></li>
<li><a href="https://jobs.example/company/bench-forum/" rel="noopener">Jobs</a></li>
</ul></section>
</div>
<div class="site-info"><p>© 2026 {SITE_NAME} ·
<a href="/legal-notice/">Legal notice</a> ·
<a href="/privacy-policy/">Privacy policy</a> ·
<a href="/cookies/">Cookies</a></p></div>
</footer>
<script src="{ORIGIN}/app/themes/bench/dist/main.js?ver=3.2.1" id="bench-main-js">
</script>
<script src="{ORIGIN}/wp-includes/js/wp-embed.min.js?ver=6.4.3" id="wp-embed-js">
</script>
<script>
/* analytics */
(function (w, d) {{
  w._paq = w._paq || [];
  w._paq.push(["trackPageView"]);
  w._paq.push(["enableLinkTracking"]);
  var s = d.createElement("script"); s.async = true;
  s.src = "https://stats.bench.example/matomo.js";
  d.head.appendChild(s);
}})(window, document);
</script>"""
