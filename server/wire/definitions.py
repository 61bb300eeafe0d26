"""The crmstatus.v1 DefinitionService: validate, publish, approve, activate, list, get, compare, draw and reload
definitions; plan and run migrations; the review report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from crmstatus.engine.diff import render
from crmstatus.engine.errors import InvalidRequest
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Version
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc

from . import convert
from .auth import caller
from .status import MAX_DIAGNOSTICS, rpc, streaming_rpc

Context = grpc.aio.ServicerContext[Any, Any]


class DefinitionService(ds_grpc.DefinitionServiceServicer):
    def __init__(self, app: Application) -> None:
        self.definitions = app.definitions
        self.catalog = app.catalog
        self.queries = app.queries
        self.migrations = app.migrations
        self.analytics = app.analytics

    @rpc
    async def ValidateDefinition(self, request: ds.ValidateDefinitionRequest, context: Context) -> Any:
        caller(context)
        found = await self.definitions.validate(request.content, request.file_name or "definition.yaml")
        if isinstance(found, list):
            shown = [convert.diagnostic(d) for d in found[:MAX_DIAGNOSTICS]]
            return ds.ValidateDefinitionResponse(valid=False, diagnostics=shown)
        return ds.ValidateDefinitionResponse(valid=True, definition=convert.summary(found))

    @rpc
    async def ListDefinitions(self, request: ds.ListDefinitionsRequest, context: Context) -> Any:
        published = await self.definitions.published(caller(context))
        return ds.ListDefinitionsResponse(definitions=[convert.summary(d) for d in published])

    @rpc
    async def GetDefinition(self, request: ds.GetDefinitionRequest, context: Context) -> Any:
        definition = await self.definitions.get(caller(context), request.name, request.version or None)
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
        if request.format not in ds.DiagramFormat.values():
            raise InvalidRequest(f"format {request.format} is not one of {', '.join(ds.DiagramFormat.keys()[1:])}")
        form = "dot" if request.format == ds.DIAGRAM_FORMAT_DOT else "mermaid"
        if request.customer_id:
            drawn = await self.queries.diagram(who, request.customer_id, request.dimension, form)
        else:
            drawn = await self.definitions.diagram(who, request.name, request.version or None, request.dimension, form)
        return ds.GetDefinitionDiagramResponse(format=request.format or ds.DIAGRAM_FORMAT_MERMAID, diagram=drawn)

    @rpc
    async def PublishDefinition(self, request: ds.PublishDefinitionRequest, context: Context) -> Any:
        definition, published = await self.definitions.publish(caller(context), request.content, request.file_name)
        return ds.PublishDefinitionResponse(version=convert.version(published, definition))

    @rpc
    async def ApproveDefinition(self, request: ds.ApproveDefinitionRequest, context: Context) -> Any:
        approved = await self.definitions.approve(caller(context), request.name, request.version)
        return ds.ApproveDefinitionResponse(version=await self._version(approved))

    @rpc
    async def ActivateDefinition(self, request: ds.ActivateDefinitionRequest, context: Context) -> Any:
        activated = await self.definitions.activate(caller(context), request.name, request.version)
        return ds.ActivateDefinitionResponse(version=await self._version(activated))

    @rpc
    async def ListDefinitionVersions(self, request: ds.ListDefinitionVersionsRequest, context: Context) -> Any:
        found = await self.definitions.compiled(caller(context), request.name)
        return ds.ListDefinitionVersionsResponse(versions=[convert.version(v, d) for v, d in found])

    @rpc
    async def DiffDefinitions(self, request: ds.DiffDefinitionsRequest, context: Context) -> Any:
        old, new, changes = await self.definitions.diff(
            caller(context), request.name, request.old_version, request.new_version
        )
        return ds.DiffDefinitionsResponse(changes=convert.changes(changes), text=render(old, new, changes))

    @rpc
    async def PlanMigration(self, request: ds.PlanMigrationRequest, context: Context) -> Any:
        report = await self.migrations.plan(
            caller(context), request.mapping, convert.selection(request.selection), request.file_name
        )
        return ds.PlanMigrationResponse(report=convert.migration_report(report))

    @streaming_rpc
    async def MigrateCustomers(self, request: ds.MigrateCustomersRequest, context: Context) -> AsyncIterator[Any]:
        run = self.migrations.apply(caller(context), request.mapping, convert.selection(request.selection),
                                    request.file_name, request.batch_size or 500)  # fmt: skip
        async for report in run:
            yield ds.MigrateCustomersResponse(report=convert.migration_report(report, listed=report.done))

    @rpc
    async def GetReviewReport(self, request: ds.GetReviewReportRequest, context: Context) -> Any:
        report = await self.analytics.review(caller(context), request.name, request.version or None)
        return convert.review_report(report)

    async def _version(self, found: Version) -> ds.DefinitionVersion:
        return convert.version(found, await self.catalog.compile(found.text))
