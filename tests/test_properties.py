"""Property tests where rules interact: random command sequences against the b2b definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmstatus.engine import (
    SYSTEM,
    Claim,
    ClaimConflict,
    ClaimRefused,
    CustomerLocked,
    Fire,
    FireTimer,
    ManualClock,
    TransitionNotAllowed,
    UpdateFacts,
    decide,
    list_transitions,
    lock_holder,
    may_see_locked,
    new_customer,
    timers,
)
from crmstatus.engine.loader import load_file
from tests.conftest import CONFIGS
from tests.customers import actor

B2B = load_file(CONFIGS / "b2b.yaml")
ACTORS = [actor("rep-a", "sales"), actor("rep-b", "sales"), actor("senior", "senior_sales"),
          actor("boss", "manager"), actor("cmp", "compliance"), actor("tm", "telemarketing")]  # fmt: skip
START = datetime(2026, 1, 5, tzinfo=UTC)
moments = st.integers(-400, 400).map(lambda days: (START + timedelta(days=days)).isoformat())
FACT_VALUES = {
    "effective_contacts": st.integers(0, 8),
    "overdue_days": st.integers(0, 60),
    "complaint_level": st.integers(0, 3),
    "abnormal_transaction": st.booleans(),
    "device_anomaly": st.booleans(),
    "budget_confirmed": st.booleans(),
    "web_visits_30d": st.integers(0, 20),
    "satisfaction": st.floats(0, 10),
    "core_usage_days_30d": st.integers(0, 30),
    "orders_12m": st.integers(0, 20),
    "revenue_12m": st.floats(0, 2e6),
    "order_total_q1": st.floats(0, 1000),
    "order_total_q2": st.floats(0, 1000),
    "order_total_q3": st.floats(0, 1000),
    "last_order_at": moments,
    "last_response_at": moments,
    "last_contact_at": moments,
    "last_core_usage_at": moments,
    "contract_end_date": st.integers(0, 500).map(lambda d: (START + timedelta(days=d)).date().isoformat()),
    "phone": st.just("+86 138 0000 0000"),
    "company_name": st.just("星河科技"),
}
MANUAL_EVENTS = sorted({t.event for d in B2B.dimensions.values() for t in d.transitions if not t.auto})
commands = st.one_of(
    st.tuples(st.just("fire"), st.sampled_from(MANUAL_EVENTS), st.sampled_from(ACTORS)),
    st.tuples(st.just("fire"), st.sampled_from(B2B.events), st.sampled_from(ACTORS)),
    st.tuples(st.just("facts"), st.sampled_from(sorted(FACT_VALUES)).flatmap(
        lambda name: FACT_VALUES[name].map(lambda value: {name: value})), st.sampled_from(ACTORS)),
    st.tuples(st.just("wait"), st.sampled_from([1, 6, 24, 72, 24 * 10, 24 * 95]), st.just(None)),  # hours
    st.tuples(st.just("claim"), st.just(None), st.sampled_from(ACTORS)),
)  # fmt: skip


# Most runs start with rep-a holding the customer, locked (跟进中) or not (需要协作), so that the lock and
# claim rules meet the other reps' commands often.
OPENINGS = [
    [],
    [("fire", "start_follow_up", ACTORS[0])],
    [("claim", None, ACTORS[0])],
    [("claim", None, ACTORS[0]), ("fire", "ask_for_help", ACTORS[0])],
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(OPENINGS), st.lists(commands, min_size=1, max_size=40))
def test_random_commands_keep_every_invariant(opening, script):
    script = [*opening, *script]
    clock = ManualClock(START)
    snapshot = new_customer(B2B, "c-1", SYSTEM, clock.now()).snapshot
    for kind, argument, who in script:
        before = snapshot
        if kind == "wait":
            clock.advance(timedelta(hours=argument))
            for timer in [t for t in timers(B2B, snapshot) if t.due <= clock.now()]:
                try:
                    snapshot = decide(B2B, snapshot, FireTimer(timer.key), SYSTEM, clock.now()).snapshot
                except TransitionNotAllowed:
                    continue  # a guard on the timer's transition said no; the timer is spent
                break  # the state changed: timers are recomputed at the next step
            continue
        if kind == "claim":
            try:
                snapshot = decide(B2B, before, Claim(), who, clock.now()).snapshot
            except (ClaimConflict, ClaimRefused):
                assert before.claim_active(clock.now()) or before.former.get(who.id), "a free customer was refused"
                continue
            assert not (before.claim_active(clock.now()) and before.owner != who.id), "two owners at once"
            continue
        locked_out = lock_holder(B2B, before) is not None and not may_see_locked(B2B, before, who)
        held = before.claim_active(clock.now()) and before.owner != who.id and not may_see_locked(B2B, before, who)
        try:
            if kind == "fire":
                listed = {o.event: o for o in list_transitions(B2B, before, who, clock.now())}[argument]
                outcome = decide(B2B, before, Fire(argument), who, clock.now())
                assert listed.allowed, f"fired although listed as blocked: {listed.reasons}"
            else:
                outcome = decide(B2B, before, UpdateFacts(argument), who, clock.now())
        except (TransitionNotAllowed, CustomerLocked, ClaimConflict) as refused:
            if kind == "fire":
                assert not listed.allowed, f"listed as allowed but refused: {refused}"
            continue
        assert not locked_out, "a rep changed a customer locked by someone else"
        assert not held, "a rep changed a customer someone else holds"
        snapshot = outcome.snapshot
        if outcome.history:
            assert snapshot.version == before.version + 1
            assert {h.version for h in outcome.history} == {snapshot.version}
        else:
            assert snapshot is before
        for name, entry in snapshot.states.items():
            assert entry.state in B2B.dimensions[name].states
        if snapshot.state("team") == "跟进中" and before.state("team") != "跟进中":
            assert snapshot.owner is not None, "the follow-up lock was taken without an owner"
