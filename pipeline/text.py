"""Turn an HTML subtree into text the way a reader sees it: paragraphs apart,
list items one a line, inline markup flowing, scripts and styles gone.
"""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from pipeline.normalize import normalize_block_text

# Elements that start a new block of text; everything else flows inline.
_BLOCK_TAGS = frozenset(
    "p div section article header footer aside main blockquote figure "
    "figcaption table thead tbody tfoot tr caption dl dt dd address details "
    "summary form fieldset hr h1 h2 h3 h4 h5 h6".split()
)
_CELL_TAGS = frozenset(("td", "th"))
# Not text a reader reads: code, media, and the labels of form controls.
_SKIPPED_TAGS = frozenset(
    "script style noscript template iframe svg button select textarea".split()
)


def inline_text(node: LexborNode) -> str:
    """A node's text on one line, as a reader sees it."""
    return " ".join(_TextWalker().blocks_of(node, as_lines=True))


def block_text(node: LexborNode) -> str | None:
    """A node's text with paragraph breaks (blank line) and list items (one a line)."""
    return _TextWalker().render(node)


class _TextWalker:
    """Turns a subtree into blocks of text the way a browser lays them out.

    A block is a paragraph-like element or one list item; consecutive items of
    one list are joined by a line break, other blocks by a blank line.
    """

    def __init__(self) -> None:
        self._blocks: list[tuple[str, int | None]] = []
        self._buffer: list[str] = []
        self._list_count = 0
        self._item_list: int | None = None
        self._pre_depth = 0

    def render(self, node: LexborNode) -> str | None:
        self._walk(node)
        self._flush()
        parts: list[str] = []
        previous_list: int | None = None
        for text, list_id in self._blocks:
            if parts:
                same_list = list_id is not None and list_id == previous_list
                parts.append("\n" if same_list else "\n\n")
            parts.append(text)
            previous_list = list_id
        return "".join(parts) or None

    def blocks_of(self, node: LexborNode, *, as_lines: bool) -> list[str]:
        self._walk(node)
        self._flush()
        return [
            text.replace("\n", " ") if as_lines else text for text, _ in self._blocks
        ]

    def _walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                # Line breaks in the source are only white space, but in <pre>;
                # elsewhere <br> makes real ones.
                text = (child.text_content or "").replace("\r", "")
                self._buffer.append(
                    text if self._pre_depth else text.replace("\n", " ")
                )
            elif tag == "pre":
                self._flush()
                self._pre_depth += 1
                self._walk(child)
                self._pre_depth -= 1
                self._flush()
            elif tag == "br":
                self._buffer.append("\n")
            elif tag in ("ul", "ol"):
                self._walk_list(child)
            elif tag in _CELL_TAGS:
                # Cells of a row sit side by side: a space keeps their words apart.
                self._buffer.append(" ")
                self._walk(child)
            elif tag in _BLOCK_TAGS or tag == "li":
                self._flush()
                self._walk(child)
                self._flush()
            elif tag not in _SKIPPED_TAGS and not tag.startswith("-"):
                self._walk(child)

    def _walk_list(self, node: LexborNode) -> None:
        self._flush()
        self._list_count += 1
        # A nested list continues its parent's items, one a line.
        outer_list = self._item_list
        self._item_list = outer_list if outer_list is not None else self._list_count
        for child in node.iter(include_text=False):
            self._walk_item(child)
        self._item_list = outer_list

    def _walk_item(self, node: LexborNode) -> None:
        self._flush()
        self._walk(node)
        self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        joined = "".join(self._buffer)
        self._buffer.clear()
        # Most buffers hold only the indentation between two block tags.
        if not joined or joined.isspace():
            return
        text = normalize_block_text(joined)
        if text:
            self._blocks.append((text, self._item_list))
