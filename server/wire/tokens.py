"""Verified identity: signed tokens (JWT, with PyJWT) whose claims carry the caller's tenant, actor and roles.

Per tenant, a shared secret (HS256, CRMSTATUS_JWT_SECRETS) or the public keys of a JWKS file (RS256, ES256,
EdDSA; CRMSTATUS_JWT_JWKS), re-read when the file changes, so keys rotate without a restart. A token must
carry `sub` (the actor), `tenant`, `roles` (a list: what this caller, or integration service, may act as),
`exp`, and the configured audience; expiry and not-before are checked with a small clock skew. When tokens
are configured so, the actor and roles in plain metadata are ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import jwt

from crmstatus.engine.errors import PermissionDenied, quote
from crmstatus.engine.ids import check_tenant
from crmstatus.engine.snapshot import Actor
from crmstatus.server.application.errors import Unauthenticated
from crmstatus.server.application.model import Caller
from crmstatus.server.settings import Settings

LEEWAY_SECONDS = 30
ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class Verifier:
    def __init__(self, settings: Settings) -> None:
        self.secrets = dict(settings.jwt_secrets)
        self.jwks = {tenant: _KeyFile(path) for tenant, path in settings.jwt_jwks.items()}
        self.audience = settings.jwt_audience

    @property
    def configured(self) -> bool:
        return bool(self.secrets or self.jwks)

    def caller(self, tenant: str, token: str) -> Caller:
        """The caller a token names, once its signature, audience, expiry and tenant are checked."""
        tenant = check_tenant(tenant)
        try:
            header = jwt.get_unverified_header(token)
            key, algorithms = self._key(tenant, header)
            claims = jwt.decode(
                token, key, algorithms=algorithms, audience=self.audience, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "tenant"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not meant for this service (audience {self.audience!r})") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(f"the token's signature does not verify with {quote(tenant)}'s keys") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not valid: {quote(str(error), 200)}") from None
        if claims["tenant"] != tenant:
            raise PermissionDenied(f"this token belongs to another tenant than {quote(tenant)}")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles) or len(roles) > 32:
            raise Unauthenticated("the token's roles claim must be a list of at most 32 role names")
        actor = str(claims["sub"])
        if actor == "system" or "system" in roles:
            raise PermissionDenied("the system actor and role belong to the engine's own timers and rules")
        return Caller(tenant, Actor(actor[:128], frozenset(roles)))

    def _key(self, tenant: str, header: Mapping[str, Any]) -> tuple[Any, list[str]]:
        if tenant in self.secrets:
            return self.secrets[tenant], ["HS256"]
        keys = self.jwks.get(tenant)
        if keys is None:
            raise Unauthenticated(f"tenant {quote(tenant)} has no token keys configured")
        return keys.key(str(header.get("kid", ""))), ASYMMETRIC


class _KeyFile:
    """A JWKS file, read again whenever it changes on disk."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._keys: dict[str, Any] = {}

    def key(self, kid: str) -> Any:
        stat = os.stat(self.path)
        if (stat.st_mtime, stat.st_size) != self._stamp:
            with open(self.path, encoding="utf-8") as file:
                found = jwt.PyJWKSet.from_dict(json.load(file))
            self._keys = {key.key_id or "": key.key for key in found.keys}
            self._stamp = (stat.st_mtime, stat.st_size)
        if kid in self._keys:
            return self._keys[kid]
        if not kid and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise Unauthenticated(f"no key {quote(kid)} in the tenant's key file")
