"""Scenario files: the shipped ones pass for every definition, and a wrong expectation fails with a diff that
names its scenario, step and line — through the engine runner and through `crmstatus test` / `simulate`."""

from __future__ import annotations

import pytest

from crmstatus.engine import InvalidDefinition, load_definition, load_file, scenarios
from crmstatus.server.cli import main
from tests.conftest import CONFIGS

SCENARIOS = CONFIGS / "scenarios"
DEFINITIONS = sorted(CONFIGS.glob("*.yaml"))


def test_every_shipped_definition_has_scenarios():
    assert {p.stem for p in SCENARIOS.glob("*.yaml")} == {p.stem for p in DEFINITIONS}


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_pass(path):
    source = scenarios.parse(path.read_text("utf-8"), str(path))
    definition = load_file(path.parent / source.definition)
    results = scenarios.run_all(definition, source)
    assert len(results) >= 4
    assert [str(f) for r in results for f in r.failures] == []


def test_crmstatus_test_runs_every_shipped_scenario(capsys):
    assert main(["test", str(CONFIGS)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and " 0 failed" in out


STORY = """\
definition: {definition}
actor: {{id: adv_chen, roles: [advisor]}}
scenarios:
  - name: booking a trial
    steps:
      - fire: book_trial
        expect:
          states: {{learner: 试听学员}}
      - fire: lose
        expect:
          states: {{learner: 正式学员}}
          tasks: [call_back]
"""


@pytest.fixture
def wrong(tmp_path):
    path = tmp_path / "scenarios" / "wrong.yaml"
    path.parent.mkdir()
    path.write_text(STORY.format(definition=CONFIGS / "education.yaml"), "utf-8")
    return path


def test_a_wrong_expectation_fails_with_a_diff_naming_the_step_and_the_line(wrong):
    source = scenarios.parse(wrong.read_text("utf-8"), str(wrong))
    (result,) = scenarios.run_all(load_file(CONFIGS / "education.yaml"), source)
    assert [str(f) for f in result.failures] == [
        f"{wrong}:11:29: scenario 'booking a trial', step 2 (fire lose): states.learner\n"
        "    - expected: 正式学员\n    + actual:   流失",
        f"{wrong}:12:18: scenario 'booking a trial', step 2 (fire lose): tasks\n"
        "    - expected: [call_back]\n    + actual:   []",
    ]


def test_crmstatus_test_exits_1_and_prints_the_diff(wrong, capsys):
    assert main(["test", str(wrong)]) == 1
    captured = capsys.readouterr()
    assert "FAIL education@1          booking a trial" in captured.out
    assert f"{wrong}:11:29: scenario 'booking a trial', step 2 (fire lose): states.learner" in captured.err
    assert "1 failed" in captured.out


def test_coverage_lists_what_no_scenario_reaches(wrong, capsys):
    main(["test", "--coverage", str(wrong)])
    out = capsys.readouterr().out
    assert "transition  learner: enroll (试听学员 → 正式学员)" in out
    assert "state       learner: 休学" in out
    assert "transition  learner: book_trial" not in out


def test_simulate_prints_the_timeline_with_effects_and_timers(capsys):
    assert main(["simulate", str(CONFIGS / "b2b.yaml"), "--scenario", "90 days in 潜在 hands the customer to "
                 "telemarketing once (with a reminder a week ahead)"]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("b2b@1 — 90 days in 潜在")
    assert "    timer  lifecycle: recycle_to_telemarketing at 2025-04-06 09:00" in out
    assert "2025-04-06 09:00  step 2 (advance P7D): timer recycle_to_telemarketing" in out
    assert "    lifecycle: 潜在 → 潜在  (recycle_to_telemarketing, timer)" in out
    assert "    effect assign: queue=telemarketing" in out


@pytest.mark.parametrize("text", ["version: " + "9" * 5000 + "\n", "a: " + "[" * 2000 + "]" * 2000 + "\n"])
def test_simulate_answers_a_hostile_file_in_words(tmp_path, capsys, text):
    """A number Python will not print, or nesting deeper than its recursion limit: one line, no traceback."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text, "utf-8")
    assert main(["simulate", str(path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_a_malformed_scenario_file_gets_diagnostics_with_lines(tmp_path):
    text = "definition: x.yaml\nscenarios:\n  - name: a\n    steps:\n      - fire: x\n        jump: 3\n"
    with pytest.raises(InvalidDefinition) as error:
        scenarios.parse(text, "s.yaml")
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (6, 15)
    assert diagnostic.message.startswith("unknown step field 'jump'")


TWO_TIMERS = """\
name: sim
industry: test
version: 1
owner: qa@crm.example
roles: {sales: {}}
facts:
  ok: {type: bool, default: false}
dimensions:
  a:
    states:
      s1:
        initial: true
        timers:
          - {after: P1D, event: go}
      s2: {final: true}
    transitions:
      - {event: go, from: s1, to: s2, roles: [sales], when: ok}
  b:
    states:
      t1:
        initial: true
        timers:
          - {after: P2D, event: move}
      t2: {final: true}
    transitions:
      - {event: move, from: t1, to: t2, roles: [sales]}
"""


def test_a_timer_whose_event_is_refused_is_dropped_and_time_goes_on_as_on_the_server():
    source = scenarios.parse("""\
definition: sim.yaml
start: 2026-01-01T00:00:00Z
actor: {id: x, roles: [sales]}
scenarios:
  - name: a refused timer is skipped
    steps:
      - advance: P3D
        expect: {states: {a: s1, b: t2}}
""", "sim.scenarios.yaml")  # fmt: skip
    results = scenarios.run_all(load_definition(TWO_TIMERS, "sim.yaml"), source)
    assert [str(f) for r in results for f in r.failures] == []
