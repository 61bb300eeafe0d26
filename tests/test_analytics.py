"""Flow analytics from the counters the commit script keeps: on a random workload of 5k customers over
simulated months (events, fact updates, timers, claims, overrides, erasures), every counter, and the report
built from them, equals a brute-force recomputation from the customers' full histories."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest

from crmstatus.engine import Actor, Claim, EngineError, Fire, Override, UpdateFacts
from crmstatus.server.store.codec import day, dwell_bucket, flow_field
from crmstatus.server.store.errors import StoreError

CUSTOMERS, STEPS = 5_000, 6_000
REPS = [Actor(f"rep-{n}", frozenset({"sales"})) for n in range(40)]
MANAGER = Actor("mgr", frozenset({"manager"}))
FEED = Actor("erp", frozenset({"integration"}))
ADMIN = Actor("dpo", frozenset({"admin"}))
EVENTS = ["promote", "lose", "win_back", "ask_for_help", "back_to_follow_up", "release", "verify", "archive"]
LOST = ["price", "competitor", "service", "no_budget", "no_response", "other"]


def _command(rng: random.Random):
    """A random command and who sends it."""
    roll = rng.random()
    if roll < 0.35:
        event = rng.choice(EVENTS)
        return Fire(event, rng.choice(LOST) if event == "lose" else ""), rng.choice([*REPS[:5], MANAGER])
    if roll < 0.7:
        fact = rng.choice([("effective_contacts", rng.randint(0, 6)), ("overdue_days", rng.choice([0, 5, 40])),
                           ("complaint_level", rng.randint(0, 3)), ("abnormal_transaction", rng.random() < 0.2),
                           ("last_response_at", None)])  # fmt: skip
        return UpdateFacts({fact[0]: fact[1]}), FEED
    if roll < 0.9:
        return Claim(), rng.choice(REPS)
    dimension, state = rng.choice([("lifecycle", "重点"), ("follow_up", "停滞"), ("lifecycle", "潜在")])
    return Override(dimension, state, "corrected after a call"), MANAGER


def _expected(definition, histories) -> Counter:
    """The flow counters recomputed from every history, entry by entry."""
    expected: Counter[str] = Counter()
    for entries in histories.values():
        created = entries[0].at
        entered = dict.fromkeys(definition.dimensions, created)
        for name, dimension in definition.dimensions.items():
            expected[flow_field("m", day(definition, created), definition.key, name, "", dimension.initial)] += 1
        for entry in entries:
            if not entry.dimension or entry.from_state == entry.to_state:
                continue
            when, dimension = day(definition, entry.at), entry.dimension
            expected[flow_field("m", when, definition.key, dimension, entry.from_state, entry.to_state)] += 1
            stayed = str(dwell_bucket(entry.at - entered[dimension]))
            expected[flow_field("d", when, definition.key, dimension, entry.from_state, stayed)] += 1
            entered[dimension] = entry.at
            if entry.event == "lose" and entry.reason in LOST:
                expected[flow_field("r", when, definition.key, dimension, "lose", entry.reason)] += 1
    return expected


async def _history(store, tenant: str, customer_id: str):
    entries, token = [], None
    while True:
        page, token = await store.app.store.queries.history(
            store.keys(tenant), customer_id, limit=1000, newest_first=False, page_token=token
        )
        entries += page
        if token is None:
            return entries


@pytest.mark.single_redis
async def test_every_flow_figure_equals_a_recomputation_from_the_full_histories(store, tenant, clock, definitions):
    rng = random.Random(20261202)
    b2b = definitions["b2b"]
    start = clock.now()
    ids = [f"c-{n}" for n in range(CUSTOMERS)]
    for n, customer in enumerate(ids):
        if n % 500 == 0:
            clock.advance(timedelta(hours=rng.randint(1, 30)))
        await store.create_customer(tenant, customer, "b2b", REPS[0], facts={"effective_contacts": rng.randint(0, 4)})
    erased: dict[str, list] = {}
    for step in range(STEPS):
        if step % 200 == 0:
            clock.advance(timedelta(hours=rng.randint(6, 24 * 5)))  # about two simulated months in all
            await store.app.timers.sweep([tenant])
        customer = rng.choice(ids)
        if customer in erased:
            continue
        if rng.random() < 0.005:
            erased[customer] = await _history(store, tenant, customer)
            await store.erase(tenant, customer, ADMIN, "data subject request")
            continue
        command, actor = _command(rng)
        try:
            await store.run(tenant, customer, command, actor)
        except (EngineError, StoreError):
            continue  # refused: nothing written, nothing counted
    histories = {c: erased.get(c) or await _history(store, tenant, c) for c in ids}
    assert sum(len(h) for h in histories.values()) > 3 * CUSTOMERS  # the workload moved customers around

    days = [(start + timedelta(days=n)).astimezone(b2b.timezone).date().isoformat()
            for n in range((clock.now() - start).days + 2)]  # fmt: skip
    counted = await store.app.store.queries.flow(store.keys(tenant), days)
    expected = _expected(b2b, histories)
    assert counted == dict(expected)
    assert sum(v for k, v in expected.items() if k.startswith("r|")) > 0 and len(erased) > 5

    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    from crmstatus.server.application.model import Caller, Listing

    # lists without a scan: every state of the indexed dimensions, paged, holds exactly the customers in it,
    # oldest entry first; the stalled ones are a range of it; each rep's list holds what the rep owns
    manager = Caller(tenant, MANAGER)

    async def listed(wanted: Listing) -> list:
        found, token = [], ""
        while True:
            page, token = await store.app.queries.listing(manager, replace(wanted, limit=700, page_token=token or ""))
            found += page
            if not token:
                return found

    snapshots = {c: (await store.get_customer(tenant, c))[1] for c in ids if c not in erased}
    for dimension in ("lifecycle", "follow_up"):
        for state in b2b.dimensions[dimension].states:
            there = sorted(
                (s.states[dimension].since, c) for c, s in snapshots.items() if s.states[dimension].state == state
            )
            assert [(at, c) for c, at in await listed(Listing("b2b", dimension, state))] == there
    month = timedelta(days=30)
    stalled = await listed(Listing("b2b", "lifecycle", "潜在", longer_than=month))
    assert stalled == [
        (c, at)
        for at, c in sorted(
            (s.states["lifecycle"].since, c)
            for c, s in snapshots.items()
            if s.states["lifecycle"].state == "潜在" and s.states["lifecycle"].since < clock.now() - month
        )
    ]
    assert 0 < len(stalled) < len(snapshots)
    for rep in REPS[:10]:
        owned = sorted(c for c, s in snapshots.items() if s.owner == rep.id)
        assert [c for c, _ in await listed(Listing(owner=rep.id))] == owned
    for queue in b2b.queues:
        queued = sorted(c for c, s in snapshots.items() if s.queue == queue)
        assert [c for c, _ in await listed(Listing(queue=queue))] == queued
    assert any(s.queue == "senior_sales" for s in snapshots.values())  # promoted and stalled ones were handed over
    counts = Counter(("b2b@1", d, e.state) for s in snapshots.values() for d, e in s.states.items())
    assert await store.state_counts(tenant) == dict(counts)  # erased customers no longer counted

    report = await store.app.analytics.flow(Caller(tenant, MANAGER), "b2b", "lifecycle", first, last)
    moves = Counter()
    for field, count in expected.items():
        kind, _, _, dimension, source, target = field.split("|")
        if kind == "m" and dimension == "lifecycle":
            moves[source, target] += count
    assert report.moves == dict(moves)
    potential = next(s for s in report.states if s.state == "潜在")
    assert potential.entered == sum(c for (_, target), c in moves.items() if target == "潜在")
    assert potential.left == sum(c for (source, _), c in moves.items() if source == "潜在")
    left_potential = sum(c for (source, _), c in moves.items() if source == "潜在")
    assert report.conversion("潜在", "意向") == moves["潜在", "意向"] / left_potential
    assert sum(potential.time_in_state) == potential.left


def test_the_report_through_grpc_and_crmstatus_report_with_its_svg_charts(desk, tmp_path, capsys):
    import uuid
    import xml.etree.ElementTree as ElementTree
    from zoneinfo import ZoneInfo

    from crmstatus.server.cli import main
    from crmstatus.v1 import customer_status_service_pb2 as cs
    from tests.conftest import TOKENS

    today = desk.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    request = cs.GetFlowReportRequest(definition="b2b", dimension="lifecycle", start_date=today, end_date=today)

    def moves():
        answer = desk.api.GetFlowReport(request, metadata=desk.metadata())
        return answer, Counter({(m.from_state, m.to_state): m.count for m in answer.moves})

    _, before = moves()
    for _ in range(3):
        desk.id = f"report-{uuid.uuid4().hex[:8]}"
        desk.create(effective_contacts=4)  # created in 潜在, and at once an intent
    desk.fire("lose", options=cs.CommandOptions(reason="price"))
    answer, after = moves()
    assert after - before == Counter({("", "潜在"): 3, ("潜在", "意向"): 3, ("意向", "流失"): 1})
    assert ("lose", "price") in {(r.event, r.code) for r in answer.reasons}

    address = f"127.0.0.1:{desk.server.port}"
    assert main(["report", address, "--tenant", "acme", "--definition", "b2b", "--from", today, "--to", today,
                 "--svg", str(tmp_path), "--token", TOKENS["acme"], "--actor", "mgr"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "意向 → 流失" in out and "lose: price" in out
    svg = "{http://www.w3.org/2000/svg}text"
    funnel = [t.text for t in ElementTree.parse(tmp_path / "funnel.svg").iter(svg)]
    shown = answer  # the CLI asked after these changes, within the same day: the same figures, or more
    for state in shown.states:
        label = f"{state.state} ({state.label.en})"
        assert label in funnel
        assert int(funnel[funnel.index(label) + 1]) >= state.entered
    dwell = [t.text for t in ElementTree.parse(tmp_path / "time_in_state.svg").iter(svg)]
    assert "潜在 (Potential)" in dwell and any(text.startswith("median ") for text in dwell)


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (dict(definition="b2b"), "a listing by state names the definition, one of its dimensions and the state"),
        (dict(definition="b2b", dimension="lifecycle"), "a listing by state names the definition, one of its"),
        (dict(definition="b2b", owner="rep-1"), "list by one of: a state, an owner or a queue"),
        (dict(owner="rep-1", dimension="lifecycle"), "list by one of: a state, an owner or a queue"),
        (dict(queue="no_such_queue"), "unknown queue 'no_such_queue'"),
        (dict(definition="b2b", dimension="lifecycle", state="潜在", longer_than=timedelta(days=-1)), "longer_than"),
    ],
)
async def test_a_listing_asked_for_unclearly_is_refused_not_answered_otherwise(store, tenant, wanted, message):
    from crmstatus.engine.errors import InvalidRequest, UnknownName
    from crmstatus.server.application.model import Caller, Listing

    await store.create_customer(tenant, "c-1", "b2b", MANAGER)
    with pytest.raises((InvalidRequest, UnknownName), match=message):
        await store.app.queries.listing(Caller(tenant, MANAGER), Listing(**wanted))


def test_a_report_day_is_read_only_as_written_in_the_documented_form():
    from crmstatus.engine.errors import InvalidRequest
    from crmstatus.server.application.analytics import parse_day

    assert parse_day("2026-01-31", "start_date") == date(2026, 1, 31)
    for text in ("20260131", "2026-W05-6", "2026-1-31", "２０２６-01-31", "2026-02-30"):
        with pytest.raises(InvalidRequest, match="start_date is a date like 2026-01-31"):
            parse_day(text, "start_date")
