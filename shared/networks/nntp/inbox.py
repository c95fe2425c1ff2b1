"""The account's inbox on Usenet: follow-ups to its articles, found in the overview by their References.

A news server tells nothing of who answered whom but each article's References (RFC 5536 section
3.2.10), which the overview database keeps for every article of a group (RFC 3977 section 8.3). Crier
reads each of the channel's groups by article number, a page at a time, and an article is a reply when
its References name an article of the account's: a Message-ID Crier chose under the channel's
message_id_domain (articles.is_crier_message_id), as fetch_engagement counts them. The account's own
articles (Crier's, or any From its address) are not entries.

The position is, per group, the last article number read, a digest of that article's Message-ID, and the
newest Date read: compact JSON, as {"group": [number, "digest", newest]}. Article numbers belong to one
server, and a rebuilt server numbers afresh; Crier notices when the group's high mark is below the
number read, or when the article at that number is no longer the one read (the digest), and starts again
at the group's low mark, taking articles dated before the newest one read as read (a fourth element,
until it has caught up). Articles of the same second as that newest one may then be returned again:
Crier keeps an entry once by its Message-ID, and repeating is better than losing one.

Numbers are safe to read up to the high mark GROUP gives: INN's reader takes it from the overview
database itself (nnrpd's GROUP asks the overview), so every article numbered up to it is in the
overview, and articles arriving meanwhile get higher numbers. A crossposted reply is returned from the
first of the channel's groups that it is in, so reading group after group does not return it twice.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from shared.networks.inbox import Author, InboxEntry, InboxPage
from shared.networks.nntp.articles import article_url, is_crier_message_id
from shared.networks.nntp.channel import MAX_NEWSGROUPS, ChannelSettings
from shared.networks.nntp.client import Session
from shared.networks.nntp.followups import RECENT_ARTICLES
from shared.networks.nntp.targets import MESSAGE_ID, NEWSGROUP, target_ref
from shared.networks.ports import InboxKind, PostGone, ReplyTarget

# Article numbers read per group at a time: about 150 KB of overview at INN's ~300 bytes a line.
PAGE_ARTICLES = 500
# The most articles read_thread fetches: a long thread's context, not the whole of it.
THREAD_ARTICLES = 100
# RFC 3977 section 8.4: the overview's fields, after the article number.
_FROM, _DATE, _MESSAGE_ID, _REFERENCES = 2, 3, 4, 5
_DIGEST_CHARACTERS = 12


@dataclass(frozen=True)
class GroupMark:
    """How far a group has been read."""

    number: int  # the last article number read
    digest: str  # of that article's Message-ID; "" when there was no article at that number
    newest: int  # the newest Date read, in seconds since the epoch
    # After a renumbering, until caught up: articles dated before this are taken as read already.
    since: int | None = None

    def to_json(self) -> list[object]:
        fields: list[object] = [self.number, self.digest, self.newest]
        return fields if self.since is None else [*fields, self.since]


def read_page(
    session: Session,
    channel: ChannelSettings,
    position: str | None,
    *,
    page: int = PAGE_ARTICLES,
    now: Callable[[], datetime],
) -> InboxPage:
    """The replies after `position` in each of the channel's groups, `page` article numbers at most per
    group; with None, among each group's latest `page` articles only."""
    marks = _marks_of(position)
    read: dict[str, GroupMark] = {}
    carried: list[str] = []
    entries: list[InboxEntry] = []
    returned: set[str] = set()
    more = False
    for group in channel.newsgroups:
        span = session.group(group)
        if span is None:
            continue  # a group the server does not carry (verify says so)
        carried.append(group)
        low, high = span
        mark, rows = _rows_after(session, marks.get(group), low, high, page)
        since = mark.since
        wanted = [
            row[_MESSAGE_ID]
            for row in rows
            if (since is None or (_epoch(row[_DATE]) or since) >= since)
            and row[_MESSAGE_ID] not in returned
            and _is_reply(row, channel)
        ]
        for message_id, article in zip(wanted, _articles(session, wanted), strict=True):
            # Gone since (cancelled), or crossposted to a group read before this one, which returned it.
            if article is None or set(carried[:-1]) & set(_groups(_header(article, "Newsgroups"))):
                continue
            entries.append(entry_of(article, message_id, now=now, raw={"group": group}))
            returned.add(message_id)
        if since is not None and mark.number >= high:
            mark = replace(mark, since=None)  # caught up after a renumbering
        read[group] = mark
        more = more or mark.number < high
    return InboxPage(tuple(entries), _position_of(read), more=more)


