"""The dashboard's channels: the workspace's accounts on the networks, connecting one (with credentials,
or by authorizing Crier on the network), verifying, pausing, reconnecting, and each channel's queue slots.

Every form calls the functions the JSON API's channel and authorization routes call (shared.channels,
shared.oauth), so the network checks a channel's settings and credentials exactly as for POST
/v1/channels. A form works without script: it posts with the session's CSRF token and the answer
redirects back, or shows the page again (422) with what was typed and each problem beside its field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, flash, g, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from services.api.context import get_services
from services.api.dashboard import signin
from services.api.dashboard.acting import acting, answer_refusals, chrome
from services.api.dashboard.pages import form_expired, refusal
from services.api.dashboard.sections import BEST_TIME_DAYS
from services.api.oauth.views import DASHBOARD_STATE_LABEL
from shared.channels.connecting import reconnect, verify_and_connect, verify_channel
from shared.channels.models import Channel
from shared.channels.services import change_channel, get_channel, list_channels
from shared.channels.slots import WEEKDAY_KEYS, WEEKDAY_NAMES
from shared.db import utcnow
from shared.errors import CrierError, InvalidInput, Problem, Unavailable
from shared.metrics.best_times import BestTimes, best_times
from shared.networks.ports import AuthorizesWithOAuth, Network
from shared.oauth.services import begin_authorization, begin_reauthorization
from shared.workflow.channels import disconnect_channel
from shared.workspaces.access import Actor, Permission

# Key/value rows the connect form offers for a network's settings, and empty rows below a channel's slots.
SETTING_ROWS = 3
EMPTY_SLOT_ROWS = 3
# The channel pages send the browser on to a network's own page to authorize Crier (a POST answered with
# a redirect there), which a form-action of 'self' alone would stop; nothing else differs from the
# dashboard's policy.
CHANNELS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'"
)

channels_blp = Blueprint("channels", __name__, url_prefix="/channels")


def _back() -> str:
    """Where a refusal sends the browser back to: the channel's page, or the list."""
    channel_id = (request.view_args or {}).get("channel_id")
    return url_for(".channel", channel_id=channel_id) if channel_id else url_for(".channels")


answer_refusals(channels_blp, back=_back)


