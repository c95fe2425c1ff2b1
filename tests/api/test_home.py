"""GET /: a person who opens the API's address finds the dashboard and the docs from there."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def links_on(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


def test_the_front_page_leads_to_the_dashboard_the_docs_and_the_openapi_document(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    links = links_on(response.get_data(as_text=True))
    assert {"/dashboard", "/docs", "/openapi.json"} <= set(links)
    for link in links:
        followed = client.get(link)
        # The dashboard sends a browser that is not signed in to its sign-in form.
        assert followed.status_code in (200, 302), link
        if followed.status_code == 302:
            assert client.get(followed.headers["Location"]).status_code == 200, link


def test_the_front_page_is_for_people_and_not_part_of_the_documented_api(client: FlaskClient) -> None:
    assert "/" not in client.get("/openapi.json").json["paths"]
