"""Reading a Page's posts' counts and the Page's audience from the Graph API.

Counts come fifty posts a request (`GET /?ids=…`, Graph's most ids a request) with field expansion:
`reactions.summary(total_count).limit(0)` (likes: every reaction, as Facebook shows them),
`comments.summary(total_count).limit(0)` (replies), `shares` (reposts; Graph leaves the field out of a
post nobody shared: that is 0, not unknown), and the post's views from the insights metric that replaced
impressions (`post_media_view`, Meta's "views", from November 2025). Meta retires insights metrics on
every version: a metric Graph calls invalid (error 100) is left out from then on while this process
runs, so views is None and the other counts are read all the same. A post that is gone (100/33) is read
alone, and is PostGone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from shared.networks.facebook.channel import ChannelSettings
from shared.networks.facebook.finding import WHAT
from shared.networks.facebook.graph import GraphCalls, ObjectMissing, RetiredMetric
from shared.networks.ports import Audience, Engagement, PostGone
from shared.networks.toolkit.answers import reading

BATCH_SIZE = 50
COUNT_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
VIEWS_METRIC = "post_media_view"


class Counts:
    """Posts' counts and the Page's audience; remembers the metrics Graph no longer has."""

    def __init__(self, calls: GraphCalls, *, views_metric: str = VIEWS_METRIC) -> None:
        self._calls = calls
        self._views_metric = views_metric
        self._lock = threading.Lock()
        self._views_retired = False

    def engagement(self, token: str, external_ids: Sequence[str]) -> dict[str, Engagement | PostGone]:
        result: dict[str, Engagement | PostGone] = {}
        unique = list(dict.fromkeys(external_ids))
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start : start + BATCH_SIZE]
            try:
                posts = self._read(token, chunk)
            except ObjectMissing:
                posts = self._read_each(token, chunk)
            for post_id in chunk:
                post = posts.get(post_id)
                if post is None:
                    result[post_id] = PostGone(f"{WHAT}: post {post_id} is gone, or no longer visible")
                    continue
                with reading(WHAT, write=False):
                    result[post_id] = self._counts(post_id, post)
        return result

    def audience(self, channel: ChannelSettings, token: str) -> Audience:
        """The Page's followers (`followers_count`; else `fan_count`, its likes)."""
        page = self._calls.graph(
            "GET",
            (channel.page_id,),
            what=WHAT,
            token=token,
            params={"fields": "id,followers_count,fan_count"},
        )
        counts = {
            key: page[key]
            for key in ("followers_count", "fan_count")
            if isinstance(page.get(key), int) and not isinstance(page.get(key), bool)
        }
        followers = counts.get("followers_count", counts.get("fan_count"))
        return Audience(followers=followers, raw={"id": str(page.get("id")), **counts})

    def _fields(self) -> str:
        with self._lock:
            retired = self._views_retired
        return COUNT_FIELDS if retired else f"{COUNT_FIELDS},insights.metric({self._views_metric})"

    def _retire_views(self) -> None:
        with self._lock:
            self._views_retired = True

    def _read(self, token: str, ids: list[str]) -> dict[str, Any]:
        params = {"ids": ",".join(ids)}
        try:
            return self._calls.graph(
                "GET", (), what=WHAT, token=token, params={**params, "fields": self._fields()}
            )
        except RetiredMetric:
            self._retire_views()
            return self._calls.graph(
                "GET", (), what=WHAT, token=token, params={**params, "fields": self._fields()}
            )

    def _read_each(self, token: str, ids: list[str]) -> dict[str, Any]:
        posts: dict[str, Any] = {}
        for post_id in ids:
            try:
                posts[post_id] = self._read_one(token, post_id)
            except ObjectMissing:
                continue
        return posts

    def _read_one(self, token: str, post_id: str) -> dict[str, Any]:
        try:
            return self._calls.graph(
                "GET", (post_id,), what=WHAT, token=token, params={"fields": self._fields()}
            )
        except RetiredMetric:
            self._retire_views()
            return self._calls.graph(
                "GET", (post_id,), what=WHAT, token=token, params={"fields": self._fields()}
            )

    def _counts(self, post_id: str, post: Mapping[str, Any]) -> Engagement:
        likes = _summary_total(post.get("reactions"))
        replies = _summary_total(post.get("comments"))
        shares = post.get("shares")
        reposts = (
            shares["count"] if isinstance(shares, dict) and isinstance(shares.get("count"), int) else None
        )
        if shares is None and likes is not None:
            reposts = 0  # Graph leaves `shares` out of a post nobody shared
        views = self._views(post.get("insights"))
        return Engagement(
            likes=likes,
            replies=replies,
            reposts=reposts,
            views=views,
            raw={"id": post_id, "reactions": likes, "comments": replies, "shares": reposts, "views": views},
        )

    def _views(self, insights: object) -> int | None:
        data = insights.get("data") if isinstance(insights, dict) else None
        for metric in data if isinstance(data, list) else []:
            if isinstance(metric, dict) and metric.get("name") == self._views_metric:
                values = metric.get("values")
                if isinstance(values, list) and values and isinstance(values[-1], dict):
                    value = values[-1].get("value")
                    if isinstance(value, int) and not isinstance(value, bool):
                        return value
        return None


def _summary_total(edge: object) -> int | None:
    summary = edge.get("summary") if isinstance(edge, dict) else None
    total = summary.get("total_count") if isinstance(summary, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None
