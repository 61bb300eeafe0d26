"""The crmstatus.v1 servicers: request messages in, engine and store calls, response messages out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from crmstatus.engine import runtime
from crmstatus.engine.errors import InvalidDefinition, InvalidRequest, PermissionDenied
from crmstatus.engine.loader import load_definition
from crmstatus.v1 import customer_pb2
from crmstatus.v1 import (
    customer_status_service_pb2 as cs,
)
from crmstatus.v1 import (
    customer_status_service_pb2_grpc as cs_grpc,
)
from crmstatus.v1 import (
    definition_service_pb2 as ds,
)
from crmstatus.v1 import (
    definition_service_pb2_grpc as ds_grpc,
)

from . import convert
from .auth import caller
from .codec import decode_effects, decode_history
from .settings import Settings
from .status import rpc, streaming_rpc
from .store import Store
from .watch import encode_position, follow, start

ADMIN_ROLE = "admin"  # may reload definitions


def _lease(result: Any) -> Any:
    lease = result.snapshot.lease_until
    return convert.timestamp(lease) if lease else None


WATCH_POSITION = "x-crm-watch-position"  # WatchEvents' initial metadata: the event id it starts after


def _version(value: int) -> int | None:
    return value or None


class CustomerStatusService(cs_grpc.CustomerStatusServiceServicer):
    def __init__(self, store: Store) -> None:
        self.store = store

    @rpc
    def CreateCustomer(self, request: cs.CreateCustomerRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        result = self.store.create_customer(
            who.tenant,
            request.customer_id,
            request.definition,
            who.actor,
            facts=convert.plain(request.facts),
            identities=dict(request.identities),
            definition_version=_version(request.definition_version),
            idempotency_key=request.idempotency_key or None,
        )
        return cs.CreateCustomerResponse(result=self._change(result))

    @rpc
    def GetCustomer(self, request: cs.GetCustomerRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        definition, snapshot = self.store.get_customer(who.tenant, request.customer_id)
        seen = runtime.view(definition, snapshot, who.actor)
        return cs.GetCustomerResponse(customer=convert.customer(definition, seen, request.view))

    @rpc
    def ListTransitions(self, request: cs.ListTransitionsRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        definition, snapshot = self.store.get_customer(who.tenant, request.customer_id)
        if request.dimension and request.dimension not in definition.dimensions:
            raise InvalidRequest(f"definition {definition.key} has no dimension {request.dimension!r}")
        options = runtime.list_transitions(definition, snapshot, who.actor, self.store.clock)
        chosen = [o for o in options if not request.dimension or o.dimension == request.dimension]
        return cs.ListTransitionsResponse(transitions=[convert.option(o) for o in chosen], version=snapshot.version)

    @rpc
    def FireEvent(self, request: cs.FireEventRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        options = request.options
        result = self.store.fire(
            who.tenant,
            request.customer_id,
            request.event,
            who.holding(options.fence_token),
            expected_version=_version(options.expected_version),
            idempotency_key=options.idempotency_key or None,
            reason=options.reason,
            evidence=[(e.checklist, e.item, e.evidence) for e in request.evidence],
        )
        return cs.FireEventResponse(result=self._change(result, options.view))

    @rpc
    def UpdateFacts(self, request: cs.UpdateFactsRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        options = request.options
        result = self.store.update_facts(
            who.tenant,
            request.customer_id,
            convert.plain(request.facts),
            who.holding(options.fence_token),
            expected_version=_version(options.expected_version),
            idempotency_key=options.idempotency_key or None,
            reason=options.reason,
        )
        return cs.UpdateFactsResponse(result=self._change(result, options.view))

    @rpc
    def CompleteChecklistItem(self, request: cs.CompleteChecklistItemRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        options = request.options
        result = self.store.complete_item(
            who.tenant,
            request.customer_id,
            request.checklist,
            request.item,
            who.holding(options.fence_token),
            evidence=request.evidence,
            expected_version=_version(options.expected_version),
            idempotency_key=options.idempotency_key or None,
        )
        return cs.CompleteChecklistItemResponse(result=self._change(result, options.view))

    @rpc
    def ReopenChecklistItem(self, request: cs.ReopenChecklistItemRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        options = request.options
        result = self.store.reopen_item(
            who.tenant,
            request.customer_id,
            request.checklist,
            request.item,
            who.holding(options.fence_token),
            reason=options.reason,
            expected_version=_version(options.expected_version),
            idempotency_key=options.idempotency_key or None,
        )
        return cs.ReopenChecklistItemResponse(result=self._change(result, options.view))

    @rpc
    def GetHistory(self, request: cs.GetHistoryRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        entries, token = self.store.history(
            who.tenant,
            request.customer_id,
            limit=request.page_size or 50,
            newest_first=not request.oldest_first,
            page_token=request.page_token or None,
        )
        return cs.GetHistoryResponse(entries=[convert.history_entry(e) for e in entries], next_page_token=token or "")

    @streaming_rpc
    def WatchEvents(self, request: cs.WatchEventsRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        who = caller(context.invocation_metadata())
        positions = start(self.store, who.tenant, request.after_event_id)
        # Sent at once: when the client has it, every later change will reach this stream.
        context.send_initial_metadata(((WATCH_POSITION, encode_position(positions)),))
        for event_id, event in follow(self.store, who.tenant, positions, context.is_active):
            version = event["version"]
            yield cs.WatchEventsResponse(
                event_id=event_id,
                customer_id=event["customer_id"],
                version=version,
                actor=event["by"],
                history=[convert.history_entry(decode_history(version, h)) for h in event["h"]],
                effects=[convert.effect(e) for e in decode_effects(event["fx"])],
            )

    @rpc
    def GetStateCounts(self, request: cs.GetStateCountsRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        counts = []
        for (key, dimension, state), count in sorted(self.store.state_counts(who.tenant).items()):
            name, _, version = key.partition("@")
            if request.definition and name != request.definition:
                continue
            counts.append(
                cs.StateCount(
                    definition=name, definition_version=int(version), dimension=dimension, state=state, count=count
                )
            )
        return cs.GetStateCountsResponse(counts=counts)

    @rpc
    def ClaimCustomer(self, request: cs.ClaimCustomerRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        result = self.store.claim(
            who.tenant, request.customer_id, who.actor, idempotency_key=request.idempotency_key or None
        )
        return cs.ClaimCustomerResponse(
            result=self._change(result), fence_token=result.snapshot.fence, lease_expire_time=_lease(result)
        )

    @rpc
    def RenewClaim(self, request: cs.RenewClaimRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        result = self.store.renew(who.tenant, request.customer_id, who.holding(request.fence_token))
        return cs.RenewClaimResponse(result=self._change(result), lease_expire_time=_lease(result))

    @rpc
    def ReleaseCustomer(self, request: cs.ReleaseCustomerRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        result = self.store.release(who.tenant, request.customer_id, who.holding(request.fence_token))
        return cs.ReleaseCustomerResponse(result=self._change(result))

    @rpc
    def ReassignCustomer(self, request: cs.ReassignCustomerRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        result = self.store.reassign(
            who.tenant, request.customer_id, who.actor, request.owner, request.reason,
            expected_version=_version(request.expected_version),
        )  # fmt: skip
        return cs.ReassignCustomerResponse(result=self._change(result), fence_token=result.snapshot.fence)

    @rpc
    def ListPool(self, request: cs.ListPoolRequest, context: grpc.ServicerContext) -> Any:
        who = caller(context.invocation_metadata())
        free = self.store.pool(who.tenant, limit=request.page_size or 100)
        return cs.ListPoolResponse(
            customers=[cs.PoolEntry(customer_id=c, free_time=convert.timestamp(since)) for c, since in free]
        )

    def _change(self, result: Any, view: int = customer_pb2.CUSTOMER_VIEW_FULL) -> cs.ChangeResult:
        snapshot = result.snapshot
        return convert.change(self.store.catalog.get(snapshot.definition, snapshot.definition_version), result, view)


class DefinitionService(ds_grpc.DefinitionServiceServicer):
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @rpc
    def ValidateDefinition(self, request: ds.ValidateDefinitionRequest, context: grpc.ServicerContext) -> Any:
        caller(context.invocation_metadata())
        try:
            definition = load_definition(request.content, request.file_name or "definition.yaml")
        except InvalidDefinition as error:
            return ds.ValidateDefinitionResponse(
                valid=False, diagnostics=[convert.diagnostic(d) for d in error.diagnostics]
            )
        return ds.ValidateDefinitionResponse(valid=True, definition=convert.summary(definition))

    @rpc
    def ListDefinitions(self, request: ds.ListDefinitionsRequest, context: grpc.ServicerContext) -> Any:
        caller(context.invocation_metadata())
        return ds.ListDefinitionsResponse(definitions=[convert.summary(d) for d in self.store.catalog])

    @rpc
    def GetDefinition(self, request: ds.GetDefinitionRequest, context: grpc.ServicerContext) -> Any:
        caller(context.invocation_metadata())
        definition = self.store.catalog.get(request.name, _version(request.version))
        return ds.GetDefinitionResponse(
            definition=convert.summary(definition), dimensions=convert.dimensions(definition), source=definition.source
        )

    @rpc
    def ReloadDefinitions(self, request: ds.ReloadDefinitionsRequest, context: grpc.ServicerContext) -> Any:
        if ADMIN_ROLE not in caller(context.invocation_metadata()).actor.roles:
            raise PermissionDenied(f"reloading definitions needs the {ADMIN_ROLE} role")
        self.store.catalog = self.store.catalog.reloaded(self.settings.config_dir)  # one assignment: atomic
        return ds.ReloadDefinitionsResponse(definitions=[convert.summary(d) for d in self.store.catalog])
