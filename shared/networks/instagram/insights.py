"""A published media's counts: its own fields, and its insights, in Crier's names.

"IG Media" (`like_count`, `comments_count`; not returned when the owner hides them) and "IG Media
Insights" (GET /<IG_MEDIA_ID>/insights?metric=…: each metric's `values[0].value` or `total_value.value`).
Meta retires insights metrics now and then (`impressions`, `plays`, `video_views` went in 2024-2025), and a
request naming one retired metric is refused whole (code 100): then each metric is asked alone, those
refused are remembered as retired while the process runs, and the others still count.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from shared.networks.instagram.graph_calls import WHAT, Graph
from shared.networks.meta.graph_errors import object_missing
from shared.networks.ports import AuthExpired, Engagement, PostGone, Rejected

METRICS = ("views", "likes", "comments", "shares", "saved", "reach")


class Insights:
    """Reads counts, remembering which insights metrics Instagram no longer gives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._retired: set[str] = set()

    def engagement(self, graph: Graph, media_id: str) -> Engagement | PostGone:
        response = graph.send("GET", media_id, params={"fields": "id,like_count,comments_count"})
        if object_missing(response):
            return PostGone(f"{WHAT}: media {media_id} does not exist (any more)")
        fields = graph.calls.answer(response, what=WHAT)
        insights = self._insights(graph, media_id)
        likes = _count(fields.get("like_count"), insights.get("likes"))
        replies = _count(fields.get("comments_count"), insights.get("comments"))
        return Engagement(
            likes=likes,
            replies=replies,
            views=_count(insights.get("views")),
            bookmarks=_count(insights.get("saved")),
            raw={
                **{key: fields[key] for key in ("like_count", "comments_count") if key in fields},
                **insights,
            },
        )

    def _insights(self, graph: Graph, media_id: str) -> dict[str, int]:
        with self._lock:
            metrics = [metric for metric in METRICS if metric not in self._retired]
        if not metrics:
            return {}
        try:
            return _values(graph.read(f"{media_id}/insights", metric=",".join(metrics)))
        except AuthExpired:
            # The token reads the media: only the insights permission is missing. The counts above stand.
            return {}
        except Rejected:
            pass
        values: dict[str, int] = {}
        for metric in metrics:
            try:
                values |= _values(graph.read(f"{media_id}/insights", metric=metric))
            except Rejected:
                with self._lock:
                    self._retired.add(metric)
        return values


def _values(answer: Mapping[str, Any]) -> dict[str, int]:
    values = {}
    for entry in answer.get("data") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        value = None
        if isinstance(entry.get("total_value"), dict):
            value = entry["total_value"].get("value")
        elif (
            isinstance(entry.get("values"), list) and entry["values"] and isinstance(entry["values"][0], dict)
        ):
            value = entry["values"][0].get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            values[entry["name"]] = value
    return values


def _count(*candidates: object) -> int | None:
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
