"""What operators see: Prometheus metrics after a scripted workload, and one JSON log line per call."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid

import grpc
from prometheus_client.parser import text_string_to_metric_families

from crmstatus.server import metrics
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.cluster import free_port
from tests.conftest import ROOT, clean_env
from tests.test_grpc import facts, who

_metrics_port: list[int] = []
_spans: list = []


def _scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    if not _metrics_port:
        _metrics_port.append(free_port())
        metrics.serve(f"127.0.0.1:{_metrics_port[0]}")
    with urllib.request.urlopen(f"http://127.0.0.1:{_metrics_port[0]}/metrics", timeout=10) as page:
        text = page.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }  # fmt: skip


def _delta(before, after, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_metrics_endpoint_counts_calls_transitions_refusals_and_claims(served):
    port = served[1]
    cid = f"m-{uuid.uuid4().hex[:10]}"
    before = _scrape()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        api = cs_grpc.CustomerStatusServiceStub(channel)
        api.CreateCustomer(cs.CreateCustomerRequest(customer_id=cid, definition="education"), metadata=who())
        api.FireEvent(cs.FireEventRequest(customer_id=cid, event="book_trial"), metadata=who())
        for _ in range(2):  # blocked: guard, checklist and a required fact
            try:
                api.FireEvent(cs.FireEventRequest(customer_id=cid, event="enroll"), metadata=who())
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        b2b = cid + "-b"
        api.CreateCustomer(cs.CreateCustomerRequest(customer_id=b2b, definition="b2b"), metadata=who(roles="sales"))
        api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=b2b), metadata=who("rep-a", "sales"))
        try:
            api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=b2b), metadata=who("rep-b", "sales"))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    after = _scrape()
    assert _delta(before, after, "crmstatus_calls_total", method="CreateCustomer", code="OK") == 2
    assert _delta(before, after, "crmstatus_calls_total", method="FireEvent", code="OK") == 1
    assert _delta(before, after, "crmstatus_calls_total", method="FireEvent", code="FAILED_PRECONDITION") == 2
    assert _delta(before, after, "crmstatus_call_seconds_count", method="FireEvent") == 3
    assert _delta(before, after, "crmstatus_transitions_total", definition="education", dimension="learner",
                  event="book_trial") == 1  # fmt: skip
    assert _delta(before, after, "crmstatus_blocked_total", kind="GUARD") == 2
    assert _delta(before, after, "crmstatus_blocked_total", kind="CHECKLIST") == 2
    assert _delta(before, after, "crmstatus_claims_total", outcome="won") == 1
    assert _delta(before, after, "crmstatus_claims_total", outcome="customer_claimed") == 1


def test_one_json_log_line_per_call_with_its_request_id_and_no_fact_values(own_redis):
    env = clean_env()
    port = free_port()
    env.update(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}", CRMSTATUS_TOKENS="acme=token-acme",
               CRMSTATUS_LISTEN=f"127.0.0.1:{port}", CRMSTATUS_TIMER_WORKER="0")  # fmt: skip
    env["CRMSTATUS_BEHIND_TLS_PROXY"] = "1"
    server = subprocess.Popen([sys.executable, "-m", "crmstatus.server.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        assert "crmstatus serving on" in server.stdout.readline()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            request = cs.CreateCustomerRequest(customer_id="c-1", definition="b2b",
                                               facts=facts(company_name="Secret Trading Co"))  # fmt: skip
            _, call = api.CreateCustomer.with_call(request, metadata=[*who(), ("x-request-id", "req-42")])
            assert ("x-request-id", "req-42") in call.trailing_metadata()
            try:
                api.GetCustomer(cs.GetCustomerRequest(customer_id="nobody"), metadata=who())
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
                returned_id = dict(error.trailing_metadata())["x-request-id"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert len(records) == len(stderr.splitlines()), "every log line is one JSON object"
    calls = [r for r in records if r["name"] == "crmstatus.calls"]
    assert [(c["method"], c["code"], c["customer_id"], c["tenant"], c["actor"]) for c in calls] == [
        ("CreateCustomer", "OK", "c-1", "acme", "adv-chen"),
        ("GetCustomer", "NOT_FOUND", "nobody", "acme", "adv-chen"),
    ]
    assert calls[0]["request_id"] == "req-42" and calls[1]["request_id"] == returned_id
    assert all(isinstance(c["latency_ms"], float) for c in calls)
    assert "Secret Trading Co" not in stderr and "token-acme" not in stderr


def test_tracing_gives_each_call_a_span_under_the_callers_trace(redis_url):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from crmstatus.server.settings import Settings
    from tests.conftest import CONFIGS, PARTITIONS, TOKENS, Served

    if not _spans:  # a process has one tracer provider: the one the interceptor finds
        _spans.append(InMemorySpanExporter())
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_spans[0]))
        trace.set_tracer_provider(provider)
    exported = _spans[0]
    exported.clear()
    server = Served(Settings(redis_url=redis_url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(CONFIGS),
                             timer_worker=False, partitions=PARTITIONS, tracing=True))  # fmt: skip
    try:
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # W3C traceparent of a caller
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            try:
                api.GetCustomer(cs.GetCustomerRequest(customer_id="nobody"), metadata=[*who(), ("traceparent", parent)])
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop()
    spans = [s for s in exported.get_finished_spans() if s.name.endswith("/GetCustomer")]
    assert len(spans) == 1
    assert format(spans[0].context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
