"""Industry rules of SPEC section 3 (education, real estate, finance, fitness), through the engine API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmstatus.engine import ReasonKind, TransitionNotAllowed
from tests.customers import Customer, actor

ADVISOR = actor("adv-chen", "advisor")
ENROLLMENT = ["trial_feedback", "placement_test", "payment", "contract"]


def test_education_trial_student_enrolls_only_after_a_trial_and_the_enrollment_checklist(definitions, clock):
    customer = Customer(definitions["education"], clock, student_name="李雷")
    customer.fire("book_trial", ADVISOR)
    with pytest.raises(TransitionNotAllowed) as blocked:
        customer.fire("enroll", ADVISOR)
    kinds = [r.kind for r in blocked.value.reasons]
    assert kinds == [ReasonKind.GUARD] + [ReasonKind.CHECKLIST] * 4 + [ReasonKind.REQUIRED_FACT]
    assert "trial_lessons_attended = 0" in blocked.value.reasons[0].message

    customer.update(trial_lessons_attended=1, lesson_package="少儿英语48课时", remaining_lessons=48)
    customer.complete("enrollment", ENROLLMENT, ADVISOR)
    customer.fire("enroll", ADVISOR)
    assert customer.state("learner") == "正式学员"


def enrolled(definitions, clock, remaining_lessons: int) -> Customer:
    customer = Customer(definitions["education"], clock, trial_lessons_attended=1, lesson_package="48课时",
                        remaining_lessons=remaining_lessons)  # fmt: skip
    customer.fire("book_trial", ADVISOR)
    customer.complete("enrollment", ENROLLMENT, ADVISOR)
    customer.fire("enroll", ADVISOR)
    return customer


def test_education_suspension_ends_on_its_date_and_the_student_is_back(definitions, clock):
    customer = enrolled(definitions, clock, remaining_lessons=30)
    with pytest.raises(TransitionNotAllowed, match="requires fact suspension_end_date"):
        customer.fire("suspend", ADVISOR)
    customer.update(suspension_end_date="2026-03-01")
    customer.fire("suspend", ADVISOR)
    assert customer.state("learner") == "休学"
    assert customer.timer("resume").due == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    customer.run_timer("resume")
    assert customer.state("learner") == "正式学员"


def test_education_lesson_package_renewal_when_few_lessons_remain(definitions, clock):
    customer = enrolled(definitions, clock, remaining_lessons=6)
    customer.update(remaining_lessons=5)
    assert customer.state("learner") == "待续费"
    assert customer.effect_names("task") == ["lesson_package_renewal"]
    customer.update(remaining_lessons=53)
    assert customer.state("learner") == "正式学员"


def test_real_estate_first_viewing_second_viewing_negotiation_and_signing(definitions, clock):
    agent, senior = actor("agt-1", "agent"), actor("agt-9", "senior_agent")
    customer = Customer(definitions["real_estate"], clock, listing_price=5_000_000.0)
    customer.fire("first_viewing", agent)
    customer.update(viewings=2, last_contact_at=clock.now())
    assert customer.state("deal") == "复看"
    with pytest.raises(TransitionNotAllowed, match="budget_confirmed && mortgage_preapproved is false"):
        customer.fire("negotiate", agent)
    customer.update(budget_confirmed=True, mortgage_preapproved=True)
    customer.fire("negotiate", agent)
    assert (customer.state("deal"), customer.snapshot.queue) == ("议价", "senior_agents")
    customer.complete("closing", ["deposit_paid", "mortgage_approved", "title_checked", "contract_signed"], senior)
    with pytest.raises(TransitionNotAllowed, match="offer_price is not set"):
        customer.fire("sign", senior)
    customer.update(offer_price=4_400_000.0)  # 12% below listing
    with pytest.raises(TransitionNotAllowed, match=r"offer_gap <= 0\.1 is false"):
        customer.fire("sign", senior)
    customer.update(offer_price=4_600_000.0)
    customer.fire("sign", senior)
    assert customer.state("deal") == "签约"


def test_real_estate_a_month_without_contact_after_the_second_viewing_loses_the_buyer(definitions, clock):
    customer = Customer(definitions["real_estate"], clock)
    customer.fire("first_viewing", actor("agt-1", "agent"))
    customer.update(viewings=2, last_contact_at=clock.now())
    assert customer.timer("go_cold").due == clock.now() + timedelta(days=30)
    customer.run_timer("go_cold")
    assert customer.state("deal") == "流失"
    assert customer.effect_names("task") == ["win_back_call"]


def test_finance_risk_assessment_then_credit_review_then_approval(definitions, clock):
    manager, committee = actor("am-1", "account_manager"), actor("cc-1", "credit_committee")
    customer = Customer(definitions["finance"], clock)
    with pytest.raises(TransitionNotAllowed, match="requires fact id_number"):
        customer.fire("apply", manager)
    customer.update(id_number="110101199001011234")
    customer.fire("apply", manager)
    assert customer.state("application") == "风险评估中"
    customer.update(kyc_complete=True, risk_score=72.0)
    assert customer.state("application") == "授信审核期"
    customer.update(debt_ratio=0.3)
    with pytest.raises(TransitionNotAllowed) as blocked:
        customer.fire("approve", committee)
    assert [r.kind for r in blocked.value.reasons] == [ReasonKind.CHECKLIST] * 3
    customer.complete("credit_review", ["income_verified", "collateral_valued", "credit_report_pulled"], committee)
    customer.fire("approve", committee)
    assert customer.state("application") == "已批准"


def test_finance_a_low_risk_score_rejects_and_the_customer_may_reapply_after_90_days(definitions, clock):
    customer = Customer(definitions["finance"], clock, id_number="X1")
    customer.fire("apply", actor("am-1", "account_manager"))
    customer.update(risk_score=20.0)
    assert customer.state("application") == "已拒绝"
    customer.run_timer("reapply_window")
    assert customer.state("application") == "待申请"


def test_finance_abnormal_transaction_restrictions_are_set_and_lifted(definitions, clock):
    customer = Customer(definitions["finance"], clock)
    customer.update(abnormal_transaction=True)
    assert customer.snapshot.restrictions == {"single_transaction_limit": 50000, "second_verification": True}
    customer.update(abnormal_transaction=False)
    customer.fire("clear_abnormal_transaction", actor("cmp-1", "compliance"))
    assert customer.snapshot.restrictions == {}


def test_fitness_course_about_to_expire_two_weeks_before_the_end(definitions, clock):
    advisor = actor("mem-1", "membership_advisor")
    customer = Customer(definitions["fitness"], clock, course_end_date="2026-06-30", remaining_lessons=20)
    customer.fire("join", advisor)
    assert customer.timer("course_expiring").due == datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # -14 days, CST
    customer.run_timer("course_expiring")
    assert customer.state("membership") == "课程即将到期"
    assert customer.effect_names("task") == ["renewal_push"]
    customer.update(course_end_date="2026-12-31")
    assert customer.state("membership") == "会员"


def test_fitness_few_remaining_lessons_and_a_custom_life_stage_tag(definitions, clock):
    coach = actor("coach-1", "coach")
    customer = Customer(definitions["fitness"], clock, remaining_lessons=10)
    customer.update(remaining_lessons=3)
    assert customer.state("lessons") == "课时不足"
    customer.update(due_date="2026-04-01")
    customer.fire("mark_pregnant", coach)
    customer.run_timer("baby_born")
    assert customer.state("life_stage") == "新生儿客户"
