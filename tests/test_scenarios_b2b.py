"""One scenario per SPEC section 3 rule, driven through the engine API with a manual clock (b2b definition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmstatus.engine import SYSTEM, CustomerLocked, FireTimer, ReasonKind, StaleTimer, TransitionNotAllowed, decide
from crmstatus.engine.clock import ManualClock
from crmstatus.engine.definition import Definition
from tests.customers import Customer, actor

SALES = actor("rep-li", "sales")
OTHER_SALES = actor("rep-wang", "sales")
MANAGER = actor("mgr-zhao", "manager")
COMPLIANCE = actor("cmp-sun", "compliance")
SIGNING = ["contract_approval", "product_configuration", "pricing_approval", "payment_terms_confirmed",
           "signed_contract_uploaded"]  # fmt: skip


@pytest.fixture
def b2b(definitions: dict[str, Definition]) -> Definition:
    return definitions["b2b"]


def key_opportunity(b2b: Definition, clock: ManualClock) -> Customer:
    customer = Customer(b2b, clock, effective_contacts=4)
    customer.fire("promote", SALES)
    assert customer.state("lifecycle") == "重点"
    return customer


def test_more_than_three_effective_contacts_make_a_potential_customer_intent(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(effective_contacts=3)
    assert customer.state("lifecycle") == "潜在"
    customer.update(effective_contacts=4)
    assert customer.state("lifecycle") == "意向"
    automatic, opened = customer.history[-2:]
    assert (automatic.trigger, automatic.event, automatic.actor) == ("auto", "qualify", "system")
    assert (opened.trigger, opened.event, customer.state("follow_up")) == ("emit", "open_opportunity", "正常")


def test_promoting_to_key_opportunity_hands_the_customer_to_the_senior_sales_queue(b2b, clock):
    customer = Customer(b2b, clock, effective_contacts=4)
    customer.fire("start_follow_up", SALES)
    assert customer.snapshot.owner == "rep-li"
    customer.fire("promote", SALES)
    assert customer.snapshot.queue == "senior_sales"
    assert customer.snapshot.owner is None
    assert customer.state("team") == "新分配"  # the emitted hand-over released the follow-up lock


def test_ninety_days_in_potential_moves_the_customer_to_telemarketing(b2b, clock):
    customer = Customer(b2b, clock)
    timer = customer.timer("recycle_to_telemarketing")
    assert timer.due == clock.now() + timedelta(days=90)
    clock.advance(timedelta(days=89))
    with pytest.raises(StaleTimer, match="not due"):
        decide(b2b, customer.snapshot, FireTimer(timer.key), SYSTEM, clock.now())
    customer.run_timer("recycle_to_telemarketing")
    assert customer.snapshot.queue == "telemarketing"
    assert "re_nurture" in customer.effect_names("task")
    # once per stay: the transition is internal, so 潜在 is not re-entered and the timer is spent
    assert customer.snapshot.states["lifecycle"].since == clock.now() - timedelta(days=90)
    assert "recycle_to_telemarketing" not in [t.event for t in customer.timers()]
    with pytest.raises(StaleTimer, match="no longer applies"):
        decide(b2b, customer.snapshot, FireTimer(timer.key), SYSTEM, clock.now())


def test_signing_needs_all_five_checklist_steps_and_the_contract_end_date(b2b, clock):
    customer = key_opportunity(b2b, clock)
    with pytest.raises(TransitionNotAllowed) as blocked:
        customer.fire("sign", SALES)
    reasons = blocked.value.reasons
    assert [r.subject for r in reasons if r.kind is ReasonKind.CHECKLIST] == [f"signing.{i}" for i in SIGNING]
    assert [r.subject for r in reasons if r.kind is ReasonKind.REQUIRED_FACT] == ["contract_end_date"]

    customer.complete("signing", SIGNING[:4], SALES)
    option = customer.options(SALES)["sign"]
    assert [r.subject for r in option.reasons] == ["signing.signed_contract_uploaded", "contract_end_date"]

    customer.complete("signing", SIGNING[4:], SALES)
    customer.update(contract_end_date="2027-01-31")
    customer.fire("sign", SALES)
    assert customer.state("lifecycle") == "签约"
    assert customer.state("renewal") == "合同期内"  # contract_signed was emitted to the renewal window


def test_an_opportunity_without_response_for_two_weeks_is_escalated(b2b, clock):
    customer = Customer(b2b, clock, effective_contacts=4, last_response_at=clock.now())
    assert customer.timer("stall").due == clock.now() + timedelta(days=14)
    customer.run_timer("stall")
    assert customer.state("follow_up") == "停滞"
    assert customer.snapshot.queue == "senior_sales"
    assert "opportunity_stalled" in customer.effect_names("alert")
    customer.update(last_response_at=clock.now())
    assert customer.state("follow_up") == "正常"


def test_stall_timer_counts_from_the_opening_of_the_opportunity_not_from_an_old_response(b2b, clock):
    customer = Customer(b2b, clock, last_response_at=clock.now())
    assert customer.state("follow_up") == "未开启" and "stall" not in [t.event for t in customer.timers()]
    clock.advance(timedelta(days=30))
    customer.update(effective_contacts=4)
    assert customer.timer("stall").due == clock.now() + timedelta(days=14)


def test_stall_timer_exists_for_a_customer_that_never_responded(b2b, clock):
    customer = Customer(b2b, clock, effective_contacts=4)
    assert customer.timer("stall").due == clock.now() + timedelta(days=14)


def test_open_tasks_stay_on_the_customer_until_their_state_is_left(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(overdue_days=5)
    (task,) = customer.snapshot.work
    assert (task.name, task.role, task.due) == ("collect_payment", "finance", clock.now() + timedelta(days=3))
    customer.update(overdue_days=31)  # 付款逾期 → 服务暂停: a new collection task, and an alert
    assert [(w.kind, w.name, w.state) for w in customer.snapshot.work] == [
        ("task", "collect_payment", "服务暂停"),
        ("alert", "service_suspended", "服务暂停"),
    ]
    customer.update(overdue_days=0)
    assert customer.snapshot.work == ()


def test_long_without_an_order_a_signed_customer_churns_and_a_win_back_task_opens(b2b, clock):
    customer = key_opportunity(b2b, clock)
    customer.complete("signing", SIGNING, SALES)
    customer.update(contract_end_date="2027-06-30", last_order_at=clock.now())
    customer.fire("sign", SALES)
    assert customer.timer("churn").due == clock.now() + timedelta(days=182)
    customer.run_timer("churn")
    assert customer.state("lifecycle") == "流失"
    assert "win_back" in customer.effect_names("task")
    customer.fire("win_back", SALES)
    assert customer.state("lifecycle") == "意向"


def test_a_signed_customer_who_never_ordered_churns_half_a_year_after_signing(b2b, clock):
    customer = key_opportunity(b2b, clock)
    customer.complete("signing", SIGNING, SALES)
    customer.update(contract_end_date="2027-06-30")
    customer.fire("sign", SALES)
    assert customer.timer("churn").due == clock.now() + timedelta(days=182)
    clock.advance(timedelta(days=100))
    customer.update(last_order_at=clock.now())  # an order moves the churn half a year on from it
    assert customer.timer("churn").due == clock.now() + timedelta(days=182)


@pytest.mark.parametrize(
    ("facts", "grade", "task"),
    [
        ({"budget_confirmed": True, "decision_maker_engaged": True, "effective_contacts": 5, "company_size": 200},
         "高意向", "sales_follow_up"),  # 30+20+20+0+15 = 85
        ({"budget_confirmed": True, "decision_maker_engaged": True, "effective_contacts": 1, "web_visits_30d": 4},
         "培育中", "nurture_sequence"),  # 30+20+4+6+5 = 65
        ({"effective_contacts": 2}, "待观察", None),  # 8+5 = 13
    ],
)  # fmt: skip
def test_lead_score_bands(b2b, clock, facts, grade, task):
    customer = Customer(b2b, clock, **facts)
    assert customer.state("lead") == grade
    assert customer.effect_names("task") == ([task] if task else [])


def test_lead_score_at_exactly_80_is_sales_ready_and_79_is_nurture(b2b, clock):
    base = {
        "budget_confirmed": True,
        "decision_maker_engaged": True,
        "effective_contacts": 5,
        "company_size": 10,
    }
    assert Customer(b2b, clock, **base, web_visits_30d=4).snapshot.scores["lead_score"] == 81.0
    customer = Customer(b2b, clock, **base, web_visits_30d=3)  # 30+20+20+4.5+5 = 79.5
    assert customer.state("lead") == "培育中"
    customer.update(web_visits_30d=10)  # 90
    assert customer.state("lead") == "高意向"
    customer.update(budget_confirmed=False, web_visits_30d=0)  # 45
    assert customer.state("lead") == "待观察"


def test_rfm_score_sets_the_value_tier_and_a_weekly_review_demotes_on_recency(b2b, clock):
    customer = Customer(b2b, clock, last_order_at=clock.now(), orders_12m=12, revenue_12m=200000.0)
    assert customer.snapshot.scores["rfm_score"] == 90.0
    assert customer.state("value") == "重要"
    for _ in range(13):  # a quarter passes without orders: recency falls to 10
        customer.run_timer("weekly_review")
    assert customer.snapshot.scores["rfm_score"] == 60.0
    customer.update(orders_12m=3)  # 10 + 10 + 20 = 40
    assert customer.state("value") == "普通"


def test_orders_growing_twenty_percent_two_quarters_running_make_a_regular_customer_important(b2b, clock):
    customer = Customer(b2b, clock, last_order_at=clock.now() - timedelta(days=60), orders_12m=4)
    assert customer.state("value") == "普通"  # 25 + 20 + 10 = 55
    customer.update(order_total_q3=100.0, order_total_q2=120.0, order_total_q1=139.0)
    assert customer.state("value") == "普通"  # 20% then 15.8%
    customer.update(order_total_q1=144.0)
    assert customer.state("value") == "重要"
    assert customer.history[-1].event == "tier_growth"


def test_a_health_score_below_the_threshold_alerts_customer_success(b2b, clock):
    customer = Customer(b2b, clock, core_usage_days_30d=20, satisfaction=8.0, last_core_usage_at=clock.now())
    assert customer.snapshot.scores["health_score"] == 94.0
    assert customer.state("engagement") == "高活跃"
    customer.update(core_usage_days_30d=2, satisfaction=3.0, open_tickets=5)  # 4 + 9 + 0 + 10
    assert customer.state("engagement") == "风险"
    alert = [e for e in customer.effects if e.kind == "alert"][-1]
    assert alert.detail == {"name": "health_low", "role": "customer_success", "severity": "warning"}


def test_no_core_usage_for_three_months_makes_a_customer_silent(b2b, clock):
    customer = Customer(b2b, clock, last_core_usage_at=clock.now())
    assert customer.timer("go_silent").due == clock.now() + timedelta(days=90)
    customer.run_timer("go_silent")
    assert customer.state("engagement") == "沉默"


def test_a_customer_in_follow_up_is_locked_to_its_owner_and_managers(b2b, clock):
    customer = Customer(b2b, clock)
    customer.fire("start_follow_up", SALES)
    assert customer.state("team") == "跟进中"
    blocked = customer.options(OTHER_SALES)["ask_for_help"]
    assert [r.kind for r in blocked.reasons] == [ReasonKind.LOCKED]
    assert "rep-li" in blocked.reasons[0].message
    with pytest.raises(CustomerLocked, match="rep-li"):
        customer.update(OTHER_SALES, effective_contacts=9)
    customer.update(SALES, effective_contacts=1)
    customer.update(MANAGER, effective_contacts=2)
    customer.fire("ask_for_help", MANAGER)
    assert customer.state("team") == "需要协作"


def test_renewal_window_opens_at_90_60_and_30_days_before_the_contract_ends(b2b, clock):
    zone_midnight = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 2027-01-01 00:00 in Asia/Shanghai
    customer = key_opportunity(b2b, clock)
    customer.complete("signing", SIGNING, SALES)
    customer.update(contract_end_date="2027-01-01")  # midnight in Asia/Shanghai
    customer.fire("sign", SALES)
    steps = [("renewal_offer", 90, "续约提醒", "renewal_offer"), ("renewal_visit", 60, "续约拜访", "account_visit"),
             ("executive_outreach", 30, "高层介入", "executive_outreach")]  # fmt: skip
    for event, days, state, task in steps:
        assert customer.timer(event).due == zone_midnight - timedelta(days=days)
        customer.run_timer(event)
        assert customer.state("renewal") == state
        assert customer.effect_names("task")[-1] == task
    customer.update(contract_end_date="2028-01-01")  # renewed for a year
    assert customer.state("renewal") == "合同期内"
    assert customer.timer("renewal_offer").due == zone_midnight + timedelta(days=365 - 90)


def test_moving_the_contract_end_date_moves_the_renewal_timer(b2b, clock):
    customer = key_opportunity(b2b, clock)
    customer.complete("signing", SIGNING, SALES)
    customer.update(contract_end_date="2027-01-01")
    customer.fire("sign", SALES)
    first = customer.timer("renewal_offer")
    customer.update(contract_end_date="2027-03-01")
    moved = customer.timer("renewal_offer")
    assert moved.due - first.due == timedelta(days=59)
    assert moved.key == first.key  # the same timer of the same state entry, rescheduled
    with pytest.raises(StaleTimer):
        decide(b2b, customer.snapshot, FireTimer(first.key), SYSTEM, clock.now())


def test_a_timer_is_gone_once_the_customer_leaves_its_state(b2b, clock):
    customer = Customer(b2b, clock)
    timer = customer.timer("recycle_to_telemarketing")
    customer.update(effective_contacts=4)  # 潜在 → 意向
    assert "recycle_to_telemarketing" not in [t.event for t in customer.timers()]
    clock.advance(timedelta(days=100))
    with pytest.raises(StaleTimer, match="no longer applies"):
        decide(b2b, customer.snapshot, FireTimer(timer.key), SYSTEM, clock.now())


def test_an_abnormal_transaction_limits_amounts_and_requires_second_verification(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(abnormal_transaction=True)
    assert (customer.state("transaction"), customer.state("compliance")) == ("交易异常", "合规审查")
    assert customer.snapshot.restrictions == {"single_transaction_limit": 50000, "second_verification": True}
    with pytest.raises(TransitionNotAllowed, match="abnormal_transaction is false"):
        customer.fire("clear_abnormal_transaction", COMPLIANCE)
    customer.update(abnormal_transaction=False)
    customer.fire("clear_abnormal_transaction", COMPLIANCE)
    assert customer.state("transaction") == "正常"
    assert customer.snapshot.restrictions == {}


def test_overdue_payment_brings_in_finance_and_escalates_to_suspension(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(overdue_days=5)
    assert customer.state("payment") == "付款逾期"
    assert customer.effect_names("task") == ["collect_payment"]
    customer.update(overdue_days=31)
    assert customer.state("payment") == "服务暂停"
    assert customer.snapshot.restrictions == {"service_suspended": True}
    customer.update(overdue_days=0)
    assert (customer.state("payment"), customer.snapshot.restrictions) == ("正常", {})


def test_an_overdue_customer_jumping_straight_past_30_days_is_suspended_in_one_update(b2b, clock):
    customer = Customer(b2b, clock)
    outcome = customer.update(overdue_days=45)
    assert [h.event for h in outcome.history if h.event] == ["suspend_service"]
    assert customer.effect_names("task") == ["collect_payment"]  # finance is brought in all the same


def test_an_escalated_complaint_alerts_management(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(complaint_level=3)
    assert customer.state("complaint") == "投诉升级"
    assert [e.detail["role"] for e in customer.effects if e.kind == "alert"] == ["manager"]


def test_risks_hold_at_once_each_with_its_team(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(overdue_days=31)
    customer.update(complaint_level=3)
    customer.update(abnormal_transaction=True)
    held = {d: customer.state(d) for d in ("payment", "complaint", "compliance", "transaction")}
    assert held == {"payment": "服务暂停", "complaint": "投诉升级", "compliance": "合规审查", "transaction": "交易异常"}
    teams = {(w.name, w.role) for w in customer.snapshot.work}
    assert {
        ("collect_payment", "finance"),
        ("complaint_escalated", "manager"),
        ("compliance_review", "compliance"),
        ("abnormal_transaction", "compliance"),
    } <= teams


def test_profile_is_verified_only_with_its_facts_and_needs_update_after_half_a_year(b2b, clock):
    customer = Customer(b2b, clock, last_contact_at=clock.now())
    with pytest.raises(TransitionNotAllowed) as blocked:
        customer.fire("verify", SALES)
    assert {r.subject for r in blocked.value.reasons} == {"phone", "company_name"}
    customer.update(phone="+86 138 0000 0000", company_name="星河科技")
    customer.fire("verify", SALES)
    assert customer.timer("needs_update").due == clock.now() + timedelta(days=182)
    customer.run_timer("needs_update")
    assert customer.state("data_quality") == "需更新"


def test_a_device_anomaly_opens_a_preventive_maintenance_task(b2b, clock):
    customer = Customer(b2b, clock)
    customer.update(device_anomaly=True)
    assert customer.state("device") == "需要预防性维护"
    assert customer.effect_names("task") == ["preventive_maintenance"]
    customer.update(device_anomaly=False)
    assert customer.state("device") == "正常运行"


def test_the_simple_project_pipeline_runs_to_a_final_state(b2b, clock):
    rep = actor("rep-li", "sales")
    am = actor("am-qian", "account_manager")
    customer = Customer(b2b, clock)
    for event, by in [
        ("project_contact", rep),
        ("project_trial", rep),
        ("project_start", am),
        ("project_done", am),
    ]:
        customer.fire(event, by)
    assert customer.state("project") == "已完成"
    assert not [o for o in customer.options(MANAGER).values() if o.dimension == "project" and o.allowed]
