"""GET and PATCH /v1/members/me: a member chooses their own time zone, checked against the tz database,
recorded in the audit log, and nobody else's changes with it."""

from __future__ import annotations

from flask.testing import FlaskClient

from shared.workspaces.access import Role, Scope
from tests.api.conftest import ClientAs


def test_a_member_has_no_zone_until_they_choose_one_then_gets_it_back(workspace_client: FlaskClient) -> None:
    assert workspace_client.get("/v1/members/me").json["timezone"] is None

    response = workspace_client.patch("/v1/members/me", json={"timezone": "Europe/Paris"})

    assert response.status_code == 200, response.json
    assert response.json["timezone"] == "Europe/Paris"
    assert "permissions" in response.json
    me = workspace_client.get("/v1/members/me").json
    assert me["timezone"] == "Europe/Paris"
    listed = {member["id"]: member for member in workspace_client.get("/v1/members").json["items"]}
    assert listed[me["id"]]["timezone"] == "Europe/Paris"


def test_null_goes_back_to_no_zone_chosen(workspace_client: FlaskClient) -> None:
    workspace_client.patch("/v1/members/me", json={"timezone": "Asia/Tokyo"})

    response = workspace_client.patch("/v1/members/me", json={"timezone": None})

    assert response.status_code == 200, response.json
    assert workspace_client.get("/v1/members/me").json["timezone"] is None


def test_an_unknown_zone_is_refused_naming_the_field_and_the_rule_and_changes_nothing(
    workspace_client: FlaskClient,
) -> None:
    workspace_client.patch("/v1/members/me", json={"timezone": "Europe/Paris"})

    response = workspace_client.patch("/v1/members/me", json={"timezone": "Europe/Pariss"})

    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    [error] = response.json["errors"]
    assert error["pointer"] == "/timezone"
    assert "not an IANA time zone name" in error["detail"]
    assert "did you mean 'Europe/Paris'?" in error["detail"]
    assert workspace_client.get("/v1/members/me").json["timezone"] == "Europe/Paris"


def test_a_path_is_no_zone_even_though_zoneinfo_could_open_it(workspace_client: FlaskClient) -> None:
    response = workspace_client.patch("/v1/members/me", json={"timezone": "../../etc/passwd"})

    assert response.status_code == 422
    assert response.json["errors"][0]["pointer"] == "/timezone"


def test_a_body_without_the_field_is_refused_naming_it(workspace_client: FlaskClient) -> None:
    response = workspace_client.patch("/v1/members/me", json={})

    assert response.status_code == 422
    assert response.json["errors"] == [{"pointer": "/timezone", "detail": "Missing data for required field."}]


def test_the_change_is_in_the_audit_log_with_before_and_after_once(workspace_client: FlaskClient) -> None:
    me = workspace_client.get("/v1/members/me").json["id"]

    workspace_client.patch("/v1/members/me", json={"timezone": "America/New_York"})
    workspace_client.patch("/v1/members/me", json={"timezone": "America/New_York"})  # no change: no entry

    log = workspace_client.get("/v1/audit", query_string={"subject_id": me}).json["items"]
    changes = [entry for entry in log if entry["action"] == "member.timezone_changed"]
    assert [(entry["detail"]["before"], entry["detail"]["after"]) for entry in changes] == [
        (None, "America/New_York")
    ]


def test_a_member_changes_only_their_own_zone_whatever_their_role_or_scope(client_as: ClientAs) -> None:
    viewer = client_as(Role.VIEWER, Scope.READ)
    owner = client_as(Role.OWNER)

    assert viewer.patch("/v1/members/me", json={"timezone": "Pacific/Auckland"}).status_code == 200

    assert owner.get("/v1/members/me").json["timezone"] is None
    viewer_id = viewer.get("/v1/members/me").json["id"]
    # The member route changes roles only: a zone sent there is no field it takes.
    response = owner.patch(f"/v1/members/{viewer_id}", json={"role": "viewer", "timezone": "UTC"})
    assert response.status_code == 422
    assert viewer.get("/v1/members/me").json["timezone"] == "Pacific/Auckland"


def test_the_openapi_document_describes_the_field_and_the_patch(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    patch = spec["paths"]["/v1/members/me"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    field = spec["components"]["schemas"][body]["properties"]["timezone"]
    assert "IANA" in field["description"]
    assert body in {"MeChange"}
    assert "timezone" in spec["components"]["schemas"]["Member"]["properties"]
