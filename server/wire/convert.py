"""Engine values to and from crmstatus.v1 messages."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from crmstatus.engine.commands import Denial, Evidence, TransitionOption
from crmstatus.engine.definition import Definition
from crmstatus.engine.diff import Change as DefinitionChange
from crmstatus.engine.errors import Diagnostic, InvalidRequest, Reason, quote
from crmstatus.engine.facts import to_json
from crmstatus.engine.model import Label, Transition
from crmstatus.engine.snapshot import ChecklistMark, EffectRecord, HistoryEntry, Snapshot
from crmstatus.server.application.analytics import FlowReport, ReviewReport
from crmstatus.server.application.catalog import Version
from crmstatus.server.application.migration import Report, Selection
from crmstatus.server.application.model import Change, Imported, ImportRow, Options
from crmstatus.v1 import customer_pb2, customer_status_service_pb2, definition_service_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    # Built directly: Timestamp.FromDatetime costs several times more, and a customer carries a dozen.
    message = timestamp_pb2.Timestamp()
    _stamp(message, moment)
    return message


def _stamp(message: timestamp_pb2.Timestamp, moment: datetime) -> None:
    message.seconds, message.nanos = _seconds_nanos(moment)


def _seconds_nanos(moment: datetime) -> tuple[int, int]:
    return (moment - _EPOCH) // _SECOND, moment.microsecond * 1000


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as Python values (numbers arrive as floats; fact types turn whole ones back into ints).
    Read directly: json_format refuses NaN and infinities with a ValueError, which the fact types refuse
    in words of their own."""
    return {key: _plain(value) for key, value in message.fields.items()}


