"""The published definitions the service knows, by name and version, and each tenant's view of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition
from crmstatus.engine.loader import load_all

from .errors import DefinitionNotFound


class Catalog:
    def __init__(self, definitions: Iterable[Definition], claim_protection: Mapping[str, timedelta] | None = None):
        self.claim_protection = dict(claim_protection or {})
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

    def reload(self, config_dir: str) -> None:
        """Use the definitions on disk now, plus versions no longer on disk (customers may be pinned to them).

        All or nothing: any problem raises InvalidDefinition and this catalog stays as it is. A published
        version whose text changed is a problem: customers on it would silently get other rules.
        """
        definitions, problems = load_all([config_dir])
        for definition in definitions:
            running = self._by_key.get(definition.key)
            if running is not None and running.digest != definition.digest:
                message = f"{definition.key} is published and its text changed: give the new rules a new version"
                problems.append(Diagnostic(definition.file, 1, 1, "version", message))
        if problems:
            raise InvalidDefinition(problems)
        fresh = {d.key for d in definitions}
        self._use([*definitions, *(d for key, d in self._by_key.items() if key not in fresh)])
