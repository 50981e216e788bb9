"""Who is calling, and may they: the caller from the authorizer context, and the scope each route needs.

API Gateway authenticates (Cognito user-pool JWT, or IAM SigV4) before a function runs; the functions
then check the route's scope themselves, so a token that API Gateway accepted for *some* SyncHub scope
still gets 403 on a route that needs another. ``AUTH_MODE`` (the template's ``AuthMode``) says which:

- ``cognito``: ``requestContext.authorizer.claims`` must be there; read routes (GET, HEAD) need scope
  ``synchub/read``, every other route ``synchub/write``;
- ``iam``: ``requestContext.identity.userArn`` must be there; IAM policies on ``execute-api:Invoke``
  grant read or write (the template's SyncHubReadAccess / SyncHubWriteAccess managed policies);
- ``none``: an open development stack; the caller is ``anonymous``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synchub.errors import SyncHubError

READ_SCOPE = "synchub/read"
WRITE_SCOPE = "synchub/write"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = "anonymous"


class Unauthenticated(SyncHubError):
    status, code, title = 401, "UNAUTHENTICATED", "Authentication required"


class InsufficientScope(SyncHubError):
    status, code, title = 403, "INSUFFICIENT_SCOPE", "Insufficient scope"


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a request."""

    id: str
    expires_at: int | None = None  # when the caller's token expires (Unix seconds), for long-lived connections


def required_scope(method: str) -> str:
    """The OAuth scope a route needs: read for GET/HEAD, write for everything that changes state."""
    return READ_SCOPE if method.upper() in READ_METHODS else WRITE_SCOPE


def _claims(event: dict[str, Any]) -> dict[str, Any] | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, dict) and claims else None


def scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("scope") or ""
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    return frozenset(str(raw).split())


def principal_of(claims: dict[str, Any]) -> str | None:
    for name in ("username", "cognito:username", "client_id", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value[:256]
    return None


def caller_from_event(event: dict[str, Any], auth_mode: str) -> Caller:
    """The caller of ``event`` under ``auth_mode``; raises 401/403 problems when it may not call this route."""
    method = str(event.get("httpMethod") or "GET")
    needed = required_scope(method)
    if auth_mode == "cognito":
        claims = _claims(event)
        principal = principal_of(claims) if claims else None
        if not claims or not principal:
            raise Unauthenticated(
                "Send an access token from the SyncHub user pool: 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="synchub"'},
            )
        scopes = scopes_of(claims)
        if needed not in scopes:
            raise InsufficientScope(
                f"This route needs scope '{needed}'; the token has {sorted(scopes) or 'none'}.",
                required_scope=needed,
                headers={"WWW-Authenticate": f'Bearer realm="synchub", error="insufficient_scope", scope="{needed}"'},
            )
        return Caller(principal)
    if auth_mode == "iam":
        # IAM policies decided read or write before the request got here.
        return iam_caller(event)
    return Caller(ANONYMOUS)


def iam_caller(event: dict[str, Any]) -> Caller:
    """The IAM principal API Gateway verified (AuthMode iam); raises 401 when the request was not signed."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    arn = identity.get("userArn") or identity.get("caller")
    if not isinstance(arn, str) or not arn:
        raise Unauthenticated("Sign the request with AWS Signature Version 4 (IAM credentials).")
    return Caller(arn[:256])
