"""A Threads post's counts and an account's followers, from the Insights API (insights, "Media insights" and
"User insights").

`GET /{threads-media-id}/insights?metric=views,likes,replies,reposts,quotes,shares` gives each as
`{"name", "period", "values": [{"value"}]}` (or `total_value`). Crier's names are Meta's, but for `shares`,
which Crier has none for: it is kept in `raw`. Meta refuses the whole request when one metric in it is
unknown (a 400, code 100): a metric it retired would then blank the others. So a refused request is asked
again one metric at a time; a metric Meta refuses alone is left None, and left out of the requests this
process makes from then on. A post that is gone (code 100, subcode 33) is PostGone.

The account's followers: `GET /{threads-user-id}/threads_insights?metric=followers_count`, a total value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from shared.networks.meta.graph_errors import INVALID_PARAMETER, graph_error, object_missing
from shared.networks.ports import Audience, Engagement, PostGone
from shared.networks.threads.channel import Channel
from shared.networks.threads.graph import Graph
from shared.networks.toolkit.answers import answer_object, reading

METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
# Crier's name for each of Meta's metrics; one with none is kept only in raw.
CRIER_NAMES = {name: name for name in ("views", "likes", "replies", "reposts", "quotes")}


class Insights:
    """Reading counts, remembering the metrics Meta refused while this process runs."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._lock = threading.Lock()
        self._refused: set[str] = set()

    def engagement(self, channel: Channel, media_id: str) -> Engagement | PostGone:
        metrics = self._asked()
        response = self._ask(channel, media_id, metrics)
        if object_missing(response):
            return PostGone(f"Threads: the post {media_id} is gone, or no longer visible")
        if _metric_refused(response):
            counts: dict[str, int] = {}
            for metric in metrics:
                alone = self._ask(channel, media_id, [metric])
                if _metric_refused(alone):
                    with self._lock:
                        self._refused.add(metric)
                    continue
                counts |= self._counts(alone, channel)
        else:
            counts = self._counts(response, channel)
        named = {CRIER_NAMES[name]: value for name, value in counts.items() if name in CRIER_NAMES}
        return Engagement(**named, raw={"id": media_id, **counts})

    def audience(self, channel: Channel) -> Audience:
        answer = self._graph.read(
            f"{channel.user_id}/threads_insights", channel.access_token, {"metric": "followers_count"}
        )
        counts = _values(answer, self._graph.what)
        return Audience(followers=counts.get("followers_count"), raw=counts)

    def _asked(self) -> list[str]:
        with self._lock:
            return [metric for metric in METRICS if metric not in self._refused]

    def _ask(self, channel: Channel, media_id: str, metrics: list[str]) -> httpx.Response:
        return self._graph.send(
            "GET", f"{media_id}/insights", channel.access_token, params={"metric": ",".join(metrics)}
        )

    def _counts(self, response: httpx.Response, channel: Channel) -> dict[str, int]:
        self._graph.calls.check(response, what=self._graph.what, secrets=[channel.access_token])
        return _values(answer_object(response, what=self._graph.what, write=False), self._graph.what)


def _metric_refused(response: httpx.Response) -> bool:
    """A 400 about the request's parameters (code 100), not about a missing post: a metric Meta refused."""
    return (
        response.status_code == 400
        and (error := graph_error(response)) is not None
        and error.code == INVALID_PARAMETER
        and not error.object_missing
    )


def _values(answer: Mapping[str, Any], what: str) -> dict[str, int]:
    """Each metric's whole-number value, by Meta's name; a metric without one is left out."""
    counts: dict[str, int] = {}
    with reading(what, write=False):
        for metric in answer["data"]:
            value = (metric.get("total_value") or {}).get("value")
            if value is None and metric.get("values"):
                value = metric["values"][-1].get("value")
            if isinstance(value, int) and not isinstance(value, bool):
                counts[str(metric["name"])] = value
    return counts
