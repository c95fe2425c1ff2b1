"""GET /: the page a person sees who opens the API's address in a browser, with the ways on from it.

Not in the OpenAPI document, like the dashboard: it is for people, and a program has /openapi.json.
"""

from __future__ import annotations

from flask import Blueprint, Response, url_for

home = Blueprint("home", __name__)

HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Crier</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}}</style>
</head>
<body>
<h1>Crier</h1>
<p>Write a post once; Crier publishes it to every channel exactly once.</p>
<ul>
<li><a href="{dashboard}">The dashboard</a>: sign in with an API token (<code>crier token create</code>).</li>
<li><a href="{docs}">The API's documentation</a>, and <a href="{openapi}">its OpenAPI document</a>.</li>
<li><a href="{readiness}">Readiness</a>: whether the database and the broker answer.</li>
</ul>
</body>
</html>
"""


@home.get("/")
def front_page() -> Response:
    body = PAGE.format(
        dashboard=url_for("dashboard.dashboard"),
        docs=url_for("api-docs.openapi_swagger_ui"),
        openapi=url_for("api-docs.openapi_json"),
        readiness=url_for("health.Readiness"),
    )
    return Response(body, mimetype="text/html", headers=HEADERS)
