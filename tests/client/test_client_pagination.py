"""list returns one page; iter walks every page lazily (one request per page, on demand)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from phantom_cli.client import InvalidInputError, Page, PhantomError
from phantom_cli.client import models as m

from .client_helpers import collect

NOW = "2026-01-01T00:00:00Z"


def inst(i: int) -> dict[str, Any]:
    return {"id": f"i{i}", "status": "active", "created_at": NOW}


def pager(mock: respx.MockRouter, path: str, pages: list[list[dict[str, Any]]]) -> respx.Route:
    """Serve ``pages`` by cursor ``p1``, ``p2`` …; returns the route."""

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        n = 0 if cursor is None else int(cursor[1:])
        more = n + 1 < len(pages)
        return httpx.Response(
            200,
            json={
                "data": pages[n],
                "next_cursor": f"p{n + 1}" if more else None,
                "has_more": more,
            },
        )

    return mock.get(path).mock(side_effect=handler)


PAGES = [[inst(1), inst(2)], [inst(3), inst(4)], [inst(5)], [inst(6), inst(7)]]


def test_iter_is_lazy_sync(client: Any, mock: respx.MockRouter) -> None:
    route = pager(mock, "/api/v1/activity-instances", PAGES)
    it = client.instances.iter(status="active", page_size=2)
    assert route.call_count == 0  # nothing sent before iteration starts
    assert next(it).id == "i1"
    assert route.call_count == 1
    assert next(it).id == "i2"
    assert route.call_count == 1
    assert next(it).id == "i3"
    assert route.call_count == 2
    rest = [x.id for x in it]
    assert rest == ["i4", "i5", "i6", "i7"]
    assert route.call_count == 4
    params = [dict(c.request.url.params) for c in route.calls]
    assert params[0] == {"status": "active", "limit": "2"}
    assert [p.get("cursor") for p in params] == [None, "p1", "p2", "p3"]
    assert all(p["status"] == "active" and p["limit"] == "2" for p in params)


async def test_iter_is_lazy_async(aclient: Any, mock: respx.MockRouter) -> None:
    route = pager(mock, "/api/v1/activities", [[{"id": f"a{i}", "title": "t"}] for i in range(3)])
    it = aclient.activities.iter(featured=True)
    assert route.call_count == 0
    first = await it.__anext__()
    assert first.id == "a0" and route.call_count == 1
    ids = [first.id] + [a.id async for a in it]
    assert ids == ["a0", "a1", "a2"] and route.call_count == 3
    assert route.calls[0].request.url.params["featured"] == "true"


@pytest.mark.parametrize(
    ("name", "path", "item"),
    [
        ("skins", "/api/v1/skins", {"id": "s", "name": "n"}),
        (
            "personas",
            "/api/v1/personas",
            {"id": "p", "name": "n", "created_at": NOW, "updated_at": NOW},
        ),
        (
            "media.collection",
            "/api/v1/media/collection",
            {
                "id": "c",
                "mediaId": "m",
                "mediaType": "image",
                "relationType": "generated",
                "createdAt": NOW,
            },
        ),
    ],
)
async def test_iter_every_resource(
    anyc: Any, mock: respx.MockRouter, name: str, path: str, item: dict[str, Any]
) -> None:
    route = pager(mock, path, [[item]] * 3)
    res = anyc
    for part in name.split("."):
        res = getattr(res, part)
    stream = res.iter(page_size=1)
    items = await collect(stream)
    assert len(items) == 3 and route.call_count == 3


async def test_messages_iter(anyc: Any, mock: respx.MockRouter) -> None:
    msg = {"id": "m", "role": "user", "medium": "text", "content": "x", "created_at": NOW}
    route = pager(mock, "/api/v1/activity-instances/i1/messages", [[msg], [msg], [msg]])
    stream = anyc.instances.messages.iter("i1", role="user")
    items = await collect(stream)
    assert len(items) == 3 and route.calls[2].request.url.params["cursor"] == "p2"


def test_list_returns_one_page(client: Any, mock: respx.MockRouter) -> None:
    route = pager(mock, "/api/v1/activity-instances", PAGES)
    page = client.instances.list(limit=2)
    assert isinstance(page, Page)
    assert [i.id for i in page.data] == ["i1", "i2"]
    assert page.has_more and page.next_cursor == "p1"
    assert isinstance(page.data[0], m.ActivityInstance)
    page2 = client.instances.list(limit=2, cursor=page.next_cursor)
    assert [i.id for i in page2.data] == ["i3", "i4"]
    assert route.call_count == 2


def test_repeated_cursor_is_detected(client: Any, mock: respx.MockRouter) -> None:
    mock.get("/api/v1/skins").mock(
        return_value=httpx.Response(
            200, json={"data": [{"id": "s", "name": "n"}], "next_cursor": "same", "has_more": True}
        )
    )
    with pytest.raises(PhantomError, match="repeated cursor"):
        list(client.skins.iter())


def test_page_size_limits(client: Any, mock: respx.MockRouter) -> None:
    for bad in (0, 101):
        with pytest.raises(InvalidInputError, match=r"limit"):
            client.skins.iter(page_size=bad)
        with pytest.raises(InvalidInputError, match=r"limit"):
            client.skins.list(limit=bad)
    assert not mock.calls
