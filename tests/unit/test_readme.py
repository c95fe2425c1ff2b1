"""What the README tells a new user about the delivery actions is what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.deliveries.models import DeliveryState
from shared.deliveries.services import CANCELLABLE, RESOLVABLE, RETRYABLE

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize(
    ("action", "states"), [("retry", RETRYABLE), ("resolve", RESOLVABLE), ("cancel", CANCELLABLE)]
)
def test_the_readme_names_the_states_each_delivery_action_takes(
    action: str, states: frozenset[DeliveryState]
):
    sentence = re.search(rf"`…/{action}` takes (?:a delivery|one) that is ([^;.(]+)", README.read_text())

    assert sentence, f"the README does not say which states {action} takes"
    assert set(re.findall(r"`([a-z_]+)`", sentence[1])) == {state.value for state in states}
