"""The seed rules as SPEC section 3 means them, one scenario each, through the gRPC API with the test clock:
stall, recycle once per stay, churn without orders, real queues, concurrent risks, enforcement of
restrictions, fact writers, audited overrides, and claims with labels in every industry definition."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import duration_pb2, json_format, struct_pb2

from crmstatus.v1 import customer_status_service_pb2 as cs
from tests.conftest import CONFIGS
from tests.desk import Desk

SIGNING = ["contract_approval", "product_configuration", "pricing_approval", "payment_terms_confirmed",
           "signed_contract_uploaded"]  # fmt: skip
REP, SENIOR, TELEMARKETER = ("rep-li", "sales"), ("senior-wu", "senior_sales"), ("tm-zhou", "telemarketing")
MANAGER, ERP = ("mgr-sun", "manager"), ("erp", "integration")


def _as(desk: Desk, who: tuple[str, str]):
    return desk.metadata(roles=who[1], actor=who[0])


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failed:
        call()
    return failed.value.code(), failed.value.details()


def _work(desk: Desk) -> set[tuple[str, str, str]]:
    return {(w.kind, w.name, w.role) for w in desk.customer().open_work}


def _events(desk: Desk) -> list[str]:
    request = cs.GetHistoryRequest(customer_id=desk.id, page_size=1000, oldest_first=True)
    return [e.event for e in desk.api.GetHistory(request, metadata=desk.metadata()).entries]


def _claim(desk: Desk, who: tuple[str, str]):
    return desk.api.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=desk.id), metadata=_as(desk, who))


def _pool(desk: Desk, queue: str = "") -> list[str]:
    request = cs.ListPoolRequest(page_size=1000, queue=queue)
    return [c.customer_id for c in desk.api.ListPool(request, metadata=desk.metadata()).customers]


def _struct(**values) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


# -- stall: two weeks without a response, counted from the later of the opportunity's opening and the response --


def test_a_stall_counts_from_when_the_opportunity_opened_not_from_an_old_response(desk):
    desk.create(last_response_at=(desk.clock.now() - timedelta(days=40)).isoformat())
    desk.pass_time(days=30)  # a potential customer is no opportunity: nothing stalls, no timer is dropped
    assert (desk.state("lifecycle"), desk.state("follow_up")) == ("潜在", "未开启")
    desk.update(effective_contacts=4)
    assert (desk.state("lifecycle"), desk.state("follow_up")) == ("意向", "正常")
    desk.pass_time(days=13, hours=23)
    assert desk.state("follow_up") == "正常"
    desk.pass_time(hours=1)
    assert desk.state("follow_up") == "停滞"
    assert desk.customer().queue == "senior_sales"
    assert ("alert", "opportunity_stalled", "manager") in _work(desk)


def test_a_customer_who_never_responded_stalls_two_weeks_after_becoming_an_opportunity(desk):
    desk.create(effective_contacts=4)
    desk.pass_time(days=14)
    assert desk.state("follow_up") == "停滞"


def test_after_thirty_days_as_an_intent_without_response_follow_up_is_stalled(desk):
    desk.create(last_response_at=desk.clock.now().isoformat())
    desk.update(effective_contacts=4)
    desk.pass_time(days=30)
    assert (desk.state("lifecycle"), desk.state("follow_up")) == ("意向", "停滞")


# -- 90 days in 潜在: telemarketing takes it over, once per stay -----------------------------------------------------


def test_ninety_days_in_potential_hand_over_to_telemarketing_once_and_only_telemarketing_claims(desk):
    desk.create()
    desk.pass_time(days=90)
    customer = desk.customer()
    assert (customer.queue, desk.state("lifecycle")) == ("telemarketing", "潜在")
    assert desk.id in _pool(desk, "telemarketing") and desk.id not in _pool(desk)
    code, details = _code(lambda: _claim(desk, REP))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "queue telemarketing" in details
    _claim(desk, TELEMARKETER)
    assert desk.customer().owner == TELEMARKETER[0]
    desk.pass_time(days=200)  # still in 潜在: the 90 days do not start again
    assert _events(desk).count("recycle_to_telemarketing") == 1
    assert desk.state("lifecycle") == "潜在"


def test_a_key_opportunity_lands_with_senior_sales(desk):
    desk.create(effective_contacts=4)
    _claim(desk, REP)
    desk.api.FireEvent(cs.FireEventRequest(customer_id=desk.id, event="promote"), metadata=_as(desk, REP))
    customer = desk.customer()
    assert (customer.queue, customer.owner, desk.state("team")) == ("senior_sales", "", "新分配")
    assert desk.id in _pool(desk, "senior_sales")
    assert _code(lambda: _claim(desk, REP))[0] is grpc.StatusCode.PERMISSION_DENIED
    _claim(desk, SENIOR)
    assert (desk.customer().owner, desk.state("team")) == (SENIOR[0], "跟进中")


def test_an_unknown_queue_is_named_in_the_error(desk):
    code, details = _code(lambda: _pool(desk, "senior_salse"))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "senior_sales" in details  # did you mean …


def test_a_rep_who_claims_a_customer_contacted_long_ago_gets_the_full_twelve_days(desk):
    desk.create(last_contact_at=(desk.clock.now() - timedelta(days=30)).isoformat())
    _claim(desk, REP)
    desk.pass_time(days=11, hours=23)
    assert desk.state("team") == "跟进中"
    desk.pass_time(hours=1)
    assert desk.state("team") == "即将回收"
    desk.pass_time(days=2)
    assert (desk.state("team"), desk.customer().owner) == ("新分配", "")


def test_a_segment_lists_its_customers_by_entry_and_the_stalled_ones_without_a_scan(desk):
    first = desk.id = f"seg-{uuid.uuid4().hex[:8]}"
    desk.create(effective_contacts=4)  # 意向 from now
    desk.pass_time(days=20)
    second = desk.id = f"seg-{uuid.uuid4().hex[:8]}"
    desk.create(effective_contacts=4)

    def page(**fields):  # every page: the tenant's other tests have customers there too
        found, token = [], ""
        while True:
            request = cs.ListCustomersRequest(definition="b2b", dimension="lifecycle", state="意向", page_size=200,
                                              page_token=token, **fields)  # fmt: skip
            answer = desk.api.ListCustomers(request, metadata=desk.metadata())
            found += [c.customer_id for c in answer.customers]
            if not (token := answer.next_page_token):
                return found

    everyone = page()
    assert everyone.index(first) < everyone.index(second)  # oldest entry first
    stalled = page(longer_than=duration_pb2.Duration(seconds=14 * 86400))
    assert first in stalled and second not in stalled
    newest = page(newest_first=True)
    assert newest.index(second) < newest.index(first)
    request = cs.ListCustomersRequest(definition="b2b", dimension="value", state="重要")
    code, details = _code(lambda: desk.api.ListCustomers(request, metadata=desk.metadata()))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "indexed" in details
    mine = cs.ListCustomersRequest(owner="nobody-holds-these")
    assert list(desk.api.ListCustomers(mine, metadata=desk.metadata()).customers) == []
    for vague in (cs.ListCustomersRequest(), cs.ListCustomersRequest(owner="x" * 200)):
        assert _code(lambda v=vague: desk.api.ListCustomers(v, metadata=desk.metadata()))[0] is (
            grpc.StatusCode.INVALID_ARGUMENT
        )


# -- churn: long without an order, including never ---------------------------------------------------------------


def test_a_signed_customer_who_never_ordered_churns_with_a_win_back_task(desk):
    desk.create(effective_contacts=4, contract_end_date=(desk.clock.now() + timedelta(days=400)).date().isoformat())
    evidence = [cs.ChecklistEvidence(checklist="signing", item=item, evidence="ok") for item in SIGNING]
    desk.fire("promote")
    desk.fire("sign", evidence=evidence)
    assert desk.state("lifecycle") == "签约"
    desk.pass_time(days=181)
    assert desk.state("lifecycle") == "签约"
    desk.pass_time(days=1)
    assert desk.state("lifecycle") == "流失"
    assert ("task", "win_back", "sales") in _work(desk)


# -- risks hold at once, each with its team, escalating by themselves ------------------------------------------------


def test_a_suspended_customer_who_escalates_a_complaint_alerts_management_and_finance_keeps_its_task(desk):
    desk.create()
    desk.update(overdue_days=31)
    desk.update(complaint_level=3)
    assert (desk.state("payment"), desk.state("complaint")) == ("服务暂停", "投诉升级")
    work = _work(desk)
    assert {("task", "collect_payment", "finance"), ("alert", "complaint_escalated", "manager")} <= work
    desk.pass_time(days=3)  # unresolved: management is alerted again, critical
    assert ("alert", "complaint_unresolved", "manager") in _work(desk)
    desk.update(abnormal_transaction=True)  # a third risk; compliance reviews by itself
    assert (desk.state("transaction"), desk.state("compliance")) == ("交易异常", "合规审查")
    assert ("task", "compliance_review", "compliance") in _work(desk)


# -- enforcement: one call tells a payment service whether a payment may go through ---------------------------------


def _check(desk: Desk, action: str, **attributes):
    request = cs.CheckActionRequest(customer_id=desk.id, action=action, attributes=_struct(**attributes))
    return desk.api.CheckAction(request, metadata=desk.metadata())


def test_an_abnormal_transaction_limits_amounts_and_needs_a_second_verification(desk):
    desk.create()
    assert _check(desk, "payment", amount=80000).allowed
    desk.update(abnormal_transaction=True)
    denied = _check(desk, "payment", amount=80000)
    assert not denied.allowed
    kinds = {d.restriction: d.kind for d in denied.denials}
    assert kinds == {"single_transaction_limit": cs.RESTRICTION_KIND_LIMIT,
                     "second_verification": cs.RESTRICTION_KIND_VERIFICATION}  # fmt: skip
    assert "50000" in next(d.message for d in denied.denials if d.restriction == "single_transaction_limit")
    assert [d.restriction for d in _check(desk, "payment", amount=30000).denials] == ["second_verification"]
    assert _check(desk, "payment", amount=30000, verified=True).allowed
    assert not _check(desk, "payment", amount=float("nan"), verified=True).allowed  # not a number: not below it
    assert _check(desk, "service_use").allowed
    desk.update(overdue_days=31)
    assert [d.kind for d in _check(desk, "service_use").denials] == [cs.RESTRICTION_KIND_BLOCK]
    code, details = _code(lambda: _check(desk, "paymnet", amount=1))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "payment" in details


# -- facts have writers ----------------------------------------------------------------------------------------------


def test_a_sales_rep_cannot_lift_a_suspension_by_writing_overdue_days(desk):
    desk.create()
    desk.api.UpdateFacts(cs.UpdateFactsRequest(customer_id=desk.id, facts=_struct(overdue_days=31)),
                         metadata=_as(desk, ERP))  # fmt: skip
    before = desk.customer()
    request = cs.UpdateFactsRequest(customer_id=desk.id, facts=_struct(overdue_days=0))
    code, details = _code(lambda: desk.api.UpdateFacts(request, metadata=_as(desk, REP)))
    assert code is grpc.StatusCode.PERMISSION_DENIED and "overdue_days" in details
    assert desk.customer() == before
    entries = desk.api.GetHistory(cs.GetHistoryRequest(customer_id=desk.id), metadata=desk.metadata()).entries
    written = next(e for e in entries if e.trigger == "facts")
    assert (written.actor, json_format.MessageToDict(written.facts_changed)) == ("erp", {"overdue_days": 31})


# -- audited override ------------------------------------------------------------------------------------------------


def _override(desk: Desk, who, reason: str = "", **fields):
    request = cs.OverrideStateRequest(customer_id=desk.id, reason=reason, **fields)
    return desk.api.OverrideState(request, metadata=_as(desk, who))


def test_a_manager_corrects_a_state_with_a_reason_and_the_history_shows_the_override(desk):
    desk.create()
    fields = {"dimension": "lifecycle", "state": "重点"}
    assert _code(lambda: _override(desk, REP, "typo", **fields))[0] is grpc.StatusCode.PERMISSION_DENIED
    assert _code(lambda: _override(desk, MANAGER, " ", **fields))[0] is grpc.StatusCode.INVALID_ARGUMENT
    unknown = _code(lambda: _override(desk, MANAGER, "x", dimension="lifecycle", state="签 约"))
    assert unknown[0] is grpc.StatusCode.INVALID_ARGUMENT
    assert desk.state("lifecycle") == "潜在"
    result = _override(desk, MANAGER, "imported with the wrong stage", **fields).result
    assert desk.state("lifecycle") == "重点"
    (entry,) = [h for h in result.history if h.trigger == "override"]
    assert (entry.actor, entry.from_state, entry.to_state, entry.reason) == (
        "mgr-sun", "潜在", "重点", "imported with the wrong stage")  # fmt: skip
    assert "override" in _events(desk)


# -- claims and labels in every industry definition ---------------------------------------------------------------


INDUSTRIES = {"education": ("adv-a", "advisor"), "finance": ("am-a", "account_manager"),
              "fitness": ("ma-a", "membership_advisor"), "real_estate": ("agent-a", "agent")}  # fmt: skip


@pytest.mark.parametrize("industry", sorted(INDUSTRIES))
def test_every_industry_locks_a_claimed_customer_for_its_lease_and_frees_it_after(desk, industry):
    rep, role = INDUSTRIES[industry]
    desk.id = f"{industry}-{uuid.uuid4().hex[:8]}"
    desk.create(industry, last_contact_at=desk.clock.now().isoformat())
    claimed = _claim(desk, (rep, role))
    assert claimed.lease_expire_time.seconds > 0
    assert (desk.state("team"), desk.customer().owner) == ("跟进中", rep)
    other = (f"{rep}-2", role)
    assert _code(lambda: _claim(desk, other))[0] is grpc.StatusCode.FAILED_PRECONDITION
    lease = claimed.lease_expire_time.ToDatetime().replace(tzinfo=desk.clock.now().tzinfo)
    desk.clock.set(lease + timedelta(seconds=1))
    assert _claim(desk, other).fence_token == claimed.fence_token + 1


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_state_of_every_definition_is_labelled_in_both_languages(path: Path):
    data = yaml.safe_load(path.read_text("utf-8"))
    unlabelled = [
        f"{dimension}.{state}"
        for dimension, spec in data["dimensions"].items()
        for state, raw in spec["states"].items()
        if not ((raw or {}).get("label") or {}).get("zh") or not ((raw or {}).get("label") or {}).get("en")
    ]
    assert not unlabelled  # fmt: skip
    assert "claims" in data
