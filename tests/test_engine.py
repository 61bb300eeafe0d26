"""Engine behaviour that is not one business rule: reasons, errors, automation bounds, compile-once."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest
import transitions

import crmstatus.engine.expressions
from crmstatus.engine import (
    SYSTEM,
    AutomationCycle,
    FireTimer,
    InvalidFactValue,
    ReasonKind,
    ReopenItem,
    StaleTimer,
    TransitionNotAllowed,
    UnknownName,
    decide,
    load_definition,
    new_customer,
    timers,
)
from tests.customers import Customer, actor

GATED = """
name: gated
industry: test
version: 3
owner: qa@crm.example
roles:
  sales: {}
  manager: {sees_locked: true}
facts:
  contacts: {type: int, default: 0}
  contract_end: {type: date}
  tags: {type: string_list}
  cooling_off: {type: duration}
  seen_at: {type: timestamp}
checklists:
  signing: {items: {approval: {}, upload: {}}}
dimensions:
  team:
    states:
      open: {initial: true}
      working: {locked: true}
    transitions:
      - {event: take, from: open, to: working, roles: [sales], effects: [{assign: {owner: actor}}]}
      - {event: drop, from: working, to: open, roles: [sales, manager], effects: [{assign: {owner: none}}]}
  deal:
    states:
      lead: {initial: true}
      signed: {requires: [contract_end]}
      lost: {}
    transitions:
      - event: sign
        from: lead
        to: signed
        roles: [manager]
        when: contacts >= 3
        checklist: signing
        effects: [{emit: drop}, {emit: not_an_event}]
      - {event: lose, from: [lead, signed], to: lost, roles: [sales, manager]}
      - {event: revive, from: lost, to: lead, auto: true, when: contacts > 10}
"""

CYCLE = """
name: cycle
industry: test
version: 1
owner: qa@crm.example
facts:
  flag: {type: bool, default: false}
dimensions:
  ping:
    states:
      a: {initial: true}
      b: {}
    transitions:
      - {event: go, from: a, to: b, auto: true, when: flag}
      - {event: back, from: b, to: a, auto: true, when: flag}
