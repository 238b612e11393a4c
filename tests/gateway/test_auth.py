"""Unit tests of token issue/verify, including the verified-token cache."""

import time

import jwt
import pytest

from gateway.auth import TENANT_AUDIENCE, Principal, Tokens, check_role
from vigil.runtime.errors import Forbidden, Unauthenticated

SECRET = "s" * 40


def test_issue_verify_and_cache_honours_expiry():
    tokens = Tokens(SECRET, "vigil", ttl_seconds=1, leeway_seconds=0)
    who = Principal(actor="a@x", role="responder", tenant_id="acme")
    token = tokens.issue(who, TENANT_AUDIENCE)
    assert tokens.verify(token, TENANT_AUDIENCE) == who
    assert tokens.verify(token, TENANT_AUDIENCE) == who  # from the cache
    with pytest.raises(Unauthenticated):
        tokens.verify(token, "vigil-control")  # the cache is per audience
    time.sleep(2.1)
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(token, TENANT_AUDIENCE)


def test_tampered_and_foreign_tokens_refused():
    tokens = Tokens(SECRET, "vigil", ttl_seconds=60)
    token = tokens.issue(Principal("a@x", "viewer", "acme"), TENANT_AUDIENCE)
    claims = jwt.decode(token, options={"verify_signature": False})
    for bad in (
        jwt.encode({**claims, "role": "admin"}, "x" * 40, "HS256"),
        jwt.encode({**claims, "iss": "someone"}, SECRET, "HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "tid"}, SECRET, "HS256"),
        jwt.encode({**claims, "role": "root"}, SECRET, "HS256"),
        jwt.encode({**claims, "role": ["admin"]}, SECRET, "HS256"),  # was a TypeError (a 500)
        jwt.encode({**claims, "tid": ["acme"]}, SECRET, "HS256"),
        token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        "not.a.jwt",
    ):
        with pytest.raises(Unauthenticated):
            tokens.verify(bad, TENANT_AUDIENCE)


def test_roles():
    viewer, responder = Principal("v@x", "viewer", "t"), Principal("r@x", "responder", "t")
    check_role(viewer, True, "viewer")
    with pytest.raises(Forbidden):
        check_role(viewer, False, "viewer")  # a viewer never mutates, whatever a route declares
    check_role(responder, False, "responder")
    with pytest.raises(Forbidden):
        check_role(responder, False, "admin")
