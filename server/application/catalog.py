"""The published definitions the service knows, by name and version, and each tenant's view of them.

Once connected to the versions shared in Redis (`share`), every replica serves the same ones: its own are
added there at start and on a reload, and it takes up the others' within a refresh interval, or at once when
a customer is pinned to a version it has not seen yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition
from crmstatus.engine.loader import load_all, load_definition
from crmstatus.server.store.codec import DefinitionText
from crmstatus.server.store.definitions import SharedDefinitions

from .errors import DefinitionNotFound

log = logging.getLogger(__name__)


class Catalog:
    def __init__(self, definitions: Iterable[Definition], claim_protection: Mapping[str, timedelta] | None = None):
        self.claim_protection = dict(claim_protection or {})
        self.shared: SharedDefinitions | None = None
        self._generation = -1
        self._use(definitions)

    def _use(self, definitions: Iterable[Definition]) -> None:
        by_key = {d.key: d for d in definitions}
        latest: dict[str, Definition] = {}
        for definition in by_key.values():
            known = latest.get(definition.name)
            if known is None or known.version < definition.version:
                latest[definition.name] = definition
        self._tailored: dict[tuple[str, str], Definition] = {}
        self._by_key, self._latest = by_key, latest

    @classmethod
    def load(cls, config_dir: str, claim_protection: Mapping[str, timedelta] | None = None) -> Catalog:
        definitions, problems = load_all([config_dir])
        if problems:
            raise InvalidDefinition(problems)
        return cls(definitions, claim_protection)

    def __iter__(self) -> Iterator[Definition]:
        return iter(sorted(self._by_key.values(), key=lambda d: (d.name, d.version)))

    def get(self, name: str, version: int | None = None) -> Definition:
        """The named definition at `version`, or its latest version."""
        definition = self._latest.get(name) if version is None else self._by_key.get(f"{name}@{version}")
        if definition is None:
            known = list(self._latest) if version is None else list(self._by_key)
            raise DefinitionNotFound(name if version is None else f"{name}@{version}", known)
        return definition

    def for_tenant(self, tenant: str, name: str, version: int | None = None) -> Definition:
        """The definition as `tenant` runs it: with the tenant's own claim lease, when it has one."""
        definition = self.get(name, version)
        protection = self.claim_protection.get(tenant)
        if protection is None or definition.claims is None:
            return definition
        key = (tenant, definition.key)
        tailored = self._tailored.get(key)
        if tailored is None:
            tailored = self._tailored[key] = replace(
                definition, claims=replace(definition.claims, protection=protection)
            )
        return tailored

    async def resolve(self, tenant: str, name: str, version: int | None = None) -> Definition:
        """`for_tenant`, looking among the shared versions first when this replica has not seen `version`."""
        try:
            return self.for_tenant(tenant, name, version)
        except DefinitionNotFound:
            if self.shared is None or version is None:
                raise
            await self.refresh(force=True)
            return self.for_tenant(tenant, name, version)

    async def share(self, shared: SharedDefinitions) -> None:
        """Serve the versions every replica serves: add ours to them (refused when one of ours has another
        text there), and take up theirs."""
        await self._publish(shared, list(self._by_key.values()))
        self.shared = shared
        await self.refresh(force=True)

    async def refresh(self, *, force: bool = False) -> None:
        """Take up the shared versions added since the last refresh. One this replica cannot compile (a
        newer release's language) is logged and skipped: customers pinned to it answer DEFINITION_NOT_FOUND."""
        if self.shared is None:
            return
        generation = await self.shared.generation()
        if generation == self._generation and not force:
            return
        taken = []
        for text in await self.shared.all():
            if text.key in self._by_key:
                continue
            try:
                taken.append(load_definition(text.source, text.file))
            except InvalidDefinition as error:
                log.error("shared definition %s cannot be used by this release: %s", text.key, error)
        if taken:
            log.info("definitions made available by other replicas: %s", ", ".join(d.key for d in taken))
            self._use([*self._by_key.values(), *taken])
        self._generation = generation

    async def reload(self, config_dir: str) -> None:
        """Use the definitions on disk now, plus versions no longer on disk (customers may be pinned to them),
        and make them available to every replica.

        All or nothing: any problem raises InvalidDefinition and this catalog stays as it is. A published
        version whose text changed is a problem: customers on it would silently get other rules.
        """
        definitions, problems = load_all([config_dir])
        for definition in definitions:
            running = self._by_key.get(definition.key)
            if running is not None and running.digest != definition.digest:
                problems.append(_changed(definition))
        if problems:
            raise InvalidDefinition(problems)
        if self.shared is not None:
            await self._publish(self.shared, definitions)
        fresh = {d.key for d in definitions}
        self._use([*definitions, *(d for key, d in self._by_key.items() if key not in fresh)])

    @staticmethod
    async def _publish(shared: SharedDefinitions, definitions: list[Definition]) -> None:
        texts = [DefinitionText(d.key, d.file, d.source, d.digest) for d in definitions]
        differing = await shared.add(texts)
        if differing:
            raise InvalidDefinition([_changed(d) for d in definitions if d.key in differing])


def _changed(definition: Definition) -> Diagnostic:
    message = f"{definition.key} is published and its text changed: give the new rules a new version"
    return Diagnostic(definition.file, 1, 1, "version", message)
