"""The crmstatus.v1 CustomerStatusService: request messages to application calls, results to messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from crmstatus.engine.commands import (
    Claim,
    Command,
    CompleteItem,
    Fire,
    Override,
    Reassign,
    Release,
    Renew,
    ReopenItem,
    UpdateFacts,
)
from crmstatus.server.application import Application
from crmstatus.server.application.analytics import parse_day
from crmstatus.server.application.model import Change, Listing, NewCustomer, Options
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

from . import convert
from .auth import caller
from .status import REPLAYED, rpc, streaming_rpc, trail

WATCH_POSITION = "x-crm-watch-position"  # WatchEvents' initial metadata: the event id it starts after
Context = grpc.aio.ServicerContext[Any, Any]


def _answer(change: Change, response: Any, view: int = convert.FULL) -> bytes:
    """The response serialized with its result (as gRPC sends it: wire/handlers.py passes bytes on); a replayed
    one is the first response, marked only in the trailing metadata."""
    if change.replayed:
        trail(REPLAYED, "true")
    return response.SerializeToString() + convert.result_field(change, view)  # type: ignore[no-any-return]


def _lease(change: Change) -> Any:
    lease = change.snapshot.lease_until
    return convert.timestamp(lease) if lease else None


class CustomerStatusService(cs_grpc.CustomerStatusServiceServicer):
    def __init__(self, app: Application) -> None:
        self.commands = app.commands
        self.queries = app.queries
        self.watch = app.watch
        self.analytics = app.analytics

    # -- commands: each request becomes one engine command, run by the application ------------------------------

    @rpc
    async def CreateCustomer(self, request: cs.CreateCustomerRequest, context: Context) -> Any:
        new = NewCustomer(request.customer_id, request.definition, request.definition_version or None,
                          convert.plain(request.facts), dict(request.identities))  # fmt: skip
        change = await self.commands.create(caller(context), new, Options(idempotency_key=request.idempotency_key))
        return _answer(change, cs.CreateCustomerResponse())

    @rpc
    async def ImportCustomers(self, request: cs.ImportCustomersRequest, context: Context) -> Any:
        rows = [convert.import_row(row) for row in request.customers]
        results = await self.commands.import_customers(caller(context), rows)
        return cs.ImportCustomersResponse(results=[convert.imported(result) for result in results])

    @rpc
    async def FireEvent(self, request: cs.FireEventRequest, context: Context) -> Any:
        fire = Fire(request.event, request.options.reason, convert.evidence(request.evidence))
        return await self._run(context, request.customer_id, fire, request.options, cs.FireEventResponse())

    @rpc
    async def UpdateFacts(self, request: cs.UpdateFactsRequest, context: Context) -> Any:
        update = UpdateFacts(convert.plain(request.facts), request.options.reason)
        return await self._run(context, request.customer_id, update, request.options, cs.UpdateFactsResponse())

    @rpc
    async def CompleteChecklistItem(self, request: cs.CompleteChecklistItemRequest, context: Context) -> Any:
        complete = CompleteItem(request.checklist, request.item, request.evidence)
        return await self._run(context, request.customer_id, complete, request.options,
                               cs.CompleteChecklistItemResponse())  # fmt: skip

    @rpc
    async def ReopenChecklistItem(self, request: cs.ReopenChecklistItemRequest, context: Context) -> Any:
        reopen = ReopenItem(request.checklist, request.item, request.options.reason)
        return await self._run(context, request.customer_id, reopen, request.options, cs.ReopenChecklistItemResponse())

    async def _run(
        self, context: Context, customer_id: str, command: Command, o: cs.CommandOptions, response: Any
    ) -> Any:
        """A command with the common options (fence token, expected version, idempotency key, view), its
        result filled into `response`."""
        view = convert.view(o.view)  # checked first: a refused request changes nothing
        change = await self.commands.run(caller(context).holding(o.fence_token), customer_id, command,
                                         convert.options(o))  # fmt: skip
        return _answer(change, response, view)

    @rpc
    async def ClaimCustomer(self, request: cs.ClaimCustomerRequest, context: Context) -> Any:
        options = Options(idempotency_key=request.idempotency_key or None)
        change = await self.commands.run(caller(context), request.customer_id, Claim(), options)
        response = cs.ClaimCustomerResponse(fence_token=change.snapshot.fence, lease_expire_time=_lease(change))
        return _answer(change, response)

    @rpc
    async def RenewClaim(self, request: cs.RenewClaimRequest, context: Context) -> Any:
        change = await self.commands.run(caller(context).holding(request.fence_token), request.customer_id, Renew())
        return _answer(change, cs.RenewClaimResponse(lease_expire_time=_lease(change)))

    @rpc
    async def ReleaseCustomer(self, request: cs.ReleaseCustomerRequest, context: Context) -> Any:
        change = await self.commands.run(caller(context).holding(request.fence_token), request.customer_id, Release())
        return _answer(change, cs.ReleaseCustomerResponse())

    @rpc
    async def ReassignCustomer(self, request: cs.ReassignCustomerRequest, context: Context) -> Any:
        options = Options(expected_version=request.expected_version or None)
        reassign = Reassign(request.owner, request.reason)
        change = await self.commands.run(caller(context), request.customer_id, reassign, options)
        return _answer(change, cs.ReassignCustomerResponse(fence_token=change.snapshot.fence))

    @rpc
    async def OverrideState(self, request: cs.OverrideStateRequest, context: Context) -> Any:
        options = Options(request.expected_version or None, request.idempotency_key or None)
        override = Override(request.dimension, request.state, request.reason)
        change = await self.commands.run(caller(context), request.customer_id, override, options)
        return _answer(change, cs.OverrideStateResponse())

    @rpc
    async def DeleteCustomer(self, request: cs.DeleteCustomerRequest, context: Context) -> Any:
        erased = await self.commands.erase(caller(context), request.customer_id, request.reason,
                                           request.expected_version or None)  # fmt: skip
        return cs.DeleteCustomerResponse(erased_version=erased)

    # -- reads ------------------------------------------------------------------------------------------------

    @rpc
    async def GetCustomer(self, request: cs.GetCustomerRequest, context: Context) -> Any:
        view = convert.view(request.view)
        definition, seen = await self.queries.customer(caller(context), request.customer_id)
        return convert.customer_field(definition, seen, view)  # a GetCustomerResponse, serialized

    @rpc
    async def ListTransitions(self, request: cs.ListTransitionsRequest, context: Context) -> Any:
        version, options = await self.queries.transitions(caller(context), request.customer_id, request.dimension)
        return cs.ListTransitionsResponse(transitions=[convert.option(o) for o in options], version=version)

    @rpc
    async def GetHistory(self, request: cs.GetHistoryRequest, context: Context) -> Any:
        entries, token = await self.queries.history(
            caller(context), request.customer_id, limit=request.page_size or 50,
            newest_first=not request.oldest_first, page_token=request.page_token or None,
        )  # fmt: skip
        return cs.GetHistoryResponse(entries=[convert.history_entry(e) for e in entries], next_page_token=token or "")

    @rpc
    async def GetStateCounts(self, request: cs.GetStateCountsRequest, context: Context) -> Any:
        counts = await self.queries.state_counts(caller(context), request.definition)
        return cs.GetStateCountsResponse(
            counts=[
                cs.StateCount(definition=name, definition_version=version, dimension=dimension, state=state,
                              count=count)
                for name, version, dimension, state, count in counts
            ]
        )  # fmt: skip

    @rpc
    async def GetFlowReport(self, request: cs.GetFlowReportRequest, context: Context) -> Any:
        start, end = parse_day(request.start_date, "start_date"), parse_day(request.end_date, "end_date")
        report = await self.analytics.flow(caller(context), request.definition, request.dimension, start, end,
                                           request.definition_version or None)  # fmt: skip
        return convert.flow_report(report)

    @rpc
    async def ListCustomers(self, request: cs.ListCustomersRequest, context: Context) -> Any:
        longer = convert.duration(request.longer_than, "longer_than") if request.HasField("longer_than") else None
        wanted = Listing(request.definition, request.dimension, request.state, request.owner, request.queue, longer,
                         request.newest_first, request.page_size or 100, request.page_token)  # fmt: skip
        found, token = await self.queries.listing(caller(context), wanted)
        return cs.ListCustomersResponse(
            customers=[cs.ListedCustomer(customer_id=c, enter_time=convert.timestamp(at) if at else None)
                       for c, at in found],
            next_page_token=token or "",
        )  # fmt: skip

    @rpc
    async def ListPool(self, request: cs.ListPoolRequest, context: Context) -> Any:
        free = await self.queries.pool(caller(context), request.page_size or 100, request.queue)
        return cs.ListPoolResponse(
            customers=[cs.PoolEntry(customer_id=c, free_time=convert.timestamp(since)) for c, since in free]
        )

    @rpc
    async def CheckAction(self, request: cs.CheckActionRequest, context: Context) -> Any:
        denials = await self.queries.check_action(caller(context), request.customer_id, request.action,
                                                  convert.plain(request.attributes))  # fmt: skip
        return cs.CheckActionResponse(allowed=not denials, denials=[convert.denial(d) for d in denials])

    @streaming_rpc
    async def WatchEvents(self, request: cs.WatchEventsRequest, context: Context) -> AsyncIterator[Any]:
        who = caller(context)
        token, positions = await self.watch.start(who, request.after_event_id)
        # Sent at once: when the client has it, every later change will reach this stream.
        await context.send_initial_metadata(((WATCH_POSITION, token),))
        async for position, event in self.watch.follow(who, positions, lambda: not context.done()):
            yield cs.WatchEventsResponse(
                event_id=position,
                customer_id=event.customer_id,
                version=event.version,
                actor=event.actor,
                history=[convert.history_entry(h) for h in event.history],
                effects=[convert.effect(e) for e in event.effects],
            )
