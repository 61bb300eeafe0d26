"""Importing customers from another system: in their current states since the dates given there (so timers
and analytics count from then), checked row by row, idempotent per customer, in bulk."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from crmstatus.engine import Actor
from crmstatus.engine.errors import PermissionDenied
from crmstatus.server.application.model import Caller, ImportRow
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.conftest import ROOT, TOKENS, clean_env
from tests.test_grpc import channel, failure, who  # noqa: F401 - channel is a fixture
from tests.test_registry import one_server  # noqa: F401 - a fixture

ADMIN = Actor("ana", frozenset({"admin"}))
RUN = uuid.uuid4().hex[:6]  # the served tenant acme is shared by the run's tests


def _potential(customer_id: str, days: float, now) -> ImportRow:
    return ImportRow(customer_id, "b2b", states={"lifecycle": ("潜在", now - timedelta(days=days))})


@pytest.mark.single_redis
async def test_ten_thousand_customers_imported_with_their_entry_dates_and_bad_rows_refused(store, tenant, clock):
    caller, now = Caller(tenant, ADMIN), clock.now()
    rows = [_potential(f"i-{n}", n % 80, now) for n in range(10_000)]
    rows[17] = _potential("i-17", 89, now)  # in 潜在 for 89 days: telemarketing takes it over tomorrow
    bad = [
        ImportRow("bad-state", "b2b", states={"lifecycle": ("已签约", now)}),
        ImportRow("bad-fact", "b2b", facts={"effective_contactz": 4}),
        ImportRow("bad-type", "b2b", facts={"effective_contacts": "many"}),
        ImportRow("bad-since", "b2b", states={"lifecycle": ("潜在", now + timedelta(days=1))}),
        ImportRow("bad-dimension", "b2b", states={"lifecycel": ("潜在", now)}),
    ]
    results = []
    for start in range(0, len(rows), 1000):
        results += await store.app.commands.import_customers(caller, rows[start : start + 1000])
    refused = await store.app.commands.import_customers(caller, bad)
    assert [r.status for r in results] == ["created"] * 10_000
    assert [(r.customer_id, r.status) for r in refused] == [(row.customer_id, "refused") for row in bad]
    reasons = [r.reason for r in refused]
    assert "unknown state of lifecycle '已签约'" in reasons[0]
    assert "effective_contactz" in reasons[1] and "effective_contacts" in reasons[2]
    assert "a moment between 1970 and now" in reasons[3] and "lifecycel" in reasons[4]
    for row in bad:  # nothing of a refused row is written
        assert not await store.client.exists(store.keys(tenant).customer(row.customer_id))
    counts = await store.state_counts(tenant)
    assert counts[("b2b@1", "lifecycle", "潜在")] == 10_000

    _, imported = await store.get_customer(tenant, "i-17")
    assert imported.states["lifecycle"].since == now - timedelta(days=89) and imported.queue is None
    entries, _ = await store.history(tenant, "i-17", limit=5, newest_first=False, page_token=None)
    assert [(e.trigger, e.actor) for e in entries] == [("import", "ana")]

    clock.advance(timedelta(days=1))
    await store.app.timers.sweep([tenant])
    _, moved = await store.get_customer(tenant, "i-17")
    assert moved.queue == "telemarketing"  # recycle_to_telemarketing, 90 days after it entered 潜在
    _, recent = await store.get_customer(tenant, "i-18")
    assert recent.queue is None

    again = await store.app.commands.import_customers(caller, rows[:3])
    assert [(r.status, r.version) for r in again] == [("exists", 1)] * 3  # imported before: nothing changes


async def test_an_imported_entry_time_is_kept_to_the_millisecond_through_later_changes(store, tenant):
    # 2004-05-01 12:00:00.021: for moments like it a float count of seconds times 1000 falls just short of the
    # whole millisecond, and truncated it would write the moment back one millisecond early at every change
    since = datetime(2004, 5, 1, 12, 0, 0, 21_000, tzinfo=UTC)
    row = ImportRow("old-1", "b2b", states={"lifecycle": ("潜在", since)})
    assert [r.status for r in await store.app.commands.import_customers(Caller(tenant, ADMIN), [row])] == ["created"]
    for contacts in (1, 2, 3):  # each change writes the whole snapshot again
        await store.update_facts(tenant, "old-1", {"effective_contacts": contacts}, ADMIN)
    _, customer = await store.get_customer(tenant, "old-1")
    assert customer.states["lifecycle"].since == since


async def test_importing_needs_admin_and_an_identity_taken_refuses_only_that_row(store, tenant, clock):
    with pytest.raises(PermissionDenied):
        await store.app.commands.import_customers(Caller(tenant, Actor("rep", frozenset({"sales"}))), [])
    caller = Caller(tenant, ADMIN)
    first = ImportRow("p-1", "b2b", identities={"phone": "+86 138 0000 0001"})
    second = ImportRow("p-2", "b2b", identities={"phone": "+8613800000001"})
    results = await store.app.commands.import_customers(caller, [first])
    results += await store.app.commands.import_customers(caller, [second, ImportRow("p-3", "b2b")])
    assert [r.status for r in results] == ["created", "refused", "created"]
    assert "p-1" in results[1].reason


async def test_a_customer_named_twice_in_one_call_is_imported_from_its_first_row(store, tenant):
    rows = [ImportRow("d-1", "b2b"), ImportRow("d-2", "b2b"), ImportRow("d-1", "education"), ImportRow("d-1", "b2b")]
    results = await store.app.commands.import_customers(Caller(tenant, ADMIN), rows)
    assert [(r.customer_id, r.status) for r in results] == [
        ("d-1", "created"), ("d-2", "created"), ("d-1", "refused"), ("d-1", "refused")]  # fmt: skip
    assert results[2].reason == "row 3 names customer 'd-1' as row 1 does: a call imports each customer once"
    _, snapshot = await store.get_customer(tenant, "d-1")
    assert snapshot.definition == "b2b"


def test_import_over_grpc_answers_each_row(channel):  # noqa: F811
    api = cs_grpc.CustomerStatusServiceStub(channel)
    row = cs.ImportedCustomer(customer_id=f"g-imp-{RUN}-1", definition="b2b",
                              states=[cs.ImportedState(dimension="lifecycle", state="意向")])  # fmt: skip
    row.states[0].since.FromSeconds(1_700_000_000)
    odd = cs.ImportedCustomer(customer_id=f"g-imp-{RUN}-2", definition="b2b",
                              states=[cs.ImportedState(dimension="lifecycle", state="潜在")])  # fmt: skip
    odd.states[0].since.seconds = 2**62  # beyond any date
    request = cs.ImportCustomersRequest(customers=[row, odd])
    answer = api.ImportCustomers(request, metadata=who("ana", "admin"))
    assert [(r.status, r.customer_id) for r in answer.results] == [
        (cs.IMPORT_STATUS_CREATED, f"g-imp-{RUN}-1"), (cs.IMPORT_STATUS_REFUSED, f"g-imp-{RUN}-2")]  # fmt: skip
    again = api.ImportCustomers(request, metadata=who("ana", "admin"))
    assert again.results[0].status == cs.IMPORT_STATUS_EXISTS
    twice = cs.ImportedCustomer(
        customer_id=f"g-imp-{RUN}-3",
        definition="b2b",
        states=[
            cs.ImportedState(dimension="lifecycle", state="意向"),
            cs.ImportedState(dimension="lifecycle", state="潜在"),
        ],
    )
    unset = cs.ImportedCustomer(customer_id=f"g-imp-{RUN}-4", definition="b2b",
                                states=[cs.ImportedState(dimension="lifecycle", state="意向")])  # fmt: skip
    unset.states[0].since.nanos = -1
    for bad, words in ((twice, "a dimension's state twice"), (unset, "nanos are 0 to 999,999,999")):
        with pytest.raises(grpc.RpcError) as error:
            api.ImportCustomers(cs.ImportCustomersRequest(customers=[bad]), metadata=who("ana", "admin"))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in error.value.details()
    code, _, _ = failure(lambda: api.ImportCustomers(request, metadata=who("rep", "sales")))
    assert code == grpc.StatusCode.PERMISSION_DENIED


def test_the_command_line_imports_csv_and_json_lines_and_names_the_lines_refused(one_server, tmp_path):  # noqa: F811
    table = tmp_path / "customers.csv"
    table.write_text("customer_id,state:lifecycle,since:lifecycle,fact:effective_contacts,identity:phone\n"
                     "c-1,潜在,2026-01-01T09:00:00+08:00,2,13800000001\n"
                     "c-2,已签约,2026-01-01T09:00:00+08:00,,\n", "utf-8")  # fmt: skip
    lines = tmp_path / "customers.jsonl"
    lines.write_text(json.dumps({"customer_id": "c-3", "states": {"lifecycle": {"state": "意向"}},
                                 "facts": {"effective_contacts": 5}}, ensure_ascii=False) + "\n", "utf-8")  # fmt: skip
    command = [sys.executable, "-m", "crmstatus.server.cli", "import", f"127.0.0.1:{one_server}", "--definition", "b2b",
               "--tenant", "acme", "--actor", "ana", "--token", TOKENS["acme"]]  # fmt: skip
    done = subprocess.run([*command, str(table)], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "customers.csv:3: c-2: unknown state of lifecycle '已签约'" in done.stdout
    assert "customers.csv: 1 created, 0 there already, 1 refused" in done.stdout
    done = subprocess.run([*command, str(lines)], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "customers.jsonl: 1 created, 0 there already, 0 refused")
    typo = tmp_path / "typo.csv"
    typo.write_text("customer_id,State:lifecycle\nc-4,潜在\n", "utf-8")
    done = subprocess.run([*command, str(typo)], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 1 and "typo.csv:1: column 'State:lifecycle' is not customer_id" in done.stderr
    excel = tmp_path / "excel.csv"  # as Excel saves a CSV file on a Chinese system
    excel.write_bytes("customer_id,state:lifecycle\nc-5,潜在\n".encode("gbk"))  # 潜 happens to be UTF-8 too
    done = subprocess.run([*command, str(excel)], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert done.returncode == 1 and "excel.csv:2:6: byte 0xD4 is not UTF-8 text" in done.stderr, done.stderr
    with_mark = tmp_path / "marked.csv"  # Excel's "CSV UTF-8" begins with a byte order mark
    with_mark.write_bytes(b"\xef\xbb\xbf" + "customer_id,state:lifecycle\nc-6,潜在\n".encode())
    done = subprocess.run([*command, str(with_mark)], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert done.stdout.strip() == "marked.csv: 1 created, 0 there already, 0 refused", done.stderr


async def test_an_imported_state_comes_with_the_facts_it_requires(store, tenant):
    enrolled = {"learner": ("正式学员", None)}
    refused, created = await store.app.commands.import_customers(Caller(tenant, ADMIN), [
        ImportRow("no-package", "education", states=enrolled),
        ImportRow("package", "education", states=enrolled, facts={"lesson_package": "48课时"}),
    ])  # fmt: skip
    assert (refused.status, created.status) == ("refused", "created")
    assert "正式学员 requires fact lesson_package" in refused.reason
