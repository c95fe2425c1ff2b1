"""What the dashboard says of the upload limit: beside each file input, and as the page a browser gets when
a form's body is over it (request_limits refuses it before reading a byte, as it refuses the API's).

A browser sends the whole form again after such a refusal only if the person sends it again: what they typed
beside the file is gone, and the page says so rather than pretend otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import render_template, request, url_for

from services.api.context import get_services
from services.api.request_limits import PageTooLarge
from shared.media.services import accepted_types

MIB = 1024 * 1024
# The forms whose other fields are lost with the file: a post's, new or edited.
POST_FORMS = frozenset({"dashboard.compose.compose", "dashboard.post_edit.save"})


@dataclass(frozen=True)
class UploadRules:
    """What the dashboard's file inputs say and take: the types some installed network takes, the limit."""

    accept: str
    max_bytes: int

    @property
    def limit_label(self) -> str:
        return megabytes(self.max_bytes)


def megabytes(size: int) -> str:
    """A size in MB as people read it: 100 MB, 1.5 MB, 0.25 MB."""
    return f"{size / MIB:.2f}".rstrip("0").rstrip(".") + " MB"


def upload_rules() -> UploadRules:
    services = get_services()
    return UploadRules(",".join(accepted_types(services.networks)), services.settings.media_max_bytes)


def too_large_page(error: PageTooLarge) -> Any:
    """The 413 as a page: the limit in MB, what became of the form, and the way back."""
    html = render_template(
        "dashboard/too_large.html",
        file_limit=megabytes(error.file_limit) if error.file_limit is not None else None,
        body_limit=megabytes(error.limit),
        post_form=request.endpoint in POST_FORMS,
        back=_back(),
        library=url_for("dashboard.media_library.library"),
    )
    return html, 413


def _back() -> str:
    """The dashboard page the form was on, when the browser says so; the library otherwise."""
    came_from = urlsplit(request.referrer or "")
    same_site = not came_from.netloc or came_from.netloc == request.host
    if same_site and came_from.path.startswith("/dashboard"):
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return url_for("dashboard.media_library.library")
