"""The definition versions a replica serves: compiled once each, from the registry every replica shares.

The registry (store/registry.py) holds every published version, the shared defaults (the definitions this
release ships in configs/, published at start) and each tenant's own, and which version each tenant's new
customers get. A replica compiles a version the first time a customer or a call needs it, and reads the
active version at every creation, so an activation through any replica counts at once on all of them.

A tenant sees the shared versions and its own; its own of a name come first (a tenant's variant of a shared
definition keeps the shared name, and never a number the shared versions had when it was published).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition, InvalidRequest
from crmstatus.engine.loader import load_all, load_definition
from crmstatus.server.store.codec import VersionStatus, VersionText
from crmstatus.server.store.registry import DefinitionRegistry, active_field, registry_id, split_id

from .errors import DefinitionNotFound, LifecycleRefused

log = logging.getLogger(__name__)
_EPOCH = datetime.fromtimestamp(0, UTC)  # when nothing better is known
TEXTS_FRESH = 1.0  # seconds a replica lists the published versions it read
RELEASE = "release"  # who publishes and approves the definitions a release ships
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # as the schema has it: never a registry id (`tenant:name`)


def known_name(name: str) -> str:
    """A definition name as callers give it: anything else (`acme:education`, another tenant's registry id)
    names no definition."""
    if not name:
        raise InvalidRequest("a definition name is required: it is empty")
    if not _NAME.fullmatch(name):
        raise DefinitionNotFound(name, ())
    return name


@dataclass(frozen=True, slots=True)
class Version:
    """A published version as a tenant sees it, with its lifecycle."""

    text: VersionText
    status: VersionStatus
    in_use: bool  # the version the tenant's new customers get


class Catalog:
    def __init__(self, shipped: Iterable[Definition], claim_protection: Mapping[str, timedelta] | None = None):
        self.claim_protection = dict(claim_protection or {})
        self.registry: DefinitionRegistry | None = None
        self._shipped_at = _EPOCH
        self.shipped = {d.key: d for d in shipped}
        self._compiled: dict[str, Definition] = dict(self.shipped)  # by registry id
        self._resolved: dict[tuple[str, str], str] = {}  # (tenant, name@version) → registry id
        self._tailored: dict[tuple[str, str], Definition] = {}
        self._texts_read: tuple[float, list[VersionText]] | None = None
        self._ids_read: tuple[float, frozenset[str]] | None = None
        self._uncompilable: set[str] = set()  # registry ids of versions this release cannot compile
        self._loading: dict[str, asyncio.Future[Definition]] = {}  # registry id → its load under way

    @classmethod
    def load(cls, config_dir: str, claim_protection: Mapping[str, timedelta] | None = None) -> Catalog:
        definitions, problems = load_all([config_dir])
        if problems:
            raise InvalidDefinition(problems)
        return cls(definitions, claim_protection)

    def __iter__(self) -> Iterator[Definition]:
        """The definitions compiled so far (the shipped ones, and those used since)."""
        return iter(sorted(self._compiled.values(), key=lambda d: (d.name, d.version)))

    def get(self, name: str, version: int | None = None) -> Definition:
        """A shipped definition, at `version` or its newest: for tools working without a registry."""
        found = [d for d in self.shipped.values() if d.name == name and version in (None, d.version)]
        if not found:
            known = {d.name for d in self.shipped.values()} if version is None else self.shipped
            raise DefinitionNotFound(name if version is None else f"{name}@{version}", known)
        return max(found, key=lambda d: d.version)

    async def connect(self, registry: DefinitionRegistry, now: datetime) -> None:
        """Serve the registry's versions, having published the shipped ones in it as shared defaults (refused
        when a shipped version is there with another text)."""
        await self._ship(registry, list(self.shipped.values()), now)
        self.registry, self._shipped_at = registry, now

    async def reload(self, config_dir: str, now: datetime) -> list[Definition]:
        """Publish the definitions on disk now as shared defaults. All or nothing: any problem raises
        InvalidDefinition and nothing is published. A published version whose text changed is a problem:
        customers on it would silently get other rules."""
        definitions, problems = load_all([config_dir])
        problems += [
            _changed(d) for d in definitions if d.key in self.shipped and self.shipped[d.key].digest != d.digest
        ]
        if problems:
            raise InvalidDefinition(problems)
        if self.registry is not None:
            await self._ship(self.registry, definitions, now)
        for definition in definitions:
            self.shipped[definition.key] = self._compiled[definition.key] = definition
        return definitions

    @staticmethod
    async def _ship(registry: DefinitionRegistry, definitions: list[Definition], now: datetime) -> None:
        """Publish shipped versions (approved by the release), all of them or none (InvalidDefinition when one is
        published with another text), and make each name's newest the shared default when it is newer than any a
        release shipped before and than the one active."""
        texts = [(VersionText(d.key, "", d.file, d.source, d.digest, RELEASE, now), d.name, d.version)
                 for d in definitions]  # fmt: skip
        changed = set(await registry.ship(texts, VersionStatus("approved", "", RELEASE, now)))
        if changed:
            raise InvalidDefinition([_changed(d) for d in definitions if d.key in changed])
        newest: dict[str, Definition] = {}
        for d in definitions:
            if d.name not in newest or newest[d.name].version < d.version:
                newest[d.name] = d
        for d in newest.values():
            await registry.activate_shipped(d.key, d.name, d.version, RELEASE, now)

    async def active(self, tenant: str, name: str) -> Definition:
        """The version the tenant's new customers of `name` get: its own activated one, else the shared one."""
        if self.registry is None:
            return self.for_tenant(tenant, self.get(name))
        return await self._compiled_or_loaded(tenant, await self._active_id(tenant, name))

    async def _active_id(self, tenant: str, name: str) -> str:
        rid = await self._active_or_none(tenant, name)
        if rid is None:
            raise await self._not_found(tenant, name)
        return rid

    async def _active_or_none(self, tenant: str, name: str) -> str | None:
        assert self.registry is not None
        known_name(name)
        own, shared = await self.registry.active([active_field(tenant, name), active_field("", name)])
        rid = own or shared
        if rid is None and any(d.name == name for d in self.shipped.values()):  # a Redis that lost its data
            await self._ship(self.registry, list(self.shipped.values()), self._shipped_at)
            rid = (await self.registry.active([active_field("", name)]))[0]
        return rid

    async def _not_found(self, tenant: str, name: str) -> DefinitionNotFound:
        """`name` is none of the tenant's definitions: the error, with the names it has."""
        return DefinitionNotFound(name, {split_id(rid)[1].partition("@")[0] for rid in await self._visible_ids(tenant)})

    async def resolve(self, tenant: str, name: str, version: int | None = None, digest: str = "") -> Definition:
        """The definition at `version` as the tenant sees it (its active version when None), loaded from the
        registry the first time. One this release cannot compile (a newer release's language) is logged and
        answered as not found.

        A customer's `digest` (the start of its text's, as stored) tells the shared version from the tenant's
        own of the same number: a release may ship a shared version under a number a tenant's own draft or
        approved version already has, and customers created on the shared one run it."""
        found = await self._resolved_version(tenant, name, version)
        if digest and not found.digest.startswith(digest) and self.registry is not None and version is not None:
            key = f"{name}@{version}"
            if self._resolved.get((tenant, key)) != key:  # the tenant's own: the shared one may be the customer's
                with contextlib.suppress(DefinitionNotFound):
                    shared = await self._compiled_or_loaded(tenant, key)
                    if shared.digest.startswith(digest):
                        return shared
        return found  # else: its text was edited in place, which decoding the customer reports

    async def _resolved_version(self, tenant: str, name: str, version: int | None) -> Definition:
        if version is None:
            return await self.active(tenant, name)
        key = f"{name}@{version}"
        if self.registry is None:
            if key not in self._compiled:
                raise DefinitionNotFound(key, self._compiled)
            return self.for_tenant(tenant, self._compiled[key])
        rid = self._resolved.get((tenant, key))  # holds only names known_name let through
        if rid is not None:  # which version a tenant's name@version is never changes (see publish_definition.lua)
            compiled = self._compiled.get(rid)
            if compiled is None:  # one this release cannot compile: not read again
                raise DefinitionNotFound(key, (), unusable=True)
            return self.for_tenant(tenant, compiled)
        known_name(name)
        text = await self.registry.first_text([registry_id(tenant, key), key])
        if text is None or text.scope not in ("", tenant):
            raise DefinitionNotFound(key, [split_id(rid)[1] for rid in await self._visible_ids(tenant)])
        rid = registry_id(text.scope, key)
        try:
            definition = await self._compiled_or_loaded(tenant, rid, text)
        except DefinitionNotFound:
            self._resolved[(tenant, key)] = rid  # this release cannot compile it (logged): not read again
            raise
        self._resolved[(tenant, key)] = rid
        return definition

    async def for_new_customers(self, tenant: str, name: str, version: int | None) -> Definition:
        """The version a new customer gets: the active one, or one named that is approved, active or retired
        (a draft's rules have not been approved; LifecycleRefused)."""
        definition = await self.resolve(tenant, name, version)
        if version is not None and self.registry is not None:
            rid = self._resolved[(tenant, definition.key)]
            status = await self.registry.status(rid)
            if status is not None and status.status == "draft":
                raise LifecycleRefused(f"{definition.key} is a draft: customers are created on it once it is approved")
        return definition

    async def _compiled_or_loaded(self, tenant: str, rid: str, text: VersionText | None = None) -> Definition:
        definition = self._compiled.get(rid)
        if definition is None:
            # One load per version, however many calls meet it at once (a replica that has not compiled it yet)
            loading = self._loading.get(rid)
            if loading is None:
                loading = self._loading[rid] = asyncio.ensure_future(self._load(rid, text))
                loading.add_done_callback(lambda _: self._loading.pop(rid, None))
            definition = await asyncio.shield(loading)
        return self.for_tenant(tenant, definition)

    async def _load(self, rid: str, text: VersionText | None) -> Definition:
        """The version read from the registry (unless its `text` is given) and compiled, or DefinitionNotFound."""
        if rid in self._uncompilable:
            raise DefinitionNotFound(split_id(rid)[1], (), unusable=True)
        if text is None:
            assert self.registry is not None
            text = await self.registry.first_text([rid])
        if text is None:
            raise DefinitionNotFound(split_id(rid)[1], ())
        try:  # in a thread: a text of up to a megabyte takes seconds, in which other calls are answered
            definition = await asyncio.to_thread(load_definition, text.source, text.file, stored=True)
            self._compiled[rid] = definition
        except InvalidDefinition as error:  # a published text never changes: it is tried once
            self._uncompilable.add(rid)
            log.error("definition %s cannot be used by this release: %s", rid, error)
            raise DefinitionNotFound(split_id(rid)[1], (), unusable=True) from None
        return definition

    def compiled_as(self, rid: str, definition: Definition) -> None:
        """A version compiled as it was published: kept, so that its first use compiles nothing again."""
        self._compiled.setdefault(rid, definition)

    async def compile(self, text: VersionText) -> Definition:
        """A published version's definition, compiled once."""
        rid = registry_id(text.scope, text.key)
        return await self._compiled_or_loaded(text.scope, rid, text)

    async def versions(self, tenant: str) -> list[Version]:
        """Every version the tenant sees, shared and its own, oldest first, with its lifecycle."""
        if self.registry is None:
            return [Version(VersionText(d.key, "", d.file, d.source, d.digest, RELEASE, _EPOCH),
                            VersionStatus("active", ""), True) for d in self.shipped.values()]  # fmt: skip
        texts, statuses, active = (
            await self._texts(),
            await self.registry.statuses(),
            await self.registry.every_active(),
        )
        found = []
        for text in texts:
            if text.scope not in ("", tenant):
                continue
            rid, name = registry_id(text.scope, text.key), text.key.partition("@")[0]
            in_use = (active.get(active_field(tenant, name)) or active.get(active_field("", name))) == rid
            found.append(Version(text, statuses[rid], in_use))
        return sorted(
            found, key=lambda v: (v.text.key.partition("@")[0], int(v.text.key.rpartition("@")[2]), v.text.scope)
        )

    async def every_version(self, tenant: str, name: str) -> list[Definition]:
        """Every version of `name` the tenant's customers may be on, each as they run it (the tenant's own
        name@version before a shared one of that number): the active one first, then the others newest first;
        also when none is active (a customer may be created on a version it names). A version this release
        cannot compile is left out (and logged once)."""
        if self.registry is None:
            return [await self.active(tenant, name)]
        needed = await self._active_or_none(tenant, name)
        numbers = _numbers(tenant, await self._ids(needed or ""), name)
        if not numbers and needed is None:  # one published through another replica just now, or none
            self._ids_read = None
            numbers = _numbers(tenant, await self._ids(""), name)
            if not numbers:
                raise await self._not_found(tenant, name)
        found = await self._runs(tenant, numbers)
        if not found:  # each version unusable here, or gone with a registry that lost its data
            if any(self._resolved.get((tenant, f"{each}@{n}")) in self._uncompilable for each, n in numbers):
                raise DefinitionNotFound(name, (), unusable=True)
            raise await self._not_found(tenant, name)
        active = split_id(needed)[1] if needed else ""
        return sorted(found, key=lambda d: (d.key != active, -d.version))

    async def every_definition(self, tenant: str) -> list[Definition]:
        """Every version of every definition the tenant's customers may be on, as every_version."""
        if self.registry is None:
            return [self.for_tenant(tenant, d) for d in self.shipped.values()]
        return await self._runs(tenant, _numbers(tenant, await self._ids("")))

    async def _runs(self, tenant: str, numbers: Iterable[tuple[str, int]]) -> list[Definition]:
        """Each (name, version) compiled as the tenant runs it; those this release cannot compile left out."""
        found = []
        for each, version in numbers:
            try:
                found.append(await self.resolve(tenant, each, version))
            except DefinitionNotFound:
                continue
        return found

    async def _texts(self) -> list[VersionText]:
        """Every published version's document. They never change, only new ones come: re-read at most every
        TEXTS_FRESH seconds."""
        assert self.registry is not None
        if self._texts_read is None or time.monotonic() - self._texts_read[0] > TEXTS_FRESH:
            self._texts_read = (time.monotonic(), await self.registry.texts())
        return self._texts_read[1]

    async def _ids(self, needed: str) -> frozenset[str]:
        """Every published version's registry id (not its document, which a listing does not need): re-read at
        most every TEXTS_FRESH seconds, and at once when the one `needed` is not among them."""
        assert self.registry is not None
        if (
            self._ids_read is None
            or time.monotonic() - self._ids_read[0] > TEXTS_FRESH
            or (needed and needed not in self._ids_read[1])
        ):
            self._ids_read = (time.monotonic(), frozenset(await self.registry.ids()))
        return self._ids_read[1]

    def forget_texts(self) -> None:
        self._texts_read = self._ids_read = None

    async def _visible_ids(self, tenant: str) -> list[str]:
        """The registry ids of the versions the tenant sees (its own and the shared ones), for did-you-mean hints:
        their ids only, not every document, status and activation that `versions` reads."""
        return [rid for rid in await self._ids("") if split_id(rid)[0] in ("", tenant)]

    def for_tenant(self, tenant: str, definition: Definition) -> Definition:
        """The definition as `tenant` runs it: with the tenant's own claim lease, when it has one."""
        protection = self.claim_protection.get(tenant)
        if protection is None or definition.claims is None:
            return definition
        key = (tenant, definition.key)
        tailored = self._tailored.get(key)
        if tailored is None or tailored.digest != definition.digest:
            tailored = self._tailored[key] = replace(
                definition, claims=replace(definition.claims, protection=protection)
            )
        return tailored


def _numbers(tenant: str, ids: Iterable[str], name: str = "") -> list[tuple[str, int]]:
    """The (name, version) pairs among registry `ids` the tenant sees (of `name`, or all), in order."""
    versions = set()
    for rid in ids:
        scope, key = split_id(rid)
        each, _, number = key.partition("@")
        if scope in ("", tenant) and (not name or each == name):
            versions.add((each, int(number)))
    return sorted(versions)


def _changed(definition: Definition) -> Diagnostic:
    message = f"{definition.key} is published and its text changed: give the new rules a new version"
    return Diagnostic(definition.file, 1, 1, "version", message)
