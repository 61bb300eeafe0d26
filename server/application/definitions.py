"""Definitions as the API offers them: validate a text; publish, approve and activate versions in the registry;
list, read, draw and compare them; reload the shipped ones from disk.

Authority: a caller acts on its own tenant's versions; the shared defaults belong to the platform tenant's
admins (CRMSTATUS_PLATFORM_TENANT), a credential no tenant holds. Publishing and activating need the `admin`
role; approving needs the `approver` role and someone other than the publisher.
"""

from __future__ import annotations

import asyncio

from crmstatus.engine import diagram, diff
from crmstatus.engine.clock import Clock
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition, InvalidRequest, PermissionDenied, quote
from crmstatus.engine.loader import load_definition
from crmstatus.engine.model import ADMIN_ROLE, APPROVER_ROLE
from crmstatus.server.store.codec import VersionStatus, VersionText
from crmstatus.server.store.registry import DefinitionRegistry, active_field, registry_id, split_id

from .catalog import Catalog, Version, known_name
from .errors import DefinitionNotFound, LifecycleRefused, VersionTaken
from .model import Caller


async def _compiled(text: str, file_name: str) -> Definition:
    """A caller's text compiled in a thread of its own: up to a megabyte takes seconds, in which the event loop
    goes on answering every other call."""
    return await asyncio.to_thread(load_definition, text, file_name)


