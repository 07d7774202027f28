"""The transport's raw pages (``list_json`` / ``iter_json``): the server's JSON as sent, no
models; and the transport imports no pydantic (start-up of ``phantom … list --json``)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

import phantom_cli.client as client_pkg
from phantom_cli.client import PhantomError
from phantom_cli.client._core_async import AsyncAPIClient
from phantom_cli.client._core_sync import APIClient

from .client_helpers import BASE, KEY, collect, resolve
from .test_client_pagination import pager

ODD = {"id": "x1", "status": "weird", "extra": {"nested": [1, 2]}}  # no model would accept it


@pytest.fixture(params=["sync", "async"])
async def transport(request: pytest.FixtureRequest, sleeps: Any) -> Any:
    if request.param == "sync":
        c: Any = APIClient(base_url=BASE, api_key=KEY, sleep=sleeps)
        yield c
        c.close()
    else:
        c = AsyncAPIClient(base_url=BASE, api_key=KEY, sleep=sleeps)
        yield c
        await c.aclose()


async def test_list_json_is_the_page_as_sent(transport: Any, mock: respx.MockRouter) -> None:
    page = {"data": [ODD], "next_cursor": "c2", "has_more": True, "total": 9}
    route = mock.get("/api/v1/activities").respond(200, json=page)
    got = await resolve(
        transport.list_json("/api/v1/activities", {"limit": 5, "featured": True, "cursor": None})
    )
    assert got == page
    sent = route.calls.last.request
    assert dict(sent.url.params) == {"limit": "5", "featured": "true"}
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_a_bare_list_is_one_complete_page(transport: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins").respond(200, json=[ODD])
    got = await resolve(transport.list_json("/api/v1/skins"))
    assert got == {"data": [ODD], "next_cursor": None, "has_more": False}


@pytest.mark.parametrize("body", [{"items": []}, {"data": "nope"}, {"data": [1, "x"]}, "text", 3])
async def test_a_page_without_a_data_list_is_refused(
    transport: Any, mock: respx.MockRouter, body: Any
) -> None:
    mock.get("/api/v1/skins").respond(200, json=body)
    with pytest.raises(PhantomError, match="GET /api/v1/skins: unexpected response shape"):
        await resolve(transport.list_json("/api/v1/skins"))


async def test_iter_json_walks_every_page_lazily(transport: Any, mock: respx.MockRouter) -> None:
    pages = [[{"id": "a", "n": 1}], [{"id": "b"}, {"id": "c"}], [{"id": "d"}]]
    route = pager(mock, "/api/v1/activity-instances", pages)
    stream = transport.iter_json("/api/v1/activity-instances", {"status": "active"})
    assert route.call_count == 0  # nothing sent before the iteration starts
    items = await collect(stream)
    assert [i["id"] for i in items] == ["a", "b", "c", "d"]
    assert items[0] == {"id": "a", "n": 1}
    assert route.call_count == 3
    assert all(c.request.url.params["status"] == "active" for c in route.calls)


async def test_iter_json_refuses_a_repeated_cursor(transport: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins").respond(
        200, json={"data": [{"id": "s"}], "next_cursor": "same", "has_more": True}
    )
    with pytest.raises(PhantomError, match="repeated cursor"):
        await collect(transport.iter_json("/api/v1/skins"))


async def test_raw_pages_map_errors_like_the_typed_client(
    transport: Any, mock: respx.MockRouter
) -> None:
    body = {"error": {"code": "invalid_request", "message": "limit: at most 100"}}
    mock.get("/api/v1/skins").respond(400, json=body)
    with pytest.raises(client_pkg.BadRequestError, match="limit: at most 100"):
        await resolve(transport.list_json("/api/v1/skins", {"limit": 500}))
    with pytest.raises(client_pkg.InvalidInputError):
        await resolve(transport.list_json("https://elsewhere.example/api/v1/skins"))


def test_package_names_load_on_first_use() -> None:
    for name in client_pkg.__all__:
        assert getattr(client_pkg, name) is not None, name
    assert "Phantom" in dir(client_pkg)
    with pytest.raises(AttributeError):
        _ = client_pkg.NoSuchThing  # type: ignore[attr-defined]


def test_the_transport_imports_no_pydantic() -> None:
    code = (
        "import sys\n"
        "from phantom_cli.client import errors, paths\n"
        "from phantom_cli.client._core_sync import APIClient\n"
        "from phantom_cli.client._core_async import AsyncAPIClient\n"
        "from phantom_cli.client._validate import fill\n"
        "from phantom_cli.connect import connect_transport\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'"
        " or m == 'phantom_cli.client.models'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_transport_error_is_mapped(sleeps: Any) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/skins").mock(side_effect=boom)
        with APIClient(base_url=BASE, api_key=KEY, max_retries=0, sleep=sleeps) as c:
            with pytest.raises(client_pkg.APIConnectionError, match="could not reach"):
                c.list_json("/api/v1/skins")
