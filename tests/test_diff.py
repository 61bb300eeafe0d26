"""The reviewer's diff between two definition versions: the shipped education v1 against an edited v2."""

from __future__ import annotations

import pytest

from crmstatus.engine.definition import Definition
from crmstatus.engine.diff import Change, diff, render
from crmstatus.engine.loader import load_definition
from tests.conftest import CONFIGS

EDUCATION = (CONFIGS / "education.yaml").read_text("utf-8")

# Each edit replaces text that occurs exactly once in education.yaml.
V2_EDITS = [
    ("version: 1\n", "version: 2\n"),
    # a fact added
    (
        "  guardian_phone:          {type: string, label: {zh: 家长电话, en: Guardian phone}}\n",
        "  guardian_phone:          {type: string, label: {zh: 家长电话, en: Guardian phone}}\n"
        "  guardian_wechat:         {type: string, label: {zh: 家长微信, en: Guardian WeChat}}\n",
    ),
    # a checklist item added
    (
        "      contract:        {label: {zh: 报名协议已签, en: Enrollment agreement signed}}\n",
        "      contract:        {label: {zh: 报名协议已签, en: Enrollment agreement signed}}\n"
        "      level_assigned:  {label: {zh: 已分级, en: Level assigned}}\n",
    ),
    # a state added, with the transition that leads to it
    (
        "      已结课: {label: {zh: 已结课, en: Finished}}\n",
        "      已结课: {label: {zh: 已结课, en: Finished}}\n"
        "      已毕业: {final: true, label: {zh: 已毕业, en: Graduated}}\n",
    ),
    (
        "      - event: win_back\n",
        "      - {event: graduate, from: 已结课, to: 已毕业, roles: [academic_manager]}\n      - event: win_back\n",
    ),
    # a guard changed
    ("when: trial_lessons_attended >= 1", "when: trial_lessons_attended >= 2"),
    # a timer's delay changed
    ("- after: P2D ", "- after: P3D "),
    # a state removed, with the transitions that reach or leave it
    ("      需要协作: {label: {zh: 需要协作, en: Needs collaboration}}\n", ""),
    ("      - {event: ask_for_help, from: 跟进中, to: 需要协作, roles: [advisor, academic_manager]}\n", ""),
    ("      - {event: back_to_follow_up, from: 需要协作, to: 跟进中, roles: [advisor, academic_manager]}\n", ""),
    ("from: [跟进中, 即将回收, 需要协作]", "from: [跟进中, 即将回收]"),
]


