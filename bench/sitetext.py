"""Deterministic prose for the synthetic bench site: titles, sentences, names.

Every function takes its random generator, so one seed gives the same site on
every machine. Page markup is left to sitegen.
"""

from __future__ import annotations

import random

# Words a project directory uses; a few carry accents so that pages are real UTF-8.
VOCABULARY = (
    "access action adaptation agency agriculture alliance analysis approach "
    "building capacity carbon children cities citizens civil climate coalition "
    "coastal collective communities cooperation countries crisis data "
    "democracy development digital displacement early education energy "
    "equity evidence farmers finance food forests framework funding "
    "governance health households human infrastructure innovation "
    "institutions international journalists justice knowledge land "
    "leaders learning local markets media mobile monitoring multilateral "
    "network ocean online open partners peace platform policy public "
    "refugees regional resilience rights rural safety schools science "
    "security services social solutions standards support sustainable "
    "systems teachers technology tools training transparency trust urban "
    "vaccines water women workers youth accountable affordable collaborative "
    "community-led cross-border evidence-based inclusive independent "
    "long-term low-cost national open-source participatory practical "
    "shared trusted the the the of of of and and and to to in in for for "
    "with with by on across through between their its new more than "
    "réseau société données santé éducation coopération"
).split()

CAPITALIZED_WORDS = [word for word in VOCABULARY if len(word) > 3 and "-" not in word]

THEMES = (
    "Climate and environment",
    "Ensuring trust and safety in the digital world",
    "Global health",
    "Peace and security",
    "Inclusive economy",
    "Education and culture",
    "Governance and human rights",
)

REGIONS = (
    "Global",
    "West Africa",
    "East Africa",
    "Sub-Saharan Africa",
    "North Africa",
    "Middle East",
    "South Asia",
    "South-East Asia",
    "Latin America",
    "South America",
    "Central America",
    "Caribbean",
    "Pacific",
    "Europe",
)

ORGANIZATION_KINDS = (
    "Foundation",
    "Network",
    "Institute",
    "Collective",
    "Alliance",
    "Partnership",
    "Observatory",
    "Lab",
    "Fund",
    "Initiative",
)

LABELS = (
    "2021-22 Scale-up project",
    "2022-23 Scale-up project",
    "2023-24 Scale-up project",
)


def title_words(rng: random.Random, *, low: int, high: int) -> str:
    """A few capitalized words, as in a project or organization name."""
    words = rng.choices(CAPITALIZED_WORDS, k=rng.randint(low, high))
    return " ".join(word.capitalize() for word in words)


def sentence(rng: random.Random) -> str:
    """One sentence of 8 to 24 words, capitalized, ending in a full stop."""
    words = rng.choices(VOCABULARY, k=rng.randint(8, 24))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def sentences(rng: random.Random, *, low: int, high: int) -> str:
    """A run of sentences, as the text of one paragraph."""
    return " ".join(sentence(rng) for _ in range(rng.randint(low, high)))


def organization_name(rng: random.Random) -> str:
    """A made-up organization: two or three words and a kind."""
    return f"{title_words(rng, low=2, high=3)} {rng.choice(ORGANIZATION_KINDS)}"


def person_name(rng: random.Random) -> str:
    """A made-up full name from the vocabulary, unlikely to be anyone's."""
    return title_words(rng, low=2, high=2)
