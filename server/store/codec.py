"""Every stored format, encoded and decoded here and nowhere else: snapshots, history entries, effects,
the command result an idempotent retry gets back, the idempotency record, event stream entries, state
count fields and timer members. JSON, compact; times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from crmstatus.engine.definition import Definition
from crmstatus.engine.facts import coerce, to_json
from crmstatus.engine.snapshot import ChecklistMark, EffectRecord, HistoryEntry, Snapshot, StateEntry, WorkItem

from .errors import IdempotencyMismatch, StoredDataError


class Result(NamedTuple):
    """What a command wrote (or, replayed, what it wrote the first time)."""

    snapshot: Snapshot
    effects: tuple[EffectRecord, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One change on a tenant's event stream: entry `entry_id` of partition `part`'s stream."""

    part: int
    entry_id: str
    customer_id: str
    version: int
    actor: str
    history: tuple[HistoryEntry, ...]
    effects: tuple[EffectRecord, ...]


def ms(moment: datetime) -> int:
    # Whole milliseconds, counted exactly: a float count of seconds times 1000 falls just short of them for
    # some moments (1-8% of those before 1990, in 2004-2009 or after 2038), and truncated it wrote them back
    # a millisecond early.
    return (moment - _EPOCH) // _MILLISECOND


def due_ms(moment: datetime) -> int:
    """A timer's place in the queue: the first whole millisecond not before it is due. A sweep takes it at a
    millisecond's `now`; floored, a due time with microseconds came up just before it was due, was refused
    as early and put back where it was, once a sweep."""
    return -((_EPOCH - moment) // _MILLISECOND)


_EPOCH, _MILLISECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)


def as_stored(moment: datetime) -> datetime:
    """The moment as the store keeps it (milliseconds): what a command decides with, so that its first
    answer and every later read or idempotent replay carry the same times."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def moment(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 as is (orjson: several times faster than the standard library at this)."""
    return orjson.dumps(value).decode()


loads = orjson.loads
# A state entry built by tuple's own constructor: a NamedTuple's generated __new__ is a Python call, and a read
# builds one per dimension: 13% less to decode a snapshot of fifteen.
_state_entry = functools.partial(tuple.__new__, StateEntry)


def encode_snapshot(definition: Definition, snapshot: Snapshot) -> str:
    """`<version>\n<json>`. States are positions in the pinned definition version (its digest is kept to
    catch a published file edited in place); a state entered with most others is just its position."""
    states, positions = snapshot.states, definition.state_positions
    entries = [(name, states[name]) for name in definition.dimensions]
    # The entry most states share: the version most states were entered with (one command enters its states at
    # one moment), and the moment of its first entry. Counted on the versions: hashing aware datetimes is dear.
    seqs = [e.seq for _, e in entries]
    seq = max(dict.fromkeys(seqs), key=seqs.count)
    since = entries[seqs.index(seq)][1].since
    document: dict[str, Any] = {
        "d": snapshot.definition,
        "dv": snapshot.definition_version,
        "dg": definition.digest[:8],
        "t0": [ms(since), seq],
        "s": [
            positions[name][e.state]
            if e.seq == seq and e.since == since
            else [positions[name][e.state], ms(e.since), e.seq]
            for name, e in entries
        ],
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
    if snapshot.lease_until is not None:
        document["lu"] = ms(snapshot.lease_until)
    if snapshot.fence:
        document["fc"] = snapshot.fence
    if snapshot.former:
        document["fo"] = {rep: ms(until) for rep, until in snapshot.former.items()}
    if snapshot.fired:
        document["ft"] = sorted(snapshot.fired)
    if snapshot.identities:
        document["id"] = dict(snapshot.identities)
    if snapshot.work:
        document["w"] = [
            [w.kind, w.name, w.role, w.dimension, w.state, w.event, ms(w.raised), ms(w.due) if w.due else None,
             w.severity]
            for w in snapshot.work
        ]  # fmt: skip
    return f"{snapshot.version}\n{dumps(document)}"


_HEADER = re.compile(r'\d+\n\{"d":"([a-z][a-z0-9_]*)","dv":(\d+),"dg":"([^"]*)"')


def is_snapshot(stored: str) -> bool:
    """A customer's snapshot (`<version>\n{…}`), not an idempotency record under the same key prefix (whose
    first line is a request digest or `own`)."""
    version, _, rest = stored[:24].partition("\n")
    return version.isdigit() and len(version) < 16 and rest.startswith("{")


def stored_definition(stored: str) -> tuple[str, int, str]:
    """The definition name and version a stored snapshot is pinned to, and the start of the digest of the text
    it was written with (read from its first fields, which encode_snapshot always writes first, so the document
    is parsed once, by decode_snapshot)."""
    match = _HEADER.match(stored)
    if match:
        return match[1], int(match[2]), match[3]
    header = _document(stored)
    return header["d"], header["dv"], header.get("dg", "")


def stored_owner(stored: str) -> str | None:
    """The owner of a stored snapshot, read without its definition."""
    owner: str | None = _document(stored).get("o")
    return owner


def stored_identities(stored: str) -> dict[str, str]:
    """The identity keys (kind → normalised value) a stored snapshot holds, read without its definition."""
    identities: dict[str, str] = _document(stored).get("id", {})
    return identities


def _document(stored: str) -> dict[str, Any]:
    """The JSON after the first line of a stored snapshot (`<version>`) or idempotency record (`<digest>`)."""
    document: dict[str, Any] = loads(stored.partition("\n")[2])
    return document


# The snapshot of each customer as this process last wrote or decoded it, with its text: a customer's next
# command on this replica skips decoding (a FireEvent runs 12% fewer instructions). Decoding is a pure function of
# the definition, the customer and the text, so a hit needs the same text and the same definition object. A
# snapshot's mappings are not frozen, but nothing writes to them once it is built (the engine copies what it
# changes). A text written since, on another replica, is a miss, decoded as usual.
_DECODED: dict[str, tuple[str, Definition, Snapshot]] = {}
# Customers kept, and characters of a kept text: most customers' are 250-700, and an entry takes ~3 KB (13 MB
# for all); a text at the bound, in 4-byte characters, with the snapshot built of it, some 20 KB.
DECODED_KEPT, KEPT_TEXT = 4096, 2048
VERIFY_DECODED = False  # the tests set it: every hit is decoded again and must be the very same value


def known(definition: Definition, stored: str, snapshot: Snapshot) -> None:
    """`snapshot` is what `stored` decodes to on `definition` (encode_snapshot just wrote it)."""
    if len(stored) > KEPT_TEXT:
        return
    if len(_DECODED) >= DECODED_KEPT and snapshot.customer_id not in _DECODED:
        _DECODED.clear()  # a working set beyond the bound: it would hardly ever hit, whatever it kept
    _DECODED[snapshot.customer_id] = stored, definition, snapshot


def forget(customer_id: str) -> None:
    _DECODED.pop(customer_id, None)


def decode_snapshot(definition: Definition, customer_id: str, stored: str, keep: bool = True) -> Snapshot:
    kept = _DECODED.get(customer_id)
    if kept is not None and kept[1] is definition and kept[0] == stored:
        if VERIFY_DECODED:
            _same(kept[2], _decode_snapshot(definition, customer_id, stored))
        return kept[2]
    snapshot = _decode_snapshot(definition, customer_id, stored)
    if keep:
        known(definition, stored, snapshot)
    return snapshot


def _same(kept: Snapshot, decoded: Snapshot) -> None:
    """A kept snapshot is the one its text decodes to: equal, with values of the same types and in the same
    order (a set's order aside), so nothing that reads it could tell them apart."""
    if kept != decoded or repr(kept._replace(fired=frozenset())) != repr(decoded._replace(fired=frozenset())):
        raise AssertionError(f"kept snapshot differs from its stored text's:\n{kept}\n{decoded}")


def _decode_snapshot(definition: Definition, customer_id: str, stored: str) -> Snapshot:
    version, _, text = stored.partition("\n")
    document = loads(text)
    if document["dg"] != definition.digest[:8]:
        raise StoredDataError(
            f"customer {customer_id!r} was stored with another text of {definition.key}: "
            "a published definition was edited in place instead of getting a new version"
        )
    since, seq = moment(document["t0"][0]), document["t0"][1]
    states = {}
    for (name, names), raw in zip(definition.state_names.items(), document["s"], strict=True):
        if isinstance(raw, int):
            states[name] = _state_entry((names[raw], since, seq))
        else:
            states[name] = _state_entry((names[raw[0]], moment(raw[1]), raw[2]))
    get = document.get  # what the snapshot does not have is left out of the document: built only when there
    facts, checklists, work, former = get("f"), get("c"), get("w"), get("fo")
    return Snapshot(
        customer_id=customer_id,
        definition=document["d"],
        definition_version=document["dv"],
        version=int(version),
        states=states,
        facts={n: coerce(definition.facts[n].type, v) for n, v in facts.items()} if facts else {},
        scores=get("sc", {}),
        checklists={
            n: {i: ChecklistMark(by, moment(at), evidence) for i, (by, at, evidence) in marks.items()}
            for n, marks in checklists.items()
        } if checklists else {},
        owner=get("o"),
        queue=get("q"),
        restrictions=get("r", {}),
        work=tuple(
            WorkItem(kind, name, role, dimension, state, event, moment(raised), moment(due) if due else None, severity)
            for kind, name, role, dimension, state, event, raised, due, severity in work
        ) if work else (),
        lease_until=moment(document["lu"]) if "lu" in document else None,
        fence=get("fc", 0),
        former={rep: moment(until) for rep, until in former.items()} if former else {},
        fired=frozenset(get("ft", ())),
        identities=get("id", {}),
    )  # fmt: skip


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


# -- what one command writes besides the snapshot -----------------------------------------------------------


def result_document(stored: str, history: str, effects: str) -> str:
    """The result kept with the idempotency record: a retry with the same key gets exactly this back.
    `history` and `effects` are JSON arrays, encoded once for this and the event document."""
    return f'{{"doc":{dumps(stored)},"h":{history},"fx":{effects}}}'


def event_document(actor: str, history: str, effects: str) -> str:
    return f'{{"by":{dumps(actor)},"h":{history},"fx":{effects}}}'


def request_digest(request: Mapping[str, Any]) -> str:
    """What makes two requests with one idempotency key the same request."""
    return hashlib.sha256(dumps(request).encode()).hexdigest()[:32]


def idempotency_record(digest: str, result: str) -> str:
    """What a command's idempotency record holds: `<digest>\n<result>`, as commit.lua writes it too."""
    return f"{digest}\n{result}"


def replay(definition: Definition, customer_id: str, record: str, digest: str, key: str) -> Result:
    """The result of the first request with this idempotency record (`<digest>\n<result>`, see commit.lua)."""
    stored_digest, _, text = record.partition("\n")
    if stored_digest != digest:
        raise IdempotencyMismatch(key)
    return decode_result(definition, customer_id, text)


def recorded_definition(record: str) -> tuple[str, int, str]:
    """The definition (name, version, digest start) the command an idempotency record keeps was decided on."""
    return stored_definition(_document(record)["doc"])


def decode_result(definition: Definition, customer_id: str, text: str) -> Result:
    """A result_document, as a replayed result."""
    stored = loads(text)
    snapshot = decode_snapshot(definition, customer_id, stored["doc"])
    history = tuple(decode_history(snapshot.version, entry) for entry in stored["h"])
    return Result(snapshot, decode_effects(stored["fx"]), history, replayed=True)


def decode_event(part: int, entry_id: str, fields: Mapping[str, str]) -> Event:
    """An event stream entry: fields c (customer), v (version) and d (event_document)."""
    version = int(fields["v"])
    document = loads(fields["d"])
    history = tuple(decode_history(version, entry) for entry in document["h"])
    return Event(part, entry_id, fields["c"], version, document["by"], history, decode_effects(document["fx"]))


_STREAM_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
LAST_ENTRY = (2**64 - 1, 2**64 - 1)  # the greatest stream id Redis has


def stream_position(entry_id: str) -> tuple[int, int] | None:
    """A Redis stream entry id (`<ms>-<seq>`, or `<ms>` alone) as a pair that sorts as Redis orders entries;
    None for anything else (other digits than ASCII ones, or past what Redis can hold)."""
    match = _STREAM_ID.fullmatch(entry_id)
    if match is None:
        return None
    position = int(match[1]), int(match[2] or 0)
    return position if position <= LAST_ENTRY and position[1] <= LAST_ENTRY[1] else None


DWELL_HOURS = (1, 24, 72, 168, 336, 720, 1440, 2160, 4380, 8760)  # bucket n: under DWELL_HOURS[n] hours; the last: more


def dwell_bucket(stayed: timedelta) -> int:
    return bisect.bisect_right(DWELL_HOURS, stayed / _HOUR)  # the first bound above the hours stayed


_HOUR = timedelta(hours=1)


def day(definition: Definition, moment_: datetime) -> str:
    """The calendar day of a moment in the definition's time zone: flow counters are kept per day."""
    return moment_.astimezone(definition.timezone).date().isoformat()


def flow_field(kind: str, *parts: str) -> str:
    """`m|day|definition@version|dimension|from|to` (a move), `d|…|dimension|state|bucket` (time in the state
    left), `r|…|dimension|event|code` (a reason code)."""
    return "|".join((kind, *parts))


def usage_field(definition_key: str, kind: str, dimension: str, name: str | int) -> str:
    """`definition@version|s|dimension|state` (entered), `…|t|dimension|transition position` (fired) or
    `…|g|dimension|transition position` (a caller's event refused by that transition's rules)."""
    return f"{definition_key}|{kind}|{dimension}|{name}"


def decode_usage_field(field: str) -> tuple[str, str, str, str]:
    definition, kind, dimension, name = field.split("|", 3)
    return definition, kind, dimension, name


def index_member(customer_id: str, entered: datetime) -> str:
    """A customer in a state index: ordered by when it entered the state, then by id."""
    return f"{ms(entered):013d}|{customer_id}"


def decode_index_member(member: str) -> tuple[str, datetime]:
    entered, _, customer_id = member.partition("|")
    return customer_id, moment(int(entered))


def count_field(definition_key: str, dimension: str, state: str) -> str:
    return f"{definition_key}|{dimension}|{state}"


def decode_count_field(field: str) -> tuple[str, str, str]:
    """(definition@version, dimension, state)"""
    definition, dimension, state = field.split("|", 2)
    return definition, dimension, state


def timer_member(customer_id: str, timer_key: str) -> str:
    return f"{customer_id}|{timer_key}"


def decode_timer_member(member: str) -> tuple[str, str]:
    """(customer id, timer key)"""
    customer_id, _, timer_key = member.partition("|")
    return customer_id, timer_key


def identity_reservation(customer_id: str, reserved: datetime) -> str:
    """An identity key's value: the customer it is reserved for, since when (ms), and a mark of this one
    reservation (so that undoing it can never remove another try's)."""
    return f"{customer_id}\n{ms(reserved)}\n{secrets.token_hex(6)}"


def decode_identity_reservation(value: str) -> tuple[str, int]:
    customer_id, _, rest = value.partition("\n")
    since = rest.partition("\n")[0]
    return customer_id, int(since) if since.isdigit() else 0


@dataclass(frozen=True, slots=True)
class VersionText:
    """A published definition version's document in the registry: written once, never changed."""

    key: str  # name@version
    scope: str  # the tenant whose version it is; "" for the shared defaults
    file: str
    source: str
    digest: str
    by: str  # who published it
    at: datetime


@dataclass(frozen=True, slots=True)
class VersionStatus:
    """Where a version stands: draft → approved → active → retired, with who moved it and when."""

    status: str
    scope: str
    approved_by: str = ""
    approved_at: datetime | None = None
    activated_by: str = ""
    activated_at: datetime | None = None
    retired_at: datetime | None = None


def encode_version_text(text: VersionText) -> str:
    return dumps({"scope": text.scope, "file": text.file, "source": text.source, "digest": text.digest,
                  "by": text.by, "at": ms(text.at)})  # fmt: skip


def decode_version_text(key: str, text: str) -> VersionText:
    d = loads(text)
    return VersionText(key, d["scope"], d["file"], d["source"], d["digest"], d["by"], moment(d["at"]))


def encode_version_status(status: VersionStatus) -> str:
    """As the registry scripts read and write it (cjson): times in ms, absent ones left out."""
    document: dict[str, Any] = {"status": status.status, "scope": status.scope}
    for name in ("approved", "activated"):
        if getattr(status, f"{name}_by"):
            document[f"{name}_by"] = getattr(status, f"{name}_by")
    for name in ("approved_at", "activated_at", "retired_at"):
        if getattr(status, name) is not None:
            document[name] = ms(getattr(status, name))
    return dumps(document)


def decode_version_status(text: str) -> VersionStatus:
    d = loads(text)
    at = {name: moment(int(d[name])) for name in ("approved_at", "activated_at", "retired_at") if name in d}
    return VersionStatus(d["status"], d["scope"], d.get("approved_by", ""), activated_by=d.get("activated_by", ""),
                         **at)  # fmt: skip
