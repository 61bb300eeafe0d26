"""The service: the grpc.aio server, health, reflection, and the resources it owns (Redis, definitions).

The composition root: it builds store → application → wire and nothing else imports it.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crmstatus.engine.clock import Clock, SystemClock
from crmstatus.v1 import (
    customer_status_service_pb2,
    customer_status_service_pb2_grpc,
    definition_service_pb2,
    definition_service_pb2_grpc,
)

from .application import Application, claim_protection
from .application.catalog import Catalog
from .settings import Settings
from .store import Store
from .store.connection import RedisConnection
from .wire.auth import CallGuard
from .wire.customers import CustomerStatusService
from .wire.definitions import DefinitionService
from .wire.status import abort

log = logging.getLogger(__name__)
SERVICES = (
    customer_status_service_pb2.DESCRIPTOR.services_by_name["CustomerStatusService"].full_name,
    definition_service_pb2.DESCRIPTOR.services_by_name["DefinitionService"].full_name,
)


class ListenError(RuntimeError):
    """The listen address cannot be bound (taken by another process, or not an address of this host)."""


class Server:
    """A running crmstatus server; stopping it lets in-flight calls finish, then releases Redis."""

    def __init__(
        self, grpc_server: grpc.aio.Server, connection: RedisConnection, health: health.aio.HealthServicer,
        app: Application, settings: Settings,
    ) -> None:  # fmt: skip
        self.grpc_server = grpc_server
        self.connection = connection
        self.health = health
        self.app = app
        self.settings = settings
        self._timers: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.grpc_server.start()
        if self.settings.timer_worker:
            self._timers = asyncio.create_task(self.app.timers.run(), name="crmstatus-timers")
        for name in ("", *SERVICES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float | None = None) -> None:
        await self.health.enter_graceful_shutdown()
        self.app.timers.stop()
        if self._timers is not None:
            await self._timers
        await self.grpc_server.stop(grace)
        await self.app.watch.close()
        await self.connection.close()


async def create_server(settings: Settings, clock: Clock | None = None) -> tuple[Server, int]:
    """Build the server on `settings.listen` (port 0 picks a free port); returns it unstarted, and its port."""
    catalog = Catalog.load(settings.config_dir, claim_protection(settings))
    connection = RedisConnection(settings)
    app = Application(Store(connection.client, settings), catalog, settings, clock or SystemClock())
    grpc_server = grpc.aio.server(
        interceptors=[CallGuard(settings, abort)],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),  # a second server on a taken port fails instead of sharing it
        ],
    )
    customer_status_service_pb2_grpc.add_CustomerStatusServiceServicer_to_server(
        CustomerStatusService(app), grpc_server
    )
    definition_service_pb2_grpc.add_DefinitionServiceServicer_to_server(DefinitionService(app), grpc_server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server)
    try:
        port = grpc_server.add_insecure_port(settings.listen)
    except RuntimeError:
        await connection.close()
        raise ListenError(f"cannot listen on {settings.listen}: the address is taken or not this host's") from None
    return Server(grpc_server, connection, health_servicer, app, settings), port


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    server, port = await create_server(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    await server.start()
    host = settings.listen.rsplit(":", 1)[0]
    log.info("crmstatus serving on %s:%d (Redis: %s)", host, port, server.connection.url)
    print(f"crmstatus serving on {host}:{port}; definitions: {', '.join(d.key for d in server.app.catalog)}",
          flush=True)  # fmt: skip
    await stopping.wait()
    print("stopping: letting in-flight calls finish", flush=True)
    await server.stop(settings.shutdown_grace_seconds)
