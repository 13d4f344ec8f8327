"""Decide how a fetched body is encoded and decode it, never failing on bad bytes.

The order follows what browsers do: a byte order mark, then the HTTP header,
then a <meta> declaration, then detection.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Iterator

# Browsers read these labels as windows-1252 (WHATWG Encoding Standard).
_BROWSER_ALIASES = {
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "l1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
    "cp1252": "windows-1252",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)
# Text codecs of Python's that no browser reads a page in.
_NOT_PAGE_ENCODINGS = frozenset(
    {
        "undefined",
        "punycode",
        "idna",
        "raw-unicode-escape",
        "unicode-escape",
        "utf-7",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
    }
)
# A <meta> declaration only counts within the first 1024 bytes in the HTML
# standard; WordPress heads can be longer, so look a little further.
_META_SCAN_BYTES = 8192


@dataclass(frozen=True)
class DecodedBody:
    """A body's text, the charset used, what decided it, and bytes replaced."""

    text: str
    charset: str
    source: str
    replaced_characters: int


def decode_body(body: bytes, *, content_type: str | None) -> DecodedBody:
    """Decode an HTML body; undecodable bytes become U+FFFD and are counted."""
    source, charset, payload = next(_candidates(body, content_type))
    text, replaced = _decode(payload, charset)
    return DecodedBody(text, charset, source, replaced)


def _candidates(
    body: bytes, content_type: str | None
) -> Iterator[tuple[str, str, bytes]]:
    for bom, bom_charset in _BOMS:
        if body.startswith(bom):
            yield "bom", bom_charset, body[len(bom) :]
            return

    header = _HEADER_CHARSET.search(content_type or "")
    charset = _known_charset(header.group(1)) if header else None
    if charset:
        yield "http-header", charset, body
        return

    meta = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    charset = _known_charset(meta.group(1).decode("ascii", "ignore")) if meta else None
    if charset:
        yield "meta", charset, body
        return

    yield "detected", _detect(body), body


def _known_charset(label: str) -> str | None:
    label = label.strip().lower()
    label = _BROWSER_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    # Python also knows codecs that are not text encodings (rot13, base64,
    # hex) or that refuse every byte (undefined): no page is in those.
    name = info.name
    if not getattr(info, "_is_text_encoding", True) or name in _NOT_PAGE_ENCODINGS:
        return None
    # A page declaring UTF-16 in its own ASCII bytes cannot be UTF-16.
    if name.startswith("utf-16"):
        return "utf-8"
    return _BROWSER_ALIASES.get(name, name)


def _detect(body: bytes) -> str:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Imported here: most pages declare their charset or are UTF-8, and the
    # detector takes about 20 ms of a crawl's start-up to import.
    import charset_normalizer

    matches = charset_normalizer.from_bytes(body[:65536])
    best = matches.best()
    if best is None:
        return "windows-1252"

    # Detection often cannot tell the Latin code pages apart; on a tie, take
    # windows-1252, the web's most common legacy encoding. A match stands for
    # every code page that decodes the bytes the same, so look through them all.
    tied = [
        encoding
        for match in matches
        if match.percent_chaos <= best.percent_chaos
        and match.percent_coherence >= best.percent_coherence
        for encoding in match.could_be_from_charset
    ]
    if "cp1252" in tied:
        return "windows-1252"
    return _known_charset(best.encoding) or "windows-1252"


def _decode(payload: bytes, charset: str) -> tuple[str, int]:
    try:
        return payload.decode(charset), 0
    except UnicodeDecodeError:
        text = payload.decode(charset, errors="replace")
        return text, text.count("\ufffd") - _count_literal_replacements(
            payload, charset
        )


def _count_literal_replacements(payload: bytes, charset: str) -> int:
    if charset.replace("_", "-") in ("utf-8", "utf8"):
        return payload.count("\ufffd".encode("utf-8"))
    return 0


def decode_stored(body: bytes, *, charset: str | None) -> str:
    """Decode a stored body again with the charset chosen when it was fetched."""
    for bom, bom_charset in _BOMS:
        if charset == bom_charset and body.startswith(bom):
            body = body[len(bom) :]
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        # A charset name stored by an older version that no longer passes.
        return body.decode("utf-8", errors="replace")
