"""Loading definitions: the shipped ones are valid; every broken one gets its specific message and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmstatus.engine import InvalidDefinition, load_definition, load_file
from crmstatus.engine.schema import definition_schema
from crmstatus.server.cli import main
from tests.conftest import CONFIGS, ROOT

BROKEN = Path(__file__).parent / "definitions" / "broken"
SHIPPED = sorted(CONFIGS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_definition_is_valid(path):
    definition = load_file(path)
    assert definition.name == path.stem
    assert definition.owner


def test_all_five_industries_are_shipped():
    assert {p.stem for p in SHIPPED} == {"b2b", "education", "real_estate", "finance", "fitness"}


def test_schema_under_configs_is_the_one_the_loader_uses():
    shipped = (CONFIGS / "schema" / "definition.schema.json").read_text("utf-8")
    packaged = (ROOT / "engine" / "schema" / "definition.schema.json").read_text("utf-8")
    assert shipped == packaged
    assert definition_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("file", "line", "column", "message"),
    [
        ("yaml_syntax", 8, 11, "the bracket { that starts here is not closed"),
        ("schema_error", 3, 10, "version: expected a whole number, got 'one'"),
        ("unknown_state", 13, 13, "to: unknown state '意像' in dimension 'lifecycle' (did you mean '意向'?)"),
        ("unreachable_state", 10, 7, "states.流失: state '流失' is unreachable"),
        ("dead_end", 9, 7, "states.意向: state '意向' has no way out"),
        ("bad_cel", 16, 36, "transitions[0].when: syntax error: unexpected '>' here"),
        ("undeclared_fact", 17, 15, "unknown fact 'effective_contact' (did you mean 'effective_contacts'?)"),
        ("duplicate_initial", 10, 18, "states.意向.initial: a second initial state: '潜在' is already initial"),
        ("cel_type_error", 9, 11, "type error in 'effective_contacts * 10.5'"),
        # accepted by the compiler, undefined at run time: every customer's check would fail
        ("cel_missing_form", 14, 62, "getHours(…) cannot be called this way in 'now.getHours(\"Asia/Shanghai\") >= 9': "
         "the get… functions take no time zone here and read the time in UTC"),
        ("timer_on_wrong_fact", 13, 22, "fact 'contract_end' is string: a timer needs a date or timestamp fact"),
        ("duplicate_key", 10, 7, "duplicate key '潜在' (first defined on line 8)"),
    ],
)  # fmt: skip
def test_broken_definition_gets_its_specific_message_at_the_right_place(file, line, column, message):
    path = BROKEN / f"{file}.yaml"
    with pytest.raises(InvalidDefinition) as error:
        load_file(path)
    rendered = [str(d) for d in error.value.diagnostics]
    assert any(r.startswith(f"{path}:{line}:{column}: ") and message in r for r in rendered), rendered


def test_schema_errors_are_all_reported_with_hints():
    with pytest.raises(InvalidDefinition) as error:
        load_file(BROKEN / "schema_error.yaml")
    messages = [f"{d.line}: {d.message}" for d in error.value.diagnostics]
    assert messages == [
        "3: expected a whole number, got 'one'",
        "11: missing required field 'to'",
        "13: unknown field 'too' (did you mean 'to'?); allowed: event, label, description, from, to, roles, "
        "when, checklist, auto, internal, reasons, priority, effects",
    ]


def test_every_problem_of_a_file_is_reported_at_once():
    with pytest.raises(InvalidDefinition) as error:
        load_file(BROKEN / "many_problems.yaml")
    assert [(d.line, d.message.split(":")[0]) for d in error.value.diagnostics] == [
        (13, "state '意向' has no way out"),
        (14, "state '孤岛' is unreachable"),
        (19, "unknown role 'salse' (did you mean 'sales'?)"),
        (20, "unknown checklist 'signing'"),
        (21, "syntax error"),
    ]


def test_expression_error_column_points_inside_a_quoted_expression():
    text = (BROKEN / "bad_cel.yaml").read_text().replace("when: effective_contacts > > 3", 'when: "x == 1 ||"')
    with pytest.raises(InvalidDefinition) as error:
        load_definition(text, "inline.yaml")
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (16, 25)  # just past `||`, inside the quotes
    assert diagnostic.message == "syntax error: the expression ends too early"


def test_guard_must_be_a_condition_and_functions_must_exist():
    text = (BROKEN / "bad_cel.yaml").read_text().replace("effective_contacts > > 3", "max(effective_contacts, 3)")
    with pytest.raises(InvalidDefinition, match="unknown function 'max'"):
        load_definition(text, "inline.yaml")
    text = (BROKEN / "bad_cel.yaml").read_text().replace("effective_contacts > > 3", "effective_contacts + 3")
    with pytest.raises(InvalidDefinition, match=r"a condition must be true or false; .* gives a whole number"):
        load_definition(text, "inline.yaml")


def test_comprehension_variables_are_not_taken_for_facts():
    text = (
        (BROKEN / "bad_cel.yaml")
        .read_text()
        .replace("effective_contacts > > 3", "'[1, 2].exists(n, n < effective_contacts)'")
    )
    assert load_definition(text, "inline.yaml").name == "broken"


def test_a_timer_either_fires_an_event_or_raises_a_reminder():
    text = (
        (BROKEN / "timer_on_wrong_fact.yaml")
        .read_text()
        .replace(
            "- {before: contract_end, offset: P90D, event: remind}",
            "- {after: P30D, event: remind, alert: {name: soon, role: sales}}",
        )
    )
    with pytest.raises(InvalidDefinition, match="a timer fires an `event`, or raises a `task` or an `alert`"):
        load_definition(text, "inline.yaml")
    text = text.replace("event: remind, alert: {name: soon, role: sales}", "alert: {name: soon, role: salse}")
    with pytest.raises(InvalidDefinition, match="unknown role 'salse'"):
        load_definition(text, "inline.yaml")


def test_an_editor_schema_reference_is_accepted():
    text = "$schema: ./schema/definition.schema.json\n" + (CONFIGS / "fitness.yaml").read_text("utf-8")
    assert load_definition(text, "fitness.yaml").name == "fitness"


def test_validate_command_exits_0_when_all_are_valid(capsys):
    assert main(["validate", str(CONFIGS)]) == 0
    assert "5 valid, 0 with problems" in capsys.readouterr().out


def test_validate_command_exits_1_and_prints_every_diagnostic(capsys):
    assert main(["validate", str(CONFIGS / "b2b.yaml"), str(BROKEN)]) == 1
    captured = capsys.readouterr()
    assert "1 valid, 13 with problems" in captured.out
    assert f"{BROKEN / 'dead_end.yaml'}:9:7:" in captured.err
    assert captured.err.count("many_problems.yaml") == 5


def test_two_files_publishing_the_same_version_are_refused(tmp_path, capsys):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text((CONFIGS / "fitness.yaml").read_text("utf-8"), "utf-8")
    assert main(["validate", str(tmp_path)]) == 1
    assert "fitness@1 is also defined in" in capsys.readouterr().err


RESTRICTED = """\
name: x
industry: generic
version: 1
owner: a@b.c
roles: {sales: {}}
restrictions:
  cap: {type: limit, actions: [payment]}
  stop: {type: block, actions: [payment], attribute: amount}
