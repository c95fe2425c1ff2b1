"""marshmallow fields the feature schemas share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields

from services.api.context import get_actor
from shared.masking import masked_settings, masked_url
from shared.workspaces.access import Permission

# An example time a reader can copy and send: the first of May of next year is ahead of them.
EXAMPLE_TIME = f"{datetime.now(UTC).year + 1}-05-01T09:00:00"


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 with a UTC offset, both ways: a time without an offset is ambiguous, so it is refused."""

    default_error_messages = {
        "invalid_awareness": f"Give the time with a UTC offset, like {EXAMPLE_TIME}+02:00 or ...Z.",
    }

    def _serialize(
        self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | float | None:
        return super()._serialize(value.astimezone(UTC) if value else value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:  # year 1 east of Greenwich, or 9999 west of it, has no UTC time
            raise ValidationError("Give a time between the years 1900 and 9000.") from error


def within_calendar_years(moment: datetime) -> None:
    """A validator: far enough from datetime's own limits (years 1 and 9999) that no zone overflows them."""
    if not 1900 <= moment.year <= 9000:
        raise ValidationError("Give a time between the years 1900 and 9000.")


class SecretUrl(fields.String):
    """A URL that may carry a secret in its path or query (a webhook's): whole for a caller whose role and
    token allow `needs`, the host alone for anyone else."""

    def __init__(self, *, needs: Permission, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.needs = needs

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, str) and not get_actor().can(self.needs):
            value = masked_url(value)
        return super()._serialize(value, attr, obj, **kwargs)


class SettingsWithSecretUrls(fields.Dict):
    """A channel's settings: each URL among them whole for a caller whose role and token allow `needs`,
    the host alone for anyone else (the webhook network's `url` is its secret)."""

    def __init__(self, *, needs: Permission, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), **kwargs)
        self.needs = needs

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict) and not get_actor().can(self.needs):
            value = masked_settings(value)
        return super()._serialize(value, attr, obj, **kwargs)