def read_thread(
    session: Session, channel: ChannelSettings, external_id: str, *, now: Callable[[], datetime]
) -> list[InboxEntry]:
    """The article, the articles its References name, and the follow-ups to its thread's start among its
    groups' most recent articles, oldest first; PostGone when the server no longer has it."""
    [found] = _articles(session, [external_id])
    if found is None:
        raise PostGone(f"Usenet: the server no longer has {external_id}")
    references = _message_ids(_header(found, "References"))
    root = references[0] if references else external_id
    wanted = list(dict.fromkeys([*references, external_id]))
    named = [group for group in _groups(_header(found, "Newsgroups")) if NEWSGROUP.fullmatch(group)]
    for group in named[:MAX_NEWSGROUPS] or channel.newsgroups:
        span = session.group(group)
        if span is None or span[1] < span[0]:
            continue
        low, high = span
        for row in session.over(max(low, high - RECENT_ARTICLES + 1), high):
            if len(row) > _REFERENCES and (
                row[_MESSAGE_ID] == root or root in _message_ids(row[_REFERENCES])
            ):
                wanted.append(row[_MESSAGE_ID])
    ids = [message_id for message_id in dict.fromkeys(wanted) if message_id != external_id]
    ids = ids[: THREAD_ARTICLES - 1]
    articles = dict(zip(ids, _articles(session, ids), strict=True))
    articles[external_id] = found
    thread = [
        entry_of(article, message_id, now=now)
        for message_id in dict.fromkeys(wanted)
        if (article := articles.get(message_id)) is not None
    ]
    # Sorted by Date; stable, so articles of the same second stay in References order.
    return sorted(thread, key=lambda entry: entry.created_at)


def entry_of(
    article: email.message.Message,
    message_id: str,
    *,
    now: Callable[[], datetime],
    raw: dict[str, object] | None = None,
) -> InboxEntry:
    """An article as an inbox entry: a REPLY when it follows another up, else a POST."""
    references = _message_ids(_header(article, "References"))
    name, address = email.utils.parseaddr(_decoded(_header(article, "From")))
    newsgroups = _groups(_header(article, "Newsgroups"))
    followup_to = _groups(_header(article, "Followup-To"))
    subject = _decoded(_header(article, "Subject"))
    body = _body(article)
    return InboxEntry(
        external_id=message_id,
        kind=InboxKind.REPLY if references else InboxKind.POST,
        author=Author(handle=address or _decoded(_header(article, "From")), display_name=name or None),
        text=body,
        plain_text=body,
        url=article_url(message_id),
        created_at=_created_at(article) or now(),
        reply_target=ReplyTarget(message_id, target_ref(references, newsgroups, subject, followup_to)),
        in_reply_to=references[-1] if references else None,
        thread_root=references[0] if references else None,
        raw={"newsgroups": newsgroups, **(raw or {})},
    )


# -- Reading a group ----------------------------------------------------------------------------------


def _rows_after(
    session: Session, mark: GroupMark | None, low: int, high: int, page: int
) -> tuple[GroupMark, list[list[str]]]:
    """The overview rows of the group's next page, and the mark after them."""
    if mark is None:  # the group's first read: its latest page, nothing older
        start = max(low, high - page + 1)
        return _advanced(GroupMark(start - 1, "", 0), _over(session, start, high), high)
    if high >= mark.number:
        end = min(high, mark.number + page)
        # From the number read itself when its article is known, to see that it is still the one read.
        rows = _over(session, mark.number if mark.digest else mark.number + 1, end)
        first = rows[0] if rows and int(rows[0][0]) == mark.number else None
        if first is None or not mark.digest or _digest(first[_MESSAGE_ID]) == mark.digest:
            after = [row for row in rows if int(row[0]) > mark.number]
            return _advanced(mark, after, end)
    # Renumbered: the high mark is below what was read, or another article has its number.
    restart = GroupMark(low - 1, "", mark.newest, since=mark.newest if mark.since is None else mark.since)
    end = min(high, restart.number + page)
    return _advanced(restart, _over(session, low, end), end)