"""

REP = actor("rep-1", "sales")
RIVAL = actor("rep-2", "sales")
BOSS = actor("boss", "manager")


@pytest.fixture
def gated():
    return load_definition(GATED, "gated.yaml")


def test_a_blocked_transition_lists_every_reason_at_once(gated, clock):
    customer = Customer(gated, clock)
    customer.fire("take", REP)
    option = customer.options(REP)["sign"]  # the owner, without the role it needs
    assert [r.kind for r in option.reasons] == [
        ReasonKind.ROLE, ReasonKind.GUARD, ReasonKind.CHECKLIST, ReasonKind.CHECKLIST, ReasonKind.REQUIRED_FACT,
    ]  # fmt: skip
    assert [r.message for r in option.reasons] == [
        "needs role manager",
        "contacts >= 3 is false (contacts = 0)",
        "checklist item signing.approval is open",
        "checklist item signing.upload is open",
        "signed requires fact contract_end",
    ]
    with pytest.raises(TransitionNotAllowed) as error:
        customer.fire("sign", REP)
    assert error.value.reasons == option.reasons


def test_a_rival_learns_why_it_may_not_act_on_a_locked_customer_but_none_of_its_details(gated, clock):
    customer = Customer(gated, clock)
    customer.fire("take", REP)
    option = customer.options(RIVAL)["sign"]
    assert [r.message for r in option.reasons] == ["needs role manager", "locked by rep-1 while team is working"]
    with pytest.raises(TransitionNotAllowed) as error:
        customer.fire("sign", RIVAL)
    assert error.value.reasons == option.reasons  # no fact values, checklist progress or missing facts either


def test_a_wrong_state_is_reported_alongside_the_other_reasons(gated, clock):
    customer = Customer(gated, clock)
    customer.fire("lose", REP)
    reasons = customer.options(REP)["sign"].reasons
    assert reasons[0].kind is ReasonKind.WRONG_STATE
    assert reasons[0].message == "deal is lost, not lead"


def test_an_allowed_transition_moves_the_state_applies_effects_and_emits(gated, clock):
    customer = Customer(gated, clock, contacts=3, contract_end="2027-01-01")
    customer.fire("take", REP)
    customer.complete("signing", ["approval", "upload"], REP)
    before = customer.snapshot
    outcome = customer.fire("sign", BOSS, reason="board approved")
    assert before.state("deal") == "lead"  # snapshots are values: the old one is untouched
    assert outcome.snapshot.version == before.version + 1
    assert [(h.event, h.from_state, h.to_state, h.trigger) for h in outcome.history] == [
        ("sign", "lead", "signed", "caller"),
        ("drop", "working", "open", "emit"),
    ]
    assert outcome.history[0].reason == "board approved"
    assert {h.version for h in outcome.history} == {before.version + 1}
    assert outcome.snapshot.owner is None
    assert [e.kind for e in outcome.effects] == ["emit", "emit", "assign"]


def test_automatic_transitions_are_not_fired_by_hand(gated, clock):
    customer = Customer(gated, clock)
    customer.fire("lose", REP)
    with pytest.raises(TransitionNotAllowed, match="fires automatically"):
        customer.fire("revive", BOSS)
    customer.update(contacts=11)
    assert customer.state("deal") == "lead"


def test_unknown_names_get_a_hint(gated, clock):
    customer = Customer(gated, clock)
    with pytest.raises(UnknownName, match="unknown event 'sing' \\(did you mean 'sign'\\?\\)"):
        customer.fire("sing", BOSS)
    with pytest.raises(UnknownName, match="unknown fact 'contact' \\(did you mean 'contacts'\\?\\)"):
        customer.update(contact=1)
    with pytest.raises(UnknownName, match="unknown item of checklist signing 'aproval'"):
        customer.complete("signing", ["aproval"], REP)


@pytest.mark.parametrize(
    ("fact", "value", "message"),
    [
        ("contacts", "three", "expected a whole number"),
        ("contacts", True, "expected a whole number"),
        ("contract_end", "31/12/2026", "expected a date like 2026-12-31"),
        ("seen_at", "2026-01-01T10:00:00", "has no time zone offset"),
        ("tags", "vip", "expected a list of texts"),
        ("cooling_off", "P1M", "is not a duration"),
    ],
)
def test_fact_values_of_the_wrong_type_are_refused(gated, clock, fact, value, message):
    customer = Customer(gated, clock)
    with pytest.raises(InvalidFactValue, match=message):
        customer.update(**{fact: value})


def test_a_customers_facts_hold_at_most_a_hundred_thousand_characters_of_text(gated, clock):
    """Every command reads and writes them whole, and guards go through their lists while others wait: a list
    of 1,000 texts of 4,096 characters each (4 MB) passed each fact's own bounds."""
    customer = Customer(gated, clock)
    page = "x" * 4096
    customer.update(tags=[page] * 24)  # 98,304 characters
    with pytest.raises(InvalidFactValue, match="fact 'tags': the customer's facts would hold 102,400 characters"):
        customer.update(tags=[page] * 25)
    assert len(customer.snapshot.facts["tags"]) == 24
    customer.snapshot = customer.snapshot._replace(facts={"tags": (page,) * 1000})  # stored before this bound
    customer.update(tags=[page] * 999)  # one over the bound may shrink, and change what does not grow it
    customer.update(contacts=3)
    assert customer.snapshot.facts["contacts"] == 3


def test_fact_values_are_normalised_and_unset_with_none(gated, clock):
    customer = Customer(gated, clock)
    outcome = customer.update(seen_at="2026-01-01T18:00:00+08:00", tags=["vip"], cooling_off="P2W", contacts=2.0)
    assert customer.snapshot.facts["seen_at"] == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert customer.snapshot.facts["cooling_off"] == timedelta(days=14)
    assert outcome.history[0].facts_changed == {
        "seen_at": "2026-01-01T10:00:00+00:00", "tags": ["vip"], "cooling_off": "P14D", "contacts": 2,
    }  # fmt: skip
    customer.update(tags=None)
    assert "tags" not in customer.snapshot.facts


def test_an_update_that_changes_nothing_is_not_a_new_version(gated, clock):
    customer = Customer(gated, clock, contacts=2)
    outcome = customer.update(contacts=2)
    assert outcome.snapshot.version == 1
    assert outcome.history == ()


def test_a_score_cannot_be_set_from_outside(definitions, clock):
    customer = Customer(definitions["b2b"], clock)
    with pytest.raises(InvalidFactValue, match="is a score computed by the engine"):
        customer.update(lead_score=99)


