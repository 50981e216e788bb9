"""The local stand-in for the user pool's sign-in pages checks what Cognito checks, so a dashboard that gets
the authorization code flow or PKCE wrong fails here, not only against AWS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from local.auth import LocalUserPool
from local.sign_in import DASHBOARD_CLIENT_ID, LocalSignIn, s256

CALLBACK = "http://127.0.0.1:8080/"
VERIFIER = "a-verifier-of-at-least-forty-three-characters-0123456789"


@pytest.fixture
def pool() -> LocalUserPool:
    return LocalUserPool()


@pytest.fixture
def sign_in(pool: LocalUserPool) -> LocalSignIn:
    return LocalSignIn(pool, [CALLBACK])


def request(**changes: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": DASHBOARD_CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "synchub/read synchub/write",
        "state": "n0nce",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **changes,
    }


def signed_in(sign_in: LocalSignIn, **changes: str) -> dict[str, str]:
    """Submit the sign-in page; the query the browser is sent back with."""
    answer = sign_in.authorize({**request(**changes), "username": "dana@example.com"}, "POST")
    assert answer.status == 302, answer.body
    location = urlparse(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {k: v[-1] for k, v in parse_qs(location.query).items()}


def exchange(sign_in: LocalSignIn, code: str, **changes: str) -> tuple[int, dict]:
    answer = sign_in.exchange(
        {
            "grant_type": "authorization_code",
            "client_id": DASHBOARD_CLIENT_ID,
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
            **changes,
        }
    )
    return answer.status, json.loads(answer.body)


def test_the_code_flow_with_pkce_gives_the_users_access_token(sign_in, pool):
    page = sign_in.authorize(request())
    assert page.status == 200 and b'name="username"' in page.body
    back = signed_in(sign_in)
    assert back["state"] == "n0nce"
    status, tokens = exchange(sign_in, back["code"])
    assert status == 200 and tokens["token_type"] == "Bearer"
    claims = pool.verify(tokens["access_token"])
    assert (claims["username"], claims["client_id"], claims["scope"]) == (
        "dana@example.com",
        DASHBOARD_CLIENT_ID,
        "synchub/read synchub/write",
    )


def test_a_code_works_once_and_only_with_its_verifier_and_redirect(sign_in):
    code = signed_in(sign_in)["code"]
    assert exchange(sign_in, code, code_verifier="another-verifier-of-at-least-forty-three-chars")[1] == {
        "error": "invalid_grant"
    }
    assert exchange(sign_in, code)[1] == {"error": "invalid_grant"}  # spent by the failed attempt
    code = signed_in(sign_in)["code"]
    assert exchange(sign_in, code, redirect_uri="http://127.0.0.1:9999/")[1] == {"error": "invalid_grant"}
    code = signed_in(sign_in)["code"]
    assert exchange(sign_in, code, client_id="someone-else") == (400, {"error": "invalid_client"})
    assert exchange(sign_in, "made-up")[1] == {"error": "invalid_grant"}


def test_requests_cognito_would_refuse_are_refused(sign_in):
    assert sign_in.authorize(request(client_id="someone-else")).status == 400
    assert sign_in.authorize(request(redirect_uri="https://evil.example/")).status == 400  # never redirected there
    no_pkce = request()
    del no_pkce["code_challenge"]
    answer = sign_in.authorize(no_pkce)
    assert answer.status == 302 and "error=invalid_request" in answer.headers["Location"]
    assert "error=invalid_request" in sign_in.authorize(request(code_challenge_method="plain")).headers["Location"]
    assert (
        "error=invalid_scope" in sign_in.authorize(request(scope="aws.cognito.signin.user.admin")).headers["Location"]
    )
    assert "error=unsupported_response_type" in sign_in.authorize(request(response_type="token")).headers["Location"]
