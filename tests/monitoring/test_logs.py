"""Log lines: JSON a collector can parse, carrying the delivery, channel and network they are about."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shared.bootstrap import Services
from shared.channels.models import Channel
from shared.channels.services import connect_channel
from shared.deliveries.publishing import reconcile_unknown
from shared.metrics.collecting import collect_metrics
from shared.monitoring.logs import TextFormatter, configure_logging, json_formatter
from shared.workspaces.models import Workspace
from tests.driving import publish_what_is_due
from tests.factories import make_channel, make_post, make_workspace
from tests.integration.fake_networks import scripted_channel

SECRET_TOKEN = "t0ken-that-must-never-be-logged"


class LogLines:
    """Everything the process logs while a test runs, through one formatter, as a collector would get it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@contextmanager
def capturing(formatter: logging.Formatter) -> Iterator[LogLines]:
    root = logging.getLogger()
    lines = LogLines(formatter)
    level = root.level
    root.addHandler(lines.handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(lines.handler)
        root.setLevel(level)


@pytest.fixture
def json_lines() -> Iterator[LogLines]:
    with capturing(json_formatter()) as lines:
        yield lines


@pytest.fixture
def text_lines() -> Iterator[LogLines]:
    with capturing(TextFormatter()) as lines:
        yield lines


def about(records: list[dict[str, Any]], delivery_id: object) -> list[dict[str, Any]]:
    return [record for record in records if record.get("delivery_id") == str(delivery_id)]


def test_every_json_line_parses_and_a_publish_attempt_names_its_delivery_channel_and_network(
    scripted: Services, json_lines: LogLines
) -> None:
    workspace, _ = make_workspace(scripted)
    sandbox = make_channel(scripted, workspace)
    flaky = scripted_channel(scripted, workspace, publish="transient", message="503 Service Unavailable")
    post = make_post(scripted, workspace, [sandbox, flaky])

    publish_what_is_due(scripted)

    records = json_lines.parsed()  # fails on any line that is not one JSON object
    delivery_on = {delivery.channel_id: delivery.id for delivery in post.deliveries}
    [published] = about(records, delivery_on[sandbox.id])
    [failed] = about(records, delivery_on[flaky.id])
    assert published["level"] == "INFO"
    assert published["message"] == "publish attempt 1: published"
    assert (published["channel_id"], published["network"]) == (str(sandbox.id), "sandbox")
    assert failed["level"] == "WARNING"
    assert failed["message"] == "publish attempt 1: transient: 503 Service Unavailable"
    assert (failed["channel_id"], failed["network"]) == (str(flaky.id), "scripted")
    assert {"time", "logger"} <= set(published)


def test_an_adapters_crash_is_one_json_line_with_its_traceback_and_the_delivery(
    scripted: Services, json_lines: LogLines
) -> None:
    workspace, _ = make_workspace(scripted)
    buggy = scripted_channel(scripted, workspace, publish="crash", message="KeyError in the adapter")
    post = make_post(scripted, workspace, [buggy])

    publish_what_is_due(scripted)

    crash, outcome = about(json_lines.parsed(), post.deliveries[0].id)
    assert crash["level"] == "ERROR"
    assert "RuntimeError: KeyError in the adapter" in crash["exc_info"]
    assert (crash["channel_id"], crash["network"]) == (str(buggy.id), "scripted")
    assert outcome["message"].startswith("publish attempt 1: unknown")


def test_a_failed_collection_names_its_channel_and_network(scripted: Services, json_lines: LogLines) -> None:
    workspace, _ = make_workspace(scripted)
    down = scripted_channel(scripted, workspace, engagement="transient")
    post = make_post(scripted, workspace, [down])
    publish_what_is_due(scripted)

    collect_metrics(scripted, post.id)

    [failure] = [record for record in json_lines.parsed() if "could not collect" in record["message"]]
    assert (failure["channel_id"], failure["network"]) == (str(down.id), "scripted")


def test_settling_an_uncertain_attempt_is_logged_with_the_delivery(
    scripted: Services, json_lines: LogLines
) -> None:
    workspace, _ = make_workspace(scripted)
    channel = scripted_channel(scripted, workspace, publish="outcome_unknown", find="found")
    post = make_post(scripted, workspace, [channel])
    publish_what_is_due(scripted)

    reconcile_unknown(scripted)

    uncertain, settled = about(json_lines.parsed(), post.deliveries[0].id)
    assert uncertain["message"] == "publish attempt 1: unknown: scripted: outcome_unknown"
    assert settled["message"] == "uncertain publish attempt 1 settled: published"
    assert (settled["channel_id"], settled["network"]) == (str(channel.id), "scripted")


def test_text_lines_end_with_the_ids_they_are_about(scripted: Services, text_lines: LogLines) -> None:
    workspace, _ = make_workspace(scripted)
    channel = make_channel(scripted, workspace)
    post = make_post(scripted, workspace, [channel])

    publish_what_is_due(scripted)

    [line] = [line for line in text_lines.text.splitlines() if "publish attempt" in line]
    assert line.endswith(
        f"publish attempt 1: published [delivery_id={post.deliveries[0].id} channel_id={channel.id} "
        "network=sandbox]"
    )


def channel_with_a_token(services: Services, workspace: Workspace, name: str, **answers: Any) -> Channel:
    with services.sessions.begin() as session:
        return connect_channel(
            session,
            services.networks,
            workspace.id,
            network="scripted_with_token",
            name=name,
            handle=name.lower(),
            settings=answers,
            credentials={"token": SECRET_TOKEN},
            cipher=services.credentials,
        )


@pytest.mark.parametrize("formatter", [json_formatter, TextFormatter])
def test_credentials_never_reach_a_log_line_even_when_the_network_renews_them(
    scripted: Services, formatter: Callable[[], logging.Formatter]
) -> None:
    workspace, _ = make_workspace(scripted)
    renewing = channel_with_a_token(scripted, workspace, "Renewing", renews_credentials=True)
    revoked = channel_with_a_token(scripted, workspace, "Revoked", publish="auth_expired")
    make_post(scripted, workspace, [renewing, revoked])

    with capturing(formatter()) as lines:
        publish_what_is_due(scripted)

    assert "publish attempt 1: published" in lines.text
    assert "publish attempt 1: auth_expired" in lines.text
    assert SECRET_TOKEN not in lines.text


def test_asked_for_json_the_api_gives_gunicorns_own_loggers_the_json_format_too(scripted: Services) -> None:
    gunicorn_error = logging.getLogger("gunicorn.error")
    handler = logging.StreamHandler(io.StringIO())
    gunicorn_error.addHandler(handler)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        configure_logging(scripted.settings.model_copy(update={"log_format": "json"}))
        gunicorn_error.warning("Worker timeout (pid:%d)", 42)
    finally:
        gunicorn_error.removeHandler(handler)
        root.setLevel(level)

    assert isinstance(handler.stream, io.StringIO)
    line = json.loads(handler.stream.getvalue())
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "gunicorn.error",
        "Worker timeout (pid:42)",
    )
    # A root logger that a test runner (or a server) has set up keeps its handlers.
    assert root.handlers == handlers
