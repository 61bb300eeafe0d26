"""The crmstatus.v1 DefinitionService: validate, list, get, draw and reload definitions."""

from __future__ import annotations

from typing import Any

import grpc

from crmstatus.server.application import Application
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc

from . import convert
from .auth import caller
from .status import rpc

Context = grpc.aio.ServicerContext[Any, Any]


class DefinitionService(ds_grpc.DefinitionServiceServicer):
    def __init__(self, app: Application) -> None:
        self.definitions = app.definitions
        self.queries = app.queries

    @rpc
    async def ValidateDefinition(self, request: ds.ValidateDefinitionRequest, context: Context) -> Any:
        caller(context)
        found = self.definitions.validate(request.content, request.file_name or "definition.yaml")
        if isinstance(found, list):
            return ds.ValidateDefinitionResponse(valid=False, diagnostics=[convert.diagnostic(d) for d in found])
        return ds.ValidateDefinitionResponse(valid=True, definition=convert.summary(found))

    @rpc
    async def ListDefinitions(self, request: ds.ListDefinitionsRequest, context: Context) -> Any:
        caller(context)
        return ds.ListDefinitionsResponse(definitions=[convert.summary(d) for d in self.definitions.published()])

    @rpc
    async def GetDefinition(self, request: ds.GetDefinitionRequest, context: Context) -> Any:
        caller(context)
        definition = self.definitions.get(request.name, request.version or None)
        return ds.GetDefinitionResponse(
            definition=convert.summary(definition), dimensions=convert.dimensions(definition), source=definition.source
        )

    @rpc
    async def ReloadDefinitions(self, request: ds.ReloadDefinitionsRequest, context: Context) -> Any:
        reloaded = await self.definitions.reload(caller(context))
        return ds.ReloadDefinitionsResponse(definitions=[convert.summary(d) for d in reloaded])

    @rpc
    async def GetDefinitionDiagram(self, request: ds.GetDefinitionDiagramRequest, context: Context) -> Any:
        who = caller(context)
        form = "dot" if request.format == ds.DIAGRAM_FORMAT_DOT else "mermaid"
        if request.customer_id:
            drawn = await self.queries.diagram(who, request.customer_id, request.dimension, form)
        else:
            drawn = self.definitions.diagram(request.name, request.version or None, request.dimension, form)
        return ds.GetDefinitionDiagramResponse(format=request.format or ds.DIAGRAM_FORMAT_MERMAID, diagram=drawn)
