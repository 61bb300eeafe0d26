"""Typed facts: checking values that other systems send, and handing them to CEL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

_DURATION = re.compile(r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """ISO 8601 durations in fixed units: P90D, P2W, PT12H, P1DT2H30M."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like P90D, P2W or PT12H")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


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
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected a timestamp, got {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value.isoformat()} has no time zone offset")
    return value.astimezone(UTC)


def _date(value: Any) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a date like 2026-12-31, got {value!r}") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"expected a date, got {value!r}")
    return value


def _duration(value: Any) -> timedelta:
    if isinstance(value, str):
        return parse_duration(value)
    if not isinstance(value, timedelta):
        raise ValueError(f"expected a duration like P30D, got {value!r}")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of texts, got {value!r}")
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