def _plain(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return plain(value.struct_value)
    if kind == "list_value":
        return [_plain(item) for item in value.list_value.values]
    if kind is None or kind == "null_value":
        return None
    return getattr(value, kind)


def label(value: Label) -> customer_pb2.Label:
    return customer_pb2.Label(zh=value.zh, en=value.en)


BASIC, FULL = customer_pb2.CUSTOMER_VIEW_BASIC, customer_pb2.CUSTOMER_VIEW_FULL
_VIEWS = frozenset(customer_pb2.CustomerView.values())


def view(value: int) -> int:
    """A view this service knows: another number (a newer client's, or none) is refused, not read as full."""
    if value not in _VIEWS:
        raise InvalidRequest(f"view {value} is not one of CUSTOMER_VIEW_BASIC (1) or CUSTOMER_VIEW_FULL (2)")
    return value


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag_and_size(number: int, size: int) -> bytes:
    """What precedes a length-delimited field's `size` bytes (a string or message) in protobuf's wire format."""
    return _varint(number << 3 | 2) + _varint(size)


def _field(number: int, payload: bytes) -> bytes:
    return _tag_and_size(number, len(payload)) + payload


_STATES, _CHECKLISTS, _SINCE = 5, 8, 4  # field numbers: Customer.states, Customer.checklists, DimensionState.since


class _Parts:
    """The parts of a customer message that one definition version fixes, serialized once: each state with
    its labels and lock mark, and each checklist with every item still open. A customer's states and
    checklists are these bytes (and the states' entry times) joined: fifteen states built field by field cost
    twice as much, and a command's reply sends them as they are, never parsed into a message (result_field)."""

    def __init__(self, definition: Definition) -> None:
        self.states = {
            (d.name, s.name): customer_pb2.DimensionState(dimension=d.name, state=s.name, label=label(s.label),
                                                          locked=s.locked).SerializeToString()
            for d in definition.dimensions.values()
            for s in d.states.values()
        }  # fmt: skip
        self.heads: dict[tuple[str, str, int], bytes] = {}  # a state's field up to its entry time, by its size
        self.item_labels = {
            (c.name, item): label(c.item_labels[item]) for c in definition.checklists.values() for item in c.items
        }
        self.open_checklists = {
            c.name: _field(_CHECKLISTS, customer_pb2.ChecklistProgress(
                checklist=c.name,
                items=[customer_pb2.ChecklistItem(item=i, label=self.item_labels[c.name, i]) for i in c.items],
            ).SerializeToString())
            for c in definition.checklists.values()
        }  # fmt: skip

    def head(self, dimension: str, state: str, since_size: int) -> bytes:
        """The Customer.states field of `state` up to its entry time (of `since_size` bytes), which follows."""
        body = self.states[dimension, state]
        head = _tag_and_size(_STATES, len(body) + since_size) + body
        self.heads[dimension, state, since_size] = head
        return head


_PARTS: weakref.WeakKeyDictionary[Definition, _Parts] = weakref.WeakKeyDictionary()


def _parts(definition: Definition) -> _Parts:
    parts = _PARTS.get(definition)
    if parts is None:
        parts = _PARTS[definition] = _Parts(definition)
    return parts


def _since(moment: datetime) -> bytes:
    return _field(_SINCE, timestamp(moment).SerializeToString())


def _customer_bytes(definition: Definition, snapshot: Snapshot, view: int = FULL) -> bytes:
    """The customer message, serialized: its own fields, then its states and checklists joined from the bytes
    each definition version serializes once (a parser merges fields in any order)."""
    parts = _parts(definition)
    message = customer_pb2.Customer(
        customer_id=snapshot.customer_id, definition=snapshot.definition,
        definition_version=snapshot.definition_version, version=snapshot.version, owner=snapshot.owner or "",
        queue=snapshot.queue or "", redacted=snapshot.redacted,
    )  # fmt: skip
    if snapshot.lease_until:
        _stamp(message.lease_expire_time, snapshot.lease_until)
    # Most states share one entry time (one object: the snapshot's common entry, or the command's now), each
    # serialized once. By identity: hashing an aware datetime costs more than serializing it.
    wire: list[bytes] = []
    stamps: dict[int, bytes] = {}
    heads = parts.heads
    for name in definition.dimensions:
        entry = snapshot.states[name]
        since = stamps.get(id(entry.since))
        if since is None:
            since = stamps[id(entry.since)] = _since(entry.since)
        head = heads.get((name, entry.state, len(since))) or parts.head(name, entry.state, len(since))
        wire += (head, since)
    if view != BASIC:  # the basic view leaves out checklists, facts, scores, restrictions and work
        for checklist in definition.checklists.values():
            marks = snapshot.checklists.get(checklist.name)
            if not marks:
                wire.append(parts.open_checklists[checklist.name])
            else:
                progress = _progress(parts, checklist.name, checklist.items, marks)
                wire.append(_field(_CHECKLISTS, progress.SerializeToString()))
        if snapshot.facts:
            facts = definition.facts
            message.facts.update({name: to_json(facts[name].type, v) for name, v in snapshot.facts.items()})
        if snapshot.scores:
            message.scores.update(snapshot.scores)
        if snapshot.restrictions:
            message.restrictions.update(dict(snapshot.restrictions))
        message.open_work.extend(
            customer_pb2.WorkItem(
                kind=w.kind, name=w.name, role=w.role, dimension=w.dimension, state=w.state, event=w.event,
                raise_time=timestamp(w.raised), due_time=timestamp(w.due) if w.due else None, severity=w.severity,
            )
            for w in snapshot.work
        )  # fmt: skip
    return message.SerializeToString() + b"".join(wire)


def _progress(
    parts: _Parts, checklist: str, items: Iterable[str], marks: Mapping[str, ChecklistMark]
) -> customer_pb2.ChecklistProgress:
    progress = customer_pb2.ChecklistProgress(checklist=checklist)
    for item in items:
        mark = marks.get(item)
        shown = progress.items.add(item=item, label=parts.item_labels[checklist, item])
        if mark is not None:
            shown.done, shown.completed_by, shown.evidence = True, mark.by, mark.evidence
            _stamp(shown.complete_time, mark.at)
    return progress


def effect(record: EffectRecord) -> customer_pb2.Effect:
    return customer_pb2.Effect(
        kind=record.kind, dimension=record.dimension, event=record.event, detail=struct(record.detail)
    )


def history_entry(entry: HistoryEntry) -> customer_pb2.HistoryEntry:
    message = customer_pb2.HistoryEntry(
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
    )
    if entry.facts_changed:
        message.facts_changed.update(dict(entry.facts_changed))
    return message


_RESULT, _CUSTOMER = 1, 1  # field numbers: every command response's `result`; ChangeResult's and
# GetCustomerResponse's `customer`


def customer_field(definition: Definition, snapshot: Snapshot, view: int = FULL) -> bytes:
    """A `customer` field (of a ChangeResult, or a GetCustomerResponse: all of it), serialized."""
    return _field(_CUSTOMER, _customer_bytes(definition, snapshot, view))


def result_field(result: Change, view: int = FULL) -> bytes:
    """A command response's `result` field, serialized: sent after the response's other fields as it is, never
    parsed into a message to be serialized again."""
    rest = customer_status_service_pb2.ChangeResult(
        effects=[effect(e) for e in result.effects], history=[history_entry(h) for h in result.history]
    )
    return _field(_RESULT, customer_field(result.definition, result.snapshot, view) + rest.SerializeToString())


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
        reason_codes=list(value.reason_codes),
    )


