"""A status's HTML as plain text: what a person reads, with its paragraphs and line breaks kept.

Mastodon sends a status's `content` as sanitised HTML (entities/Status): paragraphs, line breaks, links
whose address is split into spans (the part shown, and the `invisible` rest, all of which is kept here so
a link reads whole), and, on a quote, a `quote-inline` paragraph "RE: <link>" for clients that do not show
quotes, which client/quotes says to leave out once the quote is shown. The standard library's parser is
enough for this: Crier depends on no HTML library.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that stand apart from the text around them; a server of the Mastodon API may send more than <p>.
_BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "img", "hr", "wbr", "input", "meta", "link"})


class _StatusText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._open: list[str] = []
        # How deep the element being left out (a quote-inline paragraph) begins; None when none is.
        self._leaving_out_at: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._add("\n")
            return
        if tag in _BLOCKS:
            self._add("\n\n")
        if tag in _VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self._open.append(tag)
        if self._leaving_out_at is None and "quote-inline" in classes:
            self._leaving_out_at = len(self._open)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._open:
            return  # a stray end tag
        while self._open:
            closed = self._open.pop()
            if self._leaving_out_at is not None and len(self._open) < self._leaving_out_at:
                self._leaving_out_at = None
            if closed == tag:
                break
        if tag in _BLOCKS:
            self._add("\n\n")

    def handle_data(self, data: str) -> None:
        self._add(data)

    def _add(self, text: str) -> None:
        if self._leaving_out_at is None:
            self.chunks.append(text)


def plain_text(content: str) -> str:
    """The text of a status's HTML `content`: paragraphs apart by a blank line, line breaks kept."""
    parser = _StatusText()
    parser.feed(content)
    parser.close()
    text = "".join(parser.chunks)
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