def edited(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"expected once in education.yaml: {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def v1() -> Definition:
    return load_definition(EDUCATION, "education.yaml")


@pytest.fixture(scope="module")
def v2() -> Definition:
    return load_definition(edited(EDUCATION, V2_EDITS), "education.yaml")


@pytest.fixture(scope="module")
def changes(v1: Definition, v2: Definition) -> list[Change]:
    return diff(v1, v2)


def test_a_version_compared_with_itself_has_no_changes(v1: Definition) -> None:
    assert diff(v1, v1) == []
    assert render(v1, v1, []) == "education v1 → v1\nno changes\n"


def test_an_added_state_is_listed_with_its_label_and_flags(changes: list[Change]) -> None:
    added = Change("added", "state", "learner.states.已毕业", after="label: Graduated; final: yes")
    assert added in changes


def test_the_transition_to_an_added_state_is_added_too(changes: list[Change]) -> None:
    graduate = next(c for c in changes if c.path == "learner.transitions.graduate")
    assert graduate.change == "added"
    assert "from: 已结课; to: 已毕业; roles: academic_manager" in graduate.after


def test_a_removed_state_takes_its_transitions_with_it(changes: list[Change]) -> None:
    removed = {(c.kind, c.path) for c in changes if c.change == "removed"}
    assert removed == {
        ("state", "team.states.需要协作"),
        ("transition", "team.transitions.ask_for_help"),
        ("transition", "team.transitions.back_to_follow_up"),
    }
    release = Change(
        "changed", "transition", "team.transitions.release.from", "跟进中, 即将回收, 需要协作", "跟进中, 即将回收"
    )
    assert release in changes


def test_a_changed_guard_is_reported_as_a_guard(changes: list[Change]) -> None:
    guard = Change(
        "changed",
        "guard",
        "learner.transitions.enroll.when",
        "trial_lessons_attended >= 1",
        "trial_lessons_attended >= 2",
    )
    assert guard in changes


def test_a_checklist_item_added(changes: list[Change]) -> None:
    item = Change(
        "added", "checklist_item", "checklists.enrollment.items.level_assigned", after="label: 已分级 / Level assigned"
    )
    assert item in changes


def test_a_timer_delay_changed(changes: list[Change]) -> None:
    assert Change("changed", "timer", "team.states.即将回收.timers.0.delay", "P2D", "P3D") in changes


def test_a_fact_added(changes: list[Change]) -> None:
    fact = Change("added", "fact", "facts.guardian_wechat", after="label: 家长微信 / Guardian WeChat; type: string")
    assert fact in changes


def test_an_events_second_transition_in_a_dimension_is_numbered(v1: Definition) -> None:
    second_lose = "      - {event: lose, from: 待续费, to: 流失, roles: [academic_manager]}\n"
    win_back = "      - event: win_back\n"
    v3 = load_definition(
        edited(EDUCATION, [("version: 1\n", "version: 3\n"), (win_back, second_lose + win_back)]), "education.yaml"
    )
    assert diff(v1, v3) == [
        Change(
            "added", "transition", "learner.transitions.lose#2", after="from: 待续费; to: 流失; roles: academic_manager"
        )
    ]


def test_changes_come_in_definition_order_dimensions_first(changes: list[Change]) -> None:
    assert [(c.change, c.kind, c.path) for c in changes] == [
        ("added", "state", "learner.states.已毕业"),
        ("changed", "guard", "learner.transitions.enroll.when"),
        ("added", "transition", "learner.transitions.graduate"),
        ("removed", "state", "team.states.需要协作"),
        ("changed", "timer", "team.states.即将回收.timers.0.delay"),
        ("removed", "transition", "team.transitions.ask_for_help"),
        ("removed", "transition", "team.transitions.back_to_follow_up"),
        ("changed", "transition", "team.transitions.release.from"),
        ("changed", "transition", "team.transitions.archive.from"),  # `from: any` no longer includes it
        ("added", "fact", "facts.guardian_wechat"),
        ("added", "checklist_item", "checklists.enrollment.items.level_assigned"),
    ]


def test_the_rendering_names_the_versions_and_every_change(
    v1: Definition, v2: Definition, changes: list[Change]
) -> None:
    text = render(v1, v2, changes)
    assert text.startswith("education v1 → v2\n")
    for line in [
        "+ state learner.states.已毕业 added (label: Graduated; final: yes)",
        "+ transition learner.transitions.graduate added (from: 已结课; to: 已毕业; roles: academic_manager)",
        "~ guard learner.transitions.enroll.when: `trial_lessons_attended >= 1` → `trial_lessons_attended >= 2`",
        "~ timer team.states.即将回收.timers.0.delay: `P2D` → `P3D`",
        "- state team.states.需要协作 removed (label: Needs collaboration)",
        "- transition team.transitions.ask_for_help removed (from: 跟进中; to: 需要协作; "
        "roles: academic_manager, advisor)",
        "- transition team.transitions.back_to_follow_up removed (from: 需要协作; to: 跟进中; "
        "roles: academic_manager, advisor)",
        "~ transition team.transitions.release.from: `跟进中, 即将回收, 需要协作` → `跟进中, 即将回收`",
        "~ transition team.transitions.archive.from: `新分配, 跟进中, 即将回收, 需要协作` → `新分配, 跟进中, 即将回收`",
        "+ fact facts.guardian_wechat added (label: 家长微信 / Guardian WeChat; type: string)",
        "+ checklist_item checklists.enrollment.items.level_assigned added (label: 已分级 / Level assigned)",
    ]:
        assert line in text.splitlines()
