"""What the application raises itself: unknown definitions, callers that cannot be identified, and commands
that lost every attempt to other writers."""

from __future__ import annotations

from collections.abc import Iterable

from crmstatus.engine.errors import CrmStatusError, did_you_mean, quote
from crmstatus.server.store.errors import VersionConflict


class ApplicationError(CrmStatusError):
    """Base of the application's errors."""


class DefinitionNotFound(ApplicationError):
    def __init__(self, wanted: str, known: Iterable[str], *, unusable: bool = False) -> None:
        self.wanted = wanted
        if unusable:  # a name@version, or a name none of whose versions
            which = f"{quote(wanted)} cannot" if "@" in wanted else f"no version of {quote(wanted)} can"
            super().__init__(f"{which} be used by this release: its text, published by another release, does not "
                             "compile here (the server's log says why)")  # fmt: skip
        else:
            super().__init__(f"unknown definition {quote(wanted)}{did_you_mean(wanted, known)}")


class Unauthenticated(ApplicationError):
    """The call carries no valid token for its tenant, or names no actor."""


class VersionTaken(ApplicationError):
    """A definition version is published already, with another text or by someone else: a new text needs a new
    version number."""

    def __init__(self, key: str, latest: int) -> None:
        self.key = key
        self.latest = latest
        super().__init__(f"{key} is published already: give the new text version {latest + 1} (or later)")


class LifecycleRefused(ApplicationError):
    """A definition version cannot move on from where it stands (approving twice, activating a draft that
    needs approval)."""


class Contended(VersionConflict):
    """A command whose caller pinned no version met a change of the customer at each of its attempts."""

    def __init__(self, customer_id: str, actual: int, attempts: int) -> None:
        self.attempts = attempts
        message = f"customer {customer_id!r} changed while this command was decided, {attempts} times in a row"
        super().__init__(customer_id, 0, actual, f"{message} (it is at version {actual} now): retry")
