"""How services join the grpc.aio server: as generic handlers only, our own decoding requests leniently.

grpc.aio's serving loop keeps one pending request per *registered* method and, before every call it accepts,
waits on all of them at once (`asyncio.wait` over each method's future, then the callbacks taken off each
again). A generated `add_*_to_server` registers every method, so the cost of each call grew with the number
of methods the server has: 38 here (two services, health, reflection). Generic handlers share one pending
request, and a method is then found by a dictionary lookup per service. Measured in one run (bench/README.md): the
server CPU per FireEvent fell from 951 to 791 µs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class Undecodable:
    """A request whose bytes are not the method's message: handlers refuse it as INVALID_ARGUMENT (status.rpc),
    where gRPC itself would answer INTERNAL."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _lenient(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as error:  # protobuf raises DecodeError, and others for bad UTF-8 or nesting
            return Undecodable(error)

    return decode


class _Methods:
    """Stands in for the server in a generated `add_*_to_server`: keeps the method handlers it registers."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass  # the same methods, also passed to add_registered_method_handlers by name

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.services[service] = handlers


def _passing_bytes(serialize: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    def encode(message: Any) -> bytes:
        return message if message.__class__ is bytes else serialize(message)

    return encode


def add(server: grpc.aio.Server, add_to_server: Callable[[Any, Any], None], servicer: Any, lenient: bool) -> None:
    """`add_to_server(servicer, server)`, with the methods as generic handlers; `lenient` (our own services): a
    request whose bytes do not decode reaches the handler as Undecodable, and a handler may answer with its
    response already serialized (a command's result is built as bytes: convert.result_field)."""
    methods = _Methods()
    add_to_server(servicer, methods)
    if not methods.services:
        raise TypeError(f"{add_to_server.__name__} registered no method by name")
    for service, handlers in methods.services.items():
        if lenient:
            # grpc's method handlers are named tuples: the same handler with a lenient request decoder
            handlers = {name: h._replace(request_deserializer=_lenient(h.request_deserializer),
                                         response_serializer=_passing_bytes(h.response_serializer))
                        for name, h in handlers.items()}  # fmt: skip
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
