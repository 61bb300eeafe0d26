"""Definitions as the API offers them: validate a text, list and get the published ones, reload from disk."""

from __future__ import annotations

from crmstatus.engine import diagram
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, InvalidDefinition, InvalidRequest, PermissionDenied, quote
from crmstatus.engine.loader import load_definition
from crmstatus.engine.model import ADMIN_ROLE  # with the platform tenant: may reload the shared definitions

from .catalog import Catalog
from .model import Caller


class Definitions:
    def __init__(self, catalog: Catalog, config_dir: str, platform_tenant: str = "platform") -> None:
        self.catalog = catalog
        self.config_dir = config_dir
        self.platform_tenant = platform_tenant

    @staticmethod
    def validate(text: str, file_name: str) -> Definition | list[Diagnostic]:
        """The compiled definition, or every problem in it."""
        try:
            return load_definition(text, file_name)
        except InvalidDefinition as error:
            return list(error.diagnostics)

    def published(self) -> list[Definition]:
        return list(self.catalog)

    def get(self, name: str, version: int | None = None) -> Definition:
        return self.catalog.get(name, version)

    def diagram(self, name: str, version: int | None, dimension: str, form: str) -> str:
        """The definition drawn as `form` ('mermaid' or 'dot'), one dimension or all."""
        return draw(self.catalog.get(name, version), dimension, form)

    async def reload(self, caller: Caller) -> list[Definition]:
        """The definitions on disk now, replacing the running ones only when every file is valid, and made
        available to every replica."""
        if ADMIN_ROLE not in caller.actor.roles or caller.tenant != self.platform_tenant:
            raise PermissionDenied(
                f"the definitions are shared by every tenant: reloading them needs the {ADMIN_ROLE} role in the "
                f"platform tenant {quote(self.platform_tenant)}"
            )
        await self.catalog.reload(self.config_dir)
        return self.published()


def draw(definition: Definition, dimension: str, form: str, overlay: diagram.Overlay | None = None) -> str:
    if dimension and dimension not in definition.dimensions:
        raise InvalidRequest(f"definition {definition.key} has no dimension {quote(dimension)}")
    drawing = diagram.to_dot if form == "dot" else diagram.to_mermaid
    return drawing(definition, dimension or None, overlay)