def diagnostic(value: Diagnostic) -> definition_service_pb2.Diagnostic:
    return definition_service_pb2.Diagnostic(
        file=value.file, line=value.line, column=value.column, path=value.path, message=value.message,
        hint=value.hint, message_zh=value.zh, hint_zh=value.hint_zh,
    )  # fmt: skip


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


def denial(found: Denial) -> customer_status_service_pb2.ActionDenial:
    kind = customer_status_service_pb2.RestrictionKind.Value(f"RESTRICTION_KIND_{found.kind.name}")
    return customer_status_service_pb2.ActionDenial(restriction=found.restriction, kind=kind, message=found.message)  # type: ignore[arg-type]


def flow_report(report: FlowReport) -> customer_status_service_pb2.GetFlowReportResponse:
    return customer_status_service_pb2.GetFlowReportResponse(
        states=[
            customer_status_service_pb2.StateFlow(
                state=s.state, label=label(s.label), entered=s.entered, left=s.left,
                time_in_state=list(s.time_in_state), median_hours=s.median_hours or 0, p90_hours=s.p90_hours or 0,
            )
            for s in report.states
        ],
        moves=[
            customer_status_service_pb2.StateMove(from_state=source, to_state=target, count=count,
                                                  conversion=report.conversion(source, target) or 0)
            for (source, target), count in sorted(report.moves.items())
        ],
        reasons=[
            customer_status_service_pb2.ReasonCount(event=event, code=code, count=count)
            for (event, code), count in sorted(report.reasons.items())
        ],
        bucket_hours=[float(hours) for hours in report.bucket_hours],
    )  # fmt: skip


def duration(message: Any, field: str) -> timedelta:
    """A google.protobuf.Duration as a timedelta; INVALID_ARGUMENT when it is out of range, or not one at all
    (nanos beyond a second, or of the other sign than the seconds)."""
    seconds, nanos = message.seconds, message.nanos
    if abs(nanos) > 999_999_999 or (seconds and nanos and (seconds < 0) != (nanos < 0)):
        raise InvalidRequest(f"{field} is not a valid duration: its nanos are within a second, of the seconds' sign")
    try:
        return message.ToTimedelta()  # type: ignore[no-any-return]
    except (OverflowError, ValueError):
        raise InvalidRequest(f"{field} is not a duration this service can use") from None


_STATUS: dict[str, Any] = {
    name: definition_service_pb2.VersionStatus.Value(f"VERSION_STATUS_{name.upper()}")
    for name in ("draft", "approved", "active", "retired")
}


def version(found: Version, definition: Definition) -> definition_service_pb2.DefinitionVersion:
    status, text = found.status, found.text
    message = definition_service_pb2.DefinitionVersion(
        definition=summary(definition), tenant=text.scope, status=_STATUS[status.status], published_by=text.by,
        publish_time=timestamp(text.at), approved_by=status.approved_by, activated_by=status.activated_by,
        in_use=found.in_use,
    )  # fmt: skip
    for field, moment in (("approve_time", status.approved_at), ("activate_time", status.activated_at),
                          ("retire_time", status.retired_at)):  # fmt: skip
        if moment is not None:
            getattr(message, field).CopyFrom(timestamp(moment))
    return message


