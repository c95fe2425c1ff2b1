"""A draft published, and found again, one part at a time: the post, then each reply of its thread.

What a thread's parts mean for a retry lives here, once. The parts a delivery already has on the network
are recorded by Crier and passed back (`published`); a later attempt makes only the rest, each a reply to
the last part made. A failure after some parts were made carries them (NetworkError.published), so Crier
records them at once, whatever the failure says about the part that failed: a thread stopped midway is
finished exactly once, never started again.

An adapter says how one part is made (`PartByPart.part_maker`), or sends the whole draft at once
(`InOneRequest`); it finds what an uncertain attempt made from an `Attempt` (`FindsPublished`), or, where
each part is kept under a key of the delivery's own, says how one is found (`FoundByKey.part_finder`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.networks.ports import (
    Account,
    Draft,
    NetworkError,
    PublishedPart,
    PublishedPost,
    Rejected,
    TextPreview,
)

# Makes part `index` of a draft (0: the post; n: its nth reply), after `parts`, those made before it.
MakePart = Callable[[int, Sequence[PublishedPart]], PublishedPart]
# The part at `index` where the delivery's keys keep it; None when its key holds nothing.
FindPart = Callable[[int], PublishedPart | None]


def part_key(idempotency_key: str, index: int) -> str:
    """The key part `index` is sent under: the delivery's own for the post, `key:n` for reply n."""
    return idempotency_key if index == 0 else f"{idempotency_key}:{index}"


def part_label(index: int) -> str:
    """How a problem names part `index` of a draft to a person: "the text", "thread item 2"."""
    return "the text" if index == 0 else f"thread item {index}"


def labelled_texts(draft: Draft) -> list[tuple[str, str]]:
    """Each text of the draft with its label, the post's first."""
    return [(part_label(index), text) for index, text in enumerate((draft.text, *draft.thread))]


def empty_problems(draft: Draft) -> list[str]:
    """Each of the draft's texts that is empty: the post's, unless it carries media, and any thread item."""
    return [
        f"{label} is empty"
        for index, (label, text) in enumerate(labelled_texts(draft))
        if not text.strip() and (index > 0 or not draft.media)
    ]


def refuse_before_sending(problems: Sequence[str], *, network: str, what: str = "draft") -> None:
    """Rejected, listing `problems`, when there are any: what the network would refuse is not sent."""
    if problems:
        raise Rejected(f"{network} would refuse this {what}: " + "; ".join(problems))


def text_previews(
    draft: Draft,
    *,
    limit: int | None,
    length: Callable[[str], int],
    problems: Callable[[int, str], Iterable[str]],
) -> list[TextPreview]:
    """Each text of the draft, the post's first, counted by `length`, with `problems(index, text)`."""
    return [
        TextPreview(text=text, length=length(text), limit=limit, problems=tuple(problems(index, text)))
        for index, text in enumerate((draft.text, *draft.thread))
    ]


def publish_in_parts(
    count: int, make_part: MakePart, *, published: Sequence[PublishedPart] = ()
) -> PublishedPost:
    """The draft's `count` parts made in order, going on after those already `published`.

    A failure raises with the parts made before it, the ones already published among them.
    """
    parts = list(published[:count])
    for index in range(len(parts), count):
        try:
            parts.append(make_part(index, tuple(parts)))
        except NetworkError as error:
            raise error.after(parts) from None
    return PublishedPost.of(parts)


def find_in_parts(count: int, find_part: FindPart) -> PublishedPost | None:
    """The post and as many of its replies as are found, in order, up to the first that is not there;
    None when not even the post is."""
    parts: list[PublishedPart] = []
    for index in range(count):
        part = find_part(index)
        if part is None:
            break
        parts.append(part)
    return PublishedPost.of(parts) if parts else None


class PartByPart(ABC):
    """Mixed into an adapter whose network makes a draft one request a part: it is the adapter's publish."""

    # False where each part's key is read before it is made anyway (Bluesky's record keys): every attempt
    # then goes through the parts from the first, and finds those already made at their keys.
    resumes_from_published = True

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        """Publish the draft part by part (see the module), from after the parts already `published`."""
        make_part = self.part_maker(account, draft, idempotency_key)
        already = published if self.resumes_from_published else ()
        return publish_in_parts(1 + len(draft.thread), make_part, published=already)

    @abstractmethod
    def part_maker(self, account: Account, draft: Draft, idempotency_key: str) -> MakePart:
        """How this draft's parts are made, once what can be checked before anything is sent was checked
        (raising Rejected when the network would refuse the draft)."""


class InOneRequest(ABC):
    """Mixed into an adapter whose network takes a whole draft in one request (its thread too, where it
    takes one): an attempt made all of it or nothing Crier can know of, so there are no parts to go on
    from and `published` is not read."""

    def publish(
        self,
        account: Account,
        draft: Draft,
        idempotency_key: str,
        *,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost:
        return self.publish_whole(account, draft, idempotency_key)

    @abstractmethod
    def publish_whole(self, account: Account, draft: Draft, idempotency_key: str) -> PublishedPost:
        """Send the draft in one request; the post the network made of it."""


@dataclass(frozen=True)
class Attempt:
    """What find_published is told of an uncertain attempt (see the port): the draft it sent, when the
    delivery was first attempted and when the uncertain attempt began, and the parts already recorded."""

    draft: Draft | None = None
    attempted_at: datetime | None = None
    last_attempted_at: datetime | None = None
    published: tuple[PublishedPart, ...] = ()


class FindsPublished(ABC):
    """Mixed into every adapter: the port's find_published, which hands what it is told on as an Attempt."""

    def find_published(
        self,
        account: Account,
        idempotency_key: str,
        *,
        draft: Draft | None = None,
        attempted_at: datetime | None = None,
        last_attempted_at: datetime | None = None,
        published: Sequence[PublishedPart] = (),
    ) -> PublishedPost | None:
        attempt = Attempt(draft, attempted_at, last_attempted_at, tuple(published))
        return self.find_made(account, idempotency_key, attempt)

    @abstractmethod
    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """What the attempt under this key made (see Network.find_published)."""


class FoundByKey(FindsPublished):
    """Mixed into an adapter that keeps each part under a key of the delivery's own (Bluesky's record keys,
    the sandbox's idempotency keys): what an attempt made is found there, certain either way."""

    def find_made(self, account: Account, idempotency_key: str, attempt: Attempt) -> PublishedPost | None:
        """The post at the delivery's key and each reply at its own, up to the first key that holds
        nothing; None when the post's holds nothing.

        A thread found in part comes back in part, and publishing goes on from its last reply.
        """
        replies = len(attempt.draft.thread) if attempt.draft is not None else 0
        return find_in_parts(1 + replies, self.part_finder(account, idempotency_key))

    @abstractmethod
    def part_finder(self, account: Account, idempotency_key: str) -> FindPart:
        """How this delivery's parts are found at their keys."""
