"""Diagrams of a compiled definition, one per dimension: Graphviz DOT and Mermaid text.

States carry their zh/en labels and initial / final / locked marks; transitions carry their event, guard,
checklist, roles, and automatic (⚡) and timer (⏱) marks. Text only: rendering is the caller's business.

With an `Overlay` the diagram shows one customer: its current states highlighted, and each transition out of
them marked allowed (✔) or blocked (✘) with its reasons — the picture a consultant debugs a customer with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .commands import TransitionOption
from .definition import Definition
from .model import Dimension, State, Transition

AUTO, TIMER, LOCK = "⚡", "⏱", "🔒"
REASONS_SHOWN = 3  # per blocked transition; the rest are counted


@dataclass(frozen=True)
class Overlay:
    """A customer on the diagram: its state in each dimension, and its transitions as its caller sees them."""

    current: Mapping[str, str]
    options: Sequence[TransitionOption]

    def verdict(self, dimension: str, transition: Transition, source: str) -> list[str] | None:
        """Lines that say whether the transition may happen now (None: it does not start where the customer is)."""
        if self.current.get(dimension) != source:
            return None
        for option in self.options:
            if (option.dimension, option.event, option.target) == (dimension, transition.event, transition.target):
                if option.allowed:
                    return ["✔ allowed now"]
                shown = [f"✘ {reason.message}" for reason in option.reasons[:REASONS_SHOWN]]
                more = len(option.reasons) - REASONS_SHOWN
                return shown + ([f"… and {more} more"] if more > 0 else [])
        return None


def state_label(state: State) -> str:
    label = state.label.zh if state.label.zh == state.label.en else f"{state.label.zh} / {state.label.en}"
    marks = [m for m, on in (("initial", state.initial), ("final", state.final), (LOCK, state.locked)) if on]
    return label + (f" [{', '.join(marks)}]" if marks else "")


def transition_lines(dimension: Dimension, transition: Transition) -> list[str]:
    """The lines of a transition's label: event with its marks, then guard, checklist and roles."""
    timed = any(t.event == transition.event for s in dimension.states.values() for t in s.timers)
    marks = (f" {AUTO}" if transition.auto else "") + (f" {TIMER}" if timed else "")
    lines = [transition.event + marks]
    if transition.when is not None:
        lines.append(f"when {transition.when.source.strip()}")
    if transition.checklist:
        lines.append(f"checklist {transition.checklist}")
    if transition.priority is not None:
        lines.append(f"priority {transition.priority}")
    if transition.roles:
        lines.append(f"roles {', '.join(sorted(transition.roles))}")
    elif not transition.auto:
        lines.append("roles any")
    return lines


def dimensions_of(definition: Definition, dimension: str | None) -> list[Dimension]:
    """One dimension by name, or all of them (KeyError for a name the definition lacks)."""
    return list(definition.dimensions.values()) if dimension is None else [definition.dimensions[dimension]]


def to_dot(definition: Definition, dimension: str | None = None, overlay: Overlay | None = None) -> str:
    out = [f"digraph {_dot_id(definition.key)} {{", '  rankdir=LR; node [shape=box, style=rounded, fontname="sans"];',
           '  edge [fontname="sans", fontsize=10];']  # fmt: skip
    for number, dim in enumerate(dimensions_of(definition, dimension)):
        out.append(f"  subgraph cluster_{number} {{")
        title = dim.label.zh if dim.label.zh == dim.label.en else f"{dim.label.zh} / {dim.label.en}"
        out.append(f"    label={_dot_text(f'{dim.name}: {title}')};")
        current = overlay.current.get(dim.name) if overlay else None
        for position, state in enumerate(dim.states.values()):
            shape = ", peripheries=2" if state.final else ""
            style = ', style="rounded,bold"' if state.initial else ""
            fill = ', style="rounded,filled", fillcolor="#eeeeee"' if state.locked else ""
            if state.name == current:
                fill = ', style="rounded,filled,bold", fillcolor="#fff3bf", color="#d9480f", penwidth=3'
            out.append(f"    d{number}s{position} [label={_dot_text(state_label(state))}{shape}{style}{fill}];")
        positions = {name: n for n, name in enumerate(dim.states)}
        for transition in dim.transitions:
            lines = transition_lines(dim, transition)
            dashed = ", style=dashed" if transition.auto else ""
            for source in sorted(transition.sources, key=positions.__getitem__):
                verdict = overlay.verdict(dim.name, transition, source) if overlay else None
                label = _dot_text("\n".join(lines + (verdict or [])))
                color = "" if verdict is None else ', color="#2b8a3e"' if verdict[0][0] == "✔" else ', color="#c92a2a"'
                target = positions[transition.target]
                out.append(f"    d{number}s{positions[source]} -> d{number}s{target} [label={label}{dashed}{color}];")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(definition: Definition, dimension: str | None = None, overlay: Overlay | None = None) -> str:
    """Mermaid `stateDiagram-v2`, one diagram per dimension, separated by a blank line."""
    diagrams = []
    for dim in dimensions_of(definition, dimension):
        positions = {name: n for n, name in enumerate(dim.states)}
        out = ["stateDiagram-v2", f"  %% {definition.key} {dim.name}"]
        for state in dim.states.values():
            out.append(f'  state "{_mermaid_text(state_label(state))}" as s{positions[state.name]}')
        out.append(f"  [*] --> s{positions[dim.initial]}")
        for transition in dim.transitions:
            lines = transition_lines(dim, transition)
            for source in sorted(transition.sources, key=positions.__getitem__):
                verdict = overlay.verdict(dim.name, transition, source) if overlay else None
                label = _mermaid_text(" · ".join(lines + (verdict or [])))
                out.append(f"  s{positions[source]} --> s{positions[transition.target]} : {label}")
        for state in dim.states.values():
            if state.final:
                out.append(f"  s{positions[state.name]} --> [*]")
        current = overlay.current.get(dim.name) if overlay else None
        if current in positions:
            out.append("  classDef current fill:#fff3bf,stroke:#d9480f,stroke-width:3px")
            out.append(f"  class s{positions[current]} current")
        diagrams.append("\n".join(out))
    return "\n\n".join(diagrams) + "\n"


def _dot_id(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _mermaid_text(text: str) -> str:
    """Mermaid labels end at `:` after the arrow text and break on quotes and `;`: use look-alikes."""
    return text.replace('"', "'").replace(";", ",").replace(":", "∶").replace("\n", " ")
