"""Normalize extracted text, URLs and dates so that equal content compares equal.

Every function here is pure and idempotent: normalizing twice changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

# Zero-width spaces and joiners, word joiners, soft hyphens and stray byte
# order marks: invisible, and they break equality and search.
_INVISIBLE_CHARACTERS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
_INVISIBLE_RUN = re.compile("[" + "".join(_INVISIBLE_CHARACTERS) + "]+")
_BLANK_LINE_RUN = re.compile(r"\n{3,}")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")

# Characters a path or query may carry as they are (RFC 3986); anything else,
# a space or a non-ASCII letter, is percent-encoded as a browser would send it.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_NEEDS_ENCODING = re.compile(r"[^A-Za-z0-9/:@!$&'()*+,;=\-._~?]")

# Query parameters that only track a click; they never change the page.
_TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
    }
)
_TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_text(text: str | None) -> str | None:
    """Collapse white space and odd spaces into one line; empty becomes None."""
    if text is None:
        return None
    if not text.isascii():
        # Invisible characters go first, so that what they separated composes.
        # A few plain searches are cheaper than the regular expression on the
        # many texts that hold none.
        if any(character in text for character in _INVISIBLE_CHARACTERS):
            text = _INVISIBLE_RUN.sub("", text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    # str.split() breaks on exactly the characters str.isspace() knows, the
    # no-break spaces included, and is much faster than a regular expression.
    text = " ".join(text.split())
    return text or None


def normalize_block_text(text: str | None) -> str | None:
    """Like normalize_text, but keeps line breaks and paragraph breaks.

    Lines are normalized one by one; runs of blank lines become one blank line.
    """
    if text is None:
        return None
    if "\n" not in text:
        return normalize_text(text)
    lines = [normalize_text(line) or "" for line in text.split("\n")]
    joined = _BLANK_LINE_RUN.sub("\n\n", "\n".join(lines)).strip("\n")
    return joined or None


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter only tracks a click (utm_*, fbclid, gclid...)."""
    lowered = name.lower()
    return lowered in _TRACKING_PARAMETERS or lowered.startswith(_TRACKING_PREFIXES)


def normalize_url(href: str, *, base_url: str | None = None) -> str | None:
    """Make a link absolute and canonical, or None when it is not http(s) or
    cannot be parsed.

    Drops the fragment and tracking parameters, lowercases scheme and host,
    drops a default port, and gives every directory-like path a trailing
    slash, the WordPress convention.
    """
    href = href.strip()
    try:
        absolute = urljoin(base_url, href) if base_url else href
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        # "http://[oops/", a port past 65535: no request could be made of it.
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None

    netloc = parts.hostname.lower()
    if port and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _with_trailing_slash(
        _encode(_without_dot_segments(parts.path), safe=_PATH_SAFE)
    )
    query = _strip_tracking(_encode(parts.query, safe=_QUERY_SAFE))
    return urlunsplit((scheme, netloc, path, query, ""))


def _without_dot_segments(path: str) -> str:
    """The path with ``.`` and ``..`` segments resolved (RFC 3986, 5.2.4)."""
    if "/." not in path:
        return path
    segments: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    resolved = "/" + "/".join(segments)
    if path.endswith(("/.", "/..")) and not resolved.endswith("/"):
        resolved += "/"
    return resolved


def _encode(component: str, *, safe: str) -> str:
    """Percent-encode what must be, and write existing escapes in upper case.

    Escapes already there are kept as they are, not decoded: ``%2F`` in a
    query value is not the same as ``/`` to every server.
    """
    if not _NEEDS_ENCODING.search(component):
        return component
    encoded = quote(component, safe=safe)
    return _PERCENT_ESCAPE.sub(lambda escape: escape.group(0).upper(), encoded)


def _strip_tracking(query: str) -> str:
    """The query without tracking parameters, the others kept byte for byte."""
    if not query:
        return ""
    kept = [
        pair
        for pair in query.split("&")
        if pair and not is_tracking_parameter(unquote_plus(pair.split("=", 1)[0]))
    ]
    return "&".join(kept)


def _with_trailing_slash(path: str) -> str:
    if not path:
        return "/"
    last_segment = path.rsplit("/", 1)[-1]
    if path.endswith("/") or "." in last_segment:
        return path
    return path + "/"


def normalize_date(value: str | None) -> str | None:
    """An ISO 8601 date or datetime as UTC 'YYYY-MM-DDTHH:MM:SSZ', else None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return format_timestamp(parsed)


def format_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with seconds and a Z, the one timestamp format we store."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> str:
    """The current time as a stored timestamp."""
    return format_timestamp(datetime.now(timezone.utc))
