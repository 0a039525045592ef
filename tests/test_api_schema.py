"""The JSON API against its own OpenAPI schema: generated requests as a signed-in parent and anonymously.

Any server error fails the test; so does a response that does not match the schema it declares.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from cradle.wsgi import application
from tests.conftest import sign_in

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
CASES = {"count": 0}


@pytest.fixture
def parent_cookie(world) -> dict:
    client = Client()
    sign_in(client, world.users["parent_a"])
    return {"cradle_session": client.cookies["cradle_session"].value}


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    print(f"\nschemathesis: {CASES['count']} generated API requests")


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_signed_in(case, parent_cookie):
    CASES["count"] += 1
    # Safe methods only need the cookie; unsafe ones are refused without a CSRF token, which is also checked.
    response = case.call(cookies=parent_cookie)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
    if response.status_code in (200, 204):
        case.validate_response(response, checks=[response_schema_conformance])


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_anonymous(case, world):
    CASES["count"] += 1
    response = case.call()
    assert response.status_code < 500
    if case.path != "/api/v1/openapi.json":
        # Nothing but "sign in first", "no such method" for a method the path lacks, or a refused CSRF check.
        allowed = (401, 405, 403) if case.method.upper() not in ("GET", "HEAD", "OPTIONS") else (401, 405)
        assert response.status_code in allowed, f"{case.method} {case.formatted_path}: {response.status_code}"
