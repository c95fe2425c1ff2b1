"""A status's length as Mastodon's server counts it against the instance's character limit.

Documents followed:
- https://docs.joinmastodon.org/user/posting/ — the default limit is 500 characters; links must begin with
  http:// or https:// and each counts as 23 characters whatever its length; of a mention `@user@domain`
  only the username counts, not the domain.
- https://docs.joinmastodon.org/methods/statuses/#create — `status` is the text, `spoiler_text` the content
  warning shown before it.
- https://docs.joinmastodon.org/entities/Instance/#statuses — `GET /api/v2/instance` gives the limit as
  `configuration.statuses.max_characters` and the weight of a link as
  `configuration.statuses.characters_reserved_per_url`; an adapter passes both in rather than assuming them.
- Mastodon's own validator, which is what accepts or refuses a status (mastodon/mastodon on GitHub:
  app/validators/status_length_validator.rb, with the link rules of config/initializers/twitter_regex.rb and
  the mention rule `Account::MENTION_RE` of app/models/account.rb as app/lib/extractor.rb applies it). It
  counts grapheme clusters, not code points, of the content warning joined to the text; in the text it first
  writes each link as `url_weight` characters and each mention as `@username`; a text of only whitespace
  counts as nothing. This module does the same.

Known difference: Mastodon does not count as a link one that is longer than 4096 characters once its domain
is converted to ASCII; such a link counts at its full length there and at `url_weight` here.
"""

from __future__ import annotations

import regex

from shared.text.graphemes import grapheme_count
from shared.text.tlds import IANA_TOP_LEVEL_DOMAINS

MASTODON_DEFAULT_LIMIT = 500
MASTODON_DEFAULT_URL_WEIGHT = 23

# Beyond http and https, Mastodon gives these schemes the same link weight, so a post using them counts alike.
_SCHEMES = r"(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://"

# A letter, digit or any other non-ASCII character that may stand in a domain label: not ASCII punctuation,
# not a space, not a control character. The top-level domain after the last dot keeps labels honest.
_DOMAIN_CHARACTER = r"[^!-/:-@\[-`{-~\p{White_Space}\x00-\x1f\x7f\ufeff\ufffe\uffff]"
_DOMAIN = rf"""
    (?:{_DOMAIN_CHARACTER}(?:[_-]|{_DOMAIN_CHARACTER})*)?{_DOMAIN_CHARACTER}\.
    (?:(?:{_DOMAIN_CHARACTER}(?:[_-]|{_DOMAIN_CHARACTER})*)?{_DOMAIN_CHARACTER}\.)*
    (?:\L<top_level_domains>|xn--[0-9a-z]+)(?![0-9a-z@+-])
"""

# A path runs to the first space, but stops before what usually ends a sentence around a link (a full stop,
# a comma, a closing quote, an unbalanced parenthesis), which Mastodon leaves out of the link and so counts.
_PATH_CHARACTER = r"[^\p{White_Space}<>()?]"
_BALANCED_PARENTHESES = (
    rf"\((?:{_PATH_CHARACTER}+|{_PATH_CHARACTER}*\({_PATH_CHARACTER}+\){_PATH_CHARACTER}*)\)"
)
_PATH_END = rf"""(?:[^\p{{White_Space}}()?!*"'「」<>;:=,.$%\[\]~&|@]|{_BALANCED_PARENTHESES})"""
_PATH = rf"""
    (?:
        {_PATH_CHARACTER}*(?:{_BALANCED_PARENTHESES}{_PATH_CHARACTER}*)*{_PATH_END}
        |{_PATH_CHARACTER}+/
    )
"""
# The ranges are RFC 3987's characters allowed unescaped in an IRI, which Mastodon accepts in a query.
_IRI_CHARACTERS = (
    r"\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    r"\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd\U00040000-\U0004fffd"
    r"\U00050000-\U0005fffd\U00060000-\U0006fffd\U00070000-\U0007fffd\U00080000-\U0008fffd"
    r"\U00090000-\U0009fffd\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    r"\U000d0000-\U000dfffd\U000e1000-\U000efffd\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_QUERY = rf"\?[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^{_IRI_CHARACTERS}]*[a-z0-9_&=\#/\-{_IRI_CHARACTERS}]"

_LINK = regex.compile(
    rf"""
    (?<![a-z0-9@\uff20$#\uff03\ufeff\ufffe\uffff])   # a link glued to a word, a handle or a tag is no link
    {_SCHEMES}
    {_DOMAIN}
    (?::[0-9]+)?
    (?:/{_PATH}*)?
    (?:{_QUERY})?
    """,
    regex.IGNORECASE | regex.VERBOSE,
    top_level_domains=sorted(IANA_TOP_LEVEL_DOMAINS),
)

_WORD_CHARACTER = r"[\p{L}\p{M}\p{Nd}\p{Pc}]"
_MENTION = regex.compile(
    rf"(?<![=/]|{_WORD_CHARACTER})@(?P<username>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)"
    rf"(?:@{_WORD_CHARACTER}+(?:[.-]+{_WORD_CHARACTER}+)*)?",
    regex.IGNORECASE,
)
# Checked after the match rather than inside it, as Mastodon does: a mention followed by one of these is no
# mention at all, rather than a shorter one.
_NOT_AFTER_A_MENTION = regex.compile(
    r"[@\uff20\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff]|://"
)
_BLANK = regex.compile(r"\p{White_Space}*")


def mastodon_length(
    text: str, *, content_warning: str = "", url_weight: int = MASTODON_DEFAULT_URL_WEIGHT
) -> int:
    """The characters a status with this text and content warning uses of the instance's limit."""
    if url_weight < 0:
        raise ValueError(f"a link's weight cannot be negative: {url_weight!r}")
    return grapheme_count(content_warning + _countable_text(text, url_weight))


def link_spans(text: str) -> list[tuple[int, int]]:
    """Where Mastodon finds links in `text`: (start, end) code-point offsets, end exclusive, in order."""
    return [link.span() for link in _LINK.finditer(text)]


def mention_spans(text: str) -> list[tuple[int, int, str]]:
    """Where Mastodon finds mentions in `text`: (start, end, username), the domain left out of username."""
    return [
        (mention.start(), mention.end(), mention["username"])
        for mention in _MENTION.finditer(text)
        if not _NOT_AFTER_A_MENTION.match(text, mention.end())
    ]


def _countable_text(text: str, url_weight: int) -> str:
    """The text with each link written as `url_weight` characters and each mention as `@username`."""
    if _BLANK.fullmatch(text):
        return ""
    replacements = [(link.start(), link.end(), "x" * url_weight) for link in _LINK.finditer(text)]
    replacements += [(start, end, "@" + username) for start, end, username in mention_spans(text)]
    replacements.sort()
    pieces: list[str] = []
    written_up_to = 0
    for start, end, replacement in replacements:
        # Where a link and a mention overlap, the one that starts first is the one Mastodon formats.
        if start < written_up_to:
            continue
        pieces += [text[written_up_to:start], replacement]
        written_up_to = end
    pieces.append(text[written_up_to:])
    return "".join(pieces)
