"""Time and data rules through the gRPC server with a test clock, and the timer worker's guarantees."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from google.protobuf import json_format

from crmstatus.engine import SYSTEM, Actor
from crmstatus.server.application.timers import TimerWorker
from crmstatus.server.store.codec import ms
from crmstatus.v1 import customer_status_service_pb2 as cs
from tests.desk import Desk
from tests.service import Service

SIGNING = ["contract_approval", "product_configuration", "pricing_approval", "payment_terms_confirmed",
           "signed_contract_uploaded"]  # fmt: skip
REP = Actor("rep", frozenset({"sales"}))


def signed(desk: Desk, contract_days: int = 200):
    desk.create(effective_contacts=4)
    desk.fire("promote")
    end = (desk.clock.now() + timedelta(days=contract_days)).date()
    desk.update(contract_end_date=end.isoformat(), last_order_at=desk.clock.now())
    evidence = [cs.ChecklistEvidence(checklist="signing", item=item, evidence="ok") for item in SIGNING]
    desk.fire("sign", evidence=evidence)
    return end


def test_ninety_days_in_potential_hand_the_customer_to_telemarketing(desk):
    desk.create()
    desk.pass_time(days=89, hours=23)
    assert desk.customer().queue == ""
    desk.pass_time(hours=1)
    assert desk.customer().queue == "telemarketing"
    assert desk.state("lifecycle") == "潜在"


def test_renewal_window_at_90_60_and_30_days_with_typed_effects_on_the_watch_stream(desk):
    end = signed(desk)
    assert desk.state("renewal") == "合同期内"
    midnight = datetime.combine(end, time(), ZoneInfo("Asia/Shanghai"))
    steps = [(90, "合同期内", "续约提醒", "renewal_offer"), (60, "续约提醒", "续约拜访", "account_visit"),
             (30, "续约拜访", "高层介入", "executive_outreach")]  # fmt: skip
    for days_before, before, after, task in steps:
        due = midnight - timedelta(days=days_before)
        position = desk.watch_from_now()
        desk.clock.set(due - timedelta(minutes=1))
        desk.server.sweep([desk.tenant])
        assert desk.state("renewal") == before
        desk.pass_time(minutes=1)
        assert desk.state("renewal") == after
        event = desk.first_event_after(position, "renewal")
        assert (event.history[0].trigger, event.history[0].to_state) == ("timer", after)
        (effect,) = [e for e in event.effects if e.kind == "task"]
        assert json_format.MessageToDict(effect.detail)["name"] == task


def _due(desk: Desk, dimension: str):
    from crmstatus.engine import timers

    definition, snapshot = desk.server.run(desk.server.app.queries.snapshot(desk.tenant, desk.id))
    return next(t.due for t in timers(definition, snapshot) if t.dimension == dimension)


def test_fitness_course_about_to_expire_fourteen_days_before_its_end(desk):
    end = (desk.clock.now() + timedelta(days=60)).date()
    desk.create("fitness", course_end_date=end.isoformat(), remaining_lessons=20)
    desk.api.FireEvent(
        cs.FireEventRequest(customer_id=desk.id, event="join"), metadata=desk.metadata(roles="membership_advisor")
    )
    due = datetime.combine(end, time(), ZoneInfo("Asia/Shanghai")) - timedelta(days=14)
    desk.clock.set(due - timedelta(minutes=1))
    desk.server.sweep([desk.tenant])
    assert desk.state("membership") == "会员"
    desk.pass_time(minutes=1)
    assert desk.state("membership") == "课程即将到期"


def test_a_week_before_the_move_to_telemarketing_the_owner_is_reminded_once(desk):
    desk.create()
    desk.pass_time(days=83, minutes=1)
    reminded = desk.customer()
    assert [(w.kind, w.name) for w in reminded.open_work] == [("alert", "telemarketing_soon")]
    assert (reminded.queue, desk.state("lifecycle")) == ("", "潜在")  # a reminder moves nothing
    version = reminded.version
    desk.pass_time(days=1)
    assert desk.customer().version == version  # and is raised once per stay in 潜在
    desk.pass_time(days=6)
    assert desk.customer().queue == "telemarketing"


def test_two_weeks_without_a_response_escalate_the_opportunity(desk):
    desk.create(effective_contacts=4, last_response_at=desk.clock.now())
    desk.pass_time(days=14, minutes=1)
    customer = desk.customer()
    assert desk.state("follow_up") == "停滞"
    assert customer.queue == "senior_sales"


def test_half_a_year_without_contact_needs_an_update(desk):
    desk.create(phone="13800138000", company_name="星河科技", last_contact_at=desk.clock.now())
    desk.fire("verify")
    desk.pass_time(days=181)
    assert desk.state("data_quality") == "信息已验证"
    desk.pass_time(days=1, minutes=1)
    assert desk.state("data_quality") == "需更新"


def test_lead_score_bands_open_a_task_or_nurture(desk):
    desk.create()
    nurture = desk.update(budget_confirmed=True, decision_maker_engaged=True, effective_contacts=1, web_visits_30d=4)
    assert [json_format.MessageToDict(e.detail)["name"] for e in nurture.effects] == ["nurture_sequence"]
    hot = desk.update(effective_contacts=5, company_size=200)
    assert desk.state("lead") == "高意向"
    assert [json_format.MessageToDict(e.detail)["role"] for e in hot.effects if e.kind == "task"] == ["sales"]


def test_a_low_health_score_alerts_customer_success(desk):
    desk.create(core_usage_days_30d=20, satisfaction=8.0, last_core_usage_at=desk.clock.now())
    result = desk.update(core_usage_days_30d=1, satisfaction=2.0, open_tickets=6)
    assert desk.state("engagement") == "风险"
    (alert,) = [e for e in result.effects if e.kind == "alert"]
    assert json_format.MessageToDict(alert.detail)["role"] == "customer_success"
    (shown,) = result.customer.open_work
    assert (shown.kind, shown.name, shown.role, shown.state) == ("alert", "health_low", "customer_success", "风险")
    recovered = desk.update(core_usage_days_30d=25, satisfaction=9.0, open_tickets=0)
    assert desk.state("engagement") == "高活跃"
    assert not recovered.customer.open_work  # the alert closed with the state that raised it


def test_an_abnormal_transaction_restricts_the_customer(desk):
    desk.create()
    result = desk.update(abnormal_transaction=True)
    restrictions = json_format.MessageToDict(result.customer.restrictions)
    assert restrictions == {"single_transaction_limit": 50000, "second_verification": True}


def test_a_timer_is_cancelled_when_the_customer_leaves_its_state_first(desk):
    desk.create()
    desk.update(effective_contacts=4)  # 潜在 → 意向 before the 90 days are up
    members = desk.server.redis.zrange(_timers_key(desk), 0, -1)
    assert not [m for m in members if m.startswith(f"{desk.id}|lifecycle:")]
    desk.pass_time(days=91)
    assert desk.customer().queue != "telemarketing"  # (two weeks without a response did stall it)


def _timers_key(desk: Desk) -> str:
    keys = desk.server.app.store.keys(desk.tenant)
    return keys.timers(keys.part(desk.id))


def test_moving_the_date_moves_the_timer(desk):
    end = signed(desk)
    first = _due(desk, "renewal")
    desk.update(contract_end_date=(end + timedelta(days=30)).isoformat())
    moved = _due(desk, "renewal")
    assert moved - first == timedelta(days=30)
    assert desk.server.redis.zscore(_timers_key(desk), f"{desk.id}|renewal:4:0") == ms(moved)
    desk.clock.set(first + timedelta(minutes=1))
    desk.server.sweep([desk.tenant])
    assert desk.state("renewal") == "合同期内"
    desk.clock.set(moved)
    desk.server.sweep([desk.tenant])
    assert desk.state("renewal") == "续约提醒"


# -- the worker's guarantees (store level, own clock) ---------------------------------------------------------


async def _customers_with_due_timers(store, tenant, count: int) -> list[str]:
    ids = [f"w-{n}" for n in range(count)]
    for customer in ids:
        await store.create_customer(tenant, customer, "b2b", REP)
    store.clock.advance(timedelta(days=91))  # every recycle (90 days), its reminder and weekly review are due
    return ids


async def _timer_entries(store, tenant, ids) -> int:
    """History entries written by fired timers."""
    total = 0
    for customer in ids:
        entries, _ = await store.history(tenant, customer, limit=1000)
        total += sum(1 for e in entries if e.actor == SYSTEM.id and e.event != "create")
    return total


async def _recycles(store, tenant, ids) -> Counter:
    fired = Counter()
    for customer in ids:
        entries, _ = await store.history(tenant, customer, limit=1000)
        fired[customer] = sum(1 for e in entries if e.event == "recycle_to_telemarketing")
    return fired


def _worker(service: Service, **options) -> TimerWorker:
    app = service.app
    return TimerWorker(app.store, app.commands, app.queries, app.clock, **options)


async def test_two_workers_on_one_redis_fire_each_due_timer_exactly_once(store, tenant):
    ids = await _customers_with_due_timers(store, tenant, 60)
    other = await Service.connect(store.settings, store.catalog, store.clock)
    workers = [_worker(store, batch=7), _worker(other, batch=7)]
    counts = await asyncio.gather(*(worker.sweep([tenant]) for worker in workers))
    assert all(counts), f"one worker did all the work: {counts}"
    assert set((await _recycles(store, tenant, ids)).values()) == {1}
    # each customer's recycle, its advance reminder and its weekly review, each at most once: a reminder whose
    # recycle the other worker fired first is gone with its state entry (stale), never fired late
    assert sum(counts) == await _timer_entries(store, tenant, ids) <= 3 * len(ids)
    assert await _worker(other).sweep([tenant]) == 0
    await other.close()


class Crash(BaseException):
    """A worker process dying mid-batch (not an error the worker could handle)."""


async def test_a_worker_that_dies_mid_batch_loses_nothing(store, tenant):
    ids = await _customers_with_due_timers(store, tenant, 20)
    doomed = await Service.connect(store.settings, store.catalog, store.clock)
    doomed_worker = _worker(doomed, batch=50, lease_seconds=60)
    real_fire, fired = doomed_worker.fire, []

    async def fire_then_die(*args):
        if len(fired) == 5:
            raise Crash
        fired.append(await real_fire(*args))

    doomed_worker.fire = fire_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await doomed_worker.sweep([tenant])
    await doomed.close()
    survivor = _worker(store, lease_seconds=60)
    unclaimed = await survivor.sweep([tenant])  # partitions the dead worker never reached
    store.clock.advance(timedelta(seconds=61))
    leased = await survivor.sweep([tenant])  # its claims come back when their lease ends: nothing is lost
    assert leased > 0
    assert 5 + unclaimed + leased == 3 * len(ids)
    assert set((await _recycles(store, tenant, ids)).values()) == {1}


async def test_a_timer_due_within_a_millisecond_fires_at_the_first_sweep_of_the_next_one(store, tenant):
    used = store.clock.now().replace(microsecond=600)  # a timestamp fact may carry microseconds
    await store.create_customer(tenant, "u-1", "b2b", REP, facts={"last_core_usage_at": used.isoformat()})
    due = used + timedelta(days=90)
    keys = store.keys(tenant)
    assert await store.client.zscore(keys.timers(keys.part("u-1")), "u-1|engagement:1:0") == ms(due) + 1
    store.clock.set(due + timedelta(microseconds=300))  # due, but a command's now is whole milliseconds: not yet
    await asyncio.wait_for(_worker(store, batch=1).sweep([tenant]), 30)  # it is not taken, refused and put back
    assert (await store.get_customer(tenant, "u-1"))[1].states["engagement"].state == "高活跃"
    store.clock.set(due + timedelta(microseconds=400))
    await _worker(store).sweep([tenant])
    assert (await store.get_customer(tenant, "u-1"))[1].states["engagement"].state == "沉默"