class Definitions:
    def __init__(self, catalog: Catalog, clock: Clock, config_dir: str, platform_tenant: str = "platform",
                 approval_optional: frozenset[str] = frozenset()) -> None:  # fmt: skip
        self.catalog = catalog
        self.clock = clock
        self.config_dir = config_dir
        self.platform_tenant = platform_tenant
        self.approval_optional = approval_optional

    @staticmethod
    async def validate(text: str, file_name: str) -> Definition | list[Diagnostic]:
        """The compiled definition, or every problem in it."""
        try:
            return await _compiled(text, file_name)
        except InvalidDefinition as error:
            return list(error.diagnostics)

    async def published(self, caller: Caller) -> list[Definition]:
        """Every version the caller's tenant sees, compiled (as `compiled`)."""
        return [definition for _, definition in await self.compiled(caller)]

    async def compiled(self, caller: Caller, name: str = "") -> list[tuple[Version, Definition]]:
        """The versions the caller's tenant sees (of `name`, or all), each with its definition. One this release
        cannot compile (a newer release's, in a rolling upgrade) is left out, as the catalog leaves it out of
        listings: it is logged, and a call naming it is answered that it cannot be used."""
        found = []
        for version in await self.versions(caller, name):
            try:
                found.append((version, await self.catalog.compile(version.text)))
            except DefinitionNotFound:
                continue
        return found

    async def get(self, caller: Caller, name: str, version: int | None = None) -> Definition:
        return await self.catalog.resolve(caller.tenant, name, version)

    async def diagram(self, caller: Caller, name: str, version: int | None, dimension: str, form: str) -> str:
        """The definition drawn as `form` ('mermaid' or 'dot'), one dimension or all."""
        return draw(await self.get(caller, name, version), dimension, form)

    async def versions(self, caller: Caller, name: str = "") -> list[Version]:
        return [v for v in await self.catalog.versions(caller.tenant) if not name or v.text.key.startswith(f"{name}@")]

    async def diff(
        self, caller: Caller, name: str, old: int, new: int
    ) -> tuple[Definition, Definition, list[diff.Change]]:
        before, after = await self.get(caller, name, old), await self.get(caller, name, new)
        return before, after, diff.diff(before, after)

    async def publish(self, caller: Caller, text: str, file_name: str) -> tuple[Definition, Version]:
        """Store a valid text as a draft version of the caller's scope; a broken one is refused with every
        problem (InvalidDefinition) and nothing is stored. Publishing the same text again is harmless."""
        scope = self._scope(caller, ADMIN_ROLE, "publishing a definition")
        definition = await _compiled(text, file_name or "definition.yaml")
        now = self.clock.now()
        document = VersionText(definition.key, scope, definition.file, definition.source, definition.digest,
                               caller.actor.id, now)  # fmt: skip
        registry = self._registry()
        taken = await registry.publish(document, definition.name, definition.version, VersionStatus("draft", scope))
        if taken is not None and (taken.existing.digest != definition.digest or taken.existing.scope != scope):
            raise VersionTaken(definition.key, taken.latest)
        self.catalog.compiled_as(registry_id(scope, definition.key), definition)
        return definition, await self._version(caller, scope, definition.key)

    async def approve(self, caller: Caller, name: str, version: int) -> Version:
        """A second person approves a draft of the caller's scope."""
        scope = self._scope(caller, APPROVER_ROLE, "approving a definition")
        key = f"{known_name(name)}@{version}"
        text = await self._own(caller, scope, key)
        if text.by == caller.actor.id:
            raise PermissionDenied(f"{key} was published by {quote(caller.actor.id)}: someone else approves it")
        outcome, status = await self._registry().approve(registry_id(scope, key), caller.actor.id, self.clock.now())
        if outcome != "ok":
            raise LifecycleRefused(f"{key} is {status}: only a draft is approved")
        return await self._version(caller, scope, key)

    async def activate(self, caller: Caller, name: str, version: int) -> Version:
        """Make a version the one the scope's new customers get: one of the scope's own (approved first, where
        the tenant requires approval), or, for a tenant, one of the shared defaults. Customers already created
        stay on their version."""
        scope = self._scope(caller, ADMIN_ROLE, "activating a definition")
        key = f"{known_name(name)}@{version}"
        own = registry_id(scope, key)
        text = await self._registry().first_text([own, key] if scope else [own])
        if text is None:
            await self._own(caller, scope, key)  # names what the scope has
        rid = registry_id(text.scope, key) if text is not None else own  # a tenant may activate a shared one
        # a tenant's exemption covers its own versions: the shared ones always need a second person's approval
        required = text is None or text.scope != scope or scope not in self.approval_optional
        outcome, status = await self._registry().activate(rid, active_field(scope, name), caller.actor.id,
                                                           self.clock.now(), required)  # fmt: skip
        if outcome != "ok":
            raise LifecycleRefused(f"{key} is a {status} that needs a second person's approval before it is activated"
                                   if status == "draft" else f"{key} is {status}: it cannot be activated")  # fmt: skip
        return await self._version(caller, split_id(rid)[0], key)

    async def reload(self, caller: Caller) -> list[Definition]:
        """Publish the definitions on disk now as the shared defaults, when every file is valid."""
        if self._scope(caller, ADMIN_ROLE, "reloading the shared definitions"):
            raise PermissionDenied(
                f"the shared definitions belong to the platform tenant {quote(self.platform_tenant)}"
            )
        await self.catalog.reload(self.config_dir, self.clock.now())
        return await self.published(caller)

    def _scope(self, caller: Caller, role: str, what: str) -> str:
        """The registry scope the caller acts on ("" for the platform tenant: the shared defaults), when it has
        the role."""
        if role not in caller.actor.roles:
            raise PermissionDenied(f"{what} needs the {role} role")
        return "" if caller.tenant == self.platform_tenant else caller.tenant

    async def _own(self, caller: Caller, scope: str, key: str) -> VersionText:
        """The scope's own version `key`; another scope's is not the caller's to change."""
        text = await self._registry().first_text([registry_id(scope, key)])
        if text is None:
            whose = "the shared defaults" if not scope else f"tenant {quote(scope)}"
            own = [v.text.key for v in await self.catalog.versions(caller.tenant) if v.text.scope == scope]
            raise DefinitionNotFound(f"{key} of {whose}", own)
        return text

    async def _version(self, caller: Caller, scope: str, key: str) -> Version:
        self.catalog.forget_texts()
        found = [v for v in await self.catalog.versions(caller.tenant) if v.text.key == key and v.text.scope == scope]
        return found[0]

    def _registry(self) -> DefinitionRegistry:
        if self.catalog.registry is None:
            raise InvalidRequest("definitions are published in the registry: this process has no store")
        return self.catalog.registry


def draw(definition: Definition, dimension: str, form: str, overlay: diagram.Overlay | None = None) -> str:
    if dimension and dimension not in definition.dimensions:
        raise InvalidRequest(f"definition {definition.key} has no dimension {quote(dimension)}")
    drawing = diagram.to_dot if form == "dot" else diagram.to_mermaid
    return drawing(definition, dimension or None, overlay)
