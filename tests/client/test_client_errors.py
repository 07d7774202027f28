"""Every error class: status mapping, envelope fields, request ids, non-JSON bodies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import errors as E
from phantom_cli.client import paths

from .client_helpers import KEY, resolve

STATUS_CASES = [
    (400, "INVALID_REQUEST", E.BadRequestError),
    (401, "UNAUTHORIZED", E.AuthenticationError),
    (402, "PAYMENT_REQUIRED", E.PaymentRequiredError),
    (403, "FORBIDDEN", E.PermissionDeniedError),
    (404, "NOT_FOUND", E.NotFoundError),
    (409, "CONFLICT", E.ConflictError),
    (429, "RATE_LIMITED", E.RateLimitError),
    (503, "SERVICE_UNAVAILABLE", E.ServiceUnavailableError),
    (500, "INTERNAL", E.InternalServerError),
    (502, "BAD_GATEWAY", E.InternalServerError),
    (418, "TEAPOT", E.APIStatusError),
]


@pytest.mark.parametrize(("status", "code", "cls"), STATUS_CASES)
async def test_status_classes(
    anyc: Any, mock: respx.MockRouter, status: int, code: str, cls: type
) -> None:
    details = [{"loc": ["body", "persona", "name"], "msg": "too long"}]
    mock.get("/api/v1/skins/s1").mock(
        return_value=httpx.Response(
            status,
            json={"error": {"code": code, "message": f"{code} happened", "details": details}},
            headers={"x-request-id": "req-42"},
        )
    )
    anyc.max_retries = 0
    with pytest.raises(cls) as info:
        await resolve(anyc.skins.get("s1"))
    err = info.value
    assert type(err) is cls
    assert isinstance(err, E.APIStatusError) and isinstance(err, E.PhantomError)
    assert (err.status, err.code, err.message) == (status, code, f"{code} happened")
    assert err.details == details
    assert err.request_id == "req-42"
    assert str(err) == f"{status} {code}: {code} happened (request id req-42)"


async def test_request_id_from_envelope(anyc: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins/s1").mock(
        return_value=httpx.Response(
            404, json={"error": {"code": "NOT_FOUND", "message": "no", "request_id": "env-1"}}
        )
    )
    with pytest.raises(E.NotFoundError) as info:
        await resolve(anyc.skins.get("s1"))
    assert info.value.request_id == "env-1"


async def test_html_error_body_is_readable(anyc: Any, mock: respx.MockRouter) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
        "<style>body{color:red}</style><script>alert('x')</script></head>"
        "<body><h1>Bad   Gateway</h1>\n<p>nginx &amp; friends \x1b[31m</p>"
        + "<p>filler</p>" * 200
        + "</body></html>"
    )
    mock.get("/api/v1/skins/s1").mock(
        return_value=httpx.Response(502, text=page, headers={"content-type": "text/html"})
    )
    with pytest.raises(E.InternalServerError) as info:
        await resolve(anyc.skins.get("s1"))
    msg = info.value.message
    assert msg.startswith("HTTP 502 Bad Gateway: 502 Bad Gateway Bad Gateway nginx & friends")
    assert "<" not in msg and "alert" not in msg and "color:red" not in msg and "\x1b" not in msg
    assert len(msg) < 260
    assert info.value.code is None


async def test_empty_and_plain_text_bodies(anyc: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins/a").mock(return_value=httpx.Response(403))
    mock.get("/api/v1/skins/b").mock(return_value=httpx.Response(400, text="nope, bad"))
    mock.get("/api/v1/skins/c").mock(return_value=httpx.Response(400, json={"detail": "FastAPI"}))
    with pytest.raises(E.PermissionDeniedError, match=r"HTTP 403 Forbidden \(empty body\)"):
        await resolve(anyc.skins.get("a"))
    with pytest.raises(E.BadRequestError, match="HTTP 400 Bad Request: nope, bad"):
        await resolve(anyc.skins.get("b"))
    with pytest.raises(E.BadRequestError, match="FastAPI"):
        await resolve(anyc.skins.get("c"))


@pytest.mark.parametrize(
    ("path", "call"),
    [
        (paths.LOCAL_INFO, lambda c: c.local.info()),
        ("/api/v1/local/prompts/t1", lambda c: c.local.prompt("t1")),
        (paths.LOCAL_NPCS, lambda c: c.local.npcs()),
        ("/api/v1/generate/jobs/j1", lambda c: c.media.job("j1")),
    ],
)
async def test_local_extension_on_hosted_backend(
    anyc: Any, mock: respx.MockRouter, path: str, call: Any
) -> None:
    mock.get(path).mock(
        return_value=httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "x"}})
    )
    assert anyc.backend == "hosted"  # http://api.test is not loopback
    with pytest.raises(E.NotFoundError, match="not available on this backend"):
        await resolve(call(anyc))


async def test_local_extension_404_on_local_backend_is_plain(mock: respx.MockRouter) -> None:
    from phantom_cli.client import Phantom

    with respx.mock(base_url="http://127.0.0.1:8765") as local:
        local.get("/api/v1/generate/jobs/j1").mock(
            return_value=httpx.Response(
                404, json={"error": {"code": "NOT_FOUND", "message": "no job j1"}}
            )
        )
        with Phantom(base_url="http://127.0.0.1:8765", api_key=KEY) as c:
            assert c.backend == "local"
            with pytest.raises(E.NotFoundError, match="no job j1"):
                c.media.job("j1")


async def test_normal_404_is_not_relabelled(anyc: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/activities/x").mock(
        return_value=httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "gone"}})
    )
    with pytest.raises(E.NotFoundError, match="gone"):
        await resolve(anyc.activities.get("x"))


async def test_connection_error(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    route = mock.get("/api/v1/skins/s1").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(E.APIConnectionError) as info:
        await resolve(anyc.skins.get("s1"))
    assert not isinstance(info.value, E.APITimeoutError)
    assert "could not reach http://api.test" in str(info.value)
    assert route.call_count == 3 and len(sleeps) == 2  # retried twice


async def test_read_timeout_is_not_retried(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    route = mock.post(paths.COMPANION_CHAT).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(E.APITimeoutError, match="timed out waiting for the answer"):
        await resolve(
            anyc.companion.chat(
                chat_id="c", persona={"name": "M"}, messages=[{"role": "user", "content": "x"}]
            )
        )
    assert route.call_count == 1 and sleeps == []


async def test_connect_timeout_is_retried(anyc: Any, mock: respx.MockRouter, sleeps: Any) -> None:
    route = mock.get("/api/v1/skins/s1").mock(
        side_effect=[httpx.ConnectTimeout("t"), httpx.Response(200, json={"id": "s1", "name": "n"})]
    )
    skin = await resolve(anyc.skins.get("s1"))
    assert skin.id == "s1" and route.call_count == 2 and len(sleeps) == 1


async def test_bad_json_response_is_a_clear_error(anyc: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins/s1").mock(return_value=httpx.Response(200, text="<html>oops"))
    with pytest.raises(E.PhantomError, match="not JSON"):
        await resolve(anyc.skins.get("s1"))
    mock.get("/api/v1/skins/s2").mock(return_value=httpx.Response(200, json={"nope": 1}))
    with pytest.raises(E.PhantomError, match=r"unexpected response shape for Skin: id: Field"):
        await resolve(anyc.skins.get("s2"))


def test_hierarchy() -> None:
    assert issubclass(E.APITimeoutError, E.APIConnectionError)
    assert issubclass(E.InvalidInputError, E.PhantomError)
    assert issubclass(E.StreamInterruptedError, E.PhantomError)
    for cls in E.STATUS_CLASSES.values():
        assert issubclass(cls, E.APIStatusError)
    assert E.status_error_class(599) is E.InternalServerError
    assert E.status_error_class(422) is E.APIStatusError
