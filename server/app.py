"""The service: gRPC server, health, reflection, and the resources it owns (Redis, definitions)."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from typing import Any

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

from .auth import AuthInterceptor
from .catalog import Catalog
from .redis_client import RedisConnection
from .services import CustomerStatusService, DefinitionService
from .settings import Settings
from .status import abort
from .store import Store
from .timer_worker import TimerWorker

log = logging.getLogger(__name__)
SERVICES = (
    customer_status_service_pb2.DESCRIPTOR.services_by_name["CustomerStatusService"].full_name,
    definition_service_pb2.DESCRIPTOR.services_by_name["DefinitionService"].full_name,
)


class Server:
    """A running crmstatus server; stopping it lets in-flight calls finish, then releases Redis."""

    def __init__(
        self, grpc_server: grpc.Server, connection: RedisConnection, health: Any, store: Store, settings: Settings
    ) -> None:
        self.grpc_server = grpc_server
        self.connection = connection
        self.health = health
        self.store = store
        self.settings = settings
        self.worker = TimerWorker(store, interval=settings.timer_interval_seconds)

    def start(self) -> None:
        self.grpc_server.start()
        if self.settings.timer_worker:
            self.worker.start()
        for name in ("", *SERVICES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> None:
        self.health.enter_graceful_shutdown()
        self.worker.stop()
        self.grpc_server.stop(grace).wait()
        self.connection.close()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self.grpc_server.wait_for_termination(timeout))


def create_server(settings: Settings, clock: Clock | None = None) -> tuple[Server, int]:
    """Build the server on `settings.listen` (port 0 picks a free port); returns it unstarted, and its port."""
    catalog = Catalog.load(settings.config_dir)
    connection = RedisConnection(settings)
    store = Store(connection.client, catalog, settings, clock or SystemClock())
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="crmstatus"),
        interceptors=[AuthInterceptor(settings, abort)],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ],
    )
    customer_status_service_pb2_grpc.add_CustomerStatusServiceServicer_to_server(
        CustomerStatusService(store), grpc_server
    )
    definition_service_pb2_grpc.add_DefinitionServiceServicer_to_server(DefinitionService(store, settings), grpc_server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server)
    try:
        port = grpc_server.add_insecure_port(settings.listen)
    except RuntimeError as error:
        connection.close()
        raise RuntimeError(f"cannot listen on {settings.listen}: {error}") from None
    return Server(grpc_server, connection, health_servicer, store, settings), port


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    server, port = create_server(settings)
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    server.start()
    host = settings.listen.rsplit(":", 1)[0]
    log.info("crmstatus serving on %s:%d (Redis: %s)", host, port, server.connection.url)
    print(f"crmstatus serving on {host}:{port}; definitions: {', '.join(d.key for d in server.store.catalog)}")
    stopping.wait()
    print("stopping: letting in-flight calls finish")
    server.stop(settings.shutdown_grace_seconds)