def _over(session: Session, low: int, high: int) -> list[list[str]]:
    if high < low:
        return []
    return [row for row in session.over(low, high) if len(row) > _REFERENCES and row[0].isdigit()]


def _advanced(mark: GroupMark, rows: list[list[str]], end: int) -> tuple[GroupMark, list[list[str]]]:
    """The mark after reading `rows`, the numbers up to `end`."""
    last = rows[-1] if rows and int(rows[-1][0]) == end else None
    dates = [epoch for row in rows if (epoch := _epoch(row[_DATE])) is not None]
    return (
        replace(
            mark,
            number=max(mark.number, end),
            digest=_digest(last[_MESSAGE_ID]) if last else "",
            newest=max([mark.newest, *dates]),
        ),
        rows,
    )


def _is_reply(row: list[str], channel: ChannelSettings) -> bool:
    """Whether an overview row is someone else's article following up one of the account's."""
    message_id = row[_MESSAGE_ID]
    if is_crier_message_id(message_id, channel.message_id_domain):
        return False
    _, address = email.utils.parseaddr(_decoded(row[_FROM]))
    if address.lower() == channel.address.lower():
        return False
    cited = _message_ids(row[_REFERENCES])
    return any(is_crier_message_id(item, channel.message_id_domain) for item in cited)


def _articles(session: Session, message_ids: Sequence[str]) -> list[email.message.Message | None]:
    """The articles, parsed; None for one the server does not have."""
    valid = [message_id for message_id in message_ids if MESSAGE_ID.fullmatch(message_id)]
    found = dict(zip(valid, session.articles(valid), strict=True))
    return [
        None
        if (raw := found.get(message_id)) is None
        else email.message_from_bytes(raw, policy=email.policy.compat32)
        for message_id in message_ids
    ]


# -- The position -------------------------------------------------------------------------------------


def _marks_of(position: str | None) -> dict[str, GroupMark]:
    """The marks a position holds; none for the first read, or for a position this module did not write
    (read as a first read: the latest page, rather than the whole of every group)."""
    if position is None:
        return {}
    try:
        value = json.loads(position)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    marks = {}
    for group, fields in value.items():
        if (
            isinstance(fields, list)
            and len(fields) in (3, 4)
            and isinstance(fields[0], int)
            and isinstance(fields[1], str)
            and all(isinstance(field, int) for field in fields[2:])
        ):
            marks[group] = GroupMark(*fields)
    return marks


def _position_of(marks: dict[str, GroupMark]) -> str:
    return json.dumps({group: mark.to_json() for group, mark in marks.items()}, separators=(",", ":"))


def _digest(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:_DIGEST_CHARACTERS]


# -- An article's fields -------------------------------------------------------------------------------


def _header(article: email.message.Message, name: str) -> str:
    value = article.get(name)
    return "" if value is None else " ".join(str(value).split())


def _decoded(value: str) -> str:
    """A header's text with its RFC 2047 encoded-words decoded."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return value


def _message_ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value)


def _groups(value: str) -> list[str]:
    return [group.strip() for group in value.split(",") if group.strip()]


def _epoch(date: str) -> int | None:
    moment = _parsed_date(date)
    return None if moment is None else int(moment.timestamp())


def _parsed_date(date: str) -> datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _created_at(article: email.message.Message) -> datetime | None:
    """When it was written: its Date (RFC 5536 section 3.1.1), else when it was injected."""
    for name in ("Date", "Injection-Date", "NNTP-Posting-Date"):
        moment = _parsed_date(_header(article, name))
        if moment is not None:
            return moment
    return None


def _body(article: email.message.Message) -> str:
    """The text of the article's body (its first text/plain part), its transfer encoding undone, in its
    charset (UTF-8 when it names none: what Usenet's 8-bit articles mostly are), lines ended by "\\n"."""
    part = next((part for part in article.walk() if part.get_content_type() == "text/plain"), article)
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").removesuffix("\n")
