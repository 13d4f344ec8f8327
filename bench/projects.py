"""Decide what each project of the synthetic bench site is: its title, slug,
organization, themes and dates, the same for a given seed on every machine.

Project k is the same in every site that has it, whatever the site's size.
Drawing pages from projects is left to pages.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sitetext
from boilerplate import ORIGIN

# A few accented words make the pages slightly larger in bytes than this.
DETAIL_CHARACTERS_RANGE = (28_000, 39_600)
_FIRST_PUBLISHED = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
_HOURS_BETWEEN_PROJECTS = 7
# WordPress post ids count up; the newest project, listed first, has the largest.
_NEWEST_POST_ID = 40_000


@dataclass(frozen=True)
class Project:
    """What the generator decided about one project; pages are drawn from it."""

    index: int
    slug: str
    title: str
    organization: str
    themes: tuple[str, ...]
    region: str
    label: str | None
    edition_year: int
    lead: str
    presentation: str
    published_at: datetime
    modified_at: datetime
    detail_characters: int

    @property
    def url(self) -> str:
        return f"{ORIGIN}/projects/{self.slug}/"

    @property
    def post_id(self) -> int:
        return _NEWEST_POST_ID - self.index

    @property
    def image_url(self) -> str:
        moment = self.published_at
        return f"{ORIGIN}/app/uploads/{moment:%Y}/{moment:%m}/{self.slug}.jpg"


def make_project(seed: int, index: int) -> Project:
    """Project number index (0 is the newest) of the site made from seed."""
    rng = random.Random(f"{seed}:project:{index}")
    title = sitetext.title_words(rng, low=3, high=6)
    published_at = _FIRST_PUBLISHED - timedelta(hours=_HOURS_BETWEEN_PROJECTS * index)
    return Project(
        index=index,
        slug=f"{slugify(title)}-{index}",
        title=title,
        organization=sitetext.organization_name(rng),
        themes=tuple(rng.sample(sitetext.THEMES, rng.randint(1, 3))),
        region=rng.choice(sitetext.REGIONS),
        label=rng.choice(sitetext.LABELS) if rng.random() < 0.3 else None,
        edition_year=rng.randint(2018, 2025),
        lead=sitetext.person_name(rng),
        presentation=sitetext.sentences(rng, low=4, high=6),
        published_at=published_at,
        modified_at=published_at + timedelta(days=rng.randint(0, 90)),
        detail_characters=rng.randint(*DETAIL_CHARACTERS_RANGE),
    )


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by hyphens, as WordPress makes slugs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(ascii_text.lower().split())


def listing_url(page_number: int) -> str:
    """The address of listing page page_number (1 is the start URL)."""
    if page_number == 1:
        return f"{ORIGIN}/projects/"
    return f"{ORIGIN}/projects/page/{page_number}/"
