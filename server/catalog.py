"""The published definitions the service knows, by name and version."""

from __future__ import annotations

from collections.abc import Iterable

from engine.definition import Definition
from engine.errors import InvalidDefinition, InvalidRequest, did_you_mean
from engine.loader import load_all


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

    def __iter__(self) -> Iterable[Definition]:
        return iter(self._by_key.values())

    def get(self, name: str, version: int | None = None) -> Definition:
        """The named definition at `version`, or its latest version."""
        definition = self._latest.get(name) if version is None else self._by_key.get(f"{name}@{version}")
        if definition is None:
            known = list(self._latest) if version is None else list(self._by_key)
            wanted = name if version is None else f"{name}@{version}"
            raise InvalidRequest(f"unknown definition {wanted!r}{did_you_mean(wanted, known)}")
        return definition
