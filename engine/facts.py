"""Typed facts: checking values that other systems send, and handing them to CEL."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from .errors import quote

_DURATION = re.compile(r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


# What a fact may hold: what a CRM needs, and what the timer arithmetic and the stored JSON can carry.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
LONGEST = timedelta(days=100 * 366)
BIGGEST = 2**53 - 1  # whole numbers stay exact in JSON and in CEL doubles
MAX_TEXT, MAX_ITEMS = 4096, 1000
# All of one customer's facts: every command reads and writes them whole, and guards go through its lists while
# the interpreter waits (a filter over 1,000 texts of 4,096 characters: 220 ms). A page of notes, not documents.
MAX_CUSTOMER_TEXT = 100_000


def parse_duration(text: str) -> timedelta:
    """ISO 8601 durations in fixed units: P90D, P2W, PT12H, P1DT2H30M (at most a hundred years)."""
    match = _DURATION.fullmatch(text) if len(text) <= 64 else None
    if not match:
        raise ValueError(f"{quote(text)} is not a duration like P90D, P2W or PT12H")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        duration = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        duration = LONGEST * 2
    if duration > LONGEST:
        raise ValueError(f"{quote(text)} is longer than a hundred years")
    return duration


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days or not clock else "") + (f"T{clock}" if clock else "")


class FactType(StrEnum):
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    DURATION = "duration"
    STRING_LIST = "string_list"

    @property
    def is_moment(self) -> bool:
        """Timers may be placed relative to facts of these types."""
        return self in (FactType.TIMESTAMP, FactType.DATE)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value % 1:
        raise ValueError(f"expected a whole number, got {quote(value)}")
    if abs(value) > BIGGEST:
        raise ValueError(f"expected a whole number between -{BIGGEST} and {BIGGEST}, got {quote(value)}")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {quote(value)}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {quote(value)}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {quote(value)}")
    if len(value) > MAX_TEXT:
        raise ValueError(f"expected text of at most {MAX_TEXT} characters, got {len(value):,}")
    return value


def _within(moment: date, shown: str) -> None:
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{shown} is outside {EARLIEST.isoformat()} to {LATEST.isoformat()}")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 timestamp, got {quote(value)}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected a timestamp, got {quote(value)}")
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value.isoformat()} has no time zone offset")
    _within(value.date(), f"timestamp {value.isoformat()}")
    moment = value.astimezone(UTC)  # kept in UTC: the range holds there too, or no read could decode it again
    _within(moment.date(), f"timestamp {value.isoformat()} ({moment.isoformat()} in UTC)")
    return moment


def _date(value: Any) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a date like 2026-12-31, got {quote(value)}") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"expected a date, got {quote(value)}")
    _within(value, f"date {value.isoformat()}")
    return value


def _duration(value: Any) -> timedelta:
    if isinstance(value, str):
        return parse_duration(value)
    if not isinstance(value, timedelta):
        raise ValueError(f"expected a duration like P30D, got {quote(value)}")
    if abs(value) > LONGEST:
        raise ValueError("expected a duration of at most a hundred years")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of texts, got {quote(value)}")
    if len(value) > MAX_ITEMS or any(len(item) > MAX_TEXT for item in value):
        raise ValueError(f"expected at most {MAX_ITEMS} texts of at most {MAX_TEXT} characters each")
    return tuple(value)


_COERCE: dict[FactType, Callable[[Any], Any]] = {
    FactType.INT: _int,
    FactType.NUMBER: _number,
    FactType.BOOL: _bool,
    FactType.STRING: _string,
    FactType.TIMESTAMP: _timestamp,
    FactType.DATE: _date,
    FactType.DURATION: _duration,
    FactType.STRING_LIST: _string_list,
}

# Stand-in values (as CEL sees them) used at load time to find type errors in expressions without real
# data. Two sets, so that both sides of `&&`, `||` and `?:` get evaluated at least once.
SAMPLES: tuple[dict[FactType, Any], ...] = (
    {
        FactType.INT: 0,
        FactType.NUMBER: 0.0,
        FactType.BOOL: False,
        FactType.STRING: "",
        FactType.TIMESTAMP: datetime(2000, 1, 1, tzinfo=UTC),
        FactType.DATE: datetime(2000, 1, 1, tzinfo=UTC),
        FactType.DURATION: timedelta(0),
        FactType.STRING_LIST: [],
    },
    {
        FactType.INT: 100,
        FactType.NUMBER: 100.0,
        FactType.BOOL: True,
        FactType.STRING: "x",
        FactType.TIMESTAMP: datetime(2030, 1, 1, tzinfo=UTC),
        FactType.DATE: datetime(2030, 1, 1, tzinfo=UTC),
        FactType.DURATION: timedelta(days=400),
        FactType.STRING_LIST: ["x"],
    },
)


def text_size(facts: Mapping[str, Any]) -> int:
    """The characters of text in a customer's facts (texts, and the items of lists of texts)."""
    return sum(map(value_text_size, facts.values()))


def value_text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else sum(map(len, value)) if isinstance(value, tuple | list) else 0


def coerce(kind: FactType, value: Any) -> Any:
    """The canonical Python value of a fact (ValueError with a readable message when it does not fit)."""
    return _COERCE[kind](value)


def to_cel(kind: FactType, value: Any, zone: tzinfo) -> Any:
    """The value as CEL sees it: dates become the timestamp of their midnight in the definition's zone."""
    if kind is FactType.DATE:
        return datetime.combine(value, time(), zone).astimezone(UTC)
    if kind is FactType.STRING_LIST:
        return list(value)
    return value


def to_json(kind: FactType, value: Any) -> Any:
    """A JSON-safe form of a fact value, read back by `coerce`."""
    if kind in (FactType.TIMESTAMP, FactType.DATE):
        return value.isoformat()
    if kind is FactType.DURATION:
        return format_duration(value)
    if kind is FactType.STRING_LIST:
        return list(value)
    return value
