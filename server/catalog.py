"""The published definitions the service knows, by name and version."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import DefinitionNotFound, Diagnostic, InvalidDefinition
from crmstatus.engine.loader import load_all


class Catalog:
    def __init__(self, definitions: Iterable[Definition]) -> None:
        self._by_key = {d.key: d for d in definitions}
        self._latest: dict[str, Definition] = {}
        for definition in self._by_key.values():
            known = self._latest.get(definition.name)
            if known is None or known.version < definition.version:
                self._latest[definition.name] = definition

    @classmethod
    def load(cls, config_dir: str) -> Catalog:
        definitions, problems = load_all([config_dir])
        if problems:
            raise InvalidDefinition(problems)
        return cls(definitions)

    def __iter__(self) -> Iterator[Definition]:
        return iter(sorted(self._by_key.values(), key=lambda d: (d.name, d.version)))

    def get(self, name: str, version: int | None = None) -> Definition:
        """The named definition at `version`, or its latest version."""
        definition = self._latest.get(name) if version is None else self._by_key.get(f"{name}@{version}")
        if definition is None:
            known = list(self._latest) if version is None else list(self._by_key)
            raise DefinitionNotFound(name if version is None else f"{name}@{version}", known)
        return definition

    def reloaded(self, config_dir: str) -> Catalog:
        """The definitions on disk now, plus versions no longer on disk (customers may be pinned to them).

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
        return Catalog([*definitions, *(d for key, d in self._by_key.items() if key not in fresh)])
