"""How each network shows a post's text: the runs it makes live (links, mentions, hashtags), the formatting
it draws, and where it folds a long text behind "see more", as typed segments a template draws as they are.

Each network's runs come from the module that counts its text, so what is drawn as a link is what was
counted as one: x.py (twitter-text's URL finder), mastodon.py (Mastodon's link and mention rules),
bluesky.py (the facets Crier sends), threads.py, instagram.py, linkedin.py (the little text as sent). A
segment's text is what the reader sees; a template escapes it like any other text, so no segment can carry
markup into the page: the network's own markup (Discord's and Slack's) becomes segment kinds, never HTML.

How links are shown:
- X shows every link as a t.co link that counts 23 characters, but displays the link as written without its
  scheme (the API's `display_url`, "URL pasted/typed into Tweet", e.g. `bit.ly/2so49n2`), cut with "…" when
  long. X does not document where it cuts; X_DISPLAYED_URL_LENGTH is a pick.
- Mastodon hides a link's `http://` or `https://` and a `www.` after it, shows the next 30 characters, and
  puts "…" after them when more follow (app/lib/text_formatter.rb in mastodon/mastodon, `link_to_url`).
- Bluesky shows the post's text as it is: the facet makes the written link live and points at its full URI.
- Every other network shows a link as written.

Where a long text folds (none of these networks documents it; the figures are the ones commonly observed):
- LinkedIn: about 210 characters, or 3 lines, before "…see more" (John Espirian, "'See more' breakpoints on
  LinkedIn posts", September 2024: a 3-line preview for every organic post; character counters cite ~210 on
  mobile).
- Facebook: about 477 characters before "See more" on the desktop feed (cited by the character counters of
  posthell.com and socialk.it, among others); the mobile feed folds earlier.
- Instagram: about 125 characters of a caption before "… more" (widely cited; Meta documents only the 2,200
  limit).
- X: a longer post (X Premium) shows its first 280 characters, then "Show more" (replysocial.co, "Long-form
  X posts"); a post within X's 280 never folds.
- Mastodon, Bluesky, Threads, Telegram, Discord and Slack show a text within their limits whole, as far as
  is documented or commonly observed; no fold is drawn for them.

Formatting: Discord draws its markdown in a webhook's `content` (bold, italic, underline, strike, code,
masked links), and Slack its mrkdwn in an incoming webhook's `text` (bold, italic, strike, code, `<url|label>`
links). Telegram draws none: Crier sends Telegram's text with no `parse_mode` (see telegram.py), so `*this*`
stays as typed there; Telegram still links URLs, @usernames and #hashtags itself.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import regex

from shared.text import instagram, linkedin, mastodon, threads
from shared.text.bluesky import detect_facets
from shared.text.x import x_normalised, x_url_spans

SegmentKind = Literal["text", "link", "mention", "hashtag", "bold", "italic", "underline", "strike", "code"]
# A link, a mention or a hashtag is one thing on the network: a fold never cuts one in two.
WHOLE_KINDS = frozenset({"link", "mention", "hashtag"})

# A pick (see the module): X does not say where it cuts a displayed link.
X_DISPLAYED_URL_LENGTH = 23
# Mastodon's text_formatter.rb: the characters of a link shown after its hidden prefix.
MASTODON_DISPLAYED_URL_LENGTH = 30
ELLIPSIS = "…"


@dataclass(frozen=True)
class Segment:
    """A run of the text as the network shows it."""

    kind: SegmentKind
    text: str  # what the reader sees
    href: str | None = None  # a link's target: always http or https


@dataclass(frozen=True)
class Fold:
    """Where a network folds a long text: after so many characters (graphemes) or lines, whichever first."""

    characters: int
    lines: int | None
    label: str


FOLDS: Mapping[str, Fold] = {
    "linkedin": Fold(210, 3, "…see more"),
    "facebook": Fold(477, None, "See more"),
    "instagram": Fold(125, None, "… more"),
    "x": Fold(280, None, "Show more"),
}


@dataclass(frozen=True)
class Displayed:
    """One text as its network shows it: segments, and from which of them the text is folded away."""

    segments: tuple[Segment, ...]
    fold_at: int | None = None  # segments[fold_at:] are behind the fold
    fold_label: str = ""

    @property
    def shown(self) -> tuple[Segment, ...]:
        return self.segments if self.fold_at is None else self.segments[: self.fold_at]

    @property
    def folded(self) -> tuple[Segment, ...]:
        return () if self.fold_at is None else self.segments[self.fold_at :]

    @property
    def plain(self) -> str:
        """The text a reader sees, unfolded, without formatting."""
        return "".join(segment.text for segment in self.segments)


def display(network: str, text: str, *, settings: Mapping[str, Any] | None = None) -> Displayed:
    """`text` as sent to `network` (the preview's text), as that network shows it; plain text for a network
    with no rules here (the sandbox, a webhook, Usenet, a network from another package)."""
    segments = _SEGMENTERS.get(network, _plain)(text, settings or {})
    fold = FOLDS.get(network)
    return _folded(segments, fold) if fold else Displayed(tuple(segments))


# -- Spans to segments --------------------------------------------------------------------------------------

_Span = tuple[int, int, Segment]
_GRAPHEME = regex.compile(r"\X")


def _from_spans(
    text: str, spans: Sequence[_Span], between: Callable[[str], list[Segment]] | None = None
) -> list[Segment]:
    """The text cut at the spans (the first of two overlapping ones wins), the rest as text (or `between`)."""
    segments: list[Segment] = []
    position = 0
    for start, end, segment in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start < position or start == end:
            continue
        if start > position:
            segments += _between(text[position:start], between)
        segments.append(segment)
        position = end
    if position < len(text):
        segments += _between(text[position:], between)
    return segments


def _between(text: str, between: Callable[[str], list[Segment]] | None) -> list[Segment]:
    return between(text) if between else [Segment("text", text)]


def _href(written: str) -> str | None:
    """Where a link as written goes: itself with its scheme, or https:// before a bare domain."""
    lowered = written.lower()
    if lowered.startswith(("http://", "https://")):
        return written
    if "://" in written:
        return None  # gemini://, ipfs://… are links on Mastodon, but not ones a browser opens from here
    return "https://" + written


def _link(written: str, shown: str | None = None, href: str | None = None) -> Segment:
    return Segment("link", shown if shown is not None else written, href or _href(written))


def _cut(text: str, length: int) -> str:
    graphemes = _GRAPHEME.findall(text)
    return text if len(graphemes) <= length else "".join(graphemes[:length]) + ELLIPSIS


# -- Networks -----------------------------------------------------------------------------------------------


def _plain(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    return [Segment("text", text)] if text else []


# twitter-text's mention and hashtag rules (twitter/twitter-text, js/src/regexp: validMentionOrList,
# validHashtag): a mention is `@` not after a letter, digit or one of `_!#$%&*@`, then 1 to 20 of
# `A-Za-z0-9_`; a hashtag is `#` not after a letter, digit, `_` or `&`, then letters, marks, digits and
# underscores with at least one letter; neither goes on into `@`, `#` or `://`.
_X_MENTION = regex.compile(
    r"(?<![A-Za-z0-9_!#$%&*@\uff20])[@\uff20][A-Za-z0-9_]{1,20}(?![A-Za-z0-9_@\uff20]|://)"
)
_X_HASHTAG = regex.compile(
    r"(?<![&\p{L}\p{M}\p{Nd}_])[#\uff03](?!\ufe0f|\u20e3)[\p{L}\p{M}\p{Nd}_]*[\p{L}\p{M}][\p{L}\p{M}\p{Nd}_]*"
    r"(?![#\uff03]|://)"
)


def _x(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    text = x_normalised(text)
    spans: list[_Span] = []
    for start, end in x_url_spans(text):
        written = text[start:end]
        without_scheme = regex.sub(r"(?i)^https?://", "", written)
        spans.append((start, end, _link(written, _cut(without_scheme, X_DISPLAYED_URL_LENGTH))))
    spans += [(m.start(), m.end(), Segment("mention", m.group())) for m in _X_MENTION.finditer(text)]
    spans += [(m.start(), m.end(), Segment("hashtag", m.group())) for m in _X_HASHTAG.finditer(text)]
    return _from_spans(text, spans)


_MASTODON_HIDDEN_PREFIX = regex.compile(r"(?i)^(?:https?://(?:www\.)?|xmpp:)")
# Mastodon's Tag::HASHTAG_RE (app/models/tag.rb), in short: `#` not after `=`, `/`, `)` or a letter or
# digit, then word characters (and `·` inside) holding at least one letter.
_MASTODON_HASHTAG = regex.compile(
    r"(?<![=/)\p{L}\p{N}])#[\p{L}\p{M}\p{N}_]*[\p{L}_][\p{L}\p{M}\p{N}_·]*(?<!·)"
)


def _mastodon(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = []
    for start, end in mastodon.link_spans(text):
        written = text[start:end]
        shown = _MASTODON_HIDDEN_PREFIX.sub("", written, count=1)
        spans.append((start, end, _link(written, _cut(shown, MASTODON_DISPLAYED_URL_LENGTH))))
    # Mastodon shows a mention as @username, its domain hidden.
    spans += [
        (start, end, Segment("mention", "@" + username))
        for start, end, username in mastodon.mention_spans(text)
    ]
    spans += [(m.start(), m.end(), Segment("hashtag", m.group())) for m in _MASTODON_HASHTAG.finditer(text)]
    return _from_spans(text, spans)


def _bluesky(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    encoded = text.encode("utf-8")
    spans: list[_Span] = []
    for facet in detect_facets(text):
        # Facets are in UTF-8 bytes, cut at characters' bounds: back to code points.
        start = len(encoded[: facet.byte_start].decode("utf-8"))
        written = encoded[facet.byte_start : facet.byte_end].decode("utf-8")
        end = start + len(written)
        kind: SegmentKind = "hashtag" if facet.kind == "tag" else facet.kind
        segment = _link(written, href=facet.value) if kind == "link" else Segment(kind, written)
        spans.append((start, end, segment))
    return _from_spans(text, spans)


def _threads(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = [(start, end, _link(text[start:end])) for start, end in threads.link_spans(text)]
    # Only the first tag becomes the post's tag; the others stay plain text (see threads.py).
    spans += [
        (start, end, Segment("hashtag", text[start:end])) for start, end, _ in threads.tag_spans(text)[:1]
    ]
    # A Threads account is an Instagram account: its @username follows Instagram's rule.
    spans += [
        (start, end, Segment("mention", text[start:end])) for start, end in instagram.mention_spans(text)
    ]
    return _from_spans(text, spans)


def _instagram(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    # A link in a caption is not live on Instagram: it stays text.
    spans: list[_Span] = [
        (start, end, Segment("hashtag", text[start:end])) for start, end in instagram.hashtag_spans(text)
    ]
    spans += [
        (start, end, Segment("mention", text[start:end])) for start, end in instagram.mention_spans(text)
    ]
    return _from_spans(text, spans)


def _linkedin(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    # The preview's text is the commentary as sent (little text): LinkedIn shows it as displayed_pieces
    # says, a mention as the name alone; links in its runs of text are live.
    segments: list[Segment] = []
    for kind, shown in linkedin.displayed_pieces(text):
        segments += _auto_linked(shown) if kind == "text" else [Segment(kind, shown)]
    return segments


# Facebook does not document how it finds tags: a `#` not inside a word, then letters, digits and
# underscores with a letter among them, as Instagram's rule. A `@name` typed in a Page post sent by the
# Graph API tags no one: it stays text.
def _facebook(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = [(start, end, _link(text[start:end])) for start, end in threads.link_spans(text)]
    spans += [
        (start, end, Segment("hashtag", text[start:end])) for start, end in instagram.hashtag_spans(text)
    ]
    return _from_spans(text, spans)


# Telegram's MessageEntity types `mention` (@username: 5 to 32 of a-z, 0-9 and `_`, Telegram's rule for
# usernames), `hashtag` and `url`, which Telegram finds in a text sent without parse_mode.
_TELEGRAM_MENTION = regex.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?![\w@])")
_TELEGRAM_HASHTAG = regex.compile(r"(?<![\w#])#\w*[^\W\d]\w*")


def _telegram(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = [(start, end, _link(text[start:end])) for start, end in threads.link_spans(text)]
    spans += [(m.start(), m.end(), Segment("mention", m.group())) for m in _TELEGRAM_MENTION.finditer(text)]
    spans += [(m.start(), m.end(), Segment("hashtag", m.group())) for m in _TELEGRAM_HASHTAG.finditer(text)]
    return _from_spans(text, spans)


def _auto_linked(text: str, *, bare_domains: bool = True) -> list[Segment]:
    spans = [
        (start, end, _link(text[start:end]))
        for start, end in threads.link_spans(text, bare_domains=bare_domains)
    ]
    return _from_spans(text, spans)


# Discord's markdown (support.discord.com, "Markdown Text 101"), the inline part: a backslash escapes a
# mark; ``` and ` code; [label](https://…) masked links; <https://…> a link without embed; ** bold,
# __ underline, ~~ strike, * or _ italic. Bare links are live only with their scheme.
_DISCORD = regex.compile(
    r"""
    \\(?P<escaped>[\\*_~`\[\]()<>|#>-])
    |```(?:[A-Za-z0-9_+-]*\n)?(?P<block>[\s\S]+?)```
    |`(?P<code>[^`]+)`
    |\[(?P<label>[^\[\]\n]+)\]\((?P<target>https?://[^\s()]+)\)
    |<(?P<bracketed>https?://[^\s>]+)>
    |\*\*(?P<bold>[\s\S]+?)\*\*
    |__(?P<underline>[\s\S]+?)__
    |~~(?P<strike>[\s\S]+?)~~
    |\*(?P<italic>[^\s*](?:[^*]*?[^\s*])?)\*
    |(?<![\p{L}\p{N}])_(?P<italic_>[^\s_](?:[^_]*?[^\s_])?)_(?![\p{L}\p{N}])
    """,
    regex.VERBOSE,
)


def _discord(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = []
    for match in _DISCORD.finditer(text):
        group = match.lastgroup
        if group == "escaped":
            segment = Segment("text", match["escaped"])
        elif group in ("block", "code"):
            segment = Segment("code", match[group])
        elif group == "label":
            segment = _link(match["target"], match["label"])
        elif group == "bracketed":
            segment = _link(match["bracketed"])
        elif group == "target":
            segment = _link(match["target"], match["label"])
        else:
            kind: SegmentKind = "italic" if group in ("italic", "italic_") else group
            segment = Segment(kind, match[group])
        spans.append((match.start(), match.end(), segment))
    return _from_spans(text, spans, lambda run: _auto_linked(run, bare_domains=False))


# Slack's mrkdwn (docs.slack.dev, "Formatting text for app surfaces"): *bold*, _italic_, ~strike~, `code`
# and ```blocks```, each mark at a word's edge; <url|label> and <url> links, <@U…> and <!here> mentions.
# What Crier sends escaped (`&amp;`, `&lt;`, `&gt;`) Slack shows as the character.
_SLACK = regex.compile(
    r"""
    ```(?P<block>[\s\S]+?)```
    |`(?P<code>[^`\n]+)`
    |<(?P<target>[^<>|\s]+)(?:\|(?P<label>[^<>]+))?>
    |(?<![\p{L}\p{N}*])\*(?P<bold>[^\s*](?:[^*\n]*?[^\s*])?)\*(?![\p{L}\p{N}*])
    |(?<![\p{L}\p{N}_])_(?P<italic>[^\s_](?:[^_\n]*?[^\s_])?)_(?![\p{L}\p{N}_])
    |(?<![\p{L}\p{N}~])~(?P<strike>[^\s~](?:[^~\n]*?[^\s~])?)~(?![\p{L}\p{N}~])
    """,
    regex.VERBOSE,
)


def _slack(text: str, settings: Mapping[str, Any]) -> list[Segment]:
    spans: list[_Span] = []
    for match in _SLACK.finditer(text):
        group = match.lastgroup
        if group in ("target", "label"):
            segment = _slack_reference(match["target"], match["label"])
        elif group == "block":
            segment = Segment("code", html.unescape(match["block"]))
        else:
            kind: SegmentKind = group
            segment = Segment(kind, html.unescape(match[group or ""]))
        spans.append((match.start(), match.end(), segment))
    return _from_spans(text, spans, lambda run: _auto_linked(html.unescape(run), bare_domains=False))


def _slack_reference(target: str, label: str | None) -> Segment:
    shown = html.unescape(label) if label else None
    if target.startswith(("@U", "@W")):
        return Segment("mention", "@" + (shown or target[1:]))
    if target.startswith("#C"):
        return Segment("mention", "#" + (shown or target[1:]))
    if target.startswith("!"):
        return Segment("mention", "@" + (shown or target[1:].split("^")[0]))
    url = html.unescape(target)
    if url.lower().startswith(("http://", "https://")):
        return _link(url, shown or url)
    return Segment("text", f"<{target}{'|' + label if label else ''}>")


_SEGMENTERS: Mapping[str, Callable[[str, Mapping[str, Any]], list[Segment]]] = {
    "x": _x,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "threads": _threads,
    "instagram": _instagram,
    "linkedin": _linkedin,
    "facebook": _facebook,
    "telegram": _telegram,
    "discord": _discord,
    "slack": _slack,
}


# -- The fold -----------------------------------------------------------------------------------------------


def _folded(segments: Sequence[Segment], fold: Fold) -> Displayed:
    """The segments with the fold where the network puts it: after `fold.characters` graphemes or before
    the line past `fold.lines`, just after the last space before that when there is one; never inside a link,
    mention or hashtag, which go whole behind the fold."""
    plain = "".join(segment.text for segment in segments)
    cut = _fold_position(plain, fold)
    if cut is None:
        return Displayed(tuple(segments))
    kept: list[Segment] = []
    rest: list[Segment] = []
    position = 0
    for segment in segments:
        end = position + len(segment.text)
        if end <= cut:
            kept.append(segment)
        elif position >= cut or segment.kind in WHOLE_KINDS:
            rest.append(segment)
        else:
            before, after = segment.text[: cut - position], segment.text[cut - position :]
            kept.append(Segment(segment.kind, before, segment.href))
            rest.append(Segment(segment.kind, after, segment.href))
        position = end
    if not rest:
        return Displayed(tuple(segments))
    return Displayed(tuple(kept + rest), fold_at=len(kept), fold_label=fold.label)


def _fold_position(plain: str, fold: Fold) -> int | None:
    """The code-point index the fold falls at, or None when the text is short enough to show whole."""
    limit: int | None = None
    for graphemes, match in enumerate(_GRAPHEME.finditer(plain), start=1):
        if graphemes > fold.characters:
            limit = match.start()
            break
    if fold.lines is not None:
        breaks = [index for index, char in enumerate(plain) if char == "\n"]
        if len(breaks) >= fold.lines and (limit is None or breaks[fold.lines - 1] < limit):
            limit = breaks[fold.lines - 1] + 1
            return limit if plain[limit:].strip() else None
    if limit is None or not plain[limit:].strip():
        return None
    # The space the fold falls on stays with the shown part, so that shown and folded make the whole text.
    space = max(plain.rfind(" ", 0, limit + 1), plain.rfind("\n", 0, limit + 1))
    return space + 1 if space > 0 else limit
