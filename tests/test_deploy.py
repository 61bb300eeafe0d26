"""The deployment files hold together outside a container (no container runtime on these machines): their
settings parse, the commands they run exist, and every metric the dashboard and alerts read is one we export."""

from __future__ import annotations

import json
import re
import shlex

import yaml

from crmstatus.server import metrics
from crmstatus.server.cli import main
from crmstatus.server.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            found.update(item.split("=", 1) for item in shlex.split(line[4:]))
    return found


def test_the_image_and_compose_settings_are_valid_settings(tmp_path):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    for name in ("crmstatus-a", "crmstatus-b"):
        env = {**_dockerfile_env(), **compose["services"][name]["environment"]}
        settings = Settings.from_env(env)
        assert settings.redis_url and settings.tokens and settings.behind_tls_proxy and settings.metrics_listen


def test_the_commands_the_image_runs_exist(capsys):
    text = (ROOT / "Dockerfile").read_text("utf-8")
    commands = [json.loads(m) for m in re.findall(r"(?:CMD|HEALTHCHECK .*CMD) (\[.*\])", text)]
    assert ["crmstatus", "serve"] in commands and ["crmstatus", "health", "127.0.0.1:50051"] in commands
    for command in commands:
        try:
            main([*command[1:2], "--help"])
        except SystemExit as done:
            assert done.code == 0
    assert "usage: crmstatus health" in capsys.readouterr().out


def test_every_metric_the_dashboard_and_alerts_read_is_exported():
    exported = {collector._name for collector in vars(metrics).values() if hasattr(collector, "_name")}
    texts = [
        (DEPLOY / "prometheus" / "alerts.yml").read_text("utf-8"),
        (DEPLOY / "grafana" / "crmstatus.json").read_text("utf-8"),
    ]
    read = {re.sub(r"_(total|bucket|count|sum)$", "", name) for t in texts for name in re.findall(r"crmstatus_\w+", t)}
    assert read and read <= exported, read - exported
    json.loads(texts[1])
    yaml.safe_load(texts[0])
