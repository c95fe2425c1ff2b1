"""What every dashboard page answers alike: a refusal, and a form that did not come from this browser."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for


def refusal(status: int, detail: str, *, back: str | None = None) -> Any:
    return render_template("dashboard/refusal.html", detail=detail, back=back), status


def form_expired() -> Any:
    return refusal(
        400,
        "This form was not sent from this browser's dashboard page, or it has expired: "
        "reload the page and try again.",
        back=url_for("dashboard.sign_in_form"),
    )
