"""Normalization of text, URLs and dates: exact results, and idempotent."""

from __future__ import annotations

import pytest

from pipeline.normalize import normalize_block_text, normalize_date, normalize_text, normalize_url

TEXT_CASES = [
    ("  Paris\u00a0Call:\u202fTaming  ", "Paris Call: Taming"),
    ("zero\u200bwidth\u200c\u200djoin\ufeff", "zerowidthjoin"),
    ("Cafe\u0301", "Café"),
    ("tabs\tand\nnewlines", "tabs and newlines"),
    ("\u00a0 \u00a0", None),
    ("", None),
    ("« Lutte »", "« Lutte »"),
    ("e\u200b\u0301te\u0301", "été"),
    ("multi\u00adlateral word\u2060joiner", "multilateral wordjoiner"),
]


@pytest.mark.parametrize(("raw", "expected"), TEXT_CASES)
def test_normalize_text(raw: str, expected: str | None) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), TEXT_CASES)
def test_normalizing_twice_changes_nothing(raw: str, expected: str | None) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once


def test_block_text_keeps_breaks_and_collapses_blank_runs() -> None:
    assert normalize_block_text("a \u00a0b\n\n\n\nc\n d ") == "a b\n\nc\nd"


URL_CASES = [
    ("/projects/x", "https://parispeaceforum.org/projects/x/"),
    ("../projects/x/", "https://parispeaceforum.org/projects/x/"),
    ("https://ParisPeaceForum.org:443/projects/x/#content", "https://parispeaceforum.org/projects/x/"),
    ("/projects/x/?utm_source=news&utm_medium=email&fbclid=1&gclid=2",
     "https://parispeaceforum.org/projects/x/"),
    ("/?themes=climate&utm_campaign=a", "https://parispeaceforum.org/?themes=climate"),
    ("/?p=123", "https://parispeaceforum.org/?p=123"),
    ("/app/uploads/2023/05/x.jpg", "https://parispeaceforum.org/app/uploads/2023/05/x.jpg"),
    ("mailto:someone@example.org", None),
    ("javascript:void(0)", None),
    ("http://[oops/", None),
    ("https://parispeaceforum.org:70000/x/", None),
    ("http://example.org:8080/a", "http://example.org:8080/a/"),
    ("/?s=a%2Fb&utm_source=x&redirect=/fr/&p=5", "https://parispeaceforum.org/?s=a%2Fb&redirect=/fr/&p=5"),
    ("/?q=a+b&empty=&flag", "https://parispeaceforum.org/?q=a+b&empty=&flag"),
    ("/fr/projets/désinformation", "https://parispeaceforum.org/fr/projets/d%C3%A9sinformation/"),
    ("/fr/projets/d%c3%a9sinformation/", "https://parispeaceforum.org/fr/projets/d%C3%A9sinformation/"),
    ("/projects/a b/", "https://parispeaceforum.org/projects/a%20b/"),
    ("https://parispeaceforum.org/projects/./a/../x", "https://parispeaceforum.org/projects/x/"),
    ("https://parispeaceforum.org/projects/a/..", "https://parispeaceforum.org/projects/"),
    ("https://parispeaceforum.org/../../x/", "https://parispeaceforum.org/x/"),
    ("/wp-content/v1.2/file.pdf", "https://parispeaceforum.org/wp-content/v1.2/file.pdf"),
]


@pytest.mark.parametrize(("href", "expected"), URL_CASES)
def test_normalize_url(href: str, expected: str | None) -> None:
    assert normalize_url(href, base_url="https://parispeaceforum.org/projects/") == expected


@pytest.mark.parametrize(("href", "expected"), [case for case in URL_CASES if case[1]])
def test_normalizing_a_url_twice_changes_nothing(href: str, expected: str) -> None:
    assert normalize_url(expected) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-05-10T09:00:00+00:00", "2023-05-10T09:00:00Z"),
        ("2021-06-01T01:15:00+02:00", "2021-05-31T23:15:00Z"),
        ("2024-01-15", "2024-01-15T00:00:00Z"),
        ("2024-01-15T16:20:00Z", "2024-01-15T16:20:00Z"),
        ("not a date", None),
        (None, None),
    ],
)
def test_normalize_date(raw: str | None, expected: str | None) -> None:
    assert normalize_date(raw) == expected