@channels_blp.after_request
def allow_leaving_for_networks(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CHANNELS_CONTENT_SECURITY_POLICY
    return response


def channels_to_reconnect() -> list[signin.ChannelToReconnect]:
    """The signed-in workspace's channels whose network refused their credentials (for the banner)."""
    return list(g.get(signin.CHANNELS_TO_RECONNECT, []))


def _chrome(session: Session, actor: Actor) -> dict[str, Any]:
    """What the top bar of every channel page shows, and whether the member may manage channels."""
    return {**chrome(session, actor), "can_manage": actor.can(Permission.MANAGE_CHANNELS)}


def _networks() -> list[Network]:
    return sorted(get_services().networks.all(), key=lambda network: network.info.display_name)


def _network(name: str) -> Network | None:
    try:
        return get_services().networks.get(name)
    except Exception:
        # Not installed (any more): its channels are listed, and cannot be connected anew.
        return None


def _authorizes(network: Network | None) -> bool:
    return isinstance(network, AuthorizesWithOAuth)


# -- The list and connecting ------------------------------------------------------------------------------


@channels_blp.get("")
def channels() -> Any:
    """The workspace's channels, and the form to connect one on the network the `network` parameter names."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        return _channels_page(session, actor, request.args.get("network", ""))


def _channels_page(
    session: Session,
    actor: Actor,
    network_name: str,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    chosen = _network(network_name) if network_name else None
    networks = _networks()
    html = render_template(
        "dashboard/channels.html",
        **_chrome(session, actor),
        channels=list_channels(session, actor.workspace_id),
        networks=networks,
        chosen=chosen,
        chosen_authorizes=_authorizes(chosen),
        unknown_network=network_name if network_name and chosen is None else None,
        setting_rows=range(SETTING_ROWS),
        display_names={network.info.name: network.info.display_name for network in networks},
        errors=errors or {},
        entered=entered or {},
    )
    return make_response(html, status)


@channels_blp.post("")
def connect() -> Any:
    """Connect a channel with credentials, checked with the network before anything is stored."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {key: value for key, value in request.form.items() if key != signin.CSRF_FIELD}
    network_name = entered.get("network", "")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
    try:
        network = _known_network(network_name)
        credentials = _credentials_typed(network, entered)
        channel = verify_and_connect(
            services,
            actor,
            network=network_name,
            name=_required(entered, "name", "A channel needs a name."),
            handle=_required(entered, "handle", "Give the account's handle on the network."),
            settings=_settings(entered),
            credentials=credentials,
            timezone=entered.get("timezone", "").strip() or "UTC",
        )
    except (InvalidInput, Unavailable) as error:
        with services.sessions.begin() as session:
            # Secrets are never sent back to the browser, even to the person who typed them.
            kept = {key: value for key, value in entered.items() if not key.startswith("credential-")}
            return _channels_page(
                session,
                actor,
                network_name,
                errors=_field_errors(_as_invalid(error), "network"),
                entered=kept,
                status=422,
            )
    flash(f"The channel {channel.name!r} is connected: Crier posts to it from now on.")
    return redirect(url_for(".channel", channel_id=channel.id))


@channels_blp.post("/authorizations")
def authorize() -> Any:
    """Begin connecting a channel by authorizing Crier on the network: the browser goes to its page."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    entered = {key: value for key, value in request.form.items() if key != signin.CSRF_FIELD}
    network_name = entered.get("network", "")
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
    try:
        begun = begin_authorization(
            services,
            actor,
            network=network_name,
            name=_required(entered, "name", "A channel needs a name."),
            settings=_settings(entered),
            now=utcnow(),
            state_label=DASHBOARD_STATE_LABEL,
        )
    except (InvalidInput, Unavailable) as error:
        with services.sessions.begin() as session:
            return _channels_page(
                session,
                actor,
                network_name,
                errors=_field_errors(_as_invalid(error), "network"),
                entered=entered,
                status=422,
            )
    return redirect(begun.url, code=303)


def _known_network(name: str) -> Network:
    network = _network(name) if name else None
    if network is None:
        raise InvalidInput([Problem("/network", f"{name!r} is not a network installed here.")])
    return network


def _credentials_typed(network: Network, entered: Mapping[str, str]) -> dict[str, str]:
    """The credential fields of the network's form; an optional one left empty is not given at all (a
    required one left empty is given, for the network's check to refuse beside its field)."""
    info = network.info
    return {
        key: value
        for key in info.credential_keys + info.optional_credential_keys
        if (value := entered.get(f"credential-{key}", "")) or key in info.credential_keys
    }


def _required(entered: Mapping[str, str], field: str, detail: str) -> str:
    value = entered.get(field, "").strip()
    if not value:
        raise InvalidInput([Problem(f"/{field}", detail)])
    return value


def _settings(entered: Mapping[str, str]) -> dict[str, Any]:
    """The key/value rows as the network's settings: a number, true or false is taken as one, not text."""
    settings: dict[str, Any] = {}
    for row in range(SETTING_ROWS):
        key = entered.get(f"setting-key-{row}", "").strip()
        if not key:
            continue
        text = entered.get(f"setting-value-{row}", "").strip()
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        # Only what JSON calls a number or a boolean is read as such; anything else stays as typed.
        settings[key] = value if isinstance(value, bool | int | float) else text
    return settings


def _as_invalid(error: CrierError) -> InvalidInput:
    return error if isinstance(error, InvalidInput) else InvalidInput([Problem("", error.detail)])


def _field_errors(error: InvalidInput, default: str) -> dict[str, str]:
    """Each problem beside the field its JSON pointer names (a credential's beside its own field)."""
    errors: dict[str, list[str]] = {}
    for problem in error.problems:
        steps = problem.pointer.split("/")[1:] if problem.pointer else []
        if steps[:1] == ["credentials"] and len(steps) > 1:
            field = f"credential-{steps[1]}"
        elif steps[:1] == ["posting_schedule"]:
            field = "/".join(steps)
        else:
            field = steps[0] if steps and steps[0] else default
        errors.setdefault(field, []).append(problem.detail)
    if not errors:
        errors[default] = [error.detail]
    return {field: " ".join(details) for field, details in errors.items()}


# -- One channel ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRow:
    """One row of the slots form: a weekday and a time of day, as shown or as typed."""

    weekday: str
    at: str


@channels_blp.get("/<uuid:channel_id>")
def channel(channel_id: uuid.UUID) -> Any:
    """A channel: its state, the forms that verify, pause or reconnect it, its slots and best times."""
    with get_services().sessions.begin() as session:
        actor = acting(session)
        return _channel_page(session, actor, get_channel(session, actor.workspace_id, channel_id))


def _channel_page(
    session: Session,
    actor: Actor,
    found: Channel,
    *,
    errors: Mapping[str, str] | None = None,
    slot_rows: Sequence[SlotRow] | None = None,
    timezone: str | None = None,
    status: int = 200,
) -> Any:
    network = _network(found.network)
    suggested = best_times(session, actor.workspace_id, found.id, now=utcnow(), days=BEST_TIME_DAYS)
    rows = list(slot_rows) if slot_rows is not None else _slot_rows(found.posting_schedule)
    html = render_template(
        "dashboard/channel.html",
        **_chrome(session, actor),
        channel=found,
        network=network,
        network_name=network.info.display_name if network else found.network,
        authorizes=_authorizes(network),
        slot_rows=rows + [SlotRow("", "")] * EMPTY_SLOT_ROWS,
        timezone=found.timezone if timezone is None else timezone,
        suggested=suggested,
        suggested_schedule=_suggested_rows(suggested),
        weekdays=list(zip(WEEKDAY_KEYS, WEEKDAY_NAMES, strict=True)),
        errors=errors or {},
    )
    return make_response(html, status)


def _slot_rows(schedule: Mapping[str, Sequence[str]]) -> list[SlotRow]:
    return [SlotRow(day, at) for day in WEEKDAY_KEYS for at in schedule.get(day, [])]


def _suggested_rows(suggested: BestTimes) -> list[SlotRow]:
    return _slot_rows(suggested.posting_schedule)


@channels_blp.post("/<uuid:channel_id>/verify")
def verify(channel_id: uuid.UUID) -> Any:
    """Ask the network whether the credentials still work, and who they post as."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
    _, profile, problem = verify_channel(services, actor, channel_id)
    if profile is not None:
        flash(f"The network accepts the credentials: Crier posts as {profile.handle}.")
    else:
        flash(f"Not verified. {problem}")
    return redirect(url_for(".channel", channel_id=channel_id))


@channels_blp.post("/<uuid:channel_id>/pause")
def pause(channel_id: uuid.UUID) -> Any:
    return _change(channel_id, {"paused": True}, "Paused: nothing is published on it until it is resumed.")


@channels_blp.post("/<uuid:channel_id>/resume")
def resume(channel_id: uuid.UUID) -> Any:
    return _change(channel_id, {"paused": False}, "Resumed: what waits for it goes out again.")


def _change(channel_id: uuid.UUID, changes: Mapping[str, Any], done: str) -> Any:
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
        change_channel(session, actor, get_channel(session, actor.workspace_id, channel_id), **changes)
    flash(done)
    return redirect(url_for(".channel", channel_id=channel_id))


@channels_blp.post("/<uuid:channel_id>/disconnect")
def disconnect(channel_id: uuid.UUID) -> Any:
    """Forget the credentials and cancel what waited to go out on it; what went out stays on record."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
        disconnect_channel(session, actor, get_channel(session, actor.workspace_id, channel_id), utcnow())
    flash("Disconnected: its credentials are forgotten, and what waited to go out on it is cancelled.")
    return redirect(url_for(".channel", channel_id=channel_id))


@channels_blp.post("/<uuid:channel_id>/slots")
def change_slots(channel_id: uuid.UUID) -> Any:
    """Set the channel's timezone and its posting slots: a row with no time is no slot."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    rows = [
        SlotRow(request.form.get(f"slot-day-{index}", ""), request.form.get(f"slot-time-{index}", "").strip())
        for index in range(_row_count())
    ]
    timezone = request.form.get("timezone", "").strip()
    services = get_services()
    try:
        with services.sessions.begin() as session:
            actor = acting(session, Permission.MANAGE_CHANNELS)
            found = get_channel(session, actor.workspace_id, channel_id)
            schedule, row_of = _schedule_of(rows)
            try:
                change_channel(session, actor, found, timezone=timezone, posting_schedule=schedule)
            except InvalidInput as error:
                raise InvalidInput(_beside_rows(error.problems, row_of)) from error
    except InvalidInput as error:
        with services.sessions.begin() as session:
            found = get_channel(session, actor.workspace_id, channel_id)
            shown = [row for row in rows if row.weekday or row.at]
            return _channel_page(
                session,
                actor,
                found,
                errors=_field_errors(error, "slots"),
                slot_rows=shown,
                timezone=timezone,
                status=422,
            )
    flash("Slots saved: the queue posts at these times from now on.")
    return redirect(url_for(".channel", channel_id=channel_id) + "#slots")


def _row_count() -> int:
    try:
        return min(int(request.form.get("slot-rows", "0")), 7 * 24 + EMPTY_SLOT_ROWS)
    except ValueError:
        return 0


def _schedule_of(rows: Sequence[SlotRow]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The rows as a posting schedule, and which form row each of its times came from (for its errors)."""
    schedule: dict[str, list[str]] = {}
    row_of: dict[str, int] = {}
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        if not row.at:
            continue
        if row.weekday not in WEEKDAY_KEYS:
            problems.append(Problem(f"/posting_schedule/row/{index}", "Choose a weekday for this time."))
            continue
        row_of[f"{row.weekday}/{len(schedule.setdefault(row.weekday, []))}"] = index
        schedule[row.weekday].append(row.at)
    if problems:
        raise InvalidInput(problems)
    return schedule, row_of


def _beside_rows(problems: Sequence[Problem], row_of: Mapping[str, int]) -> list[Problem]:
    """The schedule's problems (/posting_schedule/mon/0) named by the form row they came from."""
    beside = []
    for problem in problems:
        prefix = "/posting_schedule/"
        place = problem.pointer.removeprefix(prefix) if problem.pointer.startswith(prefix) else ""
        if place in row_of:
            beside.append(Problem(f"/posting_schedule/row/{row_of[place]}", problem.detail))
        else:
            beside.append(problem)
    return beside


@channels_blp.post("/<uuid:channel_id>/best-times")
def apply_best_times(channel_id: uuid.UUID) -> Any:
    """Make the best-time suggestions the channel's slots, as they are now (not as the page showed them)."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    with get_services().sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
        found = get_channel(session, actor.workspace_id, channel_id)
        suggested = best_times(session, actor.workspace_id, found.id, now=utcnow(), days=BEST_TIME_DAYS)
        if not suggested.suggestions:
            return refusal(
                409,
                "There is no suggestion to apply yet.",
                back=url_for(".channel", channel_id=channel_id),
            )
        change_channel(session, actor, found, posting_schedule=suggested.posting_schedule)
    flash("The suggested times are the channel's slots now.")
    return redirect(url_for(".channel", channel_id=channel_id) + "#slots")


@channels_blp.post("/<uuid:channel_id>/credentials")
def reconnect_with_credentials(channel_id: uuid.UUID) -> Any:
    """New credentials for a channel, checked with the network; it becomes active again."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
        network = _known_network(get_channel(session, actor.workspace_id, channel_id).network)
    credentials = _credentials_typed(network, request.form)
    try:
        reconnect(services, actor, channel_id, credentials)
    except (InvalidInput, Unavailable) as error:
        with services.sessions.begin() as session:
            found = get_channel(session, actor.workspace_id, channel_id)
            return _channel_page(
                session, actor, found, errors=_field_errors(_as_invalid(error), "credentials"), status=422
            )
    flash("Reconnected: the network accepts the new credentials.")
    return redirect(url_for(".channel", channel_id=channel_id))


@channels_blp.post("/<uuid:channel_id>/authorization")
def reauthorize(channel_id: uuid.UUID) -> Any:
    """Reconnect by authorizing Crier on the network again: the browser goes to its page."""
    if not signin.csrf_token_is_valid():
        return form_expired()
    services = get_services()
    with services.sessions.begin() as session:
        actor = acting(session, Permission.MANAGE_CHANNELS)
    try:
        begun = begin_reauthorization(
            services, actor, channel_id, now=utcnow(), state_label=DASHBOARD_STATE_LABEL
        )
    except (InvalidInput, Unavailable) as error:
        with services.sessions.begin() as session:
            found = get_channel(session, actor.workspace_id, channel_id)
            return _channel_page(
                session, actor, found, errors=_field_errors(_as_invalid(error), "credentials"), status=422
            )
    return redirect(begun.url, code=303)
