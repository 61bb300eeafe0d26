"""Snapshots, history entries and effects as compact JSON for Redis. Times are integer milliseconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.definition import Definition
from engine.facts import coerce, to_json
from engine.snapshot import ChecklistMark, EffectRecord, HistoryEntry, Snapshot, StateEntry


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def moment(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_snapshot(definition: Definition, snapshot: Snapshot) -> str:
    document: dict[str, Any] = {
        "d": snapshot.definition,
        "dv": snapshot.definition_version,
        "v": snapshot.version,
        "s": {name: [e.state, ms(e.since), e.seq] for name, e in snapshot.states.items()},
    }
    if snapshot.facts:
        document["f"] = {n: to_json(definition.facts[n].type, v) for n, v in snapshot.facts.items()}
    if snapshot.scores:
        document["sc"] = dict(snapshot.scores)
    checklists = {
        n: {i: [m.by, ms(m.at), m.evidence] for i, m in marks.items()}
        for n, marks in snapshot.checklists.items()
        if marks
    }
    if checklists:
        document["c"] = checklists
    for key, value in (("o", snapshot.owner), ("q", snapshot.queue)):
        if value is not None:
            document[key] = value
    if snapshot.restrictions:
        document["r"] = dict(snapshot.restrictions)
    return dumps(document)


def decode_snapshot(definition: Definition, customer_id: str, text: str) -> Snapshot:
    document = json.loads(text)
    return Snapshot(
        customer_id=customer_id,
        definition=document["d"],
        definition_version=document["dv"],
        version=document["v"],
        states={name: StateEntry(state, moment(since), seq) for name, (state, since, seq) in document["s"].items()},
        facts={n: coerce(definition.facts[n].type, v) for n, v in document.get("f", {}).items()},
        scores=document.get("sc", {}),
        checklists={
            n: {i: ChecklistMark(by, moment(at), evidence) for i, (by, at, evidence) in marks.items()}
            for n, marks in document.get("c", {}).items()
        },
        owner=document.get("o"),
        queue=document.get("q"),
        restrictions=document.get("r", {}),
    )


def history_document(entry: HistoryEntry) -> dict[str, Any]:
    document: dict[str, Any] = {
        "at": ms(entry.at),
        "by": entry.actor,
        "t": entry.trigger,
        "dv": entry.definition_version,
    }
    for key, value in (
        ("e", entry.event),
        ("dim", entry.dimension),
        ("from", entry.from_state),
        ("to", entry.to_state),
        ("why", entry.reason),
    ):
        if value:
            document[key] = value
    if entry.facts_changed:
        document["f"] = dict(entry.facts_changed)
    return document


def decode_history(version: int, document: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        version=version,
        at=moment(document["at"]),
        actor=document["by"],
        trigger=document["t"],
        event=document.get("e", ""),
        dimension=document.get("dim", ""),
        from_state=document.get("from", ""),
        to_state=document.get("to", ""),
        reason=document.get("why", ""),
        definition_version=document["dv"],
        facts_changed=document.get("f", {}),
    )


def encode_effects(effects: tuple[EffectRecord, ...]) -> list[dict[str, Any]]:
    return [{"kind": e.kind, "dim": e.dimension, "e": e.event, **e.detail} for e in effects]


def decode_effects(documents: list[dict[str, Any]]) -> tuple[EffectRecord, ...]:
    records = []
    for document in documents:
        detail = {k: v for k, v in document.items() if k not in ("kind", "dim", "e")}
        records.append(EffectRecord(document["kind"], document["dim"], document["e"], detail))
    return tuple(records)
