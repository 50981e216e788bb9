"""The user pool's sign-in pages, locally: the OAuth 2.0 authorization code flow with PKCE that the deployed
dashboard runs against Cognito's ``/oauth2/authorize`` and ``/oauth2/token`` (public client, no secret).

The page asks only for a user name (the local pool has no passwords); everything a client can get wrong is
checked as Cognito checks it: the client id, the registered redirect URI, the S256 code challenge, a code
used once, within five minutes, by the client and redirect URI it was issued for.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from local.auth import ALL_SCOPES, LocalUserPool

DASHBOARD_CLIENT_ID = "synchub-local-dashboard"
CODE_TTL_SECONDS = 300
TOKEN_TTL_SECONDS = 3600


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    user: str
    scopes: tuple[str, ...]
    expires: float


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def s256(verifier: str) -> str:
    """The PKCE code challenge of ``verifier``."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class LocalSignIn:
    """Sign-in pages and token endpoint for the dashboard's client, issuing the local pool's access tokens."""

    def __init__(self, pool: LocalUserPool, redirect_uris: list[str], client_id: str = DASHBOARD_CLIENT_ID) -> None:
        self.pool = pool
        self.redirect_uris = redirect_uris
        self.client_id = client_id
        self._grants: dict[str, Grant] = {}

    def authorize(self, params: dict[str, str], method: str = "GET") -> Answer:
        """GET shows the sign-in page for a valid request; POST (the page's form) signs in and redirects back."""
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id:
            return self._page(400, "Unknown client_id.")
        if redirect_uri not in self.redirect_uris:
            return self._page(400, "redirect_uri is not one of the client's callback URLs.")
        if params.get("response_type") != "code":
            return self._back(redirect_uri, params, error="unsupported_response_type")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return self._back(
                redirect_uri,
                params,
                error="invalid_request",
                description="PKCE is required: code_challenge with code_challenge_method S256",
            )
        scopes = tuple(params.get("scope", " ".join(ALL_SCOPES)).split())
        if not set(scopes) <= {*ALL_SCOPES, "openid", "email", "profile"}:
            return self._back(redirect_uri, params, error="invalid_scope")
        if method == "GET":
            return self._page(200, "", params)
        user = params.get("username", "").strip()
        if not user or len(user) > 128:
            return self._page(400, "Enter a user name.", params)
        code = secrets.token_urlsafe(24)
        self._grants[code] = Grant(
            self.client_id,
            redirect_uri,
            params["code_challenge"],
            user,
            tuple(s for s in scopes if s in ALL_SCOPES),
            time.monotonic() + CODE_TTL_SECONDS,
        )
        return self._back(redirect_uri, params, code=code)

    def exchange(self, form: dict[str, str]) -> Answer:
        """The token endpoint's ``authorization_code`` grant."""
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good for one attempt
        if form.get("client_id") != self.client_id:
            return self._error("invalid_client")
        if grant is None or grant.expires < time.monotonic():
            return self._error("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri or s256(form.get("code_verifier", "")) != grant.challenge:
            return self._error("invalid_grant")
        token = self.pool.issue(grant.user, grant.scopes, ttl_seconds=TOKEN_TTL_SECONDS, client_id=self.client_id)
        return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS})

    def _back(self, redirect_uri: str, params: dict[str, str], **answer: str) -> Answer:
        query = {**({"state": params["state"]} if params.get("state") else {}), **answer}
        if "description" in query:
            query["error_description"] = query.pop("description")
        return Answer(302, {"Location": f"{redirect_uri}?{urlencode(query)}", "Content-Length": "0"}, b"")

    def _page(self, status: int, message: str, params: dict[str, str] | None = None) -> Answer:
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in (params or {}).items()
            if k != "username"
        )
        form = (
            ""
            if params is None
            else f'<form method="post">{fields}<label>User name <input name="username" value="demo@example.com" '
            f'autofocus></label> <button type="submit">Sign in</button></form>'
        )
        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in - SyncHub (local)</title>"
            f"</head><body><h1>Sign in to SyncHub</h1><p>The local stand-in for the user pool's sign-in page."
            f"</p><p role=alert>{html.escape(message)}</p>{form}</body></html>"
        )
        return Answer(status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}, body.encode())

    def _error(self, error: str) -> Answer:
        return self._json(400, {"error": error})

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> Answer:
        import json

        return Answer(
            status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(payload).encode()
        )
