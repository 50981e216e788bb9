"""Access-token checks where API Gateway does not make them: the WebSocket API's ``$connect``.

A user-pool access token (RS256, signed with one of the pool's published keys) is verified as API
Gateway's Cognito authorizer would: signature, issuer, expiry, ``token_use`` access; then the scope.
"""

from __future__ import annotations

import threading
from typing import Any

from synchub.auth.callers import READ_SCOPE, Caller, InsufficientScope, Unauthenticated, principal_of, scopes_of
from synchub.settings import Settings

_jwks_clients: dict[str, Any] = {}
_lock = threading.Lock()


def issuer_of(settings: Settings) -> str:
    region = settings.user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{settings.user_pool_id}"


# Clocks differ: a token is accepted up to this many seconds before its iat/nbf and after its exp.
CLOCK_SKEW_SECONDS = 60


def _jwks_client(url: str) -> Any:
    with _lock:
        found = _jwks_clients.get(url)
        if found is None:
            import jwt  # noqa: PLC0415 - PyJWT and cryptography load only when a token is checked

            # The key set is cached an hour and fetched again for a key id it does not hold; single keys are not
            # cached apart from it, so a key the pool retired is not trusted for the life of a warm container.
            found = jwt.PyJWKClient(url, cache_jwk_set=True, cache_keys=False, lifespan=3600, timeout=5)
            _jwks_clients[url] = found
        return found


def verify_access_token(token: str, settings: Settings, scope: str = READ_SCOPE) -> Caller:
    """The caller of a valid access token that carries ``scope``; raises 401/403 problems otherwise."""
    import jwt  # noqa: PLC0415 - PyJWT and cryptography load only when a token is checked

    issuer = issuer_of(settings)
    url = settings.jwks_url or f"{issuer}/.well-known/jwks.json"
    try:
        key = _jwks_client(url).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iss", "token_use"], "verify_aud": False},
        )
    except jwt.PyJWKClientConnectionError as error:
        raise RuntimeError(f"the user pool's keys are not reachable: {error}") from error
    except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:  # a key id the pool never had is a bad token
        raise Unauthenticated(f"The access token is not valid: {error}.") from error
    principal = principal_of(claims)
    if claims.get("token_use") != "access" or not principal:
        raise Unauthenticated("Send an access token (not an ID token) of the SyncHub user pool.")
    scopes = scopes_of(claims)
    if scope not in scopes:
        raise InsufficientScope(
            f"This needs scope '{scope}'; the token has {sorted(scopes) or 'none'}.", required_scope=scope
        )
    return Caller(principal, expires_at=int(claims["exp"]))


def bearer_token(headers: dict[str, Any] | None, query: dict[str, Any] | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, else of a ``token`` query parameter (browsers
    cannot set headers on a WebSocket)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            kind, _, token = value.strip().partition(" ")
            if kind.lower() == "bearer" and token.strip():
                return token.strip()
    from_query = (query or {}).get("token")
    return from_query if isinstance(from_query, str) and from_query else None
