"""The errors adapters raise carry what the publishing service needs, in a form it can trust."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.networks.ports import RateLimited


def test_a_rate_limit_reset_time_must_say_its_timezone():
    with pytest.raises(ValueError, match="timezone-aware"):
        RateLimited("429 Too Many Requests", reset_at=datetime(2026, 11, 25, 12, 0))  # noqa: DTZ001


def test_a_rate_limit_keeps_an_aware_reset_time():
    reset_at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    assert RateLimited("429 Too Many Requests", reset_at=reset_at).reset_at == reset_at
