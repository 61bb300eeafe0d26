"""Who is calling: tenant and actor from a verified token's claims (JWT, tokens.py), or from metadata checked
against the tenant's bearer token."""

from __future__ import annotations

import contextvars
import functools
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc

from crmstatus.engine.errors import CrmStatusError, InvalidRequest, PermissionDenied, quote
from crmstatus.engine.ids import check_tenant
from crmstatus.engine.snapshot import Actor
from crmstatus.server.application.errors import Unauthenticated
from crmstatus.server.application.model import Caller
from crmstatus.server.settings import Settings

from .tokens import Verifier

TENANT, ACTOR, ROLES, AUTHORIZATION = "x-crm-tenant", "x-crm-actor", "x-crm-roles", "authorization"
OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")  # infrastructure: no tenant, no token


VERIFIED: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("crmstatus_caller", default=None)


def caller(context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
    """The tenant and actor of a call: from its verified token when tokens are JWTs, else from metadata (the
    interceptor has already checked the call's token)."""
    return VERIFIED.get() or caller_of(context.invocation_metadata() or ())


def caller_of(metadata: Iterable[tuple[str, Any]]) -> Caller:
    values = _once(metadata)
    return _caller(str(values.get(TENANT, "")), str(values.get(ACTOR, "")), str(values.get(ROLES, "")))


def _once(metadata: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The call's metadata by key. A header that names the caller may come once: given twice (a gateway's and
    the caller's own, say), which one counts would be left to their order."""
    pairs = tuple(metadata)  # as it is (a tuple) from grpc.aio's context, where its type says Metadata
    values = dict(pairs)
    if len(values) < len(pairs):
        keys = [key for key, _ in pairs]
        for key in (TENANT, ACTOR, ROLES, AUTHORIZATION):
            if keys.count(key) > 1:
                raise InvalidRequest(f"metadata {key} is given {keys.count(key)} times: a call names its caller once")
    return values


@functools.lru_cache(maxsize=4096)  # a tenant's reps call again and again: each (tenant, actor, roles) checked once
def _caller(tenant_name: str, actor: str, role_list: str) -> Caller:
    if not tenant_name:
        raise Unauthenticated(f"metadata {TENANT} names no tenant")
    tenant = check_tenant(tenant_name)
    actor_id = actor.strip()
    if not actor_id:
        raise Unauthenticated(f"metadata {ACTOR} names no actor")
    if len(actor_id) > 128:
        raise InvalidRequest(f"metadata {ACTOR} is at most 128 characters")
    roles = frozenset(role.strip() for role in role_list.split(",") if role.strip())
    if len(roles) > 32 or any(len(role) > 64 for role in roles):
        raise InvalidRequest(f"metadata {ROLES} names at most 32 roles of at most 64 characters")
    if "system" in roles or actor_id == "system":
        raise PermissionDenied("the system actor and role belong to the engine's own timers and rules")
    return Caller(tenant, Actor(actor_id, roles))


def authenticate(metadata: Mapping[str, str], settings: Settings) -> None:
    tenant = metadata.get(TENANT, "")
    token = _bearer(metadata)
    expected = settings.tokens.get(tenant)
    if expected is not None and hmac.compare_digest(token, expected):
        return
    if any(hmac.compare_digest(token, other) for other in settings.tokens.values()):
        raise PermissionDenied(f"this token belongs to another tenant than {quote(tenant)}")
    raise Unauthenticated("the token is not valid")


Refuse = Callable[[CrmStatusError, Any], Awaitable[None]]


class CallGuard(grpc.aio.ServerInterceptor):
    """Before any handler of ours runs: calls without a valid token for their tenant are refused (not installed
    in development mode, where no token is needed)."""

    def __init__(self, settings: Settings, refuse: Refuse) -> None:
        self.settings = settings
        self.refuse = refuse
        self.verifier = Verifier(settings)

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_METHODS):
            return handler
        try:
            metadata = {k: str(v) for k, v in _once(details.invocation_metadata or ()).items()}
            if self.verifier.configured:
                return _as(handler, self.verifier.caller(metadata.get(TENANT, ""), _bearer(metadata)))
            authenticate(metadata, self.settings)
        except CrmStatusError as error:
            return _refusing(handler, error, self.refuse)
        return handler


def _bearer(metadata: Mapping[str, str]) -> str:
    header = metadata.get(AUTHORIZATION, "")
    if not header.startswith("Bearer "):
        raise Unauthenticated("missing authorization: Bearer <token>")
    return header.removeprefix("Bearer ").strip()


def _as(handler: Any, who: Caller) -> Any:
    """The handler, run as the verified caller (`caller()` reads it)."""

    async def unary(request: Any, context: Any) -> Any:
        VERIFIED.set(who)  # the handler's own task: nothing else sees it
        return await handler.unary_unary(request, context)

    async def stream(request: Any, context: Any) -> Any:
        VERIFIED.set(who)
        async for reply in handler.unary_stream(request, context):
            yield reply

    if handler.unary_stream:
        return handler._replace(unary_stream=stream)
    return handler._replace(unary_unary=unary)


def _refusing(handler: Any, error: CrmStatusError, refuse: Refuse) -> Any:
    async def deny(request: Any, context: Any) -> Any:
        await refuse(error, context)

    async def deny_stream(request: Any, context: Any) -> Any:
        await refuse(error, context)
        yield  # an async generator, as streaming handlers are

    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream, handler.request_deserializer,
                                                    handler.response_serializer)  # fmt: skip
    return grpc.unary_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