def test_reopening_a_checklist_item_blocks_the_transition_again(gated, clock):
    customer = Customer(gated, clock, contacts=5, contract_end="2027-01-01")
    customer.complete("signing", ["approval", "upload"], REP)
    assert customer.options(BOSS)["sign"].allowed
    customer.run(ReopenItem("signing", "upload", "wrong file"), BOSS)
    assert [r.subject for r in customer.options(BOSS)["sign"].reasons] == ["signing.upload"]
    mark = customer.snapshot.checklists["signing"]["approval"]
    assert (mark.by, mark.evidence) == ("rep-1", "ok")


def test_a_cycle_of_automatic_transitions_is_reported_not_looped(clock):
    definition = load_definition(CYCLE, "cycle.yaml")
    customer = Customer(definition, clock)
    with pytest.raises(AutomationCycle) as error:
        customer.update(flag=True)
    assert "ping: a → b (go)" in str(error.value)
    assert len(error.value.steps) == 33


def test_requests_build_no_machines_and_compile_no_expressions(definitions, clock, monkeypatch):
    b2b = definitions["b2b"]

    def refuse(*args, **kwargs):
        raise AssertionError("built during a request")

    monkeypatch.setattr(transitions.Machine, "__init__", refuse)
    monkeypatch.setattr(crmstatus.engine.expressions.cel, "compile", refuse)
    customer = Customer(b2b, clock, effective_contacts=4, last_order_at=clock.now(), orders_12m=5)
    customer.fire("promote", actor("rep", "sales"))
    customer.options(actor("rep", "sales"))
    customer.run_timer("weekly_review")
    assert customer.state("lifecycle") == "重点"


def test_commands_and_listings_leave_nothing_for_the_garbage_collector(definitions, clock):
    """What a command builds is freed as soon as it is done with: no reference cycle waits for a collection
    (a served process would otherwise pay for a collector pass every few calls)."""
    customer = Customer(definitions["b2b"], clock, effective_contacts=4, last_order_at=clock.now(), orders_12m=5)
    gc.collect()
    gc.disable()
    try:
        customer.fire("promote", actor("rep", "sales"))
        customer.update(effective_contacts=5)
        customer.options(actor("rep", "sales"))
        with pytest.raises(TransitionNotAllowed):
            customer.fire("promote", actor("rep", "sales"))
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_date_facts_begin_at_midnight_in_the_definitions_time_zone(definitions, clock):
    customer = Customer(definitions["fitness"], clock, course_end_date="2026-06-30", remaining_lessons=20)
    customer.fire("join", actor("adv", "membership_advisor"))
    timer = customer.timer("course_expiring")
    assert timer.due == datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # 2026-06-16 00:00 in Asia/Shanghai
    clock.set(datetime(2026, 6, 15, 15, 59, tzinfo=UTC))
    with pytest.raises(StaleTimer, match="not due"):
        decide(definitions["fitness"], customer.snapshot, FireTimer(timer.key), SYSTEM, clock.now())


BERLIN = """\
name: dst
industry: test
version: 1
owner: qa@crm.example
timezone: Europe/Berlin
roles: {sales: {}}
facts:
  end_date: {type: date}
dimensions:
  renewal:
    states:
      open:
        initial: true
        timers:
          - {before: end_date, offset: P30D, event: remind}
          - {after: P90D, event: expire}
      reminded: {}
      expired: {final: true}
    transitions:
      - {event: remind, from: open, to: reminded, roles: [sales]}
      - {event: expire, from: [open, reminded], to: expired, roles: [sales]}
"""


def test_days_are_counted_on_the_calendar_where_clocks_change():
    from zoneinfo import ZoneInfo

    berlin, definition = ZoneInfo("Europe/Berlin"), load_definition(BERLIN, "dst.yaml")
    entered = datetime(2026, 1, 5, 10, tzinfo=berlin)  # winter time; summer time starts on 29 March
    created = new_customer(definition, "c-1", SYSTEM, entered.astimezone(UTC), {"end_date": "2026-04-15"})
    due = {t.event: t.due.astimezone(berlin) for t in timers(definition, created.snapshot)}
    assert due["remind"] == datetime(2026, 3, 16, tzinfo=berlin)  # 30 days before the date's midnight, a midnight
    assert due["expire"] == datetime(2026, 4, 5, 10, tzinfo=berlin)  # 90 days on, at the time of day it entered
