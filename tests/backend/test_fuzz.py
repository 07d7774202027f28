"""Schemathesis over /openapi.json against a live server: no 500, every error in the envelope,
responses match the schema. Bounded: a few examples per operation."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from phantom_cli.backend.testing import LiveServer  # noqa: E402

MAX_EXAMPLES = 4


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    server = LiveServer(Path(tmp_path_factory.mktemp("fuzz")), engine="scripted").start()
    server.add_activity(id="act-fuzz", title="Fuzz")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    import httpx

    doc = httpx.get(fuzz_server.base_url + "/openapi.json",
                    headers={"Authorization": f"Bearer {fuzz_server.api_key}"}).json()
    return schemathesis.openapi.from_dict(doc)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api(case, fuzz_server) -> None:
    headers = {"Authorization": f"Bearer {fuzz_server.api_key}"}
    response = case.call(base_url=fuzz_server.base_url, headers=headers, timeout=30)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    case.validate_response(response, excluded_checks=_excluded())


def _excluded() -> list:
    from schemathesis import checks

    # the cursor is opaque: a schema-valid string is not necessarily a cursor we issued (400),
    # so "every schema-valid request succeeds" does not hold by design
    return [checks.positive_data_acceptance]
