"""Diagrams: every dimension of every shipped definition renders to SVG with Graphviz (`make test` installs it
when `dot` is missing), and its Mermaid text names every state and transition with its marks."""

from __future__ import annotations

import html
import subprocess

import pytest

from crmstatus.engine import load_file
from crmstatus.engine.diagram import to_dot, to_mermaid
from crmstatus.server.cli import main
from tests.conftest import CONFIGS

DIMENSIONS = [(path, name) for path in sorted(CONFIGS.glob("*.yaml")) for name in load_file(path).dimensions]


@pytest.mark.parametrize(("path", "dimension"), DIMENSIONS, ids=lambda v: getattr(v, "stem", v))
def test_every_dimension_of_every_shipped_definition_renders_to_svg(path, dimension):
    definition = load_file(path)
    rendered = subprocess.run(["dot", "-Tsvg"], input=to_dot(definition, dimension).encode(), capture_output=True)
    assert rendered.returncode == 0, rendered.stderr.decode()
    svg = html.unescape(rendered.stdout.decode())  # Graphviz writes `-` as `&#45;`
    assert svg.startswith("<?xml") and "</svg>" in svg
    for state in definition.dimensions[dimension].states.values():
        assert state.label.zh in svg and state.label.en in svg
    for transition in definition.dimensions[dimension].transitions:
        assert transition.event in svg


@pytest.mark.parametrize(("path", "dimension"), DIMENSIONS, ids=lambda v: getattr(v, "stem", v))
def test_mermaid_names_every_state_and_transition(path, dimension):
    definition = load_file(path)
    text = to_mermaid(definition, dimension)
    assert text.startswith("stateDiagram-v2\n")
    chart = definition.dimensions[dimension]
    for state in chart.states.values():
        assert f'"{state.label.zh}' in text
    assert text.count(" --> ") >= sum(len(t.sources) for t in chart.transitions) + 1


def test_marks_say_initial_final_locked_automatic_timer_guard_checklist_and_roles():
    definition = load_file(CONFIGS / "b2b.yaml")
    lifecycle = to_mermaid(definition, "lifecycle")
    assert 'state "潜在 / Potential [initial]" as s0' in lifecycle
    assert "s0 --> s1 : qualify ⚡ · when effective_contacts > 3" in lifecycle
    assert "s2 --> s3 : sign · checklist signing · roles manager, sales, senior_sales" in lifecycle
    assert "s0 --> s0 : recycle_to_telemarketing ⏱ · roles manager" in lifecycle
    team = to_mermaid(definition, "team")
    assert "跟进中 / In follow-up [🔒]" in team
    assert "[final]" in to_mermaid(load_file(CONFIGS / "finance.yaml"), "application")


def test_crmstatus_graph_prints_mermaid_dot_or_svg(capsys):
    assert main(["graph", str(CONFIGS / "fitness.yaml"), "--dimension", "membership"]) == 0
    assert capsys.readouterr().out.startswith("stateDiagram-v2")
    assert main(["graph", str(CONFIGS / "fitness.yaml"), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "fitness@1"')
    assert main(["graph", str(CONFIGS / "fitness.yaml"), "--format", "svg"]) == 0
    assert "</svg>" in capsys.readouterr().out
    assert main(["graph", str(CONFIGS / "fitness.yaml"), "--dimension", "membershp"]) == 1
    assert "unknown dimension 'membershp' (did you mean 'membership'?)" in capsys.readouterr().err
