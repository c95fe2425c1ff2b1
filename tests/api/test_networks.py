"""GET /v1/networks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points

import pytest
from flask.testing import FlaskClient

from services.api.app import create_app
from shared.bootstrap import Services, bootstrap
from shared.config import Settings
from shared.limits.ports import Rate
from shared.networks.registry import ENTRY_POINT_GROUP, NetworkRegistry
from shared.networks.sandbox.adapter import SandboxNetwork
from shared.taskqueue import MemoryTaskQueue
from shared.workspaces.models import Workspace


class QuotaNetwork(SandboxNetwork):
    """The sandbox under another name, with what a real network may lack or set: no lookup, quotas."""

    info = replace(
        SandboxNetwork.info,
        name="quota",
        display_name="Quota",
        can_find_published=False,
        account_rate=Rate(burst=300, per_second=0.5),
        network_rate=Rate(burst=10, per_second=2.5),
    )


QUOTA_ENTRY = EntryPoint(
    name="quota", value="tests.api.test_networks:QuotaNetwork.from_settings", group=ENTRY_POINT_GROUP
)


@pytest.fixture
def quota_client(
    services: Services,
    settings: Settings,
    task_queue: MemoryTaskQueue,
    workspace_and_token: tuple[Workspace, str],
) -> Iterator[FlaskClient]:
    """A client of an API whose only network is QuotaNetwork, loaded through a real entry point."""
    quota_services = bootstrap(
        settings, tasks=task_queue, networks=NetworkRegistry(settings, [QUOTA_ENTRY]), engine=services.engine
    )
    client = create_app(services=quota_services).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {workspace_and_token[1]}"
    yield client
    quota_services.close()


def test_the_installed_networks_are_listed_with_what_each_allows(workspace_client: FlaskClient) -> None:
    response = workspace_client.get("/v1/networks")

    assert response.status_code == 200
    listed = {item["name"]: item for item in response.json["items"]}
    assert sorted(listed) == sorted(entry.name for entry in entry_points(group=ENTRY_POINT_GROUP))
    assert listed["sandbox"] == {
        "name": "sandbox",
        "display_name": "Sandbox",
        "text_limit": 500,
        "text_unit": "graphemes",
        "supports_threads": True,
        "supports_first_comment": False,
        "media": {
            "content_types": ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4"],
            "max_bytes": 16 * 1024 * 1024,
            "max_items": 4,
            "alt_text_limit": 1500,
            "min_items": 0,
        },
        "credential_keys": [],
        "optional_credential_keys": [],
        "metrics": ["likes", "reposts", "replies", "quotes", "bookmarks", "views"],
        "can_find_published": True,
        "can_delete": True,
        "can_edit": True,
        "account_rate": None,
        "network_rate": None,
        "inbox": {
            "kinds": ["reply", "mention"],
            "can_search": True,
            "can_reply": True,
            "can_like": True,
            "can_hide": False,
        },
    }


def test_a_network_shows_the_posting_limits_crier_keeps_to_and_whether_it_can_find_a_post(
    quota_client: FlaskClient,
) -> None:
    response = quota_client.get("/v1/networks")

    assert response.status_code == 200
    [network] = response.json["items"]
    assert network["name"] == "quota"
    assert network["can_find_published"] is False
    assert network["account_rate"] == {"burst": 300, "per_second": 0.5}
    assert network["network_rate"] == {"burst": 10, "per_second": 2.5}


def test_every_network_crier_ships_is_listed_and_vero_which_has_no_api_is_not(
    workspace_client: FlaskClient,
) -> None:
    listed = {network["name"]: network for network in workspace_client.get("/v1/networks").json["items"]}

    assert set(listed) == {
        "sandbox", "mastodon", "bluesky", "discord", "slack", "webhook",
        "x", "linkedin", "facebook", "instagram", "threads", "telegram", "nntp",
    }  # fmt: skip
    assert "vero" not in listed
    # What the networks businesses use allow, as their own documents say.
    assert listed["x"]["text_limit"] == 280
    assert listed["x"]["supports_threads"] is True
    assert listed["instagram"]["media"]["min_items"] == 1
    assert listed["telegram"]["can_find_published"] is False
    assert listed["nntp"]["can_find_published"] is True
    assert listed["nntp"]["media"] is None
    assert {name for name, network in listed.items() if network["supports_first_comment"]} == {
        "linkedin",
        "facebook",
        "instagram",
    }