facts:
  n: {type: int}
dimensions:
  d:
    states:
      a:
        initial: true
        timers:
          - {after: [entered, lst], offset: P1D, event: go}
          - {after: [entered, n], offset: P1D, event: go}
      b: {}
    transitions:
      - {event: go, from: a, to: b, roles: [sales], effects: [{restrict: {cap: "lots", stop: 3, nope: true}}]}
      - {event: back, from: [a, b], to: a, internal: true, roles: [sales]}
"""


def test_restrictions_timer_moments_and_internal_transitions_are_checked_in_both_languages():
    with pytest.raises(InvalidDefinition) as failed:
        load_definition(RESTRICTED, "inline.yaml")
    found = {(d.line, d.column, d.path): (d.message, d.zh) for d in failed.value.diagnostics}
    assert set(found) == {
        (7, 3, "restrictions.cap"), (8, 54, "restrictions.stop.attribute"),
        (17, 31, "dimensions.d.states.a.timers[0].after[1]"), (18, 31, "dimensions.d.states.a.timers[1].after[1]"),
        (21, 80, "dimensions.d.transitions[0].effects[0].restrict.cap"),
        (21, 94, "dimensions.d.transitions[0].effects[0].restrict.stop"),
        (21, 97, "dimensions.d.transitions[0].effects[0].restrict.nope"),
        (22, 54, "dimensions.d.transitions[1].internal"),
    }  # fmt: skip
    assert all(zh for _, zh in found.values())
    assert "did you mean 'stop'" in found[21, 97, "dimensions.d.transitions[0].effects[0].restrict.nope"][0]


def _many_automatic(count: int) -> str:
    """`count` automatic transitions out of one state, none overlapping (k tells them apart), each pair of them
    searched for values that make both true."""
    guard = " && ".join(f"f{i} > {i + 1}" for i in range(6))
    facts = "".join(f"\n  f{i}: {{type: int, default: 0}}" for i in range(6))
    states = "".join(f"\n      t{i}: {{final: true}}" for i in range(count))
    transitions = "".join(
        f"\n      - {{event: e{i}, from: s0, to: t{i}, auto: true, when: '{guard} && k == {i + 100}'}}"
        for i in range(count)
    )
    return (f"name: many\nindustry: test\nversion: 1\nowner: qa@crm.example\nroles: {{sales: {{}}}}\nfacts:{facts}\n"
            f"  k: {{type: int, default: 0}}\ndimensions:\n  d:\n    states:\n      s0: {{initial: true}}{states}\n"
            f"    transitions:{transitions}\n")  # fmt: skip


def test_searching_automatic_transitions_for_overlaps_has_one_budget_per_definition(monkeypatch):
    # Each pair may take thousands of tries: without a budget for the whole definition, one text of 40 such
    # transitions (6 KB) kept a server's event loop busy for 14 s, and the work grows with the pairs' count.
    from crmstatus.engine import overlap

    tried, holds = [0], overlap._holds

    def counted(transition, bindings):
        tried[0] += 1
        return holds(transition, bindings)

    monkeypatch.setattr(overlap, "_holds", counted)
    assert load_definition(_many_automatic(40), "many.yaml").name == "many"
    assert tried[0] <= 2 * overlap.MAX_TRIES_PER_DEFINITION


async def test_a_callers_text_is_compiled_while_the_event_loop_answers_other_calls():
    import asyncio

    from crmstatus.server.application.definitions import Definitions

    compiling = asyncio.create_task(Definitions.validate(_many_automatic(400), "many.yaml"))  # about half a second
    other = asyncio.create_task(asyncio.sleep(0))
    done, _ = await asyncio.wait({compiling, other}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {other}
    found = await compiling
    assert not isinstance(found, list) and found.name == "many"


@pytest.mark.parametrize("kind", ["gbk", "missing", "folder"])
def test_publish_says_why_it_cannot_read_the_file_without_a_traceback(tmp_path, capsys, kind):
    path = {"gbk": tmp_path / "gbk.yaml", "missing": tmp_path / "missing.yaml", "folder": tmp_path}[kind]
    if kind == "gbk":  # a consultant's editor saving in GBK
        path.write_bytes("name: education\nowner: 管理员\n".encode("gbk"))
    assert main(["publish", "127.0.0.1:1", str(path), "--tenant", "acme", "--actor", "ana"]) == 1
    err = capsys.readouterr().err
    why = f"{path}:2:8: byte 0xB9 is not UTF-8 text" if kind == "gbk" else f"cannot read {path}: "
    assert err.startswith(f"crmstatus publish: {why}") and err.count("\n") == 1 and "Traceback" not in err


def test_a_file_saved_in_another_encoding_is_reported_at_its_first_byte_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(b"name: education\n# " + "负责人\nowner: 管理员\n".encode("gbk"))  # saved in GBK
    with pytest.raises(InvalidDefinition) as raised:
        load_file(path)
    (problem,) = raised.value.diagnostics
    assert (problem.line, problem.column) == (2, 3)
    assert problem.message == "byte 0xB8 is not UTF-8 text: the file was saved in another encoding (GBK, say)"
    assert main(["validate", str(path)]) == 1
    assert f"{path}:2:3: byte 0xB8 is not UTF-8 text" in capsys.readouterr().err
