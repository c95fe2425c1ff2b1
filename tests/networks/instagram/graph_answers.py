"""The Graph API's answers as the fake Instagram gives them: JSON, and its `error` object."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Response


def json_answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def error(
    status: int,
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    user_msg: str | None = None,
    status_transient: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    """The Graph API's error object."""
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": status_transient,
        "fbtrace_id": secrets.token_urlsafe(8),
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    if user_msg:
        body["error_user_msg"] = user_msg
    return Response(json.dumps({"error": body}), status, content_type="application/json", headers=headers)
