"""Hostile requests through the real server: every RPC, its request built from the proto descriptors with
hypothesis (known names and odd ones, extreme numbers and dates, huge and invisible strings), plus random
bytes on the wire. No answer is INTERNAL or UNKNOWN, a refused request changes no stored data, and the
server is SERVING at the end."""

from __future__ import annotations

import contextlib
import uuid

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import definition_service_pb2 as ds
from tests.conftest import TOKENS

SERVICES = [
    cs.DESCRIPTOR.services_by_name["CustomerStatusService"],
    ds.DESCRIPTOR.services_by_name["DefinitionService"],
]
METHODS = [(service, method) for service in SERVICES for method in service.methods]
RUN = uuid.uuid4().hex[:6]
CUSTOMERS = [f"fz-{RUN}-{n}" for n in range(4)]
NAMES = ["b2b", "education", "fitness", "promote", "start_follow_up", "ask_for_help", "sign", "book_trial",
         "enroll", "signing", "contract_approval", "effective_contacts", "lifecycle", "team", "phone", "email",
         "潜在", "重点"]  # fmt: skip
ODD = st.sampled_from(["", " ", "x" * 100_000, "\x00\x01\x7f", "‮evil", "😀" * 500, "a b", "../../etc", "P99999999999D",
                       "0001-01-01", "9999-12-31", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-12:00",
                       "NaN", "1e309", "{{", "0=9-9;1=x"])  # fmt: skip
TEXT = st.one_of(st.sampled_from(NAMES + CUSTOMERS), ODD, st.text(max_size=40))
NUMBERS = st.sampled_from([0, 1, -1, 7, 1000, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)])
FACT_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True), NUMBERS, TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6,
)
FACTS = st.dictionaries(st.sampled_from(["effective_contacts", "contract_end_date", "last_response_at", "phone",
                                         "overdue_days", "satisfaction", "remaining_lessons", "lead_score"]) | TEXT,
                        FACT_VALUES, max_size=4)  # fmt: skip
ROLES = st.sampled_from(["sales", "manager", "admin", "advisor", "sales,manager", "", "system", "x" * 300])


def _message(descriptor, depth: int = 0) -> st.SearchStrategy:
    if descriptor.full_name == "google.protobuf.Struct":
        return FACTS.map(_struct)
    fields = {}
    for field in descriptor.fields:
        fields[field.name] = _field(field, depth)
    return st.fixed_dictionaries({}, optional=fields)


def _struct(values: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    with contextlib.suppress(ValueError, TypeError):  # not every generated value fits a Struct
        message.update(values)
    return message


def _field(field, depth: int) -> st.SearchStrategy:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return st.dictionaries(st.sampled_from(["phone", "email", "company_registration"]) | TEXT, TEXT, max_size=3)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        single = _message(field.message_type, depth + 1) if depth < 3 else st.just({})
    elif field.type == FieldDescriptor.TYPE_STRING:
        single = TEXT
    elif field.type == FieldDescriptor.TYPE_BOOL:
        single = st.booleans()
    elif field.type == FieldDescriptor.TYPE_ENUM:
        single = st.sampled_from([v.number for v in field.enum_type.values] + [99])
    elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32):
        single = NUMBERS.filter(
            lambda n: -(2**31) <= n < 2**31 if field.type == FieldDescriptor.TYPE_INT32 else 0 <= n < 2**32
        )
    else:
        single = NUMBERS.filter(lambda n: -(2**63) <= n < 2**63)
    return st.lists(single, max_size=3) if field.is_repeated else single


def _build(message_class, values: dict):
    message = message_class()
    for name, value in values.items():
        field = message_class.DESCRIPTOR.fields_by_name[name]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            getattr(message, name).update(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target = getattr(message, name)
            for item in value if field.is_repeated else [value]:
                part = target.add() if field.is_repeated else target
                if isinstance(item, struct_pb2.Struct):
                    part.CopyFrom(item)
                else:
                    part.CopyFrom(_build(type(part), item))
        elif field.is_repeated:
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return message


def _request(service, method) -> st.SearchStrategy:
    message_class = (cs if service.name == "CustomerStatusService" else ds).__dict__[method.input_type.name]
    built = _message(method.input_type).map(lambda values: _build(message_class, values).SerializeToString())
    return st.one_of(built, built, built, st.binary(max_size=64))  # now and then, bytes that are no message


CALLS = st.lists(
    st.sampled_from(METHODS).flatmap(lambda sm: st.tuples(st.just(sm), _request(*sm), ROLES)), min_size=20, max_size=20
)


def _metadata(roles: str):
    return [("x-crm-tenant", "globex"), ("x-crm-actor", "fuzzer"), ("x-crm-roles", roles),
            ("authorization", f"Bearer {TOKENS['globex']}")]  # fmt: skip


def _stored(served) -> tuple:
    """What refused requests must leave alone: the number of keys, and every seed customer as stored."""
    keys = served.app.store.keys("globex")
    return served.redis.dbsize(), tuple(served.redis.get(keys.customer(c)) for c in CUSTOMERS)


@pytest.mark.single_redis
def test_ten_thousand_hostile_requests_get_no_internal_error_and_change_nothing_when_refused(served):
    server, port = served
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        for n, customer in enumerate(CUSTOMERS):
            request = cs.CreateCustomerRequest(customer_id=customer, definition=["b2b", "education", "fitness"][n % 3])
            channel.unary_unary("/crmstatus.v1.CustomerStatusService/CreateCustomer")(
                request.SerializeToString(), metadata=_metadata("sales")
            )
        counts = {"ok": 0, "refused": 0}

        @settings(
            max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        @given(CALLS)
        def send(calls):
            for (service, method), payload, roles in calls:
                path = f"/{service.full_name}/{method.name}"
                before = _stored(server)
                try:
                    if method.server_streaming:
                        stream = channel.unary_stream(path)(payload, metadata=_metadata(roles), timeout=0.5)
                        stream.initial_metadata()
                        stream.cancel()
                    else:
                        channel.unary_unary(path)(payload, metadata=_metadata(roles), timeout=10)
                    counts["ok"] += 1
                except grpc.RpcError as error:
                    code = error.code()
                    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (path, payload[:200], error)
                    if (
                        code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)
                        and method.server_streaming
                    ):
                        counts["ok"] += 1
                        continue
                    counts["refused"] += 1
                    dbsize, customers = _stored(server)
                    assert customers == before[1], f"{path} was refused ({code}) but changed a customer"
                    assert dbsize <= before[0], f"{path} was refused ({code}) but added keys"

        send()
        assert counts["ok"] + counts["refused"] >= 10_000
        assert counts["ok"] > 500 and counts["refused"] > 500, counts  # both kinds were exercised
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