def changes(found: list[DefinitionChange]) -> list[definition_service_pb2.DefinitionChange]:
    message = definition_service_pb2.DefinitionChange
    return [message(change=c.change, kind=c.kind, path=c.path, before=c.before, after=c.after) for c in found]


def selection(message: definition_service_pb2.MigrationSelection) -> Selection:
    return Selection(tuple(message.customer_ids), tuple((s.dimension, s.state) for s in message.states))


def migration_report(report: Report, *, listed: bool = True) -> definition_service_pb2.MigrationReport:
    """A migration's report; `listed` with the unmappable customers by name (the last report of a run)."""
    return definition_service_pb2.MigrationReport(
        migration=report.label, selected=report.selected, migrated=report.migrated, already_migrated=report.already,
        unmappable=report.unmappable, timers_cancelled=report.timers_cancelled,
        timers_scheduled=report.timers_scheduled, timers_overdue=report.timers_overdue, done=report.done,
        moves=[definition_service_pb2.MigrationMove(dimension=d, from_state=a, to_state=b, customers=n)
               for (d, a, b), n in sorted(report.moves.items())],
        unmapped=[definition_service_pb2.UnmappableCustomer(customer_id=u.customer_id, reasons=u.reasons)
                  for u in report.unmapped] if listed else [],
    )  # fmt: skip


def import_row(message: customer_status_service_pb2.ImportedCustomer) -> ImportRow:
    states = {s.dimension: (s.state, _moment(s.since) if s.HasField("since") else None) for s in message.states}
    if len(states) < len(message.states):
        raise InvalidRequest(f"customer {quote(message.customer_id)} gives a dimension's state twice")
    return ImportRow(message.customer_id, message.definition, message.definition_version or None, states,
                     plain(message.facts), dict(message.identities))  # fmt: skip


def _moment(message: timestamp_pb2.Timestamp) -> datetime:
    """The moment, or the earliest or latest a datetime holds when it lies beyond them (refused downstream, as
    every moment outside 1970 … now is)."""
    if not 0 <= message.nanos < 1_000_000_000:
        raise InvalidRequest(f"a timestamp's nanos are 0 to 999,999,999, not {message.nanos:,}")
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (OverflowError, ValueError, OSError):
        return (datetime.min if message.seconds < 0 else datetime.max).replace(tzinfo=UTC)


_IMPORT_STATUS = {
    "created": customer_status_service_pb2.IMPORT_STATUS_CREATED,
    "exists": customer_status_service_pb2.IMPORT_STATUS_EXISTS,
    "refused": customer_status_service_pb2.IMPORT_STATUS_REFUSED,
}


def imported(result: Imported) -> customer_status_service_pb2.ImportResult:
    return customer_status_service_pb2.ImportResult(
        customer_id=result.customer_id, status=_IMPORT_STATUS[result.status], reason=result.reason,
        version=result.version,
    )  # fmt: skip


def review_report(report: ReviewReport) -> definition_service_pb2.GetReviewReportResponse:
    def use(t: Transition) -> definition_service_pb2.TransitionUse:
        return definition_service_pb2.TransitionUse(
            dimension=t.dimension, event=t.event, from_states=sorted(t.sources), to_state=t.target,
            fired=report.fired[t], blocked=report.blocked[t], guard=t.when.source if t.when else "",
        )  # fmt: skip

    return definition_service_pb2.GetReviewReportResponse(
        definition=summary(report.definition),
        states=[
            definition_service_pb2.StateUse(dimension=d, state=s, entered=n) for (d, s), n in report.entered.items()
        ],
        transitions=[use(t) for t in report.fired],
        unused_states=[definition_service_pb2.StateRef(dimension=d, state=s) for d, s in report.unused_states],
        unused_transitions=[use(t) for t in report.unused_transitions],
        text=report.text(),
    )
