"""Definition versions shared by every replica: each published version's text, kept once and never changed,
and a generation number that moves whenever one is added, so replicas learn of it with one cheap read."""

from __future__ import annotations

from collections.abc import Iterable

from . import codec
from .errors import store_errors
from .keys import DEFINITIONS, DEFINITIONS_GENERATION
from .scripts import Scripts


class SharedDefinitions:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self.client = scripts.client

    async def add(self, versions: Iterable[codec.DefinitionText]) -> dict[str, codec.DefinitionText]:
        """Add the versions not shared yet; returns those already shared with another text, by key (name@version)."""
        versions = list(versions)
        async with store_errors(self.scripts.timeout):
            added = 0
            for version in versions:
                added += await self.client.hsetnx(DEFINITIONS, version.key, codec.encode_definition_text(version))
            if added:
                await self.client.incr(DEFINITIONS_GENERATION)
            stored: list[str] = await self.client.hmget(DEFINITIONS, [v.key for v in versions]) if versions else []  # type: ignore[assignment]
        differing = {}
        for version, text in zip(versions, stored, strict=True):
            shared = codec.decode_definition_text(version.key, text)
            if shared.digest != version.digest:
                differing[version.key] = shared
        return differing

    async def generation(self) -> int:
        async with store_errors(self.scripts.timeout):
            return int(await self.client.get(DEFINITIONS_GENERATION) or 0)

    async def all(self) -> list[codec.DefinitionText]:
        async with store_errors(self.scripts.timeout):
            every: dict[str, str] = await self.client.hgetall(DEFINITIONS)  # type: ignore[assignment]
        return [codec.decode_definition_text(key, text) for key, text in sorted(every.items())]
