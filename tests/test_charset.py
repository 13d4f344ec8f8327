"""How a body's charset is chosen and how it is decoded, without the network."""

from __future__ import annotations

import pytest

from pipeline.charset import DecodedBody, decode_body, decode_stored

UTF8_BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(
            UTF8_BOM + "<p>café</p>".encode("utf-8"),
            "text/html; charset=iso-8859-1",
            DecodedBody("<p>café</p>", "utf-8", "bom", 0),
            id="utf-8 bom over a contrary header",
        ),
        pytest.param(
            b"\xff\xfe" + "<p>été</p>".encode("utf-16-le"),
            "text/html; charset=utf-8",
            DecodedBody("<p>été</p>", "utf-16-le", "bom", 0),
            id="utf-16 little-endian bom",
        ),
        pytest.param(
            b"\xfe\xff" + "<p>été</p>".encode("utf-16-be"),
            None,
            DecodedBody("<p>été</p>", "utf-16-be", "bom", 0),
            id="utf-16 big-endian bom",
        ),
        pytest.param(
            b'<meta charset="utf-8"><p>caf\xe9</p>',
            "text/html; charset=windows-1252",
            DecodedBody(
                '<meta charset="utf-8"><p>café</p>', "windows-1252", "http-header", 0
            ),
            id="header over meta",
        ),
        pytest.param(
            b"<p>\x93caf\xe9\x94</p>",
            'text/html; charset="ISO-8859-1"',
            DecodedBody("<p>“café”</p>", "windows-1252", "http-header", 0),
            id="iso-8859-1 read as windows-1252",
        ),
        pytest.param(
            b"<p>caf\xe9</p>",
            "text/html; charset=us-ascii",
            DecodedBody("<p>café</p>", "windows-1252", "http-header", 0),
            id="us-ascii read as windows-1252",
        ),
        pytest.param(
            b'<meta charset="windows-1252"><p>caf\xe9</p>',
            "text/html; charset=no-such-charset",
            DecodedBody(
                '<meta charset="windows-1252"><p>café</p>', "windows-1252", "meta", 0
            ),
            id="unknown header label falls through to meta",
        ),
        pytest.param(
            b'<meta http-equiv="Content-Type" content="charset=iso-8859-15">'
            b"<p>\xa4</p>",
            "text/html",
            DecodedBody(
                '<meta http-equiv="Content-Type" content="charset=iso-8859-15">'
                "<p>€</p>",
                "iso8859-15",
                "meta",
                0,
            ),
            id="meta http-equiv",
        ),
        pytest.param(
            b'<meta charset="utf-16"><p>caf\xc3\xa9</p>',
            "text/html",
            DecodedBody('<meta charset="utf-16"><p>café</p>', "utf-8", "meta", 0),
            id="utf-16 in ascii meta read as utf-8",
        ),
        pytest.param(
            "<p>naïve</p>".encode("utf-8"),
            None,
            DecodedBody("<p>naïve</p>", "utf-8", "detected", 0),
            id="undeclared utf-8",
        ),
        pytest.param(
            b"<p>caf\xe9</p>",
            "text/html",
            DecodedBody("<p>café</p>", "windows-1252", "detected", 0),
            id="undeclared latin word read as windows-1252",
        ),
        pytest.param(
            b"<p>Caf\xe9 cr\xe8me, \xe0 bient\xf4t</p>",
            "text/html",
            DecodedBody("<p>Café crème, à bientôt</p>", "windows-1252", "detected", 0),
            id="undeclared latin text read as windows-1252",
        ),
        *(
            pytest.param(
                "<p>café</p>".encode("utf-8"),
                f"text/html; charset={label}",
                DecodedBody("<p>café</p>", "utf-8", "detected", 0),
                id=f"header charset {label} is no page encoding",
            )
            for label in ("rot13", "base64", "hex", "undefined", "idna", "utf-7", "foo")
        ),
        pytest.param(
            b'<meta charset="hex"><p>caf\xc3\xa9</p>',
            "text/html",
            DecodedBody('<meta charset="hex"><p>café</p>', "utf-8", "detected", 0),
            id="meta charset hex is no page encoding",
        ),
    ],
)
def test_decode_body_chooses_the_charset(
    body: bytes, content_type: str | None, expected: DecodedBody
) -> None:
    assert decode_body(body, content_type=content_type) == expected


def test_undecodable_bytes_become_replacement_characters_and_are_counted() -> None:
    decoded = decode_body(
        b"<p>ok \xff bad \xc3 end</p>", content_type="text/html; charset=utf-8"
    )

    assert decoded == DecodedBody(
        "<p>ok \ufffd bad \ufffd end</p>", "utf-8", "http-header", 2
    )


def test_replacement_characters_already_in_the_page_are_not_counted() -> None:
    body = "<p>\ufffd literal</p>".encode("utf-8") + b"\xff"

    decoded = decode_body(body, content_type="text/html; charset=utf-8")

    assert (decoded.text, decoded.replaced_characters) == (
        "<p>\ufffd literal</p>\ufffd",
        1,
    )


def test_empty_body_decodes_to_empty_text() -> None:
    assert decode_body(b"", content_type=None) == DecodedBody(
        "", "utf-8", "detected", 0
    )


@pytest.mark.parametrize(
    ("body", "charset", "expected"),
    [
        pytest.param(
            UTF8_BOM + b"<p>caf\xc3\xa9</p>", "utf-8", "<p>café</p>", id="bom dropped"
        ),
        pytest.param(
            b"<p>caf\xe9</p>", "windows-1252", "<p>café</p>", id="stored charset"
        ),
        pytest.param(
            b"<p>caf\xc3\xa9</p>", None, "<p>café</p>", id="no charset is utf-8"
        ),
        pytest.param(b"<p>\xff</p>", "utf-8", "<p>\ufffd</p>", id="bad bytes replaced"),
    ],
)
def test_decode_stored_reads_a_body_with_its_stored_charset(
    body: bytes, charset: str | None, expected: str
) -> None:
    assert decode_stored(body, charset=charset) == expected


def test_decode_stored_gives_the_text_decode_body_gave() -> None:
    body = UTF8_BOM + "<p>même texte</p>".encode("utf-8")
    decoded = decode_body(body, content_type="text/html; charset=iso-8859-1")

    assert decode_stored(body, charset=decoded.charset) == decoded.text
