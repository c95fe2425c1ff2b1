"""Finding what was published on an Instagram account: a media by its id, the latest media with a caption,
and a comment under a media.

"IG User Media" (GET /<IG_USER_ID>/media: the account's media, newest first, with `caption`, `permalink`,
`timestamp`) and "IG Media" ("Captions don't include the @ symbol unless the app user is also able to
perform admin-equivalent tasks on the app"), "IG Media Comments" (GET /<IG_MEDIA_ID>/comments: `id`,
`text`, `timestamp`, `from`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.networks.instagram.graph_calls import WHAT, Graph
from shared.networks.ports import NetworkError, PublishedPart
from shared.networks.toolkit.answers import as_utc, identifier, reading

# How many of the account's latest media are read to find a post made by an uncertain attempt: more than
# an account publishes through the API in the minutes a check takes to come.
LATEST_MEDIA = 25
# A post's timestamp is Instagram's clock, the container's time Crier's: they may differ this much.
CLOCK_SKEW = timedelta(minutes=1)


def same_caption(sent: str, shown: object) -> bool:
    """Whether a media's caption is the one sent, as Instagram shows it (without `@` to some readers)."""
    if not isinstance(shown, str):
        return False
    return " ".join(shown.replace("@", "").split()) == " ".join(sent.replace("@", "").split())


def timestamp(value: object) -> datetime | None:
    """Instagram's time of a media or comment (ISO 8601, `+0000`), as UTC; None when it gives none."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        return None


class MediaFinder:
    """Reads back an account's media and comments."""

    def part_of(self, graph: Graph, media_id: str) -> PublishedPart:
        """The published media as a part: its id, and its permalink and time when they can be read (a post
        that is out is never made uncertain by a failed read of its address)."""
        try:
            media = graph.read(media_id, fields="id,permalink,timestamp")
        except NetworkError:
            return PublishedPart(media_id, "")
        return self._part(media, fallback_id=media_id)

    def latest_with_caption(self, graph: Graph, caption: str, *, since: datetime) -> list[PublishedPart]:
        """The account's latest media with this caption, made since `since` (give or take the clocks)."""
        answer = graph.read(
            f"{graph.ig_user_id}/media", fields="id,caption,permalink,timestamp", limit=str(LATEST_MEDIA)
        )
        with reading(WHAT, write=False):
            media: list[dict[str, Any]] = [item for item in answer["data"] if isinstance(item, dict)]
        found = []
        for item in media:
            made_at = timestamp(item.get("timestamp"))
            if same_caption(caption, item.get("caption")) and (
                made_at is None or made_at >= since - CLOCK_SKEW
            ):
                found.append(self._part(item))
        return found

    def comment(
        self, graph: Graph, media_id: str, text: str, *, since: datetime | None
    ) -> PublishedPart | None:
        """The account's own comment with this text under the media, made since `since`; None if none."""
        answer = graph.read(f"{media_id}/comments", fields="id,text,timestamp,from", limit="50")
        with reading(WHAT, write=False):
            comments = [item for item in answer["data"] if isinstance(item, dict)]
        for item in comments:
            author = item.get("from")
            own = not isinstance(author, dict) or str(author.get("id")) == graph.ig_user_id
            made_at = timestamp(item.get("timestamp"))
            recent = since is None or made_at is None or made_at >= since - CLOCK_SKEW
            if own and recent and same_caption(text, item.get("text")):
                with reading(WHAT, write=False):
                    return PublishedPart(identifier(item["id"]), "", made_at)
        return None

    @staticmethod
    def _part(media: dict[str, Any], fallback_id: str | None = None) -> PublishedPart:
        with reading(WHAT, write=False):
            media_id = identifier(media.get("id", fallback_id))
        permalink = media.get("permalink")
        return PublishedPart(
            media_id, permalink if isinstance(permalink, str) else "", timestamp(media.get("timestamp"))
        )
