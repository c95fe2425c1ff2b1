"""What the README says of delivery rows holds: only shared/deliveries writes them, and its docstring names a
function that exists for every transition it lists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import shared.deliveries
from shared.deliveries.models import DeliveryState

ROOT = Path(__file__).parents[2]
# The tables of the delivery state machine: a delivery, its attempts, its parts on the network, its changes.
MODELS = r"(?:Delivery|PublishAttempt|DeliveryPart|DeliveryChange)\b"
WRITES = re.compile(
    rf"\b(?:insert|update|delete)\(\s*{MODELS}"  # a statement
    rf"|\b{MODELS}\("  # a new row, which the ORM inserts
    rf"|\binsert_on_conflict\(\s*\w+,\s*{MODELS}"
    rf"|\btable_of\(\s*{MODELS}"  # the table, for statements built once
)
# Migrations are history: they wrote the tables as they were then.
NOT_SEARCHED = (ROOT / "shared" / "deliveries", ROOT / "shared" / "migrations")
NAMED = sorted(set(re.findall(r"\b([a-z_]+)\.([A-Za-z_]+)\b", shared.deliveries.__doc__ or "")))


def sources_outside_deliveries() -> list[Path]:
    found = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]
    return [path for path in found if not any(path.is_relative_to(skipped) for skipped in NOT_SEARCHED)]


def test_the_pattern_sees_each_way_of_writing_a_delivery_row():
    written = [
        "session.execute(update(Delivery).where(Delivery.id == delivery_id))",
        "session.execute(insert(PublishAttempt), rows)",
        "delete(Delivery)",
        "session.add(Delivery(post_id=post.id))",
        "post.deliveries = [Delivery(channel=channel) for channel in channels]",
        "insert_on_conflict(session, DeliveryPart)",
        "_deliveries = table_of(Delivery)",
    ]
    read = [
        "select(Delivery).where(Delivery.state == DeliveryState.SCHEDULED)",
        "session.get(Delivery, delivery_id)",
        "update(DeliveryMetrics)",
        "insert_on_conflict(session, DeliveryMetrics)",
        "DeliverySchema(many=True)",
    ]

    assert [line for line in written if not WRITES.search(line)] == []
    assert [line for line in read if WRITES.search(line)] == []


def test_no_module_outside_shared_deliveries_writes_delivery_rows():
    writers = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources_outside_deliveries()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if WRITES.search(line)
    ]

    assert writers == [], "call a function of shared.deliveries instead"


def test_the_package_docstring_names_every_state():
    doc = shared.deliveries.__doc__ or ""

    assert [state.value for state in DeliveryState if not re.search(rf"\b{state.value}\b", doc)] == []


@pytest.mark.parametrize(("module", "name"), NAMED, ids=[f"{module}.{name}" for module, name in NAMED])
def test_each_function_the_package_docstring_names_exists(module: str, name: str):
    assert hasattr(importlib.import_module(f"shared.deliveries.{module}"), name)
