"""A channel's link rules apply to what is published and to what the preview counts, and clicks count."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.networks.sandbox.adapter import SandboxNetwork
from tests.driving import publish_what_is_due

RULES = {"shorten": True, "utm": {"utm_source": "{network}", "utm_campaign": "{label}"}}


def sent_text(services: Services, delivery_id: str) -> str:
    network = services.networks.get("sandbox")
    assert isinstance(network, SandboxNetwork)
    row = network.store.find_by_key(delivery_id)
    assert row is not None
    return str(row["text"])


def test_a_published_post_carries_a_short_link_to_the_tagged_url_and_its_clicks_count(
    workspace_client: FlaskClient, services: Services, channel: Channel
) -> None:
    assert workspace_client.put(f"/v1/channels/{channel.id}/link-settings", json=RULES).status_code == 200
    post = workspace_client.post(
        "/v1/posts",
        json={
            "text": "Tickets: https://example.org/meetup?seat=a",
            "channel_ids": [str(channel.id)],
            "labels": ["spring"],
        },
    ).json
    [delivery] = post["deliveries"]

    publish_what_is_due(services)

    text = sent_text(services, delivery["id"])
    [link] = workspace_client.get(f"/v1/deliveries/{delivery['id']}/links").json["items"]
    assert text == f"Tickets: {link['short_url']}"
    assert link["target_url"] == "https://example.org/meetup?seat=a&utm_source=sandbox&utm_campaign=spring"
    clicked = workspace_client.get(f"/l/{link['code']}", headers={"User-Agent": "Mozilla/5.0"})
    assert clicked.status_code == 302
    assert clicked.headers["Location"] == link["target_url"]
    again: Any = workspace_client.get(f"/v1/deliveries/{delivery['id']}/links").json["items"][0]
    assert again["clicks"] == 1


def test_the_preview_counts_the_short_link_not_the_long_one(
    workspace_client: FlaskClient, channel: Channel
) -> None:
    workspace_client.put(f"/v1/channels/{channel.id}/link-settings", json=RULES)
    long_url = "https://example.org/" + "a" * 300

    response = workspace_client.post(
        "/v1/preview", json={"text": f"Read {long_url}", "channel_ids": [str(channel.id)]}
    )

    assert response.status_code == 200, response.json
    [preview] = response.json["channels"]
    [text] = preview["texts"]
    assert long_url not in text["text"]
    assert "/l/" in text["text"]
    assert text["length"] == len(text["text"])
    assert text["problems"] == []
