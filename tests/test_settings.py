"""Settings from the environment: every bad value is refused with one line naming the variable and the form it
accepts, and the command line prints that line instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crmstatus.server.settings import Settings, SettingsError
from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CRMSTATUS_PARTITIONS", "abc", "expected a whole number from 1 to 256, got 'abc'"),
        ("CRMSTATUS_PARTITIONS", "0", "from 1 to 256"),
        ("CRMSTATUS_PARTITIONS", "257", "from 1 to 256"),
        ("CRMSTATUS_REDIS_MODE", "sentinel", "one of auto, single, cluster, got 'sentinel'"),
        ("CRMSTATUS_DURABLE_REPLICAS", "-1", "at least 0"),
        ("CRMSTATUS_PARTITIONS", "1.5", "whole number"),
        ("CRMSTATUS_PARTITIONS", "1_000", "whole number"),
        ("CRMSTATUS_REDIS_CONNECTIONS", "1", "at least 2"),
        ("CRMSTATUS_IDEMPOTENCY_TTL", "1d", "whole number"),
        ("CRMSTATUS_EVENT_STREAM_MAXLEN", "0", "at least 1"),
        ("CRMSTATUS_MAX_CONCURRENT_RPCS", "many", "whole number"),
        ("CRMSTATUS_MAX_MESSAGE_BYTES", "1023", "at least 1024"),
        ("CRMSTATUS_REDIS_RETRIES", "-1", "at least 0"),
        ("CRMSTATUS_REDIS_TIMEOUT", "0", "greater than 0"),
        ("CRMSTATUS_REDIS_TIMEOUT", "2s", "number of seconds"),
        ("CRMSTATUS_REDIS_TIMEOUT", "nan", "number of seconds"),
        ("CRMSTATUS_SHUTDOWN_GRACE", "-1", "at least 0"),
        ("CRMSTATUS_SHUTDOWN_GRACE", "inf", "at least 0"),
        ("CRMSTATUS_TIMER_INTERVAL", "-0.5", "greater than 0"),
        ("CRMSTATUS_DEV_MODE", "maybe", "1/0, true/false, yes/no or on/off, got 'maybe'"),
        ("CRMSTATUS_TIMER_WORKER", "disabled", "1/0, true/false, yes/no or on/off"),
        ("CRMSTATUS_LISTEN", "50051", "HOST:PORT"),
        ("CRMSTATUS_LISTEN", ":50051", "HOST:PORT"),
        ("CRMSTATUS_LISTEN", "0.0.0.0:65536", "port from 0 to 65535"),
        ("CRMSTATUS_LISTEN", "localhost:http", "HOST:PORT"),
        ("REDIS_URL", "http://cache:6379", "redis://, rediss:// or unix://, got one starting with 'http://'"),
        ("REDIS_URL", "localhost:6379", "redis://, rediss:// or unix://"),
        ("CRMSTATUS_TOKENS", "acme", "tenant=token pairs"),
        ("CRMSTATUS_TOKENS", "acme=a,=b", "item 2"),
        ("CRMSTATUS_CLAIM_PROTECTION", "acme=", "tenant=duration pairs"),
        ("CRMSTATUS_CLAIM_PROTECTION", "acme=P3D,globex=3 days", "globex's '3 days' is not a duration"),
    ],
)
def test_a_bad_value_names_its_variable_and_the_accepted_form(variable, value, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert expected in message
    assert "\n" not in message
    assert isinstance(raised.value, ValueError)  # callers that catch ValueError keep working


@pytest.mark.parametrize(
    ("variable", "secret"),
    [
        ("REDIS_URL", "http://:hunter2@cache:6379"),
        ("REDIS_URL", ":hunter2@cache:6379"),
        ("CRMSTATUS_TOKENS", "acme=hunter2,globex"),
    ],
)
def test_a_refused_secret_is_not_repeated(variable, secret):
    with pytest.raises(SettingsError, match=variable) as raised:
        Settings.from_env({variable: secret})
    assert "hunter2" not in str(raised.value)


def test_nothing_set_gives_the_defaults():
    assert Settings.from_env({}) == Settings()


def test_an_empty_value_keeps_the_default():
    names = ["REDIS_URL", "CRMSTATUS_LISTEN", "CRMSTATUS_PARTITIONS", "CRMSTATUS_REDIS_TIMEOUT"]
    names += ["CRMSTATUS_DEV_MODE", "CRMSTATUS_TIMER_WORKER", "CRMSTATUS_TOKENS"]
    assert Settings.from_env(dict.fromkeys(names, " ")) == Settings()


def test_good_values_parse():
    settings = Settings.from_env(
        {
            "REDIS_URL": "rediss://:pw@cache.internal:6380/2",
            "CRMSTATUS_CONFIG_DIR": "/etc/crmstatus",
            "CRMSTATUS_LISTEN": "[::]:0",
            "CRMSTATUS_TOKENS": "acme=token-a, globex = b64+/== ,",
            "CRMSTATUS_DEV_MODE": "Yes",
            "CRMSTATUS_REDIS_MODE": "Cluster",
            "CRMSTATUS_PARTITIONS": " 64 ",
            "CRMSTATUS_DURABLE_REPLICAS": "1",
            "CRMSTATUS_IDEMPOTENCY_TTL": "3600",
            "CRMSTATUS_EVENT_STREAM_MAXLEN": "5000",
            "CRMSTATUS_REDIS_TIMEOUT": "0.25",
            "CRMSTATUS_REDIS_RETRIES": "0",
            "CRMSTATUS_REDIS_CONNECTIONS": "8",
            "CRMSTATUS_MAX_CONCURRENT_RPCS": "1",
            "CRMSTATUS_MAX_MESSAGE_BYTES": "1024",
            "CRMSTATUS_SHUTDOWN_GRACE": "0",
            "CRMSTATUS_CLAIM_PROTECTION": "acme=P3D,globex=PT12H",
            "CRMSTATUS_TIMER_WORKER": "OFF",
            "CRMSTATUS_TIMER_INTERVAL": "2",
            "CRMSTATUS_APPROVAL_OPTIONAL": "acme, globex",
            "CRMSTATUS_HEALTH_INTERVAL": "5",
        }
    )
    assert settings == Settings(
        redis_url="rediss://:pw@cache.internal:6380/2",
        config_dir="/etc/crmstatus",
        listen="[::]:0",
        tokens={"acme": "token-a", "globex": "b64+/=="},
        dev_mode=True,
        redis_mode="cluster",
        partitions=64,
        durable_replicas=1,
        idempotency_ttl_seconds=3600,
        event_stream_maxlen=5000,
        redis_timeout_seconds=0.25,
        redis_retries=0,
        redis_connections=8,
        max_concurrent_rpcs=1,
        max_message_bytes=1024,
        shutdown_grace_seconds=0.0,
        claim_protection={"acme": "P3D", "globex": "PT12H"},
        timer_worker=False,
        timer_interval_seconds=2.0,
        approval_optional=frozenset({"acme", "globex"}),
        health_interval_seconds=5.0,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(v, True) for v in ("1", "true", "YES", "On")] + [(v, False) for v in ("0", "False", "no", "off")],
)
def test_booleans_take_every_accepted_spelling(value, expected):
    settings = Settings.from_env({"CRMSTATUS_DEV_MODE": value, "CRMSTATUS_TIMER_WORKER": value})
    assert (settings.dev_mode, settings.timer_worker) == (expected, expected)


def test_serve_with_a_bad_value_prints_one_line_and_exits_2():
    env = clean_env()
    env.update(CRMSTATUS_PARTITIONS="abc", CRMSTATUS_DEV_MODE="1")
    result = subprocess.run(
        [sys.executable, "-m", "crmstatus.server.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == "crmstatus: CRMSTATUS_PARTITIONS: expected a whole number from 1 to 256, got 'abc'"


def test_config_prints_every_setting_in_effect_with_secrets_masked():
    env = clean_env()
    env.update(CRMSTATUS_TOKENS="acme=hunter2,globex=swordfish", REDIS_URL="redis://app:s3cret@cache:6379/0",
               CRMSTATUS_JWT_SECRETS="acme=jwt-secret", CRMSTATUS_PARTITIONS="32")  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "crmstatus.server.cli", "config"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["CRMSTATUS_TOKENS"] == "acme=***,globex=***" and lines["CRMSTATUS_JWT_SECRETS"] == "acme=***"
    assert lines["REDIS_URL"] == "redis://***@cache:6379/0"
    assert lines["CRMSTATUS_PARTITIONS"] == "32" and lines["CRMSTATUS_REDIS_TIMEOUT"] == "2.0"  # set, and default
    assert not {"hunter2", "swordfish", "s3cret", "jwt-secret"} & set(result.stdout.replace("=", " ").split())
    assert len(lines) == 33  # every variable the server reads
