"""The sync client is generated from the async source and must be up to date."""

from __future__ import annotations

import inspect

from phantom_cli.client import AsyncPhantom, Phantom
from phantom_cli.client._unasync import generate, unasync_line


def test_sync_modules_are_up_to_date() -> None:
    assert generate(check=True) == [], "run: python phantom_cli/client/_unasync.py"


def test_unasync_rules() -> None:
    assert unasync_line("    async def f(self) -> AsyncIterator[int]:\n") == (
        "    def f(self) -> Iterator[int]:\n"
    )
    assert unasync_line("        await self._sleep(d)\n") == "        self._sleep(d)\n"
    assert unasync_line("x = httpx.AsyncClient()\n") == "x = httpx.Client()\n"
    assert unasync_line("s = sleep_async(f)\n") == "s = sleep_sync(f)\n"


def _public(obj: object) -> dict[str, inspect.Signature]:
    out = {}
    for name in dir(obj):
        if name.startswith("_"):
            continue
        attr = getattr(obj, name)
        if callable(attr):
            out[name] = inspect.signature(attr)
    return out


def test_sync_and_async_have_the_same_surface() -> None:
    s = Phantom(base_url="http://api.test")
    a = AsyncPhantom(base_url="http://api.test")
    for res in (
        "companion", "npc", "activities", "instances", "personas", "skins", "media",
        "scratchpad", "local",
    ):  # fmt: skip
        ss, aa = _public(getattr(s, res)), _public(getattr(a, res))
        assert ss.keys() == aa.keys(), res
        for name in ss:
            assert list(ss[name].parameters) == list(aa[name].parameters), f"{res}.{name}"
    assert _public(s.instances.messages).keys() == _public(a.instances.messages).keys()
    assert _public(s.media.collection).keys() == _public(a.media.collection).keys()
    assert inspect.iscoroutinefunction(a.skins.get)
    assert inspect.iscoroutinefunction(a.request)
    s.close()
