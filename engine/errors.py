"""The engine's errors, under the product's one root, `CrmStatusError`.

CrmStatusError                      every error raised on purpose; the wire maps each class to a gRPC status
├── EngineError                     the rules said no, or a definition or request is wrong
│   ├── InvalidDefinition, TransitionNotAllowed, ClaimConflict, ClaimRefused, FencedOut, CustomerLocked
│   ├── UnknownName, InvalidFactValue, StaleTimer, AutomationCycle, InvalidRequest, PermissionDenied
├── StoreError                      crmstatus.server.store.errors: absent, present, changed, unreachable
└── ApplicationError                crmstatus.server.application.errors: unknown definitions, callers
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a definition file, pointing at the line and column a consultant must edit."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = "error"
    hint: str = ""  # the fix, in plain words ("use spaces"); empty when the message says it all
    zh: str = ""  # the message in Chinese; empty where only the English is written
    hint_zh: str = ""

    def __str__(self) -> str:
        return self.render("en")

    def text(self, lang: str) -> tuple[str, str]:
        """The message and the hint in `lang` ("zh" or "en"), English where no Chinese is written."""
        if lang == "zh" and self.zh:
            return self.zh, self.hint_zh or self.hint
        return self.message, self.hint

    def render(self, lang: str) -> str:
        message, hint = self.text(lang)
        where = f"{self.path}: " if self.path else ""
        fix = f" — {hint}" if hint else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{message}{fix}"


@dataclass(frozen=True)
class Words:
    """A diagnostic's message and fix in both languages, written side by side so neither is forgotten."""

    en: str
    zh: str
    hint: str = ""
    hint_zh: str = ""

    def at(self, file: str, line: int, column: int, path: str = "") -> Diagnostic:
        return Diagnostic(file, line, column, path, self.en, hint=self.hint, zh=self.zh, hint_zh=self.hint_zh)


class ReasonKind(StrEnum):
    """Why a transition cannot happen now. Stable codes: clients switch on them."""

    WRONG_STATE = "WRONG_STATE"
    ROLE = "ROLE"
    LOCKED = "LOCKED"
    GUARD = "GUARD"
    FACT_UNSET = "FACT_UNSET"
    CHECKLIST = "CHECKLIST"
    REQUIRED_FACT = "REQUIRED_FACT"
    COOLDOWN = "COOLDOWN"


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    subject: str  # what failed: a state, role, expression, checklist item or fact
    message: str

    def __str__(self) -> str:
        return self.message


class CrmStatusError(Exception):
    """Base of every error the product raises on purpose."""


class EngineError(CrmStatusError):
    """Base of every error the engine raises on purpose."""


class InvalidDefinition(EngineError):
    """A definition file failed to load; carries every diagnostic of the file, not only the first."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class TransitionNotAllowed(EngineError):
    """An event cannot be applied now; `reasons` lists every reason, not just the first."""

    def __init__(self, event: str, reasons: Sequence[Reason]) -> None:
        self.event = event
        self.reasons = tuple(reasons)
        detail = "; ".join(r.message for r in self.reasons)
        super().__init__(f"event {event!r} is not allowed: {detail}")


class ClaimConflict(EngineError):
    """Someone else holds the customer: who, and until when."""

    def __init__(self, holder: str, until: datetime | None) -> None:
        self.holder = holder
        self.until = until
        when = f" until {until.isoformat()}" if until else ""
        super().__init__(f"customer is claimed by {holder}{when}")


class ClaimRefused(EngineError):
    """A claim the rules do not allow: the rep's cooldown on this customer, or a cap."""

    def __init__(self, reason: str, message: str, until: datetime | None = None) -> None:
        self.reason = reason  # COOLDOWN, HELD_CAP or DAILY_CAP
        self.until = until
        super().__init__(message)


class FencedOut(EngineError):
    """A write carried a fence token that is no longer the customer's: its claim lapsed or was taken over."""

    def __init__(self, token: int, current: int, holder: str | None) -> None:
        self.token = token
        self.current = current
        self.holder = holder
        super().__init__(
            f"fence token {token} is stale (the customer's is {current}, held by {holder or 'no one'}): "
            "claim the customer again"
        )


class CustomerLocked(EngineError):
    """The customer is locked by its owner and the actor may neither see its details nor write."""

    def __init__(self, owner: str | None, dimension: str, state: str) -> None:
        self.owner = owner
        self.dimension = dimension
        self.state = state
        holder = f"by {owner}" if owner else "with no owner"
        super().__init__(f"customer is locked {holder} while {dimension} is {state}")


class UnknownName(EngineError):
    """A request names an event, fact, checklist or item the definition does not have."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.hint = did_you_mean(name, known)
        super().__init__(f"unknown {kind} {quote(name)}{self.hint}")


class InvalidFactValue(EngineError):
    """A fact update carries a value of the wrong type, or tries to set a computed score."""

    def __init__(self, fact: str, message: str) -> None:
        self.fact = fact
        super().__init__(f"fact {fact!r}: {message}")


class StaleTimer(EngineError):
    """The timer no longer belongs to the customer: it left the state entry, or the date moved."""


class AutomationCycle(EngineError):
    """Automatic transitions kept firing past the bound: the definition has a cycle of automatic rules."""

    def __init__(self, steps: Sequence[str]) -> None:
        self.steps = tuple(steps)
        tail = " → ".join(self.steps[-8:])
        super().__init__(f"automatic transitions do not settle after {len(self.steps)} steps: … {tail}")


def quote(value: object, limit: int = 48) -> str:
    """A value as an error message shows it: quoted, and cut short when long (a message never grows with
    what the caller sent, nor gets too big for the status it travels in)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint for a misspelt name, or '' when nothing is close."""
    if len(name) > 200:  # nothing known is that long; and matching it would take long
        return ""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class InvalidRequest(EngineError):
    """A request that can never succeed as sent (malformed id, unknown definition, bad identity)."""


class PermissionDenied(EngineError):
    """The caller is known but may not do this (another tenant's data, or a role it lacks)."""
