"""Headers every answer carries: what a browser may guess, cache and frame.

An API answer holds a workspace's data: no browser, proxy or CDN keeps it (`Cache-Control: no-store`), and
no browser reads it as anything but the type it says (`X-Content-Type-Options: nosniff`, on every answer).
The docs page runs Swagger UI from Crier's own files, so its Content-Security-Policy allows only those,
the one inline script that starts it (by its hash), and nothing from elsewhere; no other site may frame it,
so a click on it cannot be taken over.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

API_PREFIX = "/v1/"
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def install_headers(app: Flask) -> None:
    """Add the headers to every answer the app gives, errors included."""

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.path.startswith(API_PREFIX):
            response.headers["Cache-Control"] = "no-store"
        if request.endpoint == DOCS_ENDPOINT:
            response.headers["Content-Security-Policy"] = docs_policy(response.get_data())
            response.headers["X-Frame-Options"] = "DENY"
        return response


def docs_policy(page: bytes) -> str:
    """The docs page's policy: its scripts and styles from this server, its inline scripts by their hash.

    Swagger UI draws its icons as data: images and sets style attributes; it fetches the OpenAPI document
    and, when someone tries an operation, the API itself, both on this origin. Its default validator badge
    would load an image from validator.swagger.io: the app turns the validator off, and this would refuse it.
    """
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )
