import datetime

from crmstatus.v1 import customer_pb2 as _customer_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RestrictionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESTRICTION_KIND_UNSPECIFIED: _ClassVar[RestrictionKind]
    RESTRICTION_KIND_LIMIT: _ClassVar[RestrictionKind]
    RESTRICTION_KIND_VERIFICATION: _ClassVar[RestrictionKind]
    RESTRICTION_KIND_BLOCK: _ClassVar[RestrictionKind]

class ImportStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_STATUS_UNSPECIFIED: _ClassVar[ImportStatus]
    IMPORT_STATUS_CREATED: _ClassVar[ImportStatus]
    IMPORT_STATUS_EXISTS: _ClassVar[ImportStatus]
    IMPORT_STATUS_REFUSED: _ClassVar[ImportStatus]
RESTRICTION_KIND_UNSPECIFIED: RestrictionKind
RESTRICTION_KIND_LIMIT: RestrictionKind
RESTRICTION_KIND_VERIFICATION: RestrictionKind
RESTRICTION_KIND_BLOCK: RestrictionKind
IMPORT_STATUS_UNSPECIFIED: ImportStatus
IMPORT_STATUS_CREATED: ImportStatus
IMPORT_STATUS_EXISTS: ImportStatus
IMPORT_STATUS_REFUSED: ImportStatus

class CommandOptions(_message.Message):
    __slots__ = ("expected_version", "idempotency_key", "reason", "fence_token", "view")
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    idempotency_key: str
    reason: str
    fence_token: int
    view: _customer_pb2.CustomerView
    def __init__(self, expected_version: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., reason: _Optional[str] = ..., fence_token: _Optional[int] = ..., view: _Optional[_Union[_customer_pb2.CustomerView, str]] = ...) -> None: ...

class ChangeResult(_message.Message):
    __slots__ = ("customer", "effects", "history")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    EFFECTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    customer: _customer_pb2.Customer
    effects: _containers.RepeatedCompositeFieldContainer[_customer_pb2.Effect]
    history: _containers.RepeatedCompositeFieldContainer[_customer_pb2.HistoryEntry]
    def __init__(self, customer: _Optional[_Union[_customer_pb2.Customer, _Mapping]] = ..., effects: _Optional[_Iterable[_Union[_customer_pb2.Effect, _Mapping]]] = ..., history: _Optional[_Iterable[_Union[_customer_pb2.HistoryEntry, _Mapping]]] = ...) -> None: ...

class CreateCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "definition", "definition_version", "facts", "identities", "idempotency_key")
    class IdentitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    definition: str
    definition_version: int
    facts: _struct_pb2.Struct
    identities: _containers.ScalarMap[str, str]
    idempotency_key: str
    def __init__(self, customer_id: _Optional[str] = ..., definition: _Optional[str] = ..., definition_version: _Optional[int] = ..., facts: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., identities: _Optional[_Mapping[str, str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CreateCustomerResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "view")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    view: _customer_pb2.CustomerView
    def __init__(self, customer_id: _Optional[str] = ..., view: _Optional[_Union[_customer_pb2.CustomerView, str]] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _customer_pb2.Customer
    def __init__(self, customer: _Optional[_Union[_customer_pb2.Customer, _Mapping]] = ...) -> None: ...

class ListTransitionsRequest(_message.Message):
    __slots__ = ("customer_id", "dimension")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    dimension: str
    def __init__(self, customer_id: _Optional[str] = ..., dimension: _Optional[str] = ...) -> None: ...

class ListTransitionsResponse(_message.Message):
    __slots__ = ("transitions", "version")
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    transitions: _containers.RepeatedCompositeFieldContainer[_customer_pb2.TransitionOption]
    version: int
    def __init__(self, transitions: _Optional[_Iterable[_Union[_customer_pb2.TransitionOption, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class FireEventRequest(_message.Message):
    __slots__ = ("customer_id", "event", "options", "evidence")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    event: str
    options: CommandOptions
    evidence: _containers.RepeatedCompositeFieldContainer[ChecklistEvidence]
    def __init__(self, customer_id: _Optional[str] = ..., event: _Optional[str] = ..., options: _Optional[_Union[CommandOptions, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[ChecklistEvidence, _Mapping]]] = ...) -> None: ...

class ChecklistEvidence(_message.Message):
    __slots__ = ("checklist", "item", "evidence")
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    checklist: str
    item: str
    evidence: str
    def __init__(self, checklist: _Optional[str] = ..., item: _Optional[str] = ..., evidence: _Optional[str] = ...) -> None: ...

class FireEventResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class UpdateFactsRequest(_message.Message):
    __slots__ = ("customer_id", "facts", "options")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    facts: _struct_pb2.Struct
    options: CommandOptions
    def __init__(self, customer_id: _Optional[str] = ..., facts: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., options: _Optional[_Union[CommandOptions, _Mapping]] = ...) -> None: ...

class UpdateFactsResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class CompleteChecklistItemRequest(_message.Message):
    __slots__ = ("customer_id", "checklist", "item", "evidence", "options")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    checklist: str
    item: str
    evidence: str
    options: CommandOptions
    def __init__(self, customer_id: _Optional[str] = ..., checklist: _Optional[str] = ..., item: _Optional[str] = ..., evidence: _Optional[str] = ..., options: _Optional[_Union[CommandOptions, _Mapping]] = ...) -> None: ...

class CompleteChecklistItemResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class ReopenChecklistItemRequest(_message.Message):
    __slots__ = ("customer_id", "checklist", "item", "options")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    checklist: str
    item: str
    options: CommandOptions
    def __init__(self, customer_id: _Optional[str] = ..., checklist: _Optional[str] = ..., item: _Optional[str] = ..., options: _Optional[_Union[CommandOptions, _Mapping]] = ...) -> None: ...

class ReopenChecklistItemResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token", "oldest_first")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OLDEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    oldest_first: bool
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., oldest_first: _Optional[bool] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_customer_pb2.HistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_customer_pb2.HistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_event_id",)
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_event_id: str
    def __init__(self, after_event_id: _Optional[str] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event_id", "customer_id", "version", "actor", "history", "effects")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    EFFECTS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    customer_id: str
    version: int
    actor: str
    history: _containers.RepeatedCompositeFieldContainer[_customer_pb2.HistoryEntry]
    effects: _containers.RepeatedCompositeFieldContainer[_customer_pb2.Effect]
    def __init__(self, event_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., version: _Optional[int] = ..., actor: _Optional[str] = ..., history: _Optional[_Iterable[_Union[_customer_pb2.HistoryEntry, _Mapping]]] = ..., effects: _Optional[_Iterable[_Union[_customer_pb2.Effect, _Mapping]]] = ...) -> None: ...

class GetStateCountsRequest(_message.Message):
    __slots__ = ("definition",)
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: str
    def __init__(self, definition: _Optional[str] = ...) -> None: ...

class GetStateCountsResponse(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[StateCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[StateCount, _Mapping]]] = ...) -> None: ...

class StateCount(_message.Message):
    __slots__ = ("definition", "definition_version", "dimension", "state", "count")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    definition: str
    definition_version: int
    dimension: str
    state: str
    count: int
    def __init__(self, definition: _Optional[str] = ..., definition_version: _Optional[int] = ..., dimension: _Optional[str] = ..., state: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ClaimCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "idempotency_key")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    idempotency_key: str
    def __init__(self, customer_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ClaimCustomerResponse(_message.Message):
    __slots__ = ("result", "fence_token", "lease_expire_time")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    fence_token: int
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ..., fence_token: _Optional[int] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RenewClaimRequest(_message.Message):
    __slots__ = ("customer_id", "fence_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    fence_token: int
    def __init__(self, customer_id: _Optional[str] = ..., fence_token: _Optional[int] = ...) -> None: ...

class RenewClaimResponse(_message.Message):
    __slots__ = ("result", "lease_expire_time")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReleaseCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "fence_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    fence_token: int
    def __init__(self, customer_id: _Optional[str] = ..., fence_token: _Optional[int] = ...) -> None: ...

class ReleaseCustomerResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class ReassignCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "owner", "reason", "expected_version")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    owner: str
    reason: str
    expected_version: int
    def __init__(self, customer_id: _Optional[str] = ..., owner: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ReassignCustomerResponse(_message.Message):
    __slots__ = ("result", "fence_token")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FENCE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    fence_token: int
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ..., fence_token: _Optional[int] = ...) -> None: ...

class ListPoolRequest(_message.Message):
    __slots__ = ("page_size", "queue")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    queue: str
    def __init__(self, page_size: _Optional[int] = ..., queue: _Optional[str] = ...) -> None: ...

class ListPoolResponse(_message.Message):
    __slots__ = ("customers",)
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[PoolEntry]
    def __init__(self, customers: _Optional[_Iterable[_Union[PoolEntry, _Mapping]]] = ...) -> None: ...

class PoolEntry(_message.Message):
    __slots__ = ("customer_id", "free_time")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FREE_TIME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    free_time: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., free_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OverrideStateRequest(_message.Message):
    __slots__ = ("customer_id", "dimension", "state", "reason", "expected_version", "idempotency_key")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    dimension: str
    state: str
    reason: str
    expected_version: int
    idempotency_key: str
    def __init__(self, customer_id: _Optional[str] = ..., dimension: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class OverrideStateResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: ChangeResult
    def __init__(self, result: _Optional[_Union[ChangeResult, _Mapping]] = ...) -> None: ...

class CheckActionRequest(_message.Message):
    __slots__ = ("customer_id", "action", "attributes")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    action: str
    attributes: _struct_pb2.Struct
    def __init__(self, customer_id: _Optional[str] = ..., action: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CheckActionResponse(_message.Message):
    __slots__ = ("allowed", "denials")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DENIALS_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    denials: _containers.RepeatedCompositeFieldContainer[ActionDenial]
    def __init__(self, allowed: _Optional[bool] = ..., denials: _Optional[_Iterable[_Union[ActionDenial, _Mapping]]] = ...) -> None: ...

class ActionDenial(_message.Message):
    __slots__ = ("restriction", "kind", "message")
    RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    restriction: str
    kind: RestrictionKind
    message: str
    def __init__(self, restriction: _Optional[str] = ..., kind: _Optional[_Union[RestrictionKind, str]] = ..., message: _Optional[str] = ...) -> None: ...

class DeleteCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "reason", "expected_version")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    reason: str
    expected_version: int
    def __init__(self, customer_id: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteCustomerResponse(_message.Message):
    __slots__ = ("erased_version",)
    ERASED_VERSION_FIELD_NUMBER: _ClassVar[int]
    erased_version: int
    def __init__(self, erased_version: _Optional[int] = ...) -> None: ...

class GetFlowReportRequest(_message.Message):
    __slots__ = ("definition", "definition_version", "dimension", "start_date", "end_date")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    definition: str
    definition_version: int
    dimension: str
    start_date: str
    end_date: str
    def __init__(self, definition: _Optional[str] = ..., definition_version: _Optional[int] = ..., dimension: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...

class GetFlowReportResponse(_message.Message):
    __slots__ = ("states", "moves", "reasons", "bucket_hours")
    STATES_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_HOURS_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[StateFlow]
    moves: _containers.RepeatedCompositeFieldContainer[StateMove]
    reasons: _containers.RepeatedCompositeFieldContainer[ReasonCount]
    bucket_hours: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, states: _Optional[_Iterable[_Union[StateFlow, _Mapping]]] = ..., moves: _Optional[_Iterable[_Union[StateMove, _Mapping]]] = ..., reasons: _Optional[_Iterable[_Union[ReasonCount, _Mapping]]] = ..., bucket_hours: _Optional[_Iterable[float]] = ...) -> None: ...

class StateFlow(_message.Message):
    __slots__ = ("state", "label", "entered", "left", "time_in_state", "median_hours", "p90_hours")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_STATE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_HOURS_FIELD_NUMBER: _ClassVar[int]
    P90_HOURS_FIELD_NUMBER: _ClassVar[int]
    state: str
    label: _customer_pb2.Label
    entered: int
    left: int
    time_in_state: _containers.RepeatedScalarFieldContainer[int]
    median_hours: float
    p90_hours: float
    def __init__(self, state: _Optional[str] = ..., label: _Optional[_Union[_customer_pb2.Label, _Mapping]] = ..., entered: _Optional[int] = ..., left: _Optional[int] = ..., time_in_state: _Optional[_Iterable[int]] = ..., median_hours: _Optional[float] = ..., p90_hours: _Optional[float] = ...) -> None: ...

class StateMove(_message.Message):
    __slots__ = ("from_state", "to_state", "count", "conversion")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_FIELD_NUMBER: _ClassVar[int]
    from_state: str
    to_state: str
    count: int
    conversion: float
    def __init__(self, from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., count: _Optional[int] = ..., conversion: _Optional[float] = ...) -> None: ...

class ReasonCount(_message.Message):
    __slots__ = ("event", "code", "count")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    event: str
    code: str
    count: int
    def __init__(self, event: _Optional[str] = ..., code: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ListCustomersRequest(_message.Message):
    __slots__ = ("definition", "dimension", "state", "owner", "queue", "longer_than", "newest_first", "page_size", "page_token")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    LONGER_THAN_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    definition: str
    dimension: str
    state: str
    owner: str
    queue: str
    longer_than: _duration_pb2.Duration
    newest_first: bool
    page_size: int
    page_token: str
    def __init__(self, definition: _Optional[str] = ..., dimension: _Optional[str] = ..., state: _Optional[str] = ..., owner: _Optional[str] = ..., queue: _Optional[str] = ..., longer_than: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., newest_first: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCustomersResponse(_message.Message):
    __slots__ = ("customers", "next_page_token")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[ListedCustomer]
    next_page_token: str
    def __init__(self, customers: _Optional[_Iterable[_Union[ListedCustomer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListedCustomer(_message.Message):
    __slots__ = ("customer_id", "enter_time")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ENTER_TIME_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    enter_time: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., enter_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportCustomersRequest(_message.Message):
    __slots__ = ("customers",)
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[ImportedCustomer]
    def __init__(self, customers: _Optional[_Iterable[_Union[ImportedCustomer, _Mapping]]] = ...) -> None: ...

class ImportedCustomer(_message.Message):
    __slots__ = ("customer_id", "definition", "definition_version", "states", "facts", "identities")
    class IdentitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    definition: str
    definition_version: int
    states: _containers.RepeatedCompositeFieldContainer[ImportedState]
    facts: _struct_pb2.Struct
    identities: _containers.ScalarMap[str, str]
    def __init__(self, customer_id: _Optional[str] = ..., definition: _Optional[str] = ..., definition_version: _Optional[int] = ..., states: _Optional[_Iterable[_Union[ImportedState, _Mapping]]] = ..., facts: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., identities: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ImportedState(_message.Message):
    __slots__ = ("dimension", "state", "since")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    state: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, dimension: _Optional[str] = ..., state: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportResult(_message.Message):
    __slots__ = ("customer_id", "status", "reason", "version")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    status: ImportStatus
    reason: str
    version: int
    def __init__(self, customer_id: _Optional[str] = ..., status: _Optional[_Union[ImportStatus, str]] = ..., reason: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ImportCustomersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ImportResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ImportResult, _Mapping]]] = ...) -> None: ...
