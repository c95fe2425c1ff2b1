"""A Bluesky post's record (app.bsky.feed.post): its text's facets (links, tags, mentions resolved to DIDs),
its images or link card, and its place in a thread; and the strong reference the PDS answers for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.networks.bluesky.channel import ChannelSettings
from shared.networks.bluesky.record_keys import POST, post_url
from shared.networks.bluesky.sessions import Credentials, Sessions
from shared.networks.ports import Draft, MediaItem, PublishedPart, ReplyTarget, Transient
from shared.networks.toolkit.answers import as_utc
from shared.networks.toolkit.calls import Calls
from shared.text.bluesky import Facet, detect_facets


@dataclass(frozen=True)
class Ref:
    """A strong reference to a record (com.atproto.repo.strongRef)."""

    uri: str
    cid: str
    # The record's createdAt, where it was read: when the post was made, as the network shows it.
    created_at: datetime | None = None

    def as_json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}

    def as_part(self) -> PublishedPart:
        return PublishedPart(external_id=self.uri, url=post_url(self.uri), created_at=self.created_at)


def reply_refs(target: ReplyTarget) -> tuple[Ref, Ref]:
    """The thread's root and the post answered, from an inbox entry's reply target (see reply_problems)."""
    ref = target.ref
    root = Ref(uri=str(ref["root_uri"]), cid=str(ref["root_cid"]))
    return root, Ref(uri=target.external_id, cid=str(ref["cid"]))


def record_time(record: Mapping[str, Any]) -> datetime | None:
    """A post record's createdAt, aware; None when it is missing or unreadable."""
    try:
        return as_utc(datetime.fromisoformat(str(record["createdAt"]).replace("Z", "+00:00")))
    except (KeyError, ValueError):
        return None


class PostRecords:
    """Writes a post's record for one publish: the handles it mentions are resolved once each."""

    def __init__(
        self, calls: Calls, sessions: Sessions, channel: ChannelSettings, credentials: Credentials
    ) -> None:
        self._calls = calls
        self._sessions = sessions
        self._channel = channel
        self._credentials = credentials
        self._handles: dict[str, str | None] = {}

    def record(
        self,
        text: str,
        langs: tuple[str, ...],
        *,
        embed: dict[str, Any] | None = None,
        reply_to: tuple[Ref, Ref] | None = None,
    ) -> dict[str, Any]:
        """The record of one post: `reply_to` is the thread's root and the parent it answers."""
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        facets = self._facets(text)
        if facets:
            record["facets"] = facets
        if langs:
            record["langs"] = list(langs)
        if reply_to is not None:
            root, parent = reply_to
            record["reply"] = {"root": root.as_json(), "parent": parent.as_json()}
        if embed is not None:
            record["embed"] = embed
        return record

    def _facets(self, text: str) -> list[dict[str, Any]]:
        facets = []
        for facet in detect_facets(text):
            feature = self._feature(facet)
            if feature is not None:
                facets.append(
                    {
                        "index": {"byteStart": facet.byte_start, "byteEnd": facet.byte_end},
                        "features": [feature],
                    }
                )
        return facets

    def _feature(self, facet: Facet) -> dict[str, str] | None:
        if facet.kind == "link":
            return {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
        if facet.kind == "tag":
            return {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}
        handle = facet.value.lower()
        if handle not in self._handles:
            self._handles[handle] = self._resolve_handle(handle)
        did = self._handles[handle]
        # A handle that resolves to no account stays plain text, as the official clients leave it.
        return None if did is None else {"$type": "app.bsky.richtext.facet#mention", "did": did}

    def _resolve_handle(self, handle: str) -> str | None:
        response = self._sessions.call(
            self._channel,
            self._credentials,
            "GET",
            "com.atproto.identity.resolveHandle",
            params={"handle": handle},
        )
        if response.status_code == 400:
            return None  # "Unable to resolve handle"
        did = self._calls.answer(response, what=self._channel.host).get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    def embed(self, draft: Draft) -> dict[str, Any] | None:
        """The draft's images, uploaded, or its link card; None when it has neither."""
        if draft.media:
            return {
                "$type": "app.bsky.embed.images",
                "images": [{"image": self._upload(item), "alt": item.alt_text or ""} for item in draft.media],
            }
        card = draft.options.get("link_card")
        if isinstance(card, Mapping):
            return {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": str(card["uri"]),
                    "title": str(card.get("title") or ""),
                    "description": str(card.get("description") or ""),
                },
            }
        return None

    def _upload(self, item: MediaItem) -> dict[str, Any]:
        response = self._sessions.call(
            self._channel,
            self._credentials,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=item.data,
            headers={"Content-Type": item.content_type},
            upload=True,
        )
        blob = self._calls.answer(response, what=self._channel.host).get("blob")
        if not isinstance(blob, dict):
            raise Transient(f"{self._channel.host}: uploadBlob answered without a blob")
        return blob
