"""The definition registry: every published version's text, kept once and never changed, its lifecycle status,
and which version each tenant (and the shared defaults) gives new customers. All of it in one slot (keys.Registry),
so that publishing, approving and activating are each one script that checks and writes at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from . import codec
from .errors import store_errors
from .keys import Registry
from .scripts import Scripts


@dataclass(frozen=True, slots=True)
class Taken:
    """A publish refused: the name@version is already published, with this document."""

    existing: codec.VersionText
    latest: int  # the highest version of the name published so far


def registry_id(scope: str, key: str) -> str:
    """A version's id in the registry: `name@version` for the shared defaults, `<tenant>:name@version` for a
    tenant's own. A tenant's own never takes a number the shared defaults had when it was published."""
    return f"{scope}:{key}" if scope else key


def split_id(rid: str) -> tuple[str, str]:
    """(scope, name@version)"""
    scope, _, key = rid.rpartition(":")
    return scope, key


def active_field(scope: str, name: str) -> str:
    return f"{scope}|{name}"


class DefinitionRegistry:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self.client = scripts.client

    async def publish(
        self, text: codec.VersionText, name: str, version: int, status: codec.VersionStatus
    ) -> Taken | None:
        """Store a new version (None), or say which is there already under its id."""
        rid = registry_id(text.scope, text.key)
        outcome, existing, latest = await self.scripts.publish_definition(
            Registry.texts, Registry.status, Registry.latest, rid, codec.encode_version_text(text),
            codec.encode_version_status(status), active_field(text.scope, name), version,
            text.key if text.scope else "",
        )  # fmt: skip
        return None if outcome == "ok" else Taken(codec.decode_version_text(text.key, existing), latest)

    async def ship(self, texts: Sequence[tuple[codec.VersionText, str, int]], status: codec.VersionStatus) -> list[str]:
        """Publish a release's shared versions ((text, name, version) each) with `status`, all of them or none:
        the ids of those published already with another text, when nothing was."""
        record = codec.encode_version_status(status)
        return await self.scripts.ship_definitions(Registry.texts, Registry.status, Registry.latest, [
            (text.key, codec.encode_version_text(text), record, active_field("", name), version)
            for text, name, version in texts
        ])  # fmt: skip

    async def approve(self, rid: str, by: str, at: datetime) -> tuple[str, str]:
        """('ok', '') or ('refused', its status)."""
        return await self._promote("approve", rid, by, at)

    async def activate(self, rid: str, field: str, by: str, at: datetime, approval_required: bool) -> tuple[str, str]:
        """('ok', the key it replaced or '') or ('refused', its status)."""
        return await self._promote("activate", rid, by, at, field, approval_required)

    async def activate_shipped(self, key: str, name: str, version: int, by: str, at: datetime) -> tuple[str, str]:
        """A release's newest `key` of `name` as the shared default, when it is newer than any a release shipped
        before and than the one active (see promote_definition.lua): as activate."""
        return await self._promote("ship", key, by, at, active_field("", name), True, version)

    async def _promote(self, op: str, rid: str, by: str, at: datetime, field: str = "", approval_required: bool = True,
                       version: int = 0) -> tuple[str, str]:  # fmt: skip
        return await self.scripts.promote_definition(Registry.status, Registry.active, Registry.shipped, op, rid, by,
                                                     codec.ms(at), field, approval_required, version)  # fmt: skip

    async def first_text(self, rids: Sequence[str]) -> codec.VersionText | None:
        """The document of the first of `rids` that is published."""
        async with store_errors(self.scripts.timeout):
            found: list[str | None] = await self.client.hmget(Registry.texts, list(rids))  # type: ignore[assignment]
        for rid, text in zip(rids, found, strict=True):
            if text is not None:
                return codec.decode_version_text(split_id(rid)[1], text)
        return None

    async def ids(self) -> list[str]:
        """The registry id of every published version (not their documents)."""
        async with store_errors(self.scripts.timeout):
            return await self.client.hkeys(Registry.texts)  # type: ignore[return-value]

    async def texts(self) -> list[codec.VersionText]:
        async with store_errors(self.scripts.timeout):
            every: dict[str, str] = await self.client.hgetall(Registry.texts)  # type: ignore[assignment]
        return [codec.decode_version_text(split_id(rid)[1], text) for rid, text in sorted(every.items())]

    async def statuses(self) -> dict[str, codec.VersionStatus]:
        async with store_errors(self.scripts.timeout):
            every: dict[str, str] = await self.client.hgetall(Registry.status)  # type: ignore[assignment]
        return {key: codec.decode_version_status(text) for key, text in every.items()}

    async def status(self, rid: str) -> codec.VersionStatus | None:
        async with store_errors(self.scripts.timeout):
            found: str | None = await self.client.hget(Registry.status, rid)  # type: ignore[assignment]
        return None if found is None else codec.decode_version_status(found)

    async def active(self, fields: Sequence[str]) -> list[str | None]:
        """The active version's registry id for each field (`active_field`), None where nothing is activated."""
        async with store_errors(self.scripts.timeout):
            return await self.client.hmget(Registry.active, list(fields))  # type: ignore[return-value]

    async def every_active(self) -> dict[str, str]:
        async with store_errors(self.scripts.timeout):
            return await self.client.hgetall(Registry.active)  # type: ignore[return-value]
