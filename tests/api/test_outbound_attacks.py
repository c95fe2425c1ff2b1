"""A workspace admin pointing channels at this machine and its network, through the API, on a server whose
operator allowed no private address: nothing is connected to, and the answers tell nothing of what listens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.networks.raw_servers import RawServer, answering, like_redis, raw_server, silent


@pytest.fixture
def listener() -> Iterator[RawServer]:
    with raw_server(answering("200 OK", b'{"acct": "root"}')) as server:
        yield server


def connect(client: FlaskClient, network: str, settings: dict[str, Any]) -> Any:
    credentials = (
        {"access_token": "t"} if network == "mastodon" else {"identifier": "a.test", "app_password": "p"}
    )
    return client.post(
        "/v1/channels",
        json={
            "network": network,
            "name": "Probe",
            "handle": "probe",
            "settings": settings,
            "credentials": credentials,
        },
    )


@pytest.mark.parametrize(
    "address",
    [
        "https://127.0.0.1:{port}",
        "https://[::1]:{port}",
        "https://0.0.0.0:{port}",
        "https://[::ffff:127.0.0.1]:{port}",
        "https://localhost:{port}",
        "http://127.0.0.1:{port}",
        "https://10.0.0.1",
        "https://172.16.0.1",
        "https://192.168.1.1",
        "https://169.254.169.254",
        "https://100.64.0.1",
        "https://0177.0.0.1:{port}",
    ],
)
@pytest.mark.parametrize(("network", "setting"), [("mastodon", "base_url"), ("bluesky", "pds_url")])
def test_an_address_written_out_is_refused_when_the_channel_is_connected(
    workspace_client: FlaskClient, listener: RawServer, network: str, setting: str, address: str
):
    response = connect(workspace_client, network, {setting: address.format(port=listener.port)})

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json["errors"]] == ["/settings"]
    assert listener.accepted == 0


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017700000001", "0x7f000001", "127.1"])
def test_a_name_leading_to_this_machine_is_refused_when_it_is_called_in_words_that_say_nothing(
    workspace_client: FlaskClient, host: str
):
    details = {}
    with (
        raw_server(like_redis) as redis,
        raw_server(silent) as quiet,
        raw_server(answering("200 OK", b'{"acct": "root"}')) as web,
    ):
        for server in (redis, quiet, web):
            response = connect(workspace_client, "mastodon", {"base_url": f"https://{host}:{server.port}"})
            assert response.status_code == 503
            details[server.port] = re.sub(str(server.port), "PORT", response.json["detail"])
        touched = redis.accepted + quiet.accepted + web.accepted

    assert len(set(details.values())) == 1, details
    assert "no connection could be made" in next(iter(details.values()))
    assert touched == 0


def test_a_webhook_channel_to_this_machine_is_refused(workspace_client: FlaskClient, listener: RawServer):
    response = workspace_client.post(
        "/v1/channels",
        json={
            "network": "webhook",
            "name": "Probe",
            "handle": "probe",
            "settings": {"url": f"http://127.0.0.1:{listener.port}/hook"},
            "credentials": {"secret": "a-secret-of-at-least-16-characters"},
        },
    )

    assert response.status_code == 422
    assert listener.accepted == 0


def test_an_authorization_with_a_server_on_this_machine_is_refused_before_any_registration(
    workspace_client: FlaskClient, listener: RawServer
):
    response = workspace_client.post(
        "/v1/channels/authorizations",
        json={
            "network": "mastodon",
            "name": "Probe",
            "settings": {"base_url": f"https://[::1]:{listener.port}"},
        },
    )

    assert response.status_code == 422
    assert listener.accepted == 0
