"""The template's API authorizer, locally: a stand-in for the stack's Cognito user pool that signs access
tokens with a key made at start-up, and the check API Gateway's user-pool authorizer makes before any
function runs (token present, signed, unexpired, an access token carrying one of the authorizer's scopes).

What passes reaches the function as API Gateway passes it: the token's claims, as strings, under
``requestContext.authorizer.claims``. The functions then require their route's own scope.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local.resources import LOCAL_USER_POOL_ID
from local.template import ApiAuth

ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{LOCAL_USER_POOL_ID}"
LOCAL_CLIENT_ID = "synchub-local-client"
ALL_SCOPES = ("synchub/read", "synchub/write")


@dataclass
class Denied:
    """API Gateway's gateway response for a request the authorizer refused."""

    status: int
    code: str
    title: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    def problem_body(self) -> str:
        """The problem-details body of this answer."""
        from synchub.api.resolver import problem_response

        return problem_response(self.status, self.code, self.title, self.detail).body


class LocalUserPool:
    """Issues and verifies RS256 access tokens shaped like Cognito's (``token_use`` access, ``scope``, ``client_id``)."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.key_id = uuid.uuid4().hex[:16]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()

    def issue(
        self,
        subject: str | None = "demo",
        scopes: tuple[str, ...] | list[str] = ALL_SCOPES,
        *,
        ttl_seconds: int = 12 * 3600,
        token_use: str = "access",
        client_id: str = LOCAL_CLIENT_ID,
        issued_at: float | None = None,
    ) -> str:
        """A token of user ``subject``, or (``subject`` None) a client-credentials token of app client ``client_id``."""
        now = int(issued_at if issued_at is not None else time.time())
        user = {"sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"synchub-local:{subject}")), "username": subject}
        claims = {
            **(user if subject is not None else {"sub": client_id}),
            "client_id": client_id,
            "token_use": token_use,
            "scope": " ".join(scopes),
            "iss": self.issuer,
            "iat": now,
            "auth_time": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises ``jwt.InvalidTokenError`` when it is not one of this pool's live tokens."""
        return jwt.decode(
            token,
            self._public,
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"require": ["exp", "iss", "token_use"], "verify_aud": False},
        )

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._public, as_dict=True)
        return {"keys": [{**public, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}


def authorized(user: str = "demo", scopes: tuple[str, ...] | list[str] = ALL_SCOPES) -> dict[str, Any]:
    """What the user-pool authorizer passes on for a valid token of ``user`` (for callers that skip the JWT)."""
    return {
        "claims": {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"synchub-local:{user}")),
            "username": user,
            "client_id": LOCAL_CLIENT_ID,
            "token_use": "access",
            "scope": " ".join(scopes),
            "iss": ISSUER,
        }
    }


def _header(headers: list[tuple[str, str]] | dict[str, str], name: str) -> str | None:
    items = headers.items() if isinstance(headers, dict) else headers
    return next((v for k, v in items if k.lower() == name.lower()), None)


def authorize(
    auth: ApiAuth, pool: LocalUserPool, method: str, resource: str, headers: list[tuple[str, str]] | dict[str, str]
) -> dict[str, Any] | Denied:
    """The authorizer's decision for one request: the ``requestContext.authorizer`` part of the proxy event
    (empty for an open route), or the gateway response that refuses it."""
    if auth.mode == "none" or (method.upper(), resource) in auth.public:
        return {}
    if auth.mode == "iam":
        # Locally there is no SigV4 verification; a request is let through as the local admin role.
        return {"identity": {"userArn": "arn:aws:iam::123456789012:role/synchub-local", "caller": "synchub-local"}}
    unauthenticated = Denied(
        401,
        "UNAUTHENTICATED",
        "Authentication required",
        "Send an access token of the SyncHub user pool with the scope the route needs (Authorization: Bearer <token>).",
        {"WWW-Authenticate": 'Bearer realm="synchub"'},
    )
    value = (_header(headers, "Authorization") or "").strip()
    token = value[7:].strip() if value[:7].lower() == "bearer " else value
    if not token:
        return unauthenticated
    try:
        claims = pool.verify(token)
    except jwt.ExpiredSignatureError:
        return Denied(
            401, "UNAUTHENTICATED", "Authentication required", "The token has expired.", unauthenticated.headers
        )
    except jwt.InvalidTokenError:
        return unauthenticated
    scopes = set(str(claims.get("scope") or "").split())
    if claims.get("token_use") != "access" or not scopes & auth.scopes:
        return unauthenticated
    return {"claims": {name: value if isinstance(value, str) else str(value) for name, value in claims.items()}}
