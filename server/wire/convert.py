"""Engine values to and from crmstatus.v1 messages."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from crmstatus.engine.commands import Evidence, TransitionOption
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import Diagnostic, Reason
from crmstatus.engine.facts import to_json
from crmstatus.engine.model import Label
from crmstatus.engine.snapshot import EffectRecord, HistoryEntry, Snapshot
from crmstatus.server.application.model import Change, Options
from crmstatus.v1 import customer_pb2, customer_status_service_pb2, definition_service_pb2


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    # Built directly: Timestamp.FromDatetime costs several times more, and a customer carries a dozen.
    return timestamp_pb2.Timestamp(seconds=calendar.timegm(moment.utctimetuple()), nanos=moment.microsecond * 1000)


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as Python values (numbers arrive as floats; fact types turn whole ones back into ints)."""
    values: dict[str, Any] = json_format.MessageToDict(message)
    return values


def label(value: Label) -> customer_pb2.Label:
    return customer_pb2.Label(zh=value.zh, en=value.en)


BASIC = customer_pb2.CUSTOMER_VIEW_BASIC


def customer(
    definition: Definition, snapshot: Snapshot, view: int = customer_pb2.CUSTOMER_VIEW_FULL
) -> customer_pb2.Customer:
    """The customer as a message; the basic view leaves out facts, scores, checklists, restrictions and work."""
    states = []
    for name, dimension in definition.dimensions.items():
        entry = snapshot.states[name]
        state = dimension.states[entry.state]
        states.append(
            customer_pb2.DimensionState(
                dimension=name, state=entry.state, label=label(state.label), since=timestamp(entry.since),
                locked=state.locked,
            )
        )  # fmt: skip
    message = customer_pb2.Customer(
        customer_id=snapshot.customer_id,
        definition=snapshot.definition,
        definition_version=snapshot.definition_version,
        version=snapshot.version,
        states=states,
        owner=snapshot.owner or "",
        queue=snapshot.queue or "",
        lease_expire_time=timestamp(snapshot.lease_until) if snapshot.lease_until else None,
        redacted=snapshot.redacted,
    )
    if view == BASIC:
        return message
    checklists = []
    for checklist in definition.checklists.values():
        marks = snapshot.checklists.get(checklist.name, {})
        items = []
        for item in checklist.items:
            mark = marks.get(item)
            items.append(
                customer_pb2.ChecklistItem(
                    item=item,
                    label=label(checklist.item_labels[item]),
                    done=mark is not None,
                    completed_by=mark.by if mark else "",
                    complete_time=timestamp(mark.at) if mark else None,
                    evidence=mark.evidence if mark else "",
                )
            )
        checklists.append(customer_pb2.ChecklistProgress(checklist=checklist.name, items=items))
    facts = {name: to_json(definition.facts[name].type, value) for name, value in snapshot.facts.items()}
    message.facts.update(facts)
    message.scores.update(snapshot.scores)
    message.checklists.extend(checklists)
    message.restrictions.update(dict(snapshot.restrictions))
    message.open_work.extend(
        customer_pb2.WorkItem(
            kind=w.kind, name=w.name, role=w.role, dimension=w.dimension, state=w.state, event=w.event,
            raise_time=timestamp(w.raised), due_time=timestamp(w.due) if w.due else None, severity=w.severity,
        )
        for w in snapshot.work
    )  # fmt: skip
    return message


def effect(record: EffectRecord) -> customer_pb2.Effect:
    return customer_pb2.Effect(
        kind=record.kind, dimension=record.dimension, event=record.event, detail=struct(record.detail)
    )


def history_entry(entry: HistoryEntry) -> customer_pb2.HistoryEntry:
    return customer_pb2.HistoryEntry(
        version=entry.version,
        time=timestamp(entry.at),
        actor=entry.actor,
        trigger=entry.trigger,
        event=entry.event,
        dimension=entry.dimension,
        from_state=entry.from_state,
        to_state=entry.to_state,
        reason=entry.reason,
        definition_version=entry.definition_version,
        facts_changed=struct(entry.facts_changed),
    )


def change(result: Change, view: int = customer_pb2.CUSTOMER_VIEW_FULL) -> customer_status_service_pb2.ChangeResult:
    return customer_status_service_pb2.ChangeResult(
        customer=customer(result.definition, result.snapshot, view),
        effects=[effect(e) for e in result.effects],
        history=[history_entry(h) for h in result.history],
        replayed=result.replayed,
    )


def options(message: customer_status_service_pb2.CommandOptions) -> Options:
    return Options(message.expected_version or None, message.idempotency_key or None)


def evidence(messages: Iterable[customer_status_service_pb2.ChecklistEvidence]) -> tuple[Evidence, ...]:
    return tuple(Evidence(e.checklist, e.item, e.evidence) for e in messages)


def reason(value: Reason) -> customer_pb2.BlockReason:
    kind = customer_pb2.BlockReasonKind.Value(f"BLOCK_REASON_KIND_{value.kind.value}")
    return customer_pb2.BlockReason(kind=kind, subject=value.subject, description=value.message)  # type: ignore[arg-type]


def option(value: TransitionOption) -> customer_pb2.TransitionOption:
    return customer_pb2.TransitionOption(
        dimension=value.dimension,
        event=value.event,
        from_states=sorted(value.sources),
        to_state=value.target,
        label=label(value.label),
        automatic=value.auto,
        allowed=value.allowed,
        reasons=[reason(r) for r in value.reasons],
    )


def diagnostic(value: Diagnostic) -> definition_service_pb2.Diagnostic:
    return definition_service_pb2.Diagnostic(
        file=value.file, line=value.line, column=value.column, path=value.path, message=value.message
    )


def summary(definition: Definition) -> definition_service_pb2.DefinitionSummary:
    return definition_service_pb2.DefinitionSummary(
        name=definition.name,
        version=definition.version,
        industry=definition.industry,
        owner=definition.owner,
        label=label(definition.label),
        digest=definition.digest,
        dimensions=list(definition.dimensions),
    )


def dimensions(definition: Definition) -> list[definition_service_pb2.DimensionInfo]:
    found = []
    for dimension in definition.dimensions.values():
        states = [
            definition_service_pb2.StateInfo(
                name=s.name, label=label(s.label), initial=s.initial, final=s.final, locked=s.locked,
                required_facts=list(s.requires),
            )
            for s in dimension.states.values()
        ]  # fmt: skip
        transitions = [
            definition_service_pb2.TransitionInfo(
                event=t.event, from_states=sorted(t.sources), to_state=t.target, label=label(t.label),
                automatic=t.auto, roles=sorted(t.roles), condition=t.when.source if t.when else "",
                checklist=t.checklist or "",
            )
            for t in dimension.transitions
        ]  # fmt: skip
        found.append(
            definition_service_pb2.DimensionInfo(
                name=dimension.name, label=label(dimension.label), states=states, transitions=transitions
            )
        )
    return found
