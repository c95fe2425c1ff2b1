"""Log lines as text for a person or as JSON for a collector, alike in the API, the worker and the scheduler.

A record about one delivery or channel carries its ids as `extra` (`delivery_id`, `channel_id`,
`network`): JSON lines give them as top-level fields, so that a collector can follow one delivery across
processes, and text lines append them. python-json-logger formats the standard library's records, so the
`extra=` the code already passes, Celery's and gunicorn's records and the httpx filter that blanks webhook
secrets all work unchanged; structlog would have asked every module to log through it instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

from shared.config import Settings

CONTEXT_FIELDS = ("delivery_id", "channel_id", "network")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# gunicorn sets up these two loggers with handlers of its own, which do not reach the root logger.
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")
GUNICORN_ACCESS_LOGGER = "gunicorn.access"
QUERY_REMOVED = "[query removed]"


class TextFormatter(logging.Formatter):
    """One line a record, with the delivery, channel and network it concerns appended, when it says."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        return f"{line} [{' '.join(context)}]" if context else line


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, then every `extra` field."""
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def formatter_for(log_format: str) -> logging.Formatter:
    return json_formatter() if log_format == "json" else TextFormatter()


def configure_logging(settings: Settings, *, level: str | int | None = None) -> None:
    """Send the process's records to stderr in the configured format; `level` overrides the setting.

    A root logger that something else has set up already (a test runner) keeps its handlers. Asked for
    JSON, gunicorn's own loggers get it too, so that every line an API container writes parses.
    """
    formatter = formatter_for(settings.log_format)
    root = logging.getLogger()
    if not root.handlers:
        to_stderr = logging.StreamHandler()
        to_stderr.setFormatter(formatter)
        root.addHandler(to_stderr)
    root.setLevel(level if level is not None else settings.log_level.upper())
    if settings.log_format == "json":
        for name in GUNICORN_LOGGERS:
            for handler in logging.getLogger(name).handlers:
                handler.setFormatter(formatter)


class QueryStringsKeptOut(logging.Filter):
    """Takes the query string out of gunicorn's access lines for requests to the paths given.

    OAuth's callback carries the authorization `code` and the `state` in its query string, and an access
    log is kept longer, and read by more people, than either should be. gunicorn hands its access record
    the request's parts (its "atoms") as the arguments of the line's format, so they are cleaned there,
    whatever format the line has: the request line, the query, and the raw URI among the environ's.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        super().__init__()
        self.paths = frozenset(paths)

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, dict) and atoms.get("U") in self.paths:
            query = atoms.get("q") or ""
            if query:
                for name, value in list(atoms.items()):
                    if isinstance(value, str) and query in value:
                        atoms[name] = value.replace(f"?{query}", f"?{QUERY_REMOVED}").replace(
                            query, QUERY_REMOVED
                        )
        return True


def keep_query_strings_out_of_access_log(paths: Iterable[str]) -> None:
    """Install QueryStringsKeptOut on gunicorn's access logger (once, however many apps are made)."""
    access = logging.getLogger(GUNICORN_ACCESS_LOGGER)
    access.filters = [kept for kept in access.filters if not isinstance(kept, QueryStringsKeptOut)]
    access.addFilter(QueryStringsKeptOut(paths))
