"""A draft's parts as RFC 5536 articles, each under a Message-ID Crier chooses before sending it.

The Message-ID is derived from the delivery's idempotency key and the part's number, so every attempt
sends a part under the same one: a server that has it answers the next POST with "duplicate", and STAT
<message-id> tells exactly whether an uncertain attempt made it (identity before effect, like Bluesky's
record keys). The key itself is not shown: the Message-ID carries a hash of it.

Each article carries a Cancel-Lock (RFC 8315) whose key only Crier can make (an HMAC of the Message-ID
under CRIER_SECRET_KEY), so that Crier can later cancel it: INN, by default (`docancels: require-auth`),
acts on a cancel only for an article so locked, and only when the cancel carries the key.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from shared.networks.nntp.channel import ChannelSettings
from shared.text.nntp import MAX_LINE_OCTETS, address_field, body_lines, header_field, reply_subject

USER_AGENT = "Crier (self-hosted social media scheduler)"
_PREFIX = "crier."


def delivery_tag(idempotency_key: str) -> str:
    """What every Message-ID of one delivery starts with: a hash of its key, so its parts are known."""
    return _PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]


def message_id(idempotency_key: str, index: int, domain: str) -> str:
    """Part `index`'s Message-ID (0: the post; n: its nth follow-up), angle brackets included."""
    return f"<{delivery_tag(idempotency_key)}.{index}@{domain}>"


def is_part_of(message_id_: str, tag: str) -> bool:
    """Whether a Message-ID is one of the delivery's own parts."""
    return message_id_.startswith(f"<{tag}.")


def is_crier_message_id(message_id_: str, domain: str) -> bool:
    """Whether a Message-ID is one Crier chose for a part posted under `domain` (see message_id)."""
    left, at, right = message_id_.strip("<>").rpartition("@")
    tag, _, number = left.rpartition(".")
    return (
        bool(at)
        and right.lower() == domain.lower()
        and number.isdigit()
        and tag.startswith(_PREFIX)
        and len(tag) == len(delivery_tag(""))
    )


def article_url(message_id_: str) -> str:
    """The article's `news:` URI (RFC 5538 section 2.2): its Message-ID without the angle brackets."""
    return "news:" + message_id_.strip("<>")


def cancel_key(secret: str, message_id_: str) -> str:
    """The Cancel-Key's c-key for an article (RFC 8315 section 4): an HMAC only Crier can make."""
    digest = hmac.new(secret.encode("utf-8"), message_id_.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def cancel_lock(secret: str, message_id_: str) -> str:
    """The Cancel-Lock header's value: the SHA-256 of the c-key (RFC 8315 section 3)."""
    key = cancel_key(secret, message_id_)
    return "sha256:" + base64.b64encode(hashlib.sha256(key.encode("ascii")).digest()).decode("ascii")


def trimmed_references(references: Sequence[str]) -> list[str]:
    """References as a follow-up sends them (RFC 5537 section 3.4.4): when the field would be longer than
    998 characters unfolded, Message-IDs are dropped from the second on, the first (the thread's start)
    and the last three (the closest parents) always kept."""
    kept = list(references)
    while len(kept) > 4 and len("References: " + " ".join(kept)) > MAX_LINE_OCTETS:
        del kept[1]
    return kept


def from_field(channel: ChannelSettings) -> str:
    """The From header field: the address with its display name, encoded when not ASCII."""
    return address_field("From", channel.name, channel.address)


def article(
    channel: ChannelSettings,
    *,
    message_id_: str,
    subject: str,
    text: str,
    references: Sequence[str] = (),
    newsgroups: Sequence[str] = (),
    now: datetime,
    secret: str | None,
) -> list[str]:
    """The article's lines as sent (before dot-stuffing): its header, a blank line, its body.

    A follow-up's References are the parent's References and then the parent (RFC 5536 section
    3.2.10), trimmed as RFC 5537 section 3.4.4 allows, and its subject begins "Re: ". It goes to
    `newsgroups` when given (a reply, to where its target asks), else to the channel's groups.
    """
    references = trimmed_references(references)
    headers = [
        from_field(channel),
        f"Newsgroups: {','.join(newsgroups or channel.newsgroups)}",
        header_field("Subject", reply_subject(subject) if references else subject),
        f"Date: {email.utils.format_datetime(now)}",
        f"Message-ID: {message_id_}",
    ]
    if references:
        headers.append(header_field("References", " ".join(references)))
    headers += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        f"User-Agent: {USER_AGENT}",
    ]
    if secret:
        headers.append(f"Cancel-Lock: {cancel_lock(secret, message_id_)}")
    # A folded header is one string with CRLF inside; the wire wants each of its lines.
    lines = [line for header in headers for line in header.split("\r\n")]
    return [*lines, "", *body_lines(text)]


def cancel_article(
    channel: ChannelSettings, *, target: str, now: datetime, secrets: Sequence[str]
) -> tuple[str, list[str]]:
    """A cancel control article for `target` (RFC 5537 section 5.3), with a Cancel-Key for each secret
    (the current one and those rotated out, so an article locked under an older one can go too), and its
    own Message-ID, derived from the target's so that a repeated delete is a duplicate, not a second one."""
    cancel_id = "<cancel." + target.strip("<>") + ">"
    headers = [
        from_field(channel),
        f"Newsgroups: {','.join(channel.newsgroups)}",
        f"Subject: cmsg cancel {target}",
        f"Control: cancel {target}",
        f"Date: {email.utils.format_datetime(now)}",
        f"Message-ID: {cancel_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        f"User-Agent: {USER_AGENT}",
    ]
    if secrets:
        keys = " ".join(f"sha256:{cancel_key(secret, target)}" for secret in secrets)
        headers.append(header_field("Cancel-Key", keys))
    lines = [line for header in headers for line in header.split("\r\n")]
    return cancel_id, [*lines, "", "Cancelled by its author through Crier."]
