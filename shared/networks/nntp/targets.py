"""An article to follow up: what Crier keeps of it in ReplyTarget.ref, and the follow-up it makes.

A follow-up (RFC 5537 section 3.4.4) takes from its parent: References, the parent's References and then
the parent's Message-ID (trimmed when too long, by articles.trimmed_references); Subject, the parent's
with "Re: " once in front (RFC 5536 section 3.2.5 and 3.1.4); and Newsgroups, the parent's Followup-To
when it has one, else its Newsgroups. Followup-To "poster" means the author wants answers by mail only
(RFC 5536 section 3.2.6): Crier does not post those.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.networks.ports import ReplyTarget

# RFC 5536 section 3.1.3: "<" id-left "@" id-right ">", no spaces or further angle brackets.
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
# RFC 5536 section 3.1.4: dot-separated components of letters, digits, "+", "-", "_".
NEWSGROUP = re.compile(r"[A-Za-z0-9+_-]+(\.[A-Za-z0-9+_-]+)*")
POSTER = "poster"


@dataclass(frozen=True)
class FollowUp:
    """Where and under what a follow-up to an article goes."""

    parent: str
    references: tuple[str, ...]  # the parent's References and the parent, before any trimming
    newsgroups: tuple[str, ...]
    subject: str


def target_ref(
    references: Sequence[str], newsgroups: Sequence[str], subject: str, followup_to: Sequence[str] = ()
) -> dict[str, Any]:
    """ReplyTarget.ref of an article, from its References, Newsgroups, Subject (decoded) and Followup-To."""
    ref: dict[str, Any] = {"references": list(references), "newsgroups": list(newsgroups), "subject": subject}
    if followup_to:
        ref["followup_to"] = list(followup_to)
    return ref


def follow_up(target: ReplyTarget) -> tuple[FollowUp | None, list[str]]:
    """The follow-up a reply to `target` makes, and the problems that keep Crier from making it."""
    ref: Mapping[str, Any] = target.ref
    problems = []
    if not MESSAGE_ID.fullmatch(target.external_id):
        problems.append(f"the post to reply to, {target.external_id!r}, is not a Message-ID")
    references = _strings(ref.get("references", []))
    if references is None or not all(MESSAGE_ID.fullmatch(item) for item in references):
        problems.append("the post to reply to has References that are not Message-IDs")
        references = []
    newsgroups = _strings(ref.get("newsgroups"))
    followup_to = _strings(ref.get("followup_to", []))
    groups = followup_to or newsgroups
    if groups == [POSTER]:
        problems.append(
            "the author of the post asked for answers by mail, not in the newsgroup (Followup-To: poster)"
        )
    elif not groups or not all(NEWSGROUP.fullmatch(group) for group in groups):
        problems.append("the post to reply to names no newsgroups to follow it up in")
    subject = ref.get("subject")
    if not isinstance(subject, str):
        problems.append("the post to reply to has no subject to answer under")
    if problems or groups is None or not isinstance(subject, str):
        return None, problems
    return (
        FollowUp(
            parent=target.external_id,
            references=(*references, target.external_id),
            newsgroups=tuple(dict.fromkeys(groups)),
            subject=subject,
        ),
        [],
    )


def _strings(value: object) -> list[str] | None:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    return None
