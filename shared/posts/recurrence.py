"""Posts that repeat on an RFC 5545 rule, each time at the same wall-clock time in the post's zone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from shared.errors import InvalidInput, Problem
from shared.timezones import LONGEST_GAP, as_utc, to_local, to_utc_in_order

MAX_COUNT = 1000
# Longer than any campaign; a series must end within it, which also keeps the work for one series small.
SERIES_SPAN = timedelta(days=3653)
SERIES_SPAN_WORDS = "ten years"
_EXAMPLE = "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12"
# dateutil needs a start to read a rule; the post's own start is tried by check_series.
_READING_START = datetime.fromisoformat("2000-01-03T00:00")


def _parts(value: str) -> dict[str, str]:
    """Name each NAME=VALUE part of an RRULE value, in order."""
    return {name: part_value for name, _, part_value in (part.partition("=") for part in value.split(";"))}


def _read(value: str, start: datetime) -> rrule:
    """Let dateutil read an RRULE value from a wall-clock start; ValueError if it cannot."""
    # ignoretz: the occurrences are wall-clock times, so a UTC UNTIL is applied by Recurrence after
    # conversion.
    parsed = rrulestr(value, dtstart=start, ignoretz=True)
    if not isinstance(parsed, rrule):  # only several lines make a set, and parse_rule allows one
        raise ValueError("give one RRULE value")
    return parsed


def _refuse(pointer: str, details: Sequence[str]) -> InvalidInput:
    return InvalidInput([Problem(pointer, detail) for detail in details])


def _shape_problems(value: str) -> list[str]:
    """What makes the text no single RRULE value Crier takes, before dateutil reads it."""
    if not value:
        return [f"The rule is empty; give one such as {_EXAMPLE}."]
    if "DTSTART" in value:
        return ["A rule cannot carry its own DTSTART: the series starts at the post's scheduled time."]
    if any(character in value for character in ":\r\n"):
        return [
            f"Give one RRULE value, such as {_EXAMPLE}; other iCalendar lines (EXDATE, RDATE) are not taken."
        ]
    problems = [f"'{part}' is not a NAME=VALUE part." for part in value.split(";") if "=" not in part]
    if problems:
        return problems
    parts = _parts(value)
    names = Counter(part.partition("=")[0] for part in value.split(";"))
    problems += [
        f"{name} is given {times} times; give it once." for name, times in names.items() if times > 1
    ]
    if "FREQ" not in parts:
        problems.append("The rule has no FREQ; every rule needs one, such as FREQ=WEEKLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        problems.append("COUNT and UNTIL cannot both end a series (RFC 5545); keep one.")
    until = parts.get("UNTIL")
    # RFC 5545 asks for UNTIL in UTC when the start has a zone, as ours does; a local date-time (no Z) is read
    # on the post's clock. A bare date is refused: it does not say when on that day the series ends.
    if until is not None and not _is_rfc_date_time(until):
        problems.append(
            f"UNTIL={until} is not a date-time as YYYYMMDDTHHMMSSZ (UTC, such as 20261231T235959Z) "
            "or YYYYMMDDTHHMMSS (on the post's clock)."
        )
    return problems


def _is_rfc_date_time(text: str) -> bool:
    date_part, separator, time_part = text.partition("T")
    time_part = time_part.removesuffix("Z")
    return (
        separator == "T" and len(date_part) == 8 and len(time_part) == 6 and (date_part + time_part).isdigit()
    )


def _policy_problems(parts: dict[str, str]) -> list[str]:
    """What Crier refuses in a rule dateutil could read (parts in dateutil's own spelling)."""
    problems = []
    # A social post more often than hourly is spam, and the network's rate limits would refuse it anyway.
    if parts["FREQ"] in ("SECONDLY", "MINUTELY"):
        problems.append(
            f"FREQ={parts['FREQ']} would post more often than hourly; the most often is FREQ=HOURLY."
        )
    problems += [
        f"{name} lists several values, which would post more often than hourly; give one."
        for name in ("BYMINUTE", "BYSECOND")
        if "," in parts.get(name, "")
    ]
    if int(parts.get("INTERVAL", "1")) < 1:
        problems.append("INTERVAL must be at least 1.")
    if "COUNT" in parts and int(parts["COUNT"]) < 1:
        problems.append("COUNT must be at least 1.")
    if "COUNT" in parts and int(parts["COUNT"]) > MAX_COUNT:
        problems.append(f"COUNT={parts['COUNT']} is more than {MAX_COUNT}, the most posts one series makes.")
    # An endless series is refused rather than capped: the calendar must show where it stops, and a series
    # someone forgot must not post for ever.
    if "COUNT" not in parts and "UNTIL" not in parts:
        problems.append(
            "The rule has neither COUNT nor UNTIL, so the series would never end; give one of them."
        )
    return problems


def parse_rule(rule: str, *, pointer: str = "/recurrence/rule") -> str:
    """Return the rule's normal form (an RRULE value without "RRULE:"), or refuse it, saying what is wrong."""
    value = rule.strip().upper().removeprefix("RRULE:").rstrip(";")
    if problems := _shape_problems(value):
        raise _refuse(pointer, problems)
    try:
        parsed = _read(value, _READING_START)
    except (ValueError, OverflowError) as error:
        raise _refuse(pointer, [f"The rule cannot be read: {str(error).rstrip('.')}."]) from error
    # dateutil's own spelling: its part order, BYDAY as it reads it (a DAILY rule's "1FR" is plain "FR").
    normal = _parts(str(parsed).splitlines()[-1].removeprefix("RRULE:"))
    if problems := _policy_problems(normal):
        raise _refuse(pointer, problems)
    if "UNTIL" in normal:
        normal["UNTIL"] = _parts(value)["UNTIL"]  # dateutil drops the Z that makes it UTC
    return ";".join(f"{name}={part_value}" for name, part_value in normal.items())


@dataclass(frozen=True)
class Recurrence:
    """A rule in parse_rule's normal form, started at a wall-clock time in a zone."""

    rule: str
    first_local: datetime
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.first_local.tzinfo is not None:
            raise ValueError(
                f"{self.first_local!r} must be a wall-clock time, without a zone; the zone is apart"
            )
        if parse_rule(self.rule) != self.rule:
            raise ValueError(f"{self.rule!r} is not in the normal form parse_rule returns")

    def _until(self) -> datetime | None:
        """The UNTIL of the rule, an instant if it ends in Z, else a wall-clock time."""
        until = _parts(self.rule).get("UNTIL")
        return None if until is None else datetime.fromisoformat(until)

    def _wall_times(self) -> Iterator[datetime]:
        """Yield dateutil's wall-clock times for the rule, up to its end and SERIES_SPAN."""
        # dateutil compares wall times, so it is given a wall-clock end. A UTC UNTIL is converted loosely (a
        # wall time and the instant it maps to can disagree in order by up to a gap) and applied exactly after
        # conversion, in occurrences().
        search_end = self.first_local + SERIES_SPAN
        until = self._until()
        if until is not None and until.tzinfo is not None:
            search_end = min(search_end, to_local(until, self.zone) + LONGEST_GAP)
        elif until is not None:
            search_end = min(search_end, until)
        # COUNT is applied here rather than by dateutil, which would warn at a rule with both COUNT and an
        # end.
        wall_times = iter(_read(self.rule, self.first_local).replace(count=None, until=search_end))
        count = _parts(self.rule).get("COUNT")
        return wall_times if count is None else islice(wall_times, int(count))

    def occurrences(self) -> Iterator[datetime]:
        """Yield every occurrence as a UTC instant, earliest first, each once."""
        # Each wall time comes from dateutil on the post's clock, so 09:00 stays 09:00 across DST, then to_utc
        # turns it into an instant. dateutil counts first_local only if the rule matches it (a Tuesday start
        # of a BYDAY=MO rule first posts on Monday); RFC 5545 leaves such a start undefined. Two wall times
        # that a gap maps to one instant make one post, as RFC 5545 drops duplicate instances.
        instants = to_utc_in_order(self._wall_times(), self.zone)
        until = self._until()
        if until is None or until.tzinfo is None:
            return instants
        return takewhile(lambda instant: instant <= until, instants)

    def occurrences_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Return the occurrences (UTC) from start up to but not including end, in order."""
        start, end = as_utc(start), as_utc(end)
        between: list[datetime] = []
        for instant in self.occurrences():
            if instant >= end:
                break
            if instant >= start:
                between.append(instant)
        return between

    def first_after(self, moment: datetime) -> datetime | None:
        """Return the first occurrence (UTC) strictly after moment, or None when the series has ended."""
        moment = as_utc(moment)
        return next((instant for instant in self.occurrences() if instant > moment), None)


def check_series(recurrence: Recurrence, *, pointer: str = "/recurrence/rule") -> None:
    """Refuse a series that, from its real start, never posts, or makes too many posts, or runs too long."""
    # parse_rule reads a rule alone; these depend on where it starts. A rule no date can match (30 February)
    # is found by dateutil scanning up to the year 9999, which takes seconds: a reason to check once, here.
    try:
        instants = list(islice(recurrence.occurrences(), MAX_COUNT + 1))
    except ValueError as error:  # dateutil checks an HOURLY rule's BYHOUR against its start
        start = f"{recurrence.first_local:%Y-%m-%d %H:%M}"
        raise _refuse(pointer, [f"The rule cannot start at {start}: {str(error).rstrip('.')}."]) from error
    count = _parts(recurrence.rule).get("COUNT")
    until = recurrence._until()
    if until is not None and until.tzinfo is not None:
        until = to_local(until, recurrence.zone)
    if until is not None and until > recurrence.first_local + SERIES_SPAN:
        problem = f"UNTIL is more than {SERIES_SPAN_WORDS} after the first post; end the series sooner."
    elif not instants:
        problem = "The rule gives no date from the first post to the end of the series."
    elif len(instants) > MAX_COUNT:
        problem = f"The series would make more than {MAX_COUNT} posts before UNTIL; end it sooner."
    elif count is not None and sum(1 for _ in recurrence._wall_times()) < int(count):
        # Wall times, not instants: two that a gap makes one instant still count twice, as in RFC 5545.
        problem = (
            f"The series would not make its {count} posts within {SERIES_SPAN_WORDS} of the first; "
            "give a smaller COUNT."
        )
    else:
        return
    raise _refuse(pointer, [problem])


def split_overdue(
    occurrences: Sequence[datetime], now: datetime, grace: timedelta
) -> tuple[list[datetime], list[datetime]]:
    """Split occurrences into (missed: due longer than grace ago, due: the rest), each in the order given."""
    # After downtime, firing every occurrence that fell due meanwhile floods a feed at once (Postiz PR #1936).
    # An occurrence overdue by more than the grace period is recorded as missed instead; a later one still
    # goes out.
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, not {grace}")
    cutoff = as_utc(now) - grace
    missed = [occurrence for occurrence in occurrences if as_utc(occurrence) < cutoff]
    due = [occurrence for occurrence in occurrences if as_utc(occurrence) >= cutoff]
    return missed, due
