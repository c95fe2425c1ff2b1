"""A Usenet article's text: its body's lines, its Subject, and a header folded and encoded for the wire.

Documents followed:
- RFC 5536 (Netnews Article Format), which takes RFC 5322's rules: a line of an article is at most 998
  octets, CRLF excluded (RFC 5322 section 2.1.1), and should be at most 78; there is no limit on an
  article's length, though each server sets its own (INN's `localmaxartsize`, 1,000,000 bytes by default).
- RFC 5322 section 2.2.3: a long header field is folded by putting CRLF before a space.
- RFC 2047: a header's non-ASCII text as encoded-words, `=?UTF-8?B?...?=`, each at most 75 characters and
  holding whole characters; adjacent encoded-words are read as one text, the folding between them ignored.
- RFC 2045/2046: the body is sent as `text/plain; charset=UTF-8` with `Content-Transfer-Encoding: 8bit`,
  so its bytes are the UTF-8 of the text, and only a line over 998 octets needs changing.

What Crier does with a line over 998 octets: it wraps it, at the last space that keeps the line within the
limit, or between two characters where the line has no such space. Control characters other than tab,
which have no place in a text/plain article, are dropped; nothing else of the text is changed.
A paragraph written as one line is common in a post, and refusing it would be unkind; the preview shows
exactly where the breaks fall. Dot-stuffing (a line starting with "." is sent as ".."; RFC 3977 section
3.1.1) belongs to the wire, not to the text, and is done by the client that sends it.
"""

from __future__ import annotations

import base64
import email.utils
import re

import regex

from shared.text.graphemes import grapheme_count

# RFC 5322 section 2.1.1: a line is at most 998 octets, not counting its CRLF.
MAX_LINE_OCTETS = 998
# RFC 5322 section 2.1.1: lines should be at most 78 octets; a folded header keeps to it where it can.
HEADER_LINE_OCTETS = 78
# A subject taken from the text's first line is cut to this many graphemes: newsreaders show subjects in a
# column, and son-of-RFC-1036's advice of lines under 80 characters leaves 72 after "Subject: ".
SUBJECT_LIMIT = 72
ELLIPSIS = "…"

_NEWLINES = re.compile(r"\r\n|\r|\n")
_GRAPHEMES = regex.compile(r"\X")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# RFC 2047 section 2: "=?" charset "?" encoding "?" text "?=" — 12 characters around the base64 text, and a
# word of at most 75 characters. 42 bytes of UTF-8 are 56 characters of base64, so a word is at most 68,
# and "Subject: " plus one word stays within 78.
_ENCODED_WORD_BYTES = 42


def octets(text: str) -> int:
    """How many octets the text is in UTF-8, the unit of RFC 5322's line limit."""
    return len(text.encode("utf-8"))


def body_lines(text: str) -> list[str]:
    """The body's lines as sent: the text's own lines, each over 998 octets wrapped to fit."""
    lines = [_CONTROLS.sub("", line) for line in _NEWLINES.split(text)]
    return [piece for line in lines for piece in wrap_line(line)]


def article_body(text: str) -> str:
    """The body exactly as it is sent, lines joined by "\\n" (the wire's CRLF is the client's)."""
    return "\n".join(body_lines(text))


def wrap_line(line: str) -> list[str]:
    """The line as lines of at most 998 octets, broken after a space where there is one in reach.

    Joined again, the pieces are the line: each break comes after a space (which stays at the end of its
    line) or between two characters.
    """
    pieces: list[str] = []
    rest = line
    while octets(rest) > MAX_LINE_OCTETS:
        cut = _fitting_prefix(rest, MAX_LINE_OCTETS)
        space = cut.rfind(" ")
        # Breaking at a space near the start would leave a tiny line and a long one: only a space in the
        # second half of the line is taken.
        if space >= len(cut) // 2:
            cut = cut[: space + 1]
        pieces.append(cut)
        rest = rest[len(cut) :]
    pieces.append(rest)
    return pieces


def _fitting_prefix(text: str, limit: int) -> str:
    """The longest prefix of whole graphemes within `limit` octets (whole code points if a single
    grapheme is longer than the limit, which only an abuse of combining marks makes)."""
    used = 0
    end = 0
    for cluster in _GRAPHEMES.finditer(text):
        size = octets(cluster.group())
        if used + size > limit:
            break
        used += size
        end = cluster.end()
    if end:
        return text[:end]
    for index, character in enumerate(text):
        used += octets(character)
        if used > limit:
            return text[:index]
    return text


def subject_of(text: str, subject: str | None = None) -> str:
    """The article's Subject: `subject` when given, else the text's first line that is not blank, on one
    line with its spaces collapsed, cut at a word to at most 72 graphemes with an ellipsis."""
    source = subject if subject is not None and subject.strip() else _first_line(text)
    line = " ".join(_CONTROLS.sub(" ", source).split())
    return shorten(line, SUBJECT_LIMIT)


def _first_line(text: str) -> str:
    for line in _NEWLINES.split(text):
        if line.strip():
            return line
    return ""


def shorten(line: str, limit: int) -> str:
    """The line, or its start cut at a word (at a grapheme if a word is most of it) plus "…", within
    `limit` graphemes."""
    if grapheme_count(line) <= limit:
        return line
    clusters = [match.group() for match in _GRAPHEMES.finditer(line)][: limit - 1]
    start = "".join(clusters)
    space = start.rfind(" ")
    if space >= len(start) // 2:
        start = start[:space]
    return start.rstrip() + ELLIPSIS


def reply_subject(subject: str) -> str:
    """A follow-up's Subject: "Re: " and the post's, once (RFC 5536 section 3.1.4)."""
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


def header_field(name: str, value: str) -> str:
    """`Name: value` as sent, folded at spaces to keep lines within 78 octets where the words allow;
    a value that is not plain ASCII (or that looks like an encoded-word) as RFC 2047 encoded-words.

    Lines are joined by "\\r\\n " (CRLF and the space that folds them).
    """
    value = _one_line(value)
    words = value.split(" ") if value.isascii() and "=?" not in value else _encoded_words(value)
    return _folded(name, words)


def address_field(name: str, display_name: str, address: str) -> str:
    """`Name: display name <address>` as sent (RFC 5322 section 3.4): the display name quoted where it
    needs it, or as encoded-words when it is not ASCII; the address itself is never encoded."""
    display_name = _one_line(display_name)
    if not display_name:
        return f"{name}: {address}"
    if display_name.isascii() and "=?" not in display_name:
        return header_field(name, email.utils.formataddr((display_name, address)))
    return _folded(name, [*_encoded_words(display_name), f"<{address}>"])


def _one_line(value: str) -> str:
    return " ".join(_CONTROLS.sub(" ", value).split())


def _folded(name: str, words: list[str]) -> str:
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > HEADER_LINE_OCTETS and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += f" {word}"
    # Each later line starts with the space that folds it.
    return "\r\n".join(lines)


def _encoded_words(value: str) -> list[str]:
    """The value as base64 encoded-words of whole characters, read back as one text (RFC 2047 6.2)."""
    words: list[str] = []
    chunk = ""
    for character in value:
        if octets(chunk + character) > _ENCODED_WORD_BYTES:
            words.append(_encoded_word(chunk))
            chunk = ""
        chunk += character
    if chunk:
        words.append(_encoded_word(chunk))
    return words


def _encoded_word(text: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="
