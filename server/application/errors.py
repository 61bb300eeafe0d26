"""What the application raises itself: unknown definitions and callers that cannot be identified."""

from __future__ import annotations

from collections.abc import Iterable

from crmstatus.engine.errors import CrmStatusError, did_you_mean, quote


class ApplicationError(CrmStatusError):
    """Base of the application's errors."""


class DefinitionNotFound(ApplicationError):
    def __init__(self, wanted: str, known: Iterable[str]) -> None:
        self.wanted = wanted
        super().__init__(f"unknown definition {quote(wanted)}{did_you_mean(wanted, known)}")


class Unauthenticated(ApplicationError):
    """The call carries no valid token for its tenant, or names no actor."""
