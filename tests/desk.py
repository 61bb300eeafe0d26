"""A desk over the served service for scenario tests through gRPC: one tenant, one customer, the server's
test clock and its timer worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
from google.protobuf import struct_pb2

from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.conftest import TOKENS


class Desk:
    """One tenant's view of the served service, with its clock and its timer worker."""

    def __init__(self, served, channel: grpc.Channel) -> None:
        self.server = served[0]
        self.clock = self.server.clock
        self.api = cs_grpc.CustomerStatusServiceStub(channel)
        self.tenant = f"timers-{uuid.uuid4().hex[:8]}"
        self.id = f"c-{uuid.uuid4().hex[:8]}"

    def metadata(self, roles: str = "sales,manager,compliance,integration", actor: str = "rep-li"):
        return [("x-crm-tenant", self.tenant), ("x-crm-actor", actor), ("x-crm-roles", roles),
                ("authorization", f"Bearer {TOKENS['acme']}")]  # fmt: skip

    def create(self, definition: str = "b2b", **facts):
        request = cs.CreateCustomerRequest(customer_id=self.id, definition=definition, facts=_struct(facts))
        return self.api.CreateCustomer(request, metadata=self.metadata()).result

    def fire(self, event: str, **kwargs):
        return self.api.FireEvent(
            cs.FireEventRequest(customer_id=self.id, event=event, **kwargs), metadata=self.metadata()
        ).result

    def update(self, **facts):
        return self.api.UpdateFacts(
            cs.UpdateFactsRequest(customer_id=self.id, facts=_struct(facts)), metadata=self.metadata()
        ).result

    def customer(self):
        return self.api.GetCustomer(cs.GetCustomerRequest(customer_id=self.id), metadata=self.metadata()).customer

    def state(self, dimension: str) -> str:
        return next(s.state for s in self.customer().states if s.dimension == dimension)

    def pass_time(self, **delta) -> int:
        """Move the server's clock and let the timer worker sweep this tenant."""
        self.clock.advance(timedelta(**delta))
        return self.server.sweep([self.tenant])

    def watch_from_now(self):
        stream = self.api.WatchEvents(cs.WatchEventsRequest(), metadata=self.metadata())
        position = dict(stream.initial_metadata())["x-crm-watch-position"]
        stream.cancel()
        return position

    def first_event_after(self, position: str, dimension: str):
        """The first change after `position` that moved this customer's `dimension`."""
        stream = self.api.WatchEvents(cs.WatchEventsRequest(after_event_id=position), metadata=self.metadata())
        try:
            for event in stream:
                if event.customer_id == self.id and any(h.dimension == dimension for h in event.history):
                    return event
        finally:
            stream.cancel()
        raise AssertionError("the stream ended")


def _struct(values) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()})
    return message
