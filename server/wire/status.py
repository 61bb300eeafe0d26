"""Every known failure as a gRPC status, in one place: code, message and google.rpc details.

Each status carries ErrorInfo with a stable `reason` (clients switch on it, not on the message);
blocked transitions and locks add PreconditionFailure, bad names and values add BadRequest.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from crmstatus.engine.errors import (
    AutomationCycle,
    ClaimConflict,
    ClaimRefused,
    CrmStatusError,
    CustomerLocked,
    FencedOut,
    InvalidDefinition,
    InvalidFactValue,
    InvalidRequest,
    PermissionDenied,
    ReasonKind,
    StaleTimer,
    TransitionNotAllowed,
    UnknownName,
    quote,
)
from crmstatus.server import metrics
from crmstatus.server.application.errors import (
    Contended,
    DefinitionNotFound,
    LifecycleRefused,
    Unauthenticated,
    VersionTaken,
)
from crmstatus.server.store.errors import (
    CustomerExists,
    CustomerNotFound,
    EventsTrimmed,
    IdempotencyMismatch,
    NotReplicated,
    StoredDataError,
    StoreUnavailable,
    VersionConflict,
)

from .auth import caller
from .handlers import Undecodable

log = logging.getLogger(__name__)
DOMAIN = "crmstatus"
_RUN, _CALLS = secrets.token_hex(8), itertools.count()  # new request ids: unique across the fleet, no syscall each

# (error class, gRPC code, ErrorInfo reason), most specific first.
TABLE: list[tuple[type[CrmStatusError], int, str]] = [
    (Unauthenticated, code_pb2.UNAUTHENTICATED, "UNAUTHENTICATED"),
    (PermissionDenied, code_pb2.PERMISSION_DENIED, "PERMISSION_DENIED"),
    (UnknownName, code_pb2.INVALID_ARGUMENT, "UNKNOWN_NAME"),
    (InvalidFactValue, code_pb2.INVALID_ARGUMENT, "INVALID_FACT_VALUE"),
    (IdempotencyMismatch, code_pb2.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED"),
    (InvalidRequest, code_pb2.INVALID_ARGUMENT, "INVALID_REQUEST"),
    (DefinitionNotFound, code_pb2.NOT_FOUND, "DEFINITION_NOT_FOUND"),
    (CustomerNotFound, code_pb2.NOT_FOUND, "CUSTOMER_NOT_FOUND"),
    (CustomerExists, code_pb2.ALREADY_EXISTS, "CUSTOMER_EXISTS"),
    (VersionTaken, code_pb2.ALREADY_EXISTS, "DEFINITION_VERSION_EXISTS"),
    (LifecycleRefused, code_pb2.FAILED_PRECONDITION, "DEFINITION_LIFECYCLE"),
    (TransitionNotAllowed, code_pb2.FAILED_PRECONDITION, "TRANSITION_NOT_ALLOWED"),
    (ClaimConflict, code_pb2.FAILED_PRECONDITION, "CUSTOMER_CLAIMED"),
    (FencedOut, code_pb2.FAILED_PRECONDITION, "STALE_FENCE_TOKEN"),
    (ClaimRefused, code_pb2.FAILED_PRECONDITION, "CLAIM_COOLDOWN"),
    (CustomerLocked, code_pb2.FAILED_PRECONDITION, "CUSTOMER_LOCKED"),
    (StaleTimer, code_pb2.FAILED_PRECONDITION, "STALE_TIMER"),
    (InvalidDefinition, code_pb2.FAILED_PRECONDITION, "INVALID_DEFINITION"),
    (Contended, code_pb2.ABORTED, "VERSION_CONFLICT"),  # not pinned: read and decided again, and lost each time
    (VersionConflict, code_pb2.ABORTED, "VERSION_CONFLICT"),
    (AutomationCycle, code_pb2.FAILED_PRECONDITION, "AUTOMATION_CYCLE"),  # the definition loops; nothing stored
    (EventsTrimmed, code_pb2.OUT_OF_RANGE, "EVENTS_TRIMMED"),
    (StoredDataError, code_pb2.DATA_LOSS, "STORED_DATA_MISMATCH"),
    (NotReplicated, code_pb2.UNAVAILABLE, "NOT_REPLICATED"),
    (StoreUnavailable, code_pb2.UNAVAILABLE, "STORE_UNAVAILABLE"),
]


REQUEST_ID = "x-request-id"  # accepted from the caller's metadata, returned in the trailing metadata
_PRINTABLE = re.compile(r"[\x20-\x7e]+")  # what an ASCII metadata value may hold (gRPC refuses other bytes)
REPLAYED = "x-crm-replayed"  # trailing metadata of a response an idempotency key replayed (the message is the first)
_TRAILING: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("trailing", default=())


def trail(key: str, value: str) -> None:
    """Add to the trailing metadata of the unary call being handled."""
    _TRAILING.set((*_TRAILING.get(), (key, value)))


CALLS_LOG = logging.getLogger("crmstatus.calls")
MAX_DIAGNOSTICS = 100  # of one text, in a reply: a file with more shows its first ones (most follow from them)
MAX_MESSAGE = 1000  # UTF-8 bytes of a status message or detail: far below the metadata limit it travels in
MAX_TRAILERS = 7000  # bytes a status may take in the trailers: clients refuse more than 8 KiB of metadata


def code_and_reason(error: Exception) -> tuple[int, str]:
    """The status code and ErrorInfo reason an error is answered with."""
    code, reason = code_pb2.INTERNAL, "INTERNAL"
    for kind, mapped_code, mapped_reason in TABLE:
        if isinstance(error, kind):
            code, reason = mapped_code, mapped_reason
            break
    if isinstance(error, TransitionNotAllowed) and all(r.kind is ReasonKind.ROLE for r in error.reasons):
        code, reason = code_pb2.PERMISSION_DENIED, "ROLE_REQUIRED"
    if isinstance(error, ClaimRefused) and error.reason != "COOLDOWN":
        code, reason = code_pb2.RESOURCE_EXHAUSTED, "CLAIM_CAP_REACHED"
    return code, reason


def to_status(error: Exception) -> status_pb2.Status:
    code, reason = code_and_reason(error)
    if not isinstance(error, CrmStatusError):
        return _status(code, "internal error; it has been logged", reason, {})
    status = _status(code, str(error), reason, _metadata(error))
    detail = _detail(error)
    if detail is not None:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
        # As many of a definition's problems as the trailers hold, the first ones first
        while isinstance(detail, error_details_pb2.PreconditionFailure) and len(detail.violations) > 1 and (
            _trailer_bytes(status) > MAX_TRAILERS
        ):  # fmt: skip
            del detail.violations[len(detail.violations) * 3 // 4 :]
            status.details[-1].Pack(detail)
    return status


def _trailer_bytes(status: status_pb2.Status) -> int:
    """What a status takes in the trailers: its message percent-encoded (three bytes for each byte that is not
    printable ASCII), and the whole status base64-encoded."""
    message = sum(1 if 0x20 <= byte <= 0x7E and byte != 0x25 else 3 for byte in status.message.encode())
    size: int = status.ByteSize()
    return message + (size + 2) // 3 * 4


def _status(code: int, message: str, reason: str, metadata: dict[str, str]) -> status_pb2.Status:
    info = any_pb2.Any()
    short = {key: _cut(value) for key, value in metadata.items()}
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=short))
    return status_pb2.Status(code=code, message=_cut(message), details=[info])


def _cut(text: str) -> str:
    """At most MAX_MESSAGE bytes of UTF-8: the message travels percent-encoded, three characters a byte."""
    encoded = text.encode()
    return text if len(encoded) <= MAX_MESSAGE else encoded[:MAX_MESSAGE].decode(errors="ignore") + "…"


def _metadata(error: CrmStatusError) -> dict[str, str]:
    if isinstance(error, CustomerExists):
        return {"existing_customer_id": error.existing_id, "identity": error.identity}
    if isinstance(error, Contended):
        return {"current_version": str(error.actual), "attempts": str(error.attempts)}
    if isinstance(error, VersionConflict):
        return {"expected_version": str(error.expected), "current_version": str(error.actual)}
    if isinstance(error, CustomerLocked):
        return {"owner": error.owner or "", "dimension": error.dimension, "state": error.state}
    if isinstance(error, TransitionNotAllowed):
        return {"event": error.event}
    if isinstance(error, CustomerNotFound):
        return {"customer_id": error.customer_id}
    if isinstance(error, EventsTrimmed):
        return {"partitions": ",".join(map(str, error.parts))}
    if isinstance(error, ClaimConflict):
        return {"holder": error.holder, "until": error.until.isoformat() if error.until else ""}
    if isinstance(error, ClaimRefused):
        return {"rule": error.reason, "until": error.until.isoformat() if error.until else ""}
    if isinstance(error, FencedOut):
        return {
            "fence_token": str(error.token),
            "current_fence_token": str(error.current),
            "holder": error.holder or "",
        }
    return {}


def _detail(error: CrmStatusError) -> Any:
    if isinstance(error, TransitionNotAllowed):
        return error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=r.kind.value, subject=_cut(r.subject), description=_cut(r.message)
                )
                for r in error.reasons
            ]
        )
    if isinstance(error, CustomerLocked):
        return error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=ReasonKind.LOCKED.value, subject=error.owner or "", description=_cut(str(error))
                )
            ]
        )
    if isinstance(error, UnknownName):
        field = {"event": "event", "fact": "facts", "checklist": "checklist"}.get(error.kind, "item")
        return _bad_request(f"{field}", str(error))
    if isinstance(error, InvalidFactValue):
        return _bad_request(f"facts.{error.fact}", str(error))
    if isinstance(error, InvalidDefinition):
        return error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type="DEFINITION", subject=_cut(f"{d.file}:{d.line}:{d.column}"), description=_cut(str(d))
                )
                for d in error.diagnostics[:MAX_DIAGNOSTICS]
            ]
        )
    return None


def _bad_request(field: str, description: str) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(
        field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=_cut(description))]
    )


async def abort(error: Exception, context: grpc.aio.ServicerContext[Any, Any], request_id: str = "") -> NoReturn:
    status = rpc_status.to_status(to_status(error))
    trailing = (*status.trailing_metadata, (REQUEST_ID, request_id)) if request_id else status.trailing_metadata
    await context.abort(status.code, status.details, trailing)
    raise AssertionError("abort returns only by raising")


Handler = TypeVar("Handler", bound=Callable[..., Any])


def rpc(method: Handler) -> Handler:
    """Turns every exception of a unary handler into its status (unexpected ones are logged as INTERNAL), and
    observes the call: its metrics, its log line, its request id returned in the trailing metadata."""
    call = Observer(method.__name__)

    @functools.wraps(method)
    async def handle(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        started, code, reason = time.perf_counter(), "OK", ""
        request_id = call.request_id(context)
        trailing = _TRAILING.set(())
        try:
            _decoded(request)
            reply = await method(self, request, context)
            context.set_trailing_metadata(((REQUEST_ID, request_id), *_TRAILING.get()))
            return reply
        except Exception as error:
            error = _caller_first(error, context)
            code, reason = call.failed(error)
            await _fail(error, context, method.__name__, request_id)
        except BaseException:
            code = "CANCELLED"
            raise
        finally:
            _TRAILING.reset(trailing)
            call.done(request, context, request_id, code, reason, time.perf_counter() - started)

    return handle  # type: ignore[return-value]


def streaming_rpc(method: Handler) -> Handler:
    """As `rpc`, for server-streaming handlers; open streams are counted."""
    call = Observer(method.__name__)

    @functools.wraps(method)
    async def handle(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started, code, reason = time.perf_counter(), "OK", ""
        request_id = call.request_id(context)
        streams = metrics.OPEN_STREAMS if metrics.ENABLED else None
        if streams:
            streams.inc()
        try:
            _decoded(request)
            async for reply in method(self, request, context):
                yield reply
        except Exception as error:
            error = _caller_first(error, context)
            code, reason = call.failed(error)
            await _fail(error, context, method.__name__, request_id)
        except BaseException:
            code = "CANCELLED"
            raise
        finally:
            if streams:
                streams.dec()
            call.done(request, context, request_id, code, reason, time.perf_counter() - started)

    return handle  # type: ignore[return-value]


class Observer:
    """One method's metrics and log lines: one JSON line per call (request id, tenant, actor, method, code,
    latency, customer id; never facts or tokens), at INFO on the `crmstatus.calls` logger."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.ok = metrics.CALLS.labels(method, "OK")
        self.seconds = metrics.CALL_SECONDS.labels(method)
        self.claims = method == "ClaimCustomer"

    @staticmethod
    def request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
        """The caller's `x-request-id` (first 64 characters) when it is printable ASCII, which is all that
        metadata may carry back in the trailers; else a new one (gRPC would fail the call after its work)."""
        for key, value in context.invocation_metadata() or ():
            if key == REQUEST_ID and isinstance(value, str) and _PRINTABLE.fullmatch(value):
                return value[:64]
        return f"{_RUN}{next(_CALLS):08x}"

    def failed(self, error: Exception) -> tuple[str, str]:
        code, reason = code_and_reason(error)
        if metrics.ENABLED:
            self._count_refusal(error, reason)
        return code_pb2.Code.Name(code), reason

    def _count_refusal(self, error: Exception, reason: str) -> None:
        if isinstance(error, TransitionNotAllowed):
            for kind in {r.kind for r in error.reasons}:
                metrics.BLOCKED.labels(kind.value).inc()
        elif isinstance(error, CustomerLocked):
            metrics.BLOCKED.labels(ReasonKind.LOCKED.value).inc()
        if self.claims:
            metrics.CLAIMS.labels(reason.lower()).inc()

    def done(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any], request_id: str, code: str, reason: str,
        seconds: float,
    ) -> None:  # fmt: skip
        if metrics.ENABLED:
            (self.ok if code == "OK" else metrics.CALLS.labels(self.method, code)).inc()
            self.seconds.observe(seconds)
            if self.claims and code == "OK":
                metrics.CLAIMS.labels("won").inc()
        if CALLS_LOG.isEnabledFor(logging.INFO):
            values = {k: str(v) for k, v in context.invocation_metadata() or ()}
            CALLS_LOG.info("call", extra={
                "request_id": request_id, "tenant": values.get("x-crm-tenant", ""),
                "actor": values.get("x-crm-actor", ""), "method": self.method, "code": code, "reason": reason,
                "latency_ms": round(seconds * 1000, 3), "customer_id": getattr(request, "customer_id", ""),
            })  # fmt: skip


def _caller_first(error: Exception, context: grpc.aio.ServicerContext[Any, Any]) -> Exception:
    """A call that names no caller hears that first, also when its request is refused. Every handler names the
    caller, some after reading the request; with tokens the interceptor has mostly answered already (a JWT
    names the caller itself), so this matters in development mode, or for a token without x-crm-actor."""
    if isinstance(error, InvalidRequest):
        try:
            caller(context)
        except Unauthenticated as unnamed:
            return unnamed
        except CrmStatusError:
            pass
    return error


def _decoded(request: Any) -> None:
    if isinstance(request, Undecodable):
        raise InvalidRequest(f"the request is not the method's message: {quote(str(request.error), 200)}")


async def _fail(
    error: Exception, context: grpc.aio.ServicerContext[Any, Any], method: str, request_id: str
) -> NoReturn:
    if not isinstance(error, CrmStatusError):
        log.exception("internal error in %s", method)
    await abort(error, context, request_id)
